// Fault kind "blackholed" (DESIGN.md §4): every packet between the server and the peer
// vanishes, both ways, as when a cable is pulled or the peer's host is switched off. The
// server hears nothing, and its own segments go unanswered. Who detects it, and as what:
// lifeline's heartbeat deadline when heartbeats are on; with them off, the kernel
// backstop: keepalive for an idle connection, TCP_USER_TIMEOUT once data is in flight.
//
// Each test runs in a private network namespace (tests/support/private_network.hpp) with
// the nft rules of netns_session.hpp; without root it is skipped, saying why.
#include "netns_session.hpp"

#include <lifeline/close_reason.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

TEST_CASE("a blackholed peer is declared dead at its last frame + dead_after, before any kernel backstop") {
  netns_session s;
  // The server beats as often as the peer, so that its beats are dropped too.
  auto config = fast_server(1);
  config.liveness.server_heartbeat_interval = config.liveness.heartbeat_interval;
  if (!s.open(config)) return;
  const auto dead_after = fast_liveness().dead_after;
  // The backstop derived from T acts later than T: only heartbeats can catch it in time.
  const auto backstop = derive_kernel_backstop(fast_liveness());
  REQUIRE(backstop.keepalive_idle > dead_after);
  REQUIRE(backstop.user_timeout > dead_after);

  // A live peer beating every 50 ms for longer than T keeps its session.
  for (int i = 0; i < 8; ++i) {
    s.peer->send_beat();
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(s.log.closed().empty());

  const auto before_last_frame = clock::now();
  s.peer->send_beat();
  const auto after_last_frame = clock::now();
  s.net.nft(blackhole_rules);
  REQUIRE_MESSAGE(clock::now() < after_last_frame + dead_after / 2, "nft was too slow to cut the peer off before its deadline");
  // The peer goes on beating; its frames vanish, as the server's do.
  while (!s.log.wait_closed(1, 50ms) && clock::now() < after_last_frame + 3s) s.peer->send_beat();

  const auto closed = s.await_close(0ms);
  MESSAGE("heartbeat_timeout " << seconds(closed.at - after_last_frame) << " s after the peer's last frame (T = "
                               << seconds(dead_after) << " s)");
  CHECK(closed.why.reason == close_reason::heartbeat_timeout);
  CHECK(closed.at >= before_last_frame + dead_after);                    // nothing before the deadline
  CHECK(closed.at <= after_last_frame + dead_after + detection_slack);  // and not much after it
  CHECK(s.packets("from_peer") > 0);  // the peer's beats were dropped...
  CHECK(s.packets("to_peer") > 0);    // ...and so were the server's
}

TEST_CASE("with heartbeats off, kernel keepalive reports a blackholed idle peer as keepalive_timeout after idle + count x interval") {
  auto config = fast_server(1);
  config.liveness.heartbeats = false;
  config.liveness.keepalive = {.enabled = true, .idle = 1s, .interval = 1s, .count = 2};
  // Keepalive alone. With TCP_USER_TIMEOUT also set, tcp(7): it "will override keepalive
  // to determine when to close a connection due to keepalive failure": tcp_keepalive_timer
  // then aborts once the user timeout has passed with a probe unanswered, whatever
  // TCP_KEEPCNT says (measured here: a 1.5 s user timeout gave ETIMEDOUT at 2.0 s, on the
  // second probe, instead of 3 s).
  config.liveness.user_timeout_enabled = false;

  // Either way the last frame was acknowledged before the blackhole: nothing is in flight,
  // and which side sent it must not change the verdict. (The server sending last is not
  // data in flight once its welcome is ACKed. The kernel agrees: tcp_keepalive_timer()
  // probes only with no packets out and an empty write queue, so an abort at idle +
  // count x interval is keepalive's, and close_reason.hpp calls that keepalive_timeout.)
  bool peer_spoke_last = false;
  SUBCASE("the last frame was the server's welcome") {}
  SUBCASE("the last frame came from the peer") { peer_spoke_last = true; }

  netns_session s;
  if (!s.open(config)) return;
  if (peer_spoke_last) s.peer_beats_and_is_acknowledged();
  const auto last_packet = clock::now();
  s.net.nft(blackhole_rules);

  // Probes at idle (1 s) and idle + interval (2 s); the count is reached at 3 s.
  const auto closed = s.await_close(8s);
  const auto detected_after = closed.at - last_packet;
  MESSAGE(to_string(closed.why.reason) << " (" << closed.why.detail.message() << ") " << seconds(detected_after)
                                       << " s after the last packet (expected ~3 s = 1 s idle + 2 x 1 s)");
  CHECK(closed.why.reason == close_reason::keepalive_timeout);
  CHECK(closed.why.detail.value() == ETIMEDOUT);
  CHECK(detected_after >= 2900ms);
  CHECK(detected_after <= 4500ms);
  CHECK(s.packets("to_peer") >= 2);  // the two probes, unanswered
}

TEST_CASE("with heartbeats and keepalive off, TCP_USER_TIMEOUT reports a blackholed peer as user_timeout once data is in flight") {
  auto config = fast_server(1);
  config.liveness.heartbeats = false;
  config.liveness.keepalive.enabled = false;
  config.liveness.user_timeout_enabled = true;
  config.liveness.user_timeout = 1500ms;
  netns_session s;
  if (!s.open(config)) return;
  s.net.nft(blackhole_rules);

  // Nothing in flight, nothing to time out: the game's message is what the kernel waits on.
  const auto sent_at = clock::now();
  REQUIRE_FALSE(s.game->send(s.id, bytes_of("are you there?")));

  const auto closed = s.await_close(6s);
  const auto detected_after = closed.at - sent_at;
  MESSAGE("user_timeout " << seconds(detected_after) << " s after the message was sent (TCP_USER_TIMEOUT = 1.5 s)");
  CHECK(closed.why.reason == close_reason::user_timeout);
  CHECK(closed.why.detail.value() == ETIMEDOUT);
  CHECK(detected_after >= 1400ms);
  CHECK(detected_after <= 3000ms);
  CHECK(s.packets("to_peer") >= 2);  // the message and its retransmissions, unacknowledged
}
