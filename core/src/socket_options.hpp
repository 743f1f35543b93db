// Per-socket kernel settings: the keepalive / TCP_USER_TIMEOUT backstop, TCP_NODELAY,
// abortive close, and TCP_INFO. Never system-wide: one process must not change others.
#pragma once

#include <lifeline/config.hpp>
#include <lifeline/stats.hpp>

#include <cstddef>
#include <system_error>

namespace lifeline::detail {

/// TCP_NODELAY (frames are small and latency-bound), then the backstop of `backstop`.
std::error_code apply_session_options(int fd, const kernel_backstop& backstop) noexcept;

/// SO_LINGER {on, 0}: close() sends RST and frees the connection at once, for peers
/// already known dead (no FIN_WAIT, no TIME_WAIT, no retransmitting into the void).
void make_close_abortive(int fd) noexcept;

std::error_code read_tcp_info(int fd, tcp_kernel_info& info) noexcept;

/// Bytes the kernel holds in the socket's receive queue, not yet read (FIONREAD); 0 on
/// error. One syscall: for would-be convictions, never per frame.
[[nodiscard]] std::size_t bytes_waiting(int fd) noexcept;

}  // namespace lifeline::detail
