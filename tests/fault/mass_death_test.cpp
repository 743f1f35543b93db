// Mass death (the "hung" fault kind, DESIGN.md §4, a thousand times at once): half of a
// server's 2,000 sessions go silent in the same instant, as when a NAT or a whole client
// farm drops out. The server must declare exactly those dead, each within dead_after plus
// a bounded lateness, without starving the live half: the deadline work is bounded per
// loop turn (max_expiries_per_turn), so no live session misses its own deadline and
// every live session still works afterwards.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

constexpr std::size_t live_sessions = 1000;
constexpr std::size_t hung_sessions = 1000;

// Longer than fast_liveness(): setting up 2,000 sessions under sanitizers must not
// itself look like a death.
liveness_config mass_liveness() {
  auto l = fast_liveness();
  l.heartbeat_interval = 200ms;
  l.dead_after = 1s;
  l.handshake_timeout = 10s;
  return l;
}

// How late a detection may be after its deadline when a thousand fall due together, on a
// loaded 2-core machine with sanitizers on.
constexpr auto mass_detection_bound = 300ms;

}  // namespace

TEST_CASE("when 1,000 of 2,000 sessions go silent at once, exactly those are declared dead, in time, and the rest live on") {
  auto server_config = fast_server(2);
  server_config.liveness = mass_liveness();
  const auto dead_after = server_config.liveness.dead_after;
  session_log server_log, client_log;
  server game(server_config, server_log.handlers([&](session_id id, std::span<const std::byte> bytes) {
    game.send(id, bytes);
  }));
  auto client_config = fast_connector();
  client_config.liveness = mass_liveness();
  client_config.connect_timeout = 10s;
  client_config.max_sessions = live_sessions;
  connector client(client_config, client_log.handlers());
  game.start();
  client.start();

  // The live half: connector sessions, which beat on their own.
  for (std::size_t i = 0; i < live_sessions; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(live_sessions, 30s));
  REQUIRE(server_log.wait_opened(live_sessions, 30s));

  // The hung half: raw peers, kept alive by a beat each sweep while the others handshake.
  std::vector<std::unique_ptr<raw_peer>> hung;
  std::set<std::uint64_t> hung_ids;
  hung.reserve(hung_sessions);
  const auto beat_all = [&] {
    for (auto& p : hung) p->send_beat();
  };
  auto last_sweep = clock::now();
  for (std::size_t i = 0; i < hung_sessions; ++i) {
    hung.push_back(std::make_unique<raw_peer>("127.0.0.1", game.port()));
    hung_ids.insert(hung.back()->handshake().session_id);
    if (clock::now() - last_sweep > server_config.liveness.heartbeat_interval) {
      beat_all();
      last_sweep = clock::now();
    }
  }
  REQUIRE(server_log.wait_opened(live_sessions + hung_sessions, 30s));
  REQUIRE(hung_ids.size() == hung_sessions);
  REQUIRE(server_log.closed().empty());

  // The same instant: one last beat from every hung peer, then silence from all of them.
  const auto silence_began = clock::now();
  beat_all();
  const auto all_silent = clock::now();
  MESSAGE("the last sweep of beats took "
          << std::chrono::duration_cast<std::chrono::milliseconds>(all_silent - silence_began).count() << " ms");

  REQUIRE(server_log.wait_closed(hung_sessions, dead_after + 30s));
  const auto closed = server_log.closed();
  CHECK(closed.size() == hung_sessions);
  std::set<std::uint64_t> closed_ids;
  auto first_close = clock::time_point::max();
  auto last_close = clock::time_point::min();
  for (const auto& e : closed) {
    closed_ids.insert(e.id.value);
    first_close = std::min(first_close, e.at);
    last_close = std::max(last_close, e.at);
  }
  CHECK(server_log.closed_count(close_reason::heartbeat_timeout) == hung_sessions);
  CHECK(closed_ids == hung_ids);                                       // exactly the hung ones
  CHECK(first_close >= silence_began + dead_after);                    // none before its deadline
  CHECK(last_close <= all_silent + dead_after + mass_detection_bound);  // all by deadline + bound
  const auto stats = game.stats().total;
  const auto worst = stats.heartbeat_timeout_lateness.quantile(1.0);
  MESSAGE("detections from " << std::chrono::duration_cast<std::chrono::milliseconds>(first_close - silence_began).count()
                             << " to " << std::chrono::duration_cast<std::chrono::milliseconds>(last_close - silence_began).count()
                             << " ms after the silence began; lateness p50 "
                             << stats.heartbeat_timeout_lateness.quantile(0.5).count() << " ms, p99 "
                             << stats.heartbeat_timeout_lateness.quantile(0.99).count() << " ms, max " << worst.count()
                             << " ms");
  CHECK(stats.heartbeat_timeout_lateness.total() == hung_sessions);
  CHECK(worst <= mass_detection_bound);

  // The live half: none closed on either side, and every one of them still works.
  CHECK(stats.closes(close_reason::heartbeat_timeout) == hung_sessions);
  CHECK(client_log.closed().empty());
  REQUIRE(poll_until([&] { return game.stats().total.sessions_open == live_sessions; }, 5s));
  const auto live = client_log.opened();
  for (const auto id : live) REQUIRE_FALSE(client.send(id, bytes_of("alive")));
  REQUIRE(client_log.wait_messages(live_sessions, 10s));
  std::set<session_id> echoed;
  for (const auto& [id, text] : client_log.messages())
    if (text == "alive") echoed.insert(id);
  CHECK(echoed.size() == live_sessions);  // one echo for each, none garbled
  CHECK(server_log.closed().size() == hung_sessions);
  CHECK(client_log.closed().empty());
}
