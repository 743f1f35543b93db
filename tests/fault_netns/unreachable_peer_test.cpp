// Fault kind "unreachable" (DESIGN.md §4): the peer's host is gone and the network says
// so. Every segment the server sends it draws an ICMP host-unreachable; nothing comes
// back from the peer. What Linux makes of those errors decides what the server can see:
//
//   tcp_v4_err() (net/ipv4/tcp_ipv4.c) first drops any ICMP error whose quoted sequence
//   number is outside [snd_una, snd_nxt] (counted as TcpExtOutOfWindowIcmps). Host
//   unreachable is a soft error (icmp_err_convert: fatal = 0) and lifeline does not set
//   IP_RECVERR, so an accepted one only sets sk->sk_err_soft = EHOSTUNREACH: the
//   established connection is not aborted, nothing reaches the socket yet. When the
//   kernel later gives up on the connection, tcp_write_err() (net/ipv4/tcp_timer.c)
//   reports sk_err_soft if set, else ETIMEDOUT.
//
// So EHOSTUNREACH surfaces only if some segment in the window drew an error: data the
// peer never acknowledged (then RTO retries or TCP_USER_TIMEOUT give up with it), or
// even a pure ACK. A keepalive probe carries snd_una - 1 (tcp_xmit_probe_skb: "use a
// previous sequence"), just outside the window, so the errors probes draw are ignored:
// keepalive alone reports ETIMEDOUT, not the EHOSTUNREACH DESIGN.md §4 expected.
// Verified on Linux 6.18 with nstat in a namespace: two probes, two ICMP errors in,
// TcpExtOutOfWindowIcmps 2, ETIMEDOUT at 3.0 s; with 100 bytes in flight and a 1.5 s
// user timeout instead, EHOSTUNREACH.
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

TEST_CASE("an unreachable peer is declared dead by heartbeat_timeout at its last frame + dead_after: soft ICMP errors abort nothing") {
  netns_session s;
  // The server beats as often as the peer, so that its beats meet the ICMP rejections.
  auto config = fast_server(1);
  config.liveness.server_heartbeat_interval = config.liveness.heartbeat_interval;
  if (!s.open(config)) return;
  const auto dead_after = fast_liveness().dead_after;
  for (int i = 0; i < 8; ++i) {  // alive for longer than T
    s.peer->send_beat();
    std::this_thread::sleep_for(50ms);
  }
  REQUIRE(s.log.closed().empty());

  const auto before_last_frame = clock::now();
  s.peer->send_beat();
  const auto after_last_frame = clock::now();
  s.net.nft(unreachable_rules());
  REQUIRE_MESSAGE(clock::now() < after_last_frame + dead_after / 2, "nft was too slow to cut the peer off before its deadline");
  while (!s.log.wait_closed(1, 50ms) && clock::now() < after_last_frame + 3s) s.peer->send_beat();

  const auto closed = s.await_close(0ms);
  MESSAGE("heartbeat_timeout " << seconds(closed.at - after_last_frame) << " s after the peer's last frame (T = "
                               << seconds(dead_after) << " s)");
  CHECK(closed.why.reason == close_reason::heartbeat_timeout);
  CHECK(closed.at >= before_last_frame + dead_after);
  CHECK(closed.at <= after_last_frame + dead_after + detection_slack);
  // The server's beats (sent every H = 100 ms) drew ICMP errors well before T, and the
  // session stayed open until its deadline all the same.
  CHECK(s.packets("to_peer") > 0);
  CHECK(s.packets("icmp_to_server") > 0);
  CHECK(s.packets("from_peer") > 0);
}

TEST_CASE("with heartbeats off, keepalive gives up on an unreachable idle peer with ETIMEDOUT, unless a segment in the window drew the ICMP error") {
  auto config = fast_server(1);
  config.liveness.heartbeats = false;
  config.liveness.keepalive = {.enabled = true, .idle = 1s, .interval = 1s, .count = 2};
  config.liveness.user_timeout_enabled = false;  // keepalive alone (see blackholed_peer_test.cpp)

  SUBCASE("only keepalive probes met the filter: their errors are out of window, ignored, and keepalive_timeout says ETIMEDOUT") {
    netns_session s;
    if (!s.open(config)) return;
    // The peer speaks last and the server's ACK is in before the rules, so the probes
    // are the server's only segments to bounce. (After the server's own acknowledged
    // welcome lifeline misreads this ETIMEDOUT: see blackholed_peer_test.cpp.)
    s.peer_beats_and_is_acknowledged();
    const auto last_packet = clock::now();
    s.net.nft(unreachable_rules());

    const auto closed = s.await_close(8s);
    const auto detected_after = closed.at - last_packet;
    MESSAGE("keepalive gave up " << seconds(detected_after) << " s after the last packet with "
                                 << closed.why.detail.message() << ", reported as " << to_string(closed.why.reason));
    // Each probe drew an ICMP error, and tcp_v4_err() dropped it as out of window (probe
    // seq = snd_una - 1): sk_err_soft stays 0, so tcp_write_err() says ETIMEDOUT.
    CHECK(s.packets("icmp_to_server") >= 2);
    CHECK(s.net.kernel_counter("TcpExt", "OutOfWindowIcmps") >= 2);
    CHECK(closed.why.detail.value() == ETIMEDOUT);
    CHECK(closed.why.reason == close_reason::keepalive_timeout);
    CHECK(detected_after >= 2900ms);
    CHECK(detected_after <= 4500ms);
  }

  SUBCASE("the server's ACK of the peer's last frame met the filter first: its error counts, and keepalive reports unreachable") {
    netns_session s;
    if (!s.open(config)) return;
    // The server's segments bounce from now on, but it still hears the peer's beat and
    // ACKs it: that ACK (seq = snd_nxt, in the window) leaves sk_err_soft = EHOSTUNREACH,
    // which tcp_write_err() reports when keepalive gives up. A delayed ACK racing a real
    // route change does the same.
    s.net.nft(reject_to_peer_rules);
    s.peer->send_beat();
    const auto last_packet = clock::now();
    const auto until = last_packet + 1s;
    while (s.packets("icmp_to_server") == 0 && clock::now() < until) std::this_thread::sleep_for(1ms);
    REQUIRE(s.packets("icmp_to_server") >= 1);
    s.net.nft(drop_from_peer_rule);  // and now the peer's retransmissions vanish too

    const auto closed = s.await_close(8s);
    const auto detected_after = closed.at - last_packet;
    MESSAGE("keepalive gave up " << seconds(detected_after) << " s after the last packet with "
                                 << closed.why.detail.message() << ", reported as " << to_string(closed.why.reason));
    CHECK(closed.why.detail.value() == EHOSTUNREACH);
    CHECK(closed.why.reason == close_reason::unreachable);
    CHECK(detected_after >= 2900ms);
    CHECK(detected_after <= 4500ms);
  }
}

TEST_CASE("with data in flight, TCP_USER_TIMEOUT reports an unreachable peer as unreachable (EHOSTUNREACH)") {
  auto config = fast_server(1);
  config.liveness.heartbeats = false;
  config.liveness.keepalive.enabled = false;
  config.liveness.user_timeout_enabled = true;
  config.liveness.user_timeout = 1500ms;
  netns_session s;
  if (!s.open(config)) return;
  s.net.nft(unreachable_rules());

  // The message and each retransmission draw an ICMP error quoting a sequence number in
  // [snd_una, snd_nxt]: tcp_v4_err() keeps it as sk_err_soft = EHOSTUNREACH, and when
  // the user timeout expires tcp_write_err() reports that instead of ETIMEDOUT.
  const auto sent_at = clock::now();
  REQUIRE_FALSE(s.game->send(s.id, bytes_of("are you there?")));

  const auto closed = s.await_close(6s);
  const auto detected_after = closed.at - sent_at;
  MESSAGE("unreachable " << seconds(detected_after) << " s after the message was sent (TCP_USER_TIMEOUT = 1.5 s)");
  CHECK(closed.why.reason == close_reason::unreachable);
  CHECK(closed.why.detail.value() == EHOSTUNREACH);
  CHECK(detected_after >= 1400ms);
  CHECK(detected_after <= 3000ms);
  CHECK(s.packets("icmp_to_server") >= 2);
}
