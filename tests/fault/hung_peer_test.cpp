// Fault kind "hung" (DESIGN.md §4): the peer's process stops sending, but its kernel is
// alive and ACKs everything, so keepalive cannot see it; only the heartbeat deadline can.
// The server must declare it dead no earlier than dead_after after the last frame it
// heard, and no later than that plus the detection slack.
//
// The reference point is the moment the peer *sent* its last frame, taken just before the
// send: the server heard it no earlier, so "not before sent + T" is a hard lower bound;
// on loopback it heard it within microseconds, so "by sent + T + slack" is the upper one.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <thread>

using namespace lifeline;
using namespace lifeline::test;

TEST_CASE("a peer that goes silent right after the handshake is declared dead after dead_after, not before") {
  const auto config = fast_server();
  const auto dead_after = config.liveness.dead_after;
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());

  const auto hello_sent = clock::now();  // the last frame this peer will ever send
  const auto welcome = peer.handshake();
  REQUIRE(log.wait_opened(1));

  REQUIRE(log.wait_closed(1, dead_after + 5s));
  const auto closed = log.closed()[0];
  CHECK(closed.id.value == welcome.session_id);
  CHECK(closed.why.reason == close_reason::heartbeat_timeout);
  CHECK(closed.at >= hello_sent + dead_after);                    // nothing before the deadline
  CHECK(closed.at <= hello_sent + dead_after + detection_slack);  // the event by deadline + slack
  MESSAGE("detected " << std::chrono::duration_cast<std::chrono::milliseconds>(closed.at - hello_sent).count()
                      << " ms after the hello (dead_after " << dead_after.count() << " ms)");

  const auto stats = game.stats().total;
  CHECK(stats.closes(close_reason::heartbeat_timeout) == 1);
  CHECK(stats.heartbeat_timeout_lateness.total() == 1);
  CHECK(stats.heartbeat_timeout_lateness.quantile(1.0) <= detection_slack);
  // The deadline timer ran (at least for this detection), and its wake-up delay is known.
  CHECK(stats.deadline_timer_lateness.total() >= 1);
  CHECK(stats.deadline_timer_lateness.quantile(1.0) <= detection_slack);
}

TEST_CASE("a peer that beats for a while and then goes silent is declared dead after dead_after from its last beat") {
  const auto config = fast_server();
  const auto dead_after = config.liveness.dead_after;
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  const auto welcome = peer.handshake();
  REQUIRE(log.wait_opened(1));

  // Beat every 50 ms for 3 × dead_after: a beating peer is alive, whatever it reads.
  const auto beating_until = clock::now() + 3 * dead_after;
  std::uint64_t beats_sent = 0;
  while (clock::now() < beating_until) {
    peer.send_beat();
    ++beats_sent;
    std::this_thread::sleep_for(50ms);
  }
  const auto last_beat_sent = clock::now();
  peer.send_beat();  // the last frame this peer sends
  ++beats_sent;
  CHECK(log.closed().empty());

  REQUIRE(log.wait_closed(1, dead_after + 5s));
  const auto closed = log.closed()[0];
  CHECK(closed.id.value == welcome.session_id);
  CHECK(closed.why.reason == close_reason::heartbeat_timeout);
  CHECK(closed.at >= last_beat_sent + dead_after);
  CHECK(closed.at <= last_beat_sent + dead_after + detection_slack);
  MESSAGE("detected " << std::chrono::duration_cast<std::chrono::milliseconds>(closed.at - last_beat_sent).count()
                      << " ms after the last beat (dead_after " << dead_after.count() << " ms)");
  CHECK(game.stats().total.heartbeats_received == beats_sent);
}

TEST_CASE("a silent peer is dead after the server's dead_after, whatever it asked for in its hello") {
  // The hello asks for a 10 s deadline; the server's settings win (welcome carries them).
  const auto config = fast_server();
  const auto dead_after = config.liveness.dead_after;
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  const auto hello_sent = clock::now();
  const auto welcome = peer.handshake(5s, 10s);
  CHECK(welcome.dead_after == dead_after);
  CHECK(welcome.heartbeat_interval == config.liveness.heartbeat_interval);

  REQUIRE(log.wait_closed(1, dead_after + 5s));
  const auto closed = log.closed()[0];
  CHECK(closed.why.reason == close_reason::heartbeat_timeout);
  CHECK(closed.at >= hello_sent + dead_after);
  CHECK(closed.at <= hello_sent + dead_after + detection_slack);
}

TEST_CASE("a hung peer that resumes after its conviction reads a close frame saying heartbeat_timeout, not just a reset") {
  session_log log;
  server game(fast_server(), log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));
  REQUIRE(log.wait_closed(1, 5s));  // hung: it reads nothing and says nothing meanwhile
  CHECK(log.closed()[0].why.reason == close_reason::heartbeat_timeout);

  std::optional<frame> last;  // the welcome, any beats, then the last word
  while (auto f = peer.receive(1s)) last = f;
  REQUIRE(last.has_value());
  REQUIRE(std::holds_alternative<close_frame>(*last));
  CHECK(std::get<close_frame>(*last).code == close_code::heartbeat_timeout);
}

TEST_CASE("a connector whose server declared it dead hears peer_closed with detail heartbeat_timeout") {
  // The connector's own shard is held by its game handler for longer than the server's
  // dead_after, so its beats stop; the server convicts it, and tells it why.
  session_log server_log, client_log;
  server game(fast_server(), server_log.handlers());
  connector client(fast_connector(), client_log.handlers([](session_id, std::span<const std::byte>) {
    std::this_thread::sleep_for(600ms);  // the client game's handler blocks its shard
  }));
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(server_log.wait_opened(1));
  REQUIRE(client_log.wait_opened(1));
  REQUIRE_FALSE(game.send(server_log.opened()[0], bytes_of("hold on")));

  REQUIRE(server_log.wait_closed(1, 5s));
  CHECK(server_log.closed()[0].why.reason == close_reason::heartbeat_timeout);
  REQUIRE(client_log.wait_closed(1, 5s));
  const auto why = client_log.closed()[0].why;
  CHECK(why.reason == close_reason::peer_closed);
  CHECK(why.detail == close_code::heartbeat_timeout);
}
