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
// A conviction rests on evidence (DESIGN.md §8): only complete frames count as hearing the
// peer; before closing a session as dead, lifeline looks for bytes waiting unread in its
// socket (one ioctl per would-be conviction, never per frame), and time its own shard
// spent stalled is not counted as the peer's silence.
//
// validate() throws std::invalid_argument whose message starts with the offending field
// ("dead_after: must be greater than heartbeat_interval (1000 ms), got 800 ms").
#pragma once

#include <lifeline/close_reason.hpp>
#include <lifeline/resume_key.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lifeline {

using std::chrono::milliseconds;

/// The kernel keepalive backstop (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).
struct keepalive_config {
  bool enabled = true;
  std::optional<std::chrono::seconds> idle;      ///< default: dead_after, rounded up, at least 1 s
  std::optional<std::chrono::seconds> interval;  ///< default: dead_after / 3, at least 1 s
  std::optional<int> count;                      ///< default: 3
};

/// What one peer may send (DESIGN.md §9): a hostile peer must cost only its own session.
/// Each frame and each byte read spends from one budget, refilled at the rates below; a
/// peer may run up to `burst` ahead of it. A peer that runs further ahead gets a strike, and
/// its shard stops reading from it until it is back within the budget (TCP then pushes back
/// on its sender); `strikes` strikes within `strike_window` close it with rate_exceeded.
/// Beats are counted apart: a peer beats every heartbeat_interval when quiet, so more than
/// `beats_per_interval` a interval is abuse. The server tells its clients these limits in
/// the welcome. A rate of 0 turns that limit off. A connector applies its own to what its
/// servers send (the same defaults: far above what a server sends one client).
struct inbound_limits {
  std::size_t frames_per_second = 1000;
  std::size_t bytes_per_second = 4 * 1024 * 1024;
  milliseconds burst{1000};
  unsigned beats_per_interval = 4;
  unsigned strikes = 3;
  milliseconds strike_window{10'000};
};

/// A dead transport is not a dead player (DESIGN.md §10). With `grace` set, a server
/// session whose connection dies of a cause the player may come back from (`linger_on`)
/// is kept, without a socket, for `grace`: the game hears on_transport_lost, and then
/// on_resumed when the client comes back with the token its welcome gave it, or on_closed
/// (the original cause, `lingered` set) when the grace runs out. Data frames are kept until
/// the peer acknowledges them (`replay_bytes` at most per session) and replayed on resume,
/// both ways, so every message arrives once and in order; if more than that was sent in
/// the outage, the session resumes with state_lost. A connector resumes whenever its
/// server offers it (the welcome says so), with its own `replay_bytes`; the rest is the
/// server's.
struct resume_config {
  milliseconds grace{0};                     ///< server: 0 turns resume off
  std::size_t replay_bytes = 64 * 1024;      ///< both ends: unacknowledged data frames kept, per session
  /// server: a token expires this long after it is issued; a session that lives longer is
  /// sent a fresh one (with a beat) once the one its client holds is half this old.
  std::chrono::seconds token_lifetime{std::chrono::hours{24}};
  std::vector<resume_key> keys;              ///< server: at most 2, the first signs; empty: one random key
  /// server: the causes a session lingers on. Only transport deaths are allowed (never a
  /// close frame, a kick, a protocol error or a shutdown).
  /// Default: heartbeat_timeout, keepalive_timeout, user_timeout, peer_reset, unreachable,
  /// peer_dropped, write_stalled.
  std::vector<close_reason> linger_on = transport_deaths();

  /// The default of linger_on.
  [[nodiscard]] static std::vector<close_reason> transport_deaths();
};

/// Back-pressure a game can act on before queue_full: when the bytes on their way to a
/// session (server::queued_bytes: sent and not yet written to its socket) rise to `high`,
/// the game hears on_writability_changed(id, false); when they fall back to `low`,
/// on_writability_changed(id, true). A game sending state at a fixed rate skips states for
/// a session that is not writable, and sends the latest when it is again (a few states'
/// worth is a good `high` for such a game). Each crossing costs one post to the session's
/// shard; nothing is done per message. A session whose transport dies is not told: it
/// resumes writable.
struct write_watermarks {
  std::optional<std::size_t> high;  ///< at most write_queue_limit; default 64 KiB (or write_queue_limit / 4 if less); 0: off
  std::optional<std::size_t> low;   ///< below high; default high / 4
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
  write_watermarks watermarks;                ///< when on_writability_changed tells the game
  milliseconds write_stall_timeout{5000};     ///< queued bytes making no progress for this long: closed
  milliseconds wheel_tick{4};                 ///< timer wheel resolution; lateness is at most one tick
  std::size_t max_expiries_per_turn = 512;    ///< deadline work per loop turn, so mass death cannot stall live sessions

  // --- evidence before conviction (DESIGN.md §8) ---
  /// A peer silent this long is suspect: one urgent beat goes out to provoke an answer and
  /// on_suspected tells the game; on_recovered when it is heard again. Set, it must lie
  /// between heartbeat_interval and dead_after. Default: halfway between the peer's beat
  /// interval and the silence allowed it ((H + T) / 2 on a server; on a connector, halfway
  /// between its server's beat interval and the wait the welcome gives, which a set value
  /// must also fall within to be used there).
  std::optional<milliseconds> suspect_after;
  /// Only complete frames prove a peer alive. A frame still incomplete this long after its
  /// first byte arrived closes the session with slow_frame (a peer dripping bytes, or a
  /// link too slow for the frame). While a frame is arriving this deadline, not dead_after,
  /// is the one that applies. Default: dead_after.
  std::optional<milliseconds> frame_timeout;
  /// Our own stalls. When a shard's deadline timer runs more than this late, or its host
  /// was frozen this long (CLOCK_BOOTTIME gaining on CLOCK_MONOTONIC), the shard could not
  /// hear its peers meanwhile: that time is not held against them, and convictions falling
  /// due are deferred by it (not dropped: a dead peer is still found within dead_after plus
  /// the stall plus a tick, plus its place in stall_release_rate's pace, and a frame arriving
  /// within frame_timeout plus the stall). Suspicion waits the stall out too. Default:
  /// (dead_after - heartbeat_interval) / 4; a shorter
  /// stall cannot by itself make a beating peer look dead. A value longer than any stall
  /// turns deferral off, leaving convictions to rest on the socket's evidence alone.
  std::optional<milliseconds> stall_threshold;
  /// Convictions deferred by a stall are released at most this many per second per shard
  /// (in bursts of at most 10 ms worth), so a game never gets thousands of closes in one
  /// tick after a stall.
  std::size_t stall_release_rate = 10'000;

  // --- hostile peers cost only themselves (DESIGN.md §9) ---
  inbound_limits inbound;
  /// Fairness: bytes read from one session per readiness turn before the shard serves the
  /// others (a session with more waiting is read again after them). 1 KiB .. 64 KiB.
  std::size_t read_budget_per_turn = 16 * 1024;
  /// Fairness, in work: frames handled for one session per turn (each may run the game's
  /// handler and a reply); the rest wait, read but not yet handled, for its next turn.
  std::size_t frames_per_turn = 16;
  /// Memory the sessions of one server (or connector) may hold in buffers of their own:
  /// frames still arriving, write queues, and game-thread messages not yet queued; split
  /// evenly between the worker threads. Past it, the sessions holding the most are closed
  /// (memory_budget) until the holdings are back under 90 % of it, and game threads' send()
  /// answers queue_full meanwhile. Each thread's share must hold max_frame_size +
  /// write_queue_limit (checked when the server or connector is made). Game threads'
  /// messages waiting for their shard count at what their buffer holds (up to twice their size).
  std::size_t buffer_budget = std::size_t{256} * 1024 * 1024;
  /// Poll mode (session_event.hpp): bytes of events that may wait for the game's poll(),
  /// split evenly between the worker threads. A thread whose share is full stops reading
  /// from its sessions until the game has taken half of it (bytes waiting in a socket then
  /// count as hearing its peer). Each share must hold one frame of max_frame_size.
  std::size_t event_backlog_limit = std::size_t{64} * 1024 * 1024;

  resume_config resume;
};

/// Who may come in (DESIGN.md §9), so that a flood of connections cannot lock players out.
/// Sockets that have connected but not yet said hello may hold at most `handshaking_share`
/// of the server's capacity (max_sessions, or the process's descriptor limit less 64 if
/// that is lower, split between its threads); past it, each new connection drops its
/// thread's oldest such socket (admission_refused), as a SYN cache drops its oldest entry:
/// a player says hello at once, a flood's sockets never do. Per source address, open and
/// handshaking sessions can be capped too (off by default: players behind one NAT share
/// an address); a connection past a cap is refused with a close frame.
struct admission_limits {
  double handshaking_share = 0.25;
  std::size_t max_sessions_per_address = 0;    ///< open and handshaking; 0: no limit
  std::size_t max_handshakes_per_address = 0;  ///< handshaking only; 0: no limit
};

struct server_config {
  std::string listen_address = "0.0.0.0";
  std::uint16_t port = 0;                     ///< 0: any free port (see server::port())
  /// Listen on a port other processes listen on too (SO_REUSEPORT: the kernel spreads the
  /// connections over all of them), as several server processes behind one port do. Off,
  /// a port already in use makes start() throw, as one would expect of a bind: the worker
  /// threads share the port through SO_REUSEPORT among themselves, and without this
  /// check a second server on the port would quietly take part of the first one's players.
  bool share_port = false;
  unsigned worker_threads = 0;                ///< 0: one per hardware thread
  std::size_t max_sessions = 100'000;
  liveness_config liveness;
  admission_limits admission;

  /// Throws std::invalid_argument naming the first invalid field.
  void validate() const;
};

/// A connector's new attempts after a failed or lost session (a new session, new id, same
/// connect_ticket and user context), after a capped exponential backoff with jitter. A host
/// name is looked up again for each attempt (its addresses may have changed).
struct reconnect_config {
  bool enabled = false;
  milliseconds initial_delay{100};
  milliseconds max_delay{10'000};
  double jitter = 0.2;                        ///< each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
  /// A server's game that closes a session with an application code (a kick, a ban) means
  /// it: no new attempt follows, unless this is set.
  bool after_application_close = false;
  /// Attempts of one connect() that may fail in a row (the first one included) before the
  /// connector gives up: the last one's on_closed says reconnect_plan::given_up. A session
  /// that opened starts the count again. 0: no limit (try until cancel(), close() or
  /// stop()). Only with `enabled` (without it, each connect() makes one attempt).
  unsigned max_attempts = 0;
};

struct connector_config {
  unsigned worker_threads = 1;
  std::size_t max_sessions = 20'000;
  /// An attempt's lookup of a host name (if connect() was given one) and its TCP connect
  /// must both be done within this; the handshake then has liveness.handshake_timeout.
  milliseconds connect_timeout{5000};
  reconnect_config reconnect;
  /// Validated here, and used until a session's welcome arrives: from then on the session
  /// follows its server's heartbeat_interval and dead_after (and the server's own beat
  /// rate), which replace these silently, so that one server holds all its clients to one
  /// policy. connector::liveness() tells what a session runs on. What stays the
  /// connector's own: handshake_timeout, suspect_after (when it lies within the server's
  /// wait), the kernel backstop (derived from this dead_after), the limits and resume's
  /// replay_bytes.
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

/// The evidence settings actually applied, after deriving the unset ones. Any thread.
struct evidence_rules {
  milliseconds suspect_after{0};    ///< for a peer beating every heartbeat_interval, allowed dead_after
  milliseconds frame_timeout{0};
  milliseconds stall_threshold{0};
};
[[nodiscard]] evidence_rules derive_evidence_rules(const liveness_config& config) noexcept;

/// The watermarks actually applied (high 0: off).
struct applied_watermarks {
  std::size_t high = 0;
  std::size_t low = 0;
};
[[nodiscard]] applied_watermarks derive_watermarks(const liveness_config& config) noexcept;
/// The liveness one connector session actually runs on (connector::liveness): the
/// connector's own settings until its welcome, the server's from then on.
struct effective_liveness {
  milliseconds heartbeat_interval{0};       ///< a beat goes out after this long without a send
  milliseconds dead_after{0};               ///< the server is dead after this long unheard
  milliseconds peer_heartbeat_interval{0};  ///< how often the server beats when quiet
  milliseconds suspect_after{0};            ///< the server is suspect after this long unheard
  /// True once the welcome's settings replaced the connector's own; false before it, or
  /// when the welcome's made no sense (then the connector's own stay).
  bool from_welcome = false;
};

}  // namespace lifeline
