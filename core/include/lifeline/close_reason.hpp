// lifeline/close_reason.hpp — why a session ended, as the game server is told.
//
// Each reason comes from what really happened on the socket or the wheel, never from a
// guess: a close frame is peer_closed, EOF without one is peer_dropped, ECONNRESET is
// peer_reset, a silent peer past its deadline is heartbeat_timeout, and so on. A peer's
// close frame is its word, not ours: once a session has opened, whatever code the peer
// sends is reported as peer_closed (or peer_shutdown) with the code as the detail, never
// as one of the reasons a session can only have had before it opened (server_full,
// handshake_timeout, connect_failed). The values are stable (stats, logs and dashboards
// key on them): new reasons are appended, none is renumbered.
//
// What a game does with them, in short: peer_closed, closed_locally and shutdown end the
// player's session; peer_dropped, peer_reset, heartbeat_timeout, keepalive_timeout,
// user_timeout, unreachable and slow_frame mean the player's transport died and it may
// come back (hold its seat); write_stalled, protocol_error and handler_error are worth an
// alert; server_full, handshake_timeout, admission_refused, connect_failed and
// name_not_resolved only ever reach a session the game never saw open (a connector's failed
// attempt; on a server they are only counted in stats). On a connector, close_info::reconnect
// says whether another attempt of the same connect() follows.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace lifeline {

enum class close_reason : std::uint8_t {
  peer_closed = 1,        ///< the peer ended the session with a close frame (a clean quit); detail: its close_code
  heartbeat_timeout = 2,  ///< nothing heard for dead_after (hung, blackholed, vanished peer)
  keepalive_timeout = 3,  ///< kernel keepalive probes went unanswered (ETIMEDOUT, nothing in flight)
  user_timeout = 4,       ///< data stayed unacknowledged past TCP_USER_TIMEOUT (ETIMEDOUT)
  peer_reset = 5,         ///< the peer's host answered with RST (ECONNRESET, EPIPE): e.g. it rebooted
  unreachable = 6,        ///< ICMP host or network unreachable (EHOSTUNREACH, ENETUNREACH)
  write_stalled = 7,      ///< the peer stopped reading: write queue over its limit (ENOBUFS), no progress
                          ///< for write_stall_timeout (no detail), or its window shut, still heard from,
                          ///< until TCP_USER_TIMEOUT (ETIMEDOUT)
  protocol_error = 8,     ///< bytes that are not a valid frame; the detail is the frame_error
  handshake_timeout = 9,  ///< never opened: no hello (server) or welcome (connector) in time
  server_full = 10,       ///< never opened: max_sessions reached (refused at accept, or a connector's attempt refused)
  closed_locally = 11,    ///< the game called close()
  shutdown = 12,          ///< stop() closed it
  connect_failed = 13,    ///< never opened, connector only: the TCP connection could not be made
  socket_error = 14,      ///< any other socket error; the detail says which
  handler_error = 15,     ///< a game handler threw while handling this session
  peer_dropped = 16,      ///< the connection ended (EOF) without a close frame: the peer's process died
                          ///< (kill -9, crash) or dropped the socket; detail truncated_frame if mid-frame
  peer_shutdown = 17,     ///< the peer said it is shutting down (close code shutdown): on a connector,
                          ///< the server's stop(); detail: the close_code
  slow_frame = 18,        ///< a frame did not complete within frame_timeout of its first byte: a peer
                          ///< dripping bytes, or a link too slow for the frame. Only complete frames
                          ///< prove a peer alive.
  rate_exceeded = 19,     ///< the peer sent more than its inbound_limits allow, inbound.strikes times
                          ///< within inbound.strike_window (a flood, or beats far above its interval)
  memory_budget = 20,     ///< the server's buffer_budget was reached and this session held the most
                          ///< (frames it never finished, or a queue it would not read)
  admission_refused = 21, ///< never opened: refused by admission_limits (its source address over a cap),
                          ///< or dropped, still silent, to make room under a flood of handshakes
  resume_rejected = 22,   ///< never opened, on a server: a connection that asked to resume and was
                          ///< refused (detail: the resume_error). Only counted in stats.
  name_not_resolved = 23, ///< never opened, connector only: the host name given to connect() did not
                          ///< resolve to an address (detail: the resolver's error, e.g. host not found,
                          ///< or timed_out when the lookup outlasted connect_timeout). Local: no close
                          ///< frame carries it (nothing was connected to tell).
};

/// One past the largest close_reason value: the size of per-reason counters.
inline constexpr std::size_t close_reason_count = 32;

/// "heartbeat_timeout", ... for logs and tests.
[[nodiscard]] std::string_view to_string(close_reason reason) noexcept;

/// Category "lifeline.close": a close_reason as a std::error_code, for APIs that speak
/// error codes.
[[nodiscard]] const std::error_category& close_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(close_reason r) noexcept {
  return {static_cast<int>(r), close_category()};
}

/// On a connector, what follows a session's end (close_info::reconnect). A server's
/// sessions are always `none`.
enum class reconnect_plan : std::uint8_t {
  none,       ///< no new attempt: reconnect is off, or the end was the game's doing (close(),
              ///< cancel(), a handler that threw), a kick (an application close code), or stop()
  scheduled,  ///< a new attempt of the same connect() follows after the backoff (a new session id)
  given_up,   ///< reconnect.max_attempts attempts in a row failed: the connector stops trying
};

/// "none", "scheduled", "given_up", for logs and tests.
[[nodiscard]] std::string_view to_string(reconnect_plan plan) noexcept;

/// What the game server is told when a session ends: the reason, the underlying error
/// where there is one (the socket's errno in std::system_category(), or the decoder's
/// frame_error, or the peer's close_code), and when the peer was last heard from (its
/// last complete frame), so the game can tell how long it had been silent: for
/// heartbeat_timeout, detection − last_heard − dead_after is how late the detection was
/// (longer after a stall of our own: convictions are then deferred by the stall).
struct close_info {
  close_reason reason;
  std::error_code detail;
  std::chrono::steady_clock::time_point last_heard{};
  /// The transport had died earlier (on_transport_lost told the game, with this reason)
  /// and the session was kept for resume.grace; this is the grace running out, or the
  /// resume being refused (detail: the resume_error), or the game closing it meanwhile.
  bool lingered = false;
  /// A game's close with an application code (server::close(id, code, reason) on the other
  /// side; here reason peer_closed, detail close_code::application): its code, and its
  /// reason, a view valid only during on_closed (copy it to keep it).
  std::uint16_t app_code = 0;
  std::string_view app_reason{};
  /// Connector only: whether the connect() this session came from tries again. Every
  /// connect() ends with exactly one on_closed whose plan is not `scheduled` (until stop(),
  /// which ends every chain, waits between attempts included, without another word).
  reconnect_plan reconnect = reconnect_plan::none;
};

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::close_reason> : std::true_type {};
