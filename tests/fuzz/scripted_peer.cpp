// One loopback connection a session script plays (see scripted_peer.hpp for what it
// checks). Plain blocking sockets with MSG_DONTWAIT on each call, so that no step can
// hang the fuzzer: every wait is a poll() with a small timeout.
#include "scripted_peer.hpp"

#include "fuzz_check.hpp"
#include "fuzz_trace.hpp"

#include <lifeline/close_code.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <variant>

namespace lifeline::fuzz {
namespace {

constexpr auto write_patience = std::chrono::milliseconds{10};

bool is_attempt_refusal(close_code code) noexcept {
  return code == close_code::protocol_error || code == close_code::unsupported_version ||
         code == close_code::server_full || code == close_code::handshake_timeout;
}

bool is_session_ending(close_code code) noexcept {
  return code == close_code::normal || code == close_code::protocol_error || code == close_code::unsupported_version ||
         code == close_code::heartbeat_timeout || code == close_code::slow_frame;
}

}  // namespace

scripted_peer::scripted_peer(welcome_terms terms)
    : terms_(terms), encoder_(max_frame_size_ceiling), read_buffer_(64 * 1024) {}

scripted_peer::~scripted_peer() { close_socket(); }

void scripted_peer::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool scripted_peer::connect(std::uint16_t port, bool tiny_receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  if (tiny_receive_buffer) {
    const int one_byte = 1;  // the kernel rounds it up to its minimum, a few KiB
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &one_byte, sizeof one_byte);
  }
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
    close_socket();
    return false;
  }
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return true;
}

// --- writing -----------------------------------------------------------------------------------

void scripted_peer::send_frame(const frame& f) {
  std::error_code ec;
  const auto bytes = encoder_.encode(f, ec);
  FUZZ_CHECK(!ec);  // the script's frames all fit under the ceiling
  send_bytes(bytes);
}

void scripted_peer::send_bytes(std::span<const std::byte> bytes) {
  if (pending_sent_ == pending_.size()) {
    pending_.clear();
    pending_sent_ = 0;
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  const std::size_t keep = std::min(hold_next_, bytes.size());
  hold_next_ = 0;
  write_kept_back(kept_back() - keep);
}

void scripted_peer::write_kept_back(std::size_t n) {
  n = std::min(n, kept_back());
  bool waited = false;
  while (n > 0 && fd_ >= 0 && can_write_) {
    const auto sent = ::send(fd_, pending_.data() + pending_sent_, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      const auto k = static_cast<std::size_t>(sent);
      written_.insert(written_.end(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_sent_),
                      pending_.begin() + static_cast<std::ptrdiff_t>(pending_sent_ + k));
      pending_sent_ += k;
      n -= k;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !waited) {
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(write_patience.count()));
      waited = true;
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else {
      if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) can_write_ = false;  // EPIPE, ECONNRESET
      return;
    }
  }
}

void scripted_peer::half_close() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
  can_write_ = false;
}

void scripted_peer::reset() {
  if (fd_ < 0) return;
  const linger abort_on_close{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  close_socket();
}

void scripted_peer::hang_up() { close_socket(); }

// --- reading -----------------------------------------------------------------------------------

void scripted_peer::read(std::chrono::milliseconds wait, session_ledger& ledger) {
  if (fd_ < 0 || !can_read_) return;
  if (wait.count() > 0) {
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(wait.count()));
  }
  for (;;) {
    const auto n = ::recv(fd_, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0) {  // ECONNRESET: an abortive close may cut a frame short
      FUZZ_TRACE("  peer read error %d", errno);
      can_read_ = false;
      return;
    }
    if (n == 0) {  // FIN, or an RST whose error an earlier send() already reported
      FUZZ_TRACE("  peer read EOF%s", was_reset() ? " after an RST" : "");
      FUZZ_CHECK(was_reset() || !decoder_.finish());  // a graceful close comes only between frames
      can_read_ = false;
      return;
    }
    decoder_.feed(std::span<const std::byte>(read_buffer_.data(), static_cast<std::size_t>(n)));
    std::error_code ec;
    while (const auto f = decoder_.next(ec)) check(*f, ledger);
    FUZZ_CHECK(!ec);  // the server's bytes always decode
  }
}

// The kernel reports an RST once, to whichever call comes first (often one of our sends),
// and reads return 0 after it as after a FIN; the connection's state tells them apart: an
// RST leaves it CLOSE, a FIN leaves CLOSE_WAIT (or TIME_WAIT after our own half-close).
bool scripted_peer::was_reset() const {
  tcp_info info{};
  socklen_t size = sizeof info;
  return ::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &size) == 0 && info.tcpi_state == TCP_CLOSE;
}

void scripted_peer::check(const frame& f, session_ledger& ledger) {
  constexpr const char* names[] = {"beat", "data", "hello", "welcome", "close"};
  FUZZ_TRACE("  peer read a %s frame", names[f.index()]);
  FUZZ_CHECK(!heard_close_);                                 // nothing after a close frame
  FUZZ_CHECK(!std::holds_alternative<hello_frame>(f));       // a server never says hello
  if (const auto* w = std::get_if<welcome_frame>(&f)) {
    FUZZ_CHECK(!heard_any_frame_);                           // the welcome comes first, once
    FUZZ_CHECK(w->session_id != 0);
    FUZZ_CHECK(w->heartbeat_interval == terms_.heartbeat_interval);
    FUZZ_CHECK(w->dead_after == terms_.dead_after);
    // The server beats at the clients' rate here, so it announces no rate of its own.
    FUZZ_CHECK(w->server_heartbeat_interval.count() == 0 && w->server_dead_after.count() == 0);
    session_ = session_id{w->session_id};
  } else if (const auto* c = std::get_if<close_frame>(&f)) {
    FUZZ_CHECK(session_ ? is_session_ending(c->code) : is_attempt_refusal(c->code));
    heard_close_ = true;
  } else if (const auto* d = std::get_if<data_frame>(&f)) {
    FUZZ_CHECK(session_.has_value());
    FUZZ_CHECK(ledger.take_payload(*session_, d->payload));  // the game sent exactly this, to this session
  } else {
    FUZZ_CHECK(session_.has_value());                        // beats only once open
  }
  heard_any_frame_ = true;
}

}  // namespace lifeline::fuzz
