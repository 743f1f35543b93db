#include "socket_options.hpp"

#include <netinet/in.h>
// The kernel's tcp_info: glibc's <netinet/tcp.h> stops before tcpi_snd_wnd. The two
// headers define the same structs and cannot meet in one translation unit, so this file
// includes neither Asio nor any header that does.
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace lifeline::detail {
namespace {

std::error_code set_int(int fd, int level, int name, int value) noexcept {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return {errno, std::system_category()};
  return {};
}

}  // namespace

std::error_code apply_session_options(int fd, const kernel_backstop& backstop) noexcept {
  if (auto ec = set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1)) return ec;
  if (auto ec = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, backstop.keepalive ? 1 : 0)) return ec;
  if (backstop.keepalive) {
    if (auto ec = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(backstop.keepalive_idle.count()))) return ec;
    if (auto ec = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(backstop.keepalive_interval.count()))) return ec;
    if (auto ec = set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, backstop.keepalive_count)) return ec;
  }
  if (backstop.user_timeout_enabled) {
    if (auto ec = set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(backstop.user_timeout.count()))) return ec;
  }
  return {};
}

void make_close_abortive(int fd) noexcept {
  const linger abort_on_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
}

std::error_code read_tcp_info(int fd, tcp_kernel_info& info) noexcept {
  tcp_info raw{};
  socklen_t size = sizeof raw;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &raw, &size) != 0) return {errno, std::system_category()};
  info.rtt = std::chrono::microseconds{raw.tcpi_rtt};
  info.rtt_variance = std::chrono::microseconds{raw.tcpi_rttvar};
  info.retransmits = raw.tcpi_retransmits;
  info.total_retransmits = raw.tcpi_total_retrans;
  info.unacked = raw.tcpi_unacked;
  info.lost = raw.tcpi_lost;
  info.probes = raw.tcpi_probes;
  // The kernel fills what it knows of the struct and says how much: an older one stops short.
  if (size >= offsetof(tcp_info, tcpi_snd_wnd) + sizeof raw.tcpi_snd_wnd) info.peer_window = raw.tcpi_snd_wnd;
  else info.peer_window.reset();
  return {};
}

std::size_t bytes_waiting(int fd) noexcept {
  int waiting = 0;
  if (::ioctl(fd, FIONREAD, &waiting) != 0 || waiting < 0) return 0;
  return static_cast<std::size_t>(waiting);
}

}  // namespace lifeline::detail
