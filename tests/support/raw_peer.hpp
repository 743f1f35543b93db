// A hand-driven peer for fault tests: a plain blocking TCP socket that speaks lifeline's
// frames only when told to, so a test can make it hang, vanish, send garbage or stop
// reading at exactly the moment it wants.
#pragma once

#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lifeline::test {

class raw_peer {
 public:
  /// Connects to `address:port`, optionally from `local_address`, with a receive buffer
  /// of `receive_buffer` bytes set before connecting (0: the kernel's default), so that the
  /// window it advertises is that small from the start.
  raw_peer(const std::string& address, std::uint16_t port, const std::string& local_address = {},
           int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    if (receive_buffer > 0 && ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer) != 0)
      throw std::runtime_error("SO_RCVBUF: " + std::string(std::strerror(errno)));
    if (!local_address.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, local_address.c_str(), &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
        throw std::runtime_error("bind: " + std::string(std::strerror(errno)));
    }
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    ::inet_pton(AF_INET, address.c_str(), &remote.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0)
      throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  /// Takes over a connected socket, e.g. one a raw_listener accepted, to play the server.
  explicit raw_peer(int connected_fd) : fd_(connected_fd) {
    if (fd_ < 0) throw std::runtime_error("raw_peer: no socket");
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~raw_peer() {
    if (fd_ >= 0) ::close(fd_);
  }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  [[nodiscard]] int fd() const { return fd_; }

  void send_bytes(std::span<const std::byte> bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const auto n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0) throw std::runtime_error("send: " + std::string(std::strerror(errno)));
      sent += static_cast<std::size_t>(n);
    }
  }
  void send_frame(const frame& f) {
    std::error_code ec;
    const auto bytes = encoder_.encode(f, ec);
    if (ec) throw std::runtime_error("encode: " + ec.message());
    send_bytes(bytes);
  }

  /// The next frame from the server, or nullopt on EOF, error or after `timeout`.
  /// Copies what it returns (decoder views die on the next call).
  std::optional<frame> receive(std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::error_code ec;
      if (auto f = decoder_.next(ec)) return keep(*f);
      if (ec) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      const auto n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
      if (n <= 0) return std::nullopt;
      chunk_.assign(buffer_.begin(), buffer_.begin() + n);
      decoder_.feed(chunk_);
    }
  }

  /// hello, then the server's welcome. Returns the welcome.
  welcome_frame handshake(std::chrono::milliseconds interval = std::chrono::milliseconds{200},
                          std::chrono::milliseconds dead_after = std::chrono::milliseconds{600}) {
    send_frame(hello_frame{.heartbeat_interval = interval, .dead_after = dead_after});
    for (;;) {
      auto f = receive();
      if (!f) throw std::runtime_error("handshake: no welcome");
      if (auto* w = std::get_if<welcome_frame>(&*f)) return *w;
    }
  }

  void send_beat() { send_frame(beat_frame{}); }

  /// Closes the socket without FIN or RST: in TCP_REPAIR mode the kernel forgets the
  /// connection silently, as a rebooted host would. The server's next segment draws an
  /// RST. Needs CAP_NET_ADMIN; false if not permitted.
  bool vanish_silently() {
    const int on = 1;
    if (::setsockopt(fd_, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0) return false;
    ::close(fd_);
    fd_ = -1;
    return true;
  }

  /// Stops reading and shrinks the receive buffer so the server's writes back up. Shrunk on
  /// a live connection, the buffer drops segments inside the window already advertised,
  /// the ACKs they carry with them: this peer's own frames then go unacknowledged. For a
  /// peer that must stay heard, pass a small receive_buffer to the constructor instead.
  void stop_reading() {
    const int small = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }

  void close_now() {
    ::close(fd_);
    fd_ = -1;
  }

  /// Closes with an RST (SO_LINGER 0): the connection dies at once, without a close frame.
  void reset_now() {
    const linger abortive{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
    close_now();
  }

 private:
  frame keep(const frame& f) {
    // Own the bytes a view points at, so the frame outlives the decoder's next call.
    if (auto* d = std::get_if<data_frame>(&f)) {
      kept_.assign(d->payload.begin(), d->payload.end());
      return data_frame{.payload = kept_, .ack = d->ack, .timing = d->timing};
    }
    if (auto* w = std::get_if<welcome_frame>(&f)) {
      kept_token_.assign(w->resume_token.begin(), w->resume_token.end());
      auto copy = *w;
      copy.resume_token = kept_token_;
      return copy;
    }
    if (auto* c = std::get_if<close_frame>(&f)) {
      kept_text_.assign(c->detail);
      return close_frame{.code = c->code, .detail = kept_text_};
    }
    if (auto* b = std::get_if<beat_frame>(&f)) {  // a beat may carry a fresh resume token
      kept_beat_token_.assign(b->resume_token.begin(), b->resume_token.end());
      auto copy = *b;
      copy.resume_token = kept_beat_token_;
      return copy;
    }
    return f;
  }

  int fd_ = -1;
  frame_encoder encoder_;
  frame_decoder decoder_;
  std::vector<std::byte> buffer_ = std::vector<std::byte>(65536);
  std::vector<std::byte> chunk_;
  std::vector<std::byte> kept_;
  std::vector<std::byte> kept_token_;
  std::vector<std::byte> kept_beat_token_;
  std::string kept_text_;
};

}  // namespace lifeline::test
