// What the packet-filter fault tests share: a private network namespace holding a server
// on 127.0.0.1 and one session from a hand-driven peer on 127.0.0.2, and the nftables
// rules that cut that peer off. The rules match the peer's address only, so the fault
// hits exactly one session; the namespace keeps them away from the host.
#pragma once

#include "../support/fast_config.hpp"
#include "../support/private_network.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace lifeline::test {

inline constexpr const char* server_address = "127.0.0.1";
inline constexpr const char* peer_address = "127.0.0.2";

// Every packet between the server and 127.0.0.2 vanishes, both ways: a pulled cable, a
// host switched off. Dropped in the input hook, after the sender's TCP has sent them, as
// on a real network. (Dropped in the output hook, the local transmit would fail with
// EPERM and TCP would not count the segment as sent: no retransmission timer, and a
// different road to TCP_USER_TIMEOUT than a real blackhole takes.)
inline constexpr std::string_view blackhole_rules = R"(
table inet lifeline_test {
  counter from_peer { }
  counter to_peer { }
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr 127.0.0.2 counter name "from_peer" drop
    ip daddr 127.0.0.2 counter name "to_peer" drop
  }
}
)";

// The peer's host is gone and something on the way says so: every segment the server
// sends to 127.0.0.2 draws an ICMP host-unreachable, and nothing comes back from the peer
// over TCP. The reject sits in the input hook, so the server's segment has left its TCP
// (counted in flight, as when a router answers); the ICMP error is generated from the
// peer's address to the server's (icmp_send takes the quoted packet's local destination as
// its source), which is why the peer's drop rule matches TCP only. `icmp_to_server`
// counts the errors on their way to the server's socket. In two steps when a test needs
// the server to hear the peer once more after its own segments start bouncing.
inline constexpr std::string_view reject_to_peer_rules = R"(
table inet lifeline_test {
  counter from_peer { }
  counter to_peer { }
  counter icmp_to_server { }
  chain input {
    type filter hook input priority filter; policy accept;
    ip daddr 127.0.0.2 counter name "to_peer" reject with icmp type host-unreachable
    ip daddr 127.0.0.1 icmp type destination-unreachable counter name "icmp_to_server"
  }
}
)";
inline constexpr std::string_view drop_from_peer_rule = R"(
add rule inet lifeline_test input ip saddr 127.0.0.2 meta l4proto tcp counter name "from_peer" drop
)";
inline std::string unreachable_rules() { return std::string(reject_to_peer_rules) + std::string(drop_from_peer_rule); }

inline double seconds(clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Members are destroyed in reverse: the peer and the server (its threads joined) before
// the log their handlers write to, and all of them before the thread leaves the namespace.
struct netns_session {
  private_network net;  // first: entered before any thread of the test exists
  session_log log;
  std::optional<server> game;
  std::unique_ptr<raw_peer> peer;
  session_id id{};

  /// Starts a server with `config` (on 127.0.0.1) and opens one session from a raw peer
  /// on 127.0.0.2. False, with a visible SKIPPED message, when there is no private
  /// namespace to run in (not root, or no nftables).
  bool open(server_config config) {
    if (!net) {
      MESSAGE("SKIPPED: " << net.why_not());
      return false;
    }
    config.listen_address = server_address;
    game.emplace(config, log.handlers());
    game->start();
    peer = std::make_unique<raw_peer>(server_address, game->port(), peer_address);
    peer->handshake();
    REQUIRE(log.wait_opened(1));
    id = log.opened()[0];
    return true;
  }

  /// The peer sends a beat and waits until its kernel holds the server's ACK for it: no
  /// segment of the server's (not even a delayed ACK) is pending when a rule goes in.
  void peer_beats_and_is_acknowledged() {
    peer->send_beat();
    const auto until = clock::now() + std::chrono::seconds{2};
    for (;;) {
      tcp_info info{};
      socklen_t size = sizeof info;
      REQUIRE(::getsockopt(peer->fd(), IPPROTO_TCP, TCP_INFO, &info, &size) == 0);
      if (info.tcpi_unacked == 0) return;
      REQUIRE(clock::now() < until);
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }

  /// Packets counted by one of the rules' named counters.
  std::uint64_t packets(std::string_view counter) const { return net.counter_packets("inet", "lifeline_test", counter); }

  /// The one close the server reported, waiting up to `timeout` for it.
  closed_event await_close(std::chrono::milliseconds timeout) {
    REQUIRE(log.wait_closed(1, timeout));
    const auto closed = log.closed();
    REQUIRE(closed.size() == 1);
    return closed[0];
  }
};

}  // namespace lifeline::test
