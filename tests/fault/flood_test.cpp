// A flood (DESIGN.md §9): a peer that sends far more than its inbound_limits allow costs
// only its own session. Past its budget it gets a strike and its shard stops reading it
// until it has paid off what it ran ahead (its TCP window fills meanwhile); out of strikes,
// or so far ahead that no pause would cover it, it is closed as rate_exceeded, told so in
// a close frame. Peers within their limits, beside it, are never touched.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// Sends `f` from `peer` as fast as the socket takes it, until the server hangs up.
class flooder {
 public:
  flooder(raw_peer& peer, const frame& f) {
    frame_encoder encoder;
    std::error_code ec;
    const auto one = encoder.encode(f, ec);
    for (int i = 0; i < 512; ++i) burst_.insert(burst_.end(), one.begin(), one.end());
    thread_ = std::thread([this, &peer] {
      try {
        while (running_) peer.send_bytes(burst_);
      } catch (const std::runtime_error&) {
        // the server hung up
      }
    });
  }
  ~flooder() {
    running_ = false;
    thread_.join();
  }
  flooder(const flooder&) = delete;
  flooder& operator=(const flooder&) = delete;

 private:
  std::vector<std::byte> burst_;
  std::atomic<bool> running_{true};
  std::thread thread_;
};

}  // namespace

TEST_CASE("a peer flooding beats is closed as rate_exceeded and told so, a connector beside it is untouched") {
  auto config = fast_server(1);
  session_log log, client_log;
  server game(config, log.handlers());
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  raw_peer peer("127.0.0.1", game.port());
  const session_id flooding{peer.handshake().session_id};
  REQUIRE(log.wait_opened(2));

  {
    flooder flood(peer, beat_frame{});
    REQUIRE(log.wait_closed(1, 10s));
  }
  const auto closed = log.closed()[0];
  CHECK(closed.id == flooding);
  CHECK(closed.why.reason == close_reason::rate_exceeded);
  CHECK(game.stats().total.rate_strikes >= 1);
  std::optional<frame> last;  // what the flooder reads: the welcome, then the last word
  while (auto f = peer.receive(1s)) last = f;
  REQUIRE(last.has_value());
  REQUIRE(std::holds_alternative<close_frame>(*last));
  CHECK(std::get<close_frame>(*last).code == close_code::rate_exceeded);

  std::this_thread::sleep_for(3 * config.liveness.dead_after);
  CHECK(log.closed().size() == 1);  // the connector's session lives on
  CHECK(client_log.closed().empty());
}

TEST_CASE("a peer flooding small data frames is held back, then closed as rate_exceeded after its strikes") {
  auto config = fast_server(1);
  config.liveness.inbound.frames_per_second = 200;
  config.liveness.inbound.burst = 200ms;
  session_log log;
  std::atomic<std::size_t> handled{0};
  server game(config, log.handlers([&](session_id, std::span<const std::byte>) { ++handled; }));
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));
  const auto began = clock::now();
  {
    flooder flood(peer, data_frame{.payload = bytes_of("x")});
    REQUIRE(log.wait_closed(1, 10s));
  }
  const auto took = log.closed()[0].at - began;
  CHECK(log.closed()[0].why.reason == close_reason::rate_exceeded);
  CHECK(game.stats().total.rate_strikes >= 1);
  // Held back meanwhile: the game handled about what the budget allows over that time,
  // not the flood (512 frames a read, thousands a second).
  const auto allowed = 200.0 * std::chrono::duration<double>(took).count() + 200 * 0.2 + 3 * 512;
  CHECK(static_cast<double>(handled.load()) <= allowed);
  MESSAGE("closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, "
                          << handled.load() << " messages handled");
}

TEST_CASE("a peer within its limits is never struck, even at a steady 500 messages a second") {
  auto config = fast_server(1);  // 1,000 frames a second allowed by default
  session_log log;
  std::atomic<std::size_t> handled{0};
  server game(config, log.handlers([&](session_id, std::span<const std::byte>) { ++handled; }));
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));
  const auto until = clock::now() + 2s;
  std::size_t sent = 0;
  for (auto next = clock::now(); next < until; next += 10ms) {
    std::this_thread::sleep_until(next);
    for (int i = 0; i < 5; ++i, ++sent) peer.send_frame(data_frame{.payload = bytes_of("input")});
  }
  REQUIRE(log.wait_messages(sent, 5s));
  CHECK(log.closed().empty());
  CHECK(game.stats().total.rate_strikes == 0);
}
