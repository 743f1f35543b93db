// lifeline/close_reason.hpp — why a session ended, as the game server is told.
//
// Each reason comes from what really happened on the socket or the wheel, never from a
// guess: EOF is peer_closed, ECONNRESET is peer_reset, a silent peer past its deadline is
// heartbeat_timeout, and so on. The values are stable (stats, logs and dashboards key on
// them): new reasons are appended, none is renumbered.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace lifeline {

enum class close_reason : std::uint8_t {
  peer_closed = 1,        ///< the peer closed its side (EOF), or sent a close frame
  heartbeat_timeout = 2,  ///< nothing heard for dead_after (hung, blackholed, vanished peer)
  keepalive_timeout = 3,  ///< kernel keepalive probes went unanswered (ETIMEDOUT, nothing in flight)
  user_timeout = 4,       ///< data stayed unacknowledged past TCP_USER_TIMEOUT (ETIMEDOUT)
  peer_reset = 5,         ///< the peer's host answered with RST (ECONNRESET, EPIPE): e.g. it rebooted
  unreachable = 6,        ///< ICMP host or network unreachable (EHOSTUNREACH, ENETUNREACH)
  write_stalled = 7,      ///< the peer stopped reading: write queue over its limit (ENOBUFS), no progress
                          ///< for write_stall_timeout (no detail), or its window shut, still heard from,
                          ///< until TCP_USER_TIMEOUT (ETIMEDOUT)
  protocol_error = 8,     ///< bytes that are not a valid frame; the detail is the frame_error
  handshake_timeout = 9,  ///< no hello (server) or welcome (connector) in time
  server_full = 10,       ///< max_sessions reached: refused at accept, or a connector attempt refused
  closed_locally = 11,    ///< the game called close()
  shutdown = 12,          ///< stop() closed it
  connect_failed = 13,    ///< connector only: the TCP connection could not be made
  socket_error = 14,      ///< any other socket error; the detail says which
  handler_error = 15,     ///< a game handler threw while handling this session
};

/// "heartbeat_timeout", ... for logs and tests.
[[nodiscard]] std::string_view to_string(close_reason reason) noexcept;

/// Category "lifeline.close": a close_reason as a std::error_code, for APIs that speak
/// error codes.
[[nodiscard]] const std::error_category& close_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(close_reason r) noexcept {
  return {static_cast<int>(r), close_category()};
}

/// What the game server is told when a session ends: the reason, the underlying error
/// where there is one (the socket's errno in std::system_category(), or the decoder's
/// frame_error), and when the peer was last heard from (any bytes), so the game can tell
/// how long it had been silent: for heartbeat_timeout, detection − last_heard − dead_after
/// is how late the detection was.
struct close_info {
  close_reason reason;
  std::error_code detail;
  std::chrono::steady_clock::time_point last_heard{};
};

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::close_reason> : std::true_type {};
