// lifeline/config.hpp — settings of a server or connector, validated at start.
//
// Liveness in two layers. lifeline's own heartbeats find a dead peer within dead_after
// (T): a heartbeat goes out after heartbeat_interval (H) without any send, and a peer not
// heard from for T is dead. Under that, the kernel is a backstop, per socket, never
// system-wide: SO_KEEPALIVE probes an idle connection, and TCP_USER_TIMEOUT bounds how
// long sent data may stay unacknowledged (keepalive alone never fires while data is in
// flight). Unset backstop values are derived from T so that the kernel never acts before
// lifeline's own deadline when heartbeats are on.
//
// validate() throws std::invalid_argument whose message starts with the offending field
// ("dead_after: must be greater than heartbeat_interval (1000 ms), got 800 ms").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace lifeline {

using std::chrono::milliseconds;

/// The kernel keepalive backstop (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).
struct keepalive_config {
  bool enabled = true;
  std::optional<std::chrono::seconds> idle;      ///< default: dead_after, rounded up, at least 1 s
  std::optional<std::chrono::seconds> interval;  ///< default: dead_after / 3, at least 1 s
  std::optional<int> count;                      ///< default: 3
};

/// Liveness and limits, common to both ends of a session.
struct liveness_config {
  bool heartbeats = true;                     ///< off: no beats and no dead_after; the kernel backstop only
  milliseconds heartbeat_interval{1000};      ///< H: a beat goes out after this long without any send
  milliseconds dead_after{3000};              ///< T: a peer not heard from for this long is dead (T > H)
  milliseconds handshake_timeout{5000};       ///< hello/welcome must arrive within this
  /// Server only (a connector follows its server's welcome): how often the server itself
  /// beats on a quiet session. Clients give the server this plus the slack they get
  /// themselves (dead_after - heartbeat_interval) before calling it dead; the welcome
  /// tells them. Default: 10 × heartbeat_interval. Why slower than the clients: the
  /// server's beat is one write() per quiet session per interval, 58 % of the server's CPU
  /// at 10,000 idle sessions when it beat every H (bench/RESULTS.md), while it only speeds
  /// up two things: a client noticing a *hung* server process, and the server finding a
  /// rebooted peer's RST before dead_after (it is then found at dead_after, as a hung one).
  /// A crashed server resets or closes its connections, a rebooted host resets the
  /// client's next beat, and a vanished one leaves the client's beats unacknowledged until
  /// its own TCP_USER_TIMEOUT fires. Set it to heartbeat_interval for symmetric beats (and RTT
  /// samples every interval on both sides).
  std::optional<milliseconds> server_heartbeat_interval;
  keepalive_config keepalive;
  bool user_timeout_enabled = true;           ///< TCP_USER_TIMEOUT
  std::optional<milliseconds> user_timeout;   ///< default: 2 × dead_after
  std::size_t max_frame_size = 64 * 1024;     ///< body bytes, both directions
  std::size_t write_queue_limit = 1024 * 1024;  ///< bytes queued for one session before it is closed
  milliseconds write_stall_timeout{5000};     ///< queued bytes making no progress for this long: closed
  milliseconds wheel_tick{4};                 ///< timer wheel resolution; lateness is at most one tick
  std::size_t max_expiries_per_turn = 512;    ///< deadline work per loop turn, so mass death cannot stall live sessions
};

struct server_config {
  std::string listen_address = "0.0.0.0";
  std::uint16_t port = 0;                     ///< 0: any free port (see server::port())
  unsigned worker_threads = 0;                ///< 0: one per hardware thread
  std::size_t max_sessions = 100'000;
  liveness_config liveness;

  /// Throws std::invalid_argument naming the first invalid field.
  void validate() const;
};

struct reconnect_config {
  bool enabled = false;
  milliseconds initial_delay{100};
  milliseconds max_delay{10'000};
  double jitter = 0.2;                        ///< each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
};

struct connector_config {
  unsigned worker_threads = 1;
  std::size_t max_sessions = 20'000;
  milliseconds connect_timeout{5000};
  reconnect_config reconnect;
  liveness_config liveness;

  /// Throws std::invalid_argument naming the first invalid field.
  void validate() const;
};

/// The server's own heartbeat, after deriving the unset interval.
struct server_beat {
  milliseconds interval{0};     ///< the server beats after this long without a send
  milliseconds clients_wait{0}; ///< a client calls the server dead after this long unheard
};
/// interval: server_heartbeat_interval, or 10 × heartbeat_interval; clients_wait: interval
/// plus the slack clients get (dead_after - heartbeat_interval).
[[nodiscard]] server_beat derive_server_beat(const liveness_config& config) noexcept;

/// The backstop settings actually applied, after deriving the unset ones from T.
struct kernel_backstop {
  bool keepalive = true;
  std::chrono::seconds keepalive_idle{1};
  std::chrono::seconds keepalive_interval{1};
  int keepalive_count = 3;
  bool user_timeout_enabled = true;
  milliseconds user_timeout{0};
};
[[nodiscard]] kernel_backstop derive_kernel_backstop(const liveness_config& config) noexcept;

}  // namespace lifeline
