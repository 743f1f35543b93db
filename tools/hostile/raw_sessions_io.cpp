// A raw_pool's reading and writing (see raw_sessions.hpp for the whole picture): events,
// frames in, small frames and streams out, heartbeats when quiet.
#include "raw_sessions.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace lifeline::hostile {
namespace {

constexpr std::size_t max_unsent = 64 * 1024;
constexpr std::size_t stream_bytes_per_turn = 256 * 1024;  // fairness between flooding sessions

}  // namespace

// --- events ----------------------------------------------------------------------------------

void raw_pool::dispatch(raw_session& s, std::uint32_t events, time_point now) {
  if (s.fd < 0) return;
  if (s.state == raw_state::connecting) return on_connect_done(s, now);
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    if (s.reading) {
      read_from(s, now);
    } else if (events & (EPOLLERR | EPOLLHUP)) {
      int error = 0;
      socklen_t size = sizeof error;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size);
      ended(s, error == ECONNRESET || error == EPIPE || error == 0 ? "reset" : "error:" + errno_name(error), now);
    }
  }
  if (s.fd >= 0 && (events & EPOLLOUT)) flush(s, now);
}

void raw_pool::read_from(raw_session& s, time_point now) {
  for (int reads = 0; reads < 4; ++reads) {
    const auto n = ::recv(s.fd, read_buffer_.data(), read_buffer_.size(), 0);
    if (n == 0) return ended(s, "eof", now);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return ended(s, errno == ECONNRESET ? "reset" : "error:" + errno_name(errno), now);
    }
    const auto bytes = static_cast<std::size_t>(n);
    s.decoder.feed(std::span<const std::byte>(read_buffer_.data(), bytes));
    std::error_code ec;
    while (auto f = s.decoder.next(ec)) {
      handle_frame(s, *f, now);
      if (s.fd < 0) return;
    }
    if (ec) return ended(s, "decode_error", now);
    if (bytes < read_buffer_.size()) return;
  }
}

void raw_pool::handle_frame(raw_session& s, const lifeline::frame& f, time_point now) {
  if (const auto* beat = std::get_if<lifeline::beat_frame>(&f)) {
    s.peer_sent_at = beat->sent_at;  // echoed in our next beat, so the server can take an RTT
    s.peer_beat_received = now;
  } else if (const auto* data = std::get_if<lifeline::data_frame>(&f)) {
    role_.on_data(s, data->payload, now);
  } else if (const auto* welcome = std::get_if<lifeline::welcome_frame>(&f)) {
    if (s.state != raw_state::handshaking) return;
    s.state = raw_state::open;
    --in_flight_;
    ++open_now_;
    s.opened_at = now;
    s.server_id = welcome->session_id;
    s.interval = settings_.heartbeat;
    if (welcome->heartbeat_interval.count() > 0) s.interval = welcome->heartbeat_interval;  // the server's word wins
    wheel_.schedule_at(s.beat_timer, s.last_sent + s.interval);
    role_.on_opened(s, now);
  } else if (const auto* close = std::get_if<lifeline::close_frame>(&f)) {
    ended(s, "close:" + std::string(lifeline::to_string(close->code)), now);
  }
}

// --- writing -----------------------------------------------------------------------------------

bool raw_pool::send_frame(raw_session& s, const lifeline::frame& f, time_point now) {
  if (s.fd < 0) return false;
  if (s.stream) {
    ++frames_dropped_;  // a frame must not cut into the stream
    return true;
  }
  std::error_code ec;
  const auto bytes = encoder_.encode(f, ec);
  if (ec) return true;
  s.last_sent = now;
  if (!s.unsent.empty()) {
    if (s.unsent.size() + bytes.size() <= max_unsent) s.unsent.insert(s.unsent.end(), bytes.begin(), bytes.end());
    else ++frames_dropped_;
    return true;
  }
  const auto n = ::send(s.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    ended(s, errno == ECONNRESET || errno == EPIPE ? "reset" : "error:" + errno_name(errno), now);
    return false;
  }
  const auto taken = n < 0 ? std::size_t{0} : static_cast<std::size_t>(n);
  s.bytes_sent += taken;
  if (taken < bytes.size()) {
    s.unsent.assign(bytes.begin() + static_cast<std::ptrdiff_t>(taken), bytes.end());
    set_interest(s, s.interest | EPOLLOUT);
  }
  return true;
}

void raw_pool::start_stream(raw_session& s, outbound_stream stream, time_point now) {
  if (s.fd < 0) return;
  s.stream = stream;
  flush(s, now);
}

void raw_pool::flush(raw_session& s, time_point now) {
  while (!s.unsent.empty()) {
    const auto n = ::send(s.fd, s.unsent.data(), s.unsent.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return set_interest(s, s.interest | EPOLLOUT);
      return ended(s, errno == ECONNRESET || errno == EPIPE ? "reset" : "error:" + errno_name(errno), now);
    }
    s.bytes_sent += static_cast<std::size_t>(n);
    s.unsent.erase(s.unsent.begin(), s.unsent.begin() + n);
  }
  if (s.stream && !write_stream(s, now)) return;
  if (s.fd >= 0) set_interest(s, s.interest & ~std::uint32_t{EPOLLOUT});
}

// False while the stream goes on (the socket is full, or this turn's share is written) or
// the session ended.
bool raw_pool::write_stream(raw_session& s, time_point now) {
  auto& st = *s.stream;
  std::size_t this_turn = 0;
  while (st.remaining > 0) {
    if (this_turn >= stream_bytes_per_turn) {
      set_interest(s, s.interest | EPOLLOUT);
      return false;
    }
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(st.remaining, st.block.size() - st.offset));
    const auto n = ::send(s.fd, st.block.data() + st.offset, chunk, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        set_interest(s, s.interest | EPOLLOUT);
        return false;
      }
      ended(s, errno == ECONNRESET || errno == EPIPE ? "reset" : "error:" + errno_name(errno), now);
      return false;
    }
    const auto taken = static_cast<std::size_t>(n);
    st.offset = (st.offset + taken) % st.block.size();
    if (st.remaining != outbound_stream::endless) st.remaining -= taken;
    s.bytes_sent += taken;
    this_turn += taken;
    s.last_sent = now;
  }
  s.stream.reset();
  role_.on_stream_done(s, now);
  return s.fd >= 0;
}

void raw_pool::stop_reading(raw_session& s) {
  s.reading = false;
  set_interest(s, s.interest & ~std::uint32_t{EPOLLIN});
}

void raw_pool::beat_due(raw_session& s, time_point now) {
  if (s.state == raw_state::connecting || s.state == raw_state::handshaking) return ended(s, "timeout", now);
  if (s.state != raw_state::open || !s.beating) return;
  if (now >= s.last_sent + s.interval && !s.stream) {
    send_frame(s,
               lifeline::beat_frame{.sent_at = lifeline::to_wire_timestamp(now),
                                    .echo_of_peer = s.peer_sent_at,
                                    .held_for = s.peer_sent_at == lifeline::wire_timestamp{}
                                                    ? std::chrono::microseconds{0}
                                                    : std::chrono::duration_cast<std::chrono::microseconds>(now - s.peer_beat_received)},
               now);
    if (s.fd < 0) return;
  }
  wheel_.schedule_at(s.beat_timer, std::max(now + milliseconds{1}, s.last_sent + s.interval));
}

void raw_pool::set_interest(raw_session& s, std::uint32_t events) {
  if (s.fd < 0 || events == s.interest) return;
  epoll_event event{};
  event.events = events;
  event.data.u64 = s.index;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, s.fd, &event) == 0) s.interest = events;
}

}  // namespace lifeline::hostile
