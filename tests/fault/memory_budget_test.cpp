// Memory pinned by a hostile peer (DESIGN.md §9): frames announced large and never
// finished, or queues a peer never reads, cost only their own sessions. A server holds
// at most buffer_budget in such buffers; past it, the sessions holding the most are closed
// as memory_budget until the rest hold under 90 % of it. A session holding little is
// left alone, and what was held is given back when the sessions end.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <set>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// A length prefix announcing a 64 KiB body, then `body_bytes` of it.
std::vector<std::byte> unfinished_frame(std::size_t body_bytes) {
  std::vector<std::byte> bytes{std::byte{0x00}, std::byte{0x00}, std::byte{0x01}, std::byte{0x00}};
  bytes.resize(4 + body_bytes, std::byte{0x42});
  return bytes;
}

}  // namespace

TEST_CASE("past buffer_budget the sessions holding the most are closed as memory_budget, a small holder is not") {
  auto config = fast_server(1);
  config.liveness.buffer_budget = 2 * 1024 * 1024;  // 2 MiB
  config.liveness.frame_timeout = 10s;              // only the budget acts here
  config.liveness.dead_after = 10s;
  config.liveness.heartbeat_interval = 1s;
  config.liveness.inbound.bytes_per_second = 0;     // nor the rate limit
  session_log log;
  server game(config, log.handlers());
  game.start();

  raw_peer small("127.0.0.1", game.port());
  const session_id small_id{small.handshake().session_id};
  small.send_bytes(unfinished_frame(1000));  // holds a little
  std::vector<std::unique_ptr<raw_peer>> big;
  std::set<std::uint64_t> big_ids;
  for (int i = 0; i < 60; ++i) {  // 60 × 60,000 bytes: 3.4 MiB, past the budget
    big.push_back(std::make_unique<raw_peer>("127.0.0.1", game.port()));
    big_ids.insert(big.back()->handshake().session_id);
    big.back()->send_bytes(unfinished_frame(60'000));
  }
  REQUIRE(poll_until([&] { return log.closed_count(close_reason::memory_budget) > 0; }, 5s));
  std::this_thread::sleep_for(300ms);  // the last bytes in flight land and are judged too

  const auto stats = game.stats().total;
  MESSAGE(stats.closes(close_reason::memory_budget) << " closed as memory_budget; the rest hold "
                                                    << stats.buffer_bytes / 1024 << " KiB");
  CHECK(stats.buffer_bytes <= config.liveness.buffer_budget);
  for (const auto& e : log.closed()) {
    CHECK(e.why.reason == close_reason::memory_budget);
    CHECK(big_ids.count(e.id.value) == 1);  // never the small holder
  }
  CHECK(log.closed().size() < big.size());  // only as many as the budget needs

  // The rest go away: their memory goes back to the budget's account, all of it.
  big.clear();
  small.close_now();
  REQUIRE(poll_until([&] { return game.stats().total.sessions_open == 0; }, 5s));
  CHECK(game.stats().total.buffer_bytes == 0);
  (void)small_id;
}
