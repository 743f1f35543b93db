#include "legit_client.hpp"

#include "raw_sessions.hpp"

#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace lifeline::hostile {
namespace {

struct socket_guard {
  int fd = -1;
  ~socket_guard() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits for `events` until `until`; false on timeout. EINTR (our Ctrl-C) counts as a timeout.
bool wait_for(int fd, short events, time_point until) {
  const auto left = std::chrono::ceil<milliseconds>(until - steady::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

}  // namespace

handshake_outcome try_handshake(const std::string& address, std::uint16_t port, const std::string& source_address,
                                std::chrono::milliseconds timeout) {
  handshake_outcome out;
  const auto start = steady::now();
  out.started_ns = monotonic_ns(start);
  const auto until = start + timeout;
  const auto since_start = [&] { return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start); };
  const auto fail = [&](std::string how) {
    out.how = std::move(how);
    out.to_answer = since_start();
    return out;
  };

  socket_guard s{::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return fail("socket:" + errno_name(errno));
  const int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in local{}, remote{};
  local.sin_family = remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  if (::inet_pton(AF_INET, source_address.c_str(), &local.sin_addr) != 1 || ::inet_pton(AF_INET, address.c_str(), &remote.sin_addr) != 1)
    return fail("bad_address");
  ::setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) return fail("bind:" + errno_name(errno));
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0 && errno != EINPROGRESS)
    return fail(errno == ECONNREFUSED ? "reset" : "connect:" + errno_name(errno));
  if (!wait_for(s.fd, POLLOUT, until)) return fail("connect_timeout");
  int error = 0;
  socklen_t size = sizeof error;
  ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0) return fail(error == ECONNREFUSED || error == ECONNRESET ? "reset" : "connect:" + errno_name(error));
  out.to_connect = since_start();

  lifeline::frame_encoder encoder;
  std::error_code ec;
  const auto hello = encoder.encode(lifeline::hello_frame{.heartbeat_interval = milliseconds{1000}, .dead_after = milliseconds{3000}}, ec);
  if (::send(s.fd, hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size()))
    return fail(errno == ECONNRESET || errno == EPIPE ? "reset" : "error:" + errno_name(errno));

  lifeline::frame_decoder decoder;
  std::array<std::byte, 4096> buffer{};
  for (;;) {
    if (!wait_for(s.fd, POLLIN, until)) return fail("handshake_timeout");
    const auto n = ::recv(s.fd, buffer.data(), buffer.size(), 0);
    if (n == 0) return fail("eof");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return fail(errno == ECONNRESET ? "reset" : "error:" + errno_name(errno));
    }
    decoder.feed(std::span<const std::byte>(buffer.data(), static_cast<std::size_t>(n)));
    while (auto f = decoder.next(ec)) {
      if (const auto* close = std::get_if<lifeline::close_frame>(&*f)) return fail("close:" + std::string(lifeline::to_string(close->code)));
      if (!std::holds_alternative<lifeline::welcome_frame>(*f)) continue;
      out.welcomed = true;
      out.how = "welcome";
      out.to_answer = since_start();
      const auto bye = encoder.encode(lifeline::close_frame{.code = lifeline::close_code::normal}, ec);
      (void)::send(s.fd, bye.data(), bye.size(), MSG_NOSIGNAL);
      return out;
    }
    if (ec) return fail("decode_error");
  }
}

}  // namespace lifeline::hostile
