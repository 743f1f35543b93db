// What a raw_peer can learn from the server's side of the stream after a fault: the
// close frame the server sent before hanging up, and how much the peer's kernel holds
// unread (for tests that stop reading).
#pragma once

#include "raw_peer.hpp"

#include <lifeline/frame.hpp>

#include <sys/ioctl.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <variant>

namespace lifeline::test {

/// The code of the first close frame the server sends within `timeout`, skipping its
/// heartbeats and messages; nullopt if the stream ends (or the time runs out) without one.
inline std::optional<close_code> await_close_frame(raw_peer& peer,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    const auto f = peer.receive(left);
    if (!f) return std::nullopt;
    if (const auto* c = std::get_if<close_frame>(&*f)) return c->code;
  }
}

/// True when the server has ended the stream (EOF or reset) within `timeout`, after any
/// frames still in flight (which are read and dropped).
inline bool await_end_of_stream(raw_peer& peer, std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{peer.fd(), POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) return false;
    std::byte sink[4096];
    const auto n = ::recv(peer.fd(), sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
  }
  return false;
}

/// Bytes the peer's kernel has received and the peer has not read (SIOCINQ).
inline std::size_t unread_bytes(const raw_peer& peer) {
  int n = 0;
  if (::ioctl(peer.fd(), FIONREAD, &n) != 0) return 0;
  return static_cast<std::size_t>(n);
}

}  // namespace lifeline::test
