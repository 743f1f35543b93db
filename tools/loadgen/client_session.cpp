// tools/loadgen/client_session.cpp — one client session: connect, handshake, frames, beats,
// its end (load_generator.hpp).
#include "load_generator.hpp"

namespace lifeline::loadgen {

// Binds `fd` to `source` with a port of our choosing, walking the ephemeral range from
// `cursor`. Letting connect() choose the port instead costs a search through every port
// already in use from that address, on every connect: quadratic in N (at 19,900 sessions,
// 0.4 ms of CPU per connect). Ports in use elsewhere fail with EADDRINUSE and are
// skipped; after a few failures in a row, the kernel chooses after all.
bool load_generator::bind_source(int fd, sockaddr_in source, std::uint16_t& cursor) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    source.sin_port = htons(cursor);
    cursor = cursor >= port_high_ ? port_low_ : static_cast<std::uint16_t>(cursor + 1);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0) return true;
    if (errno != EADDRINUSE) return false;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);  // chosen at connect()
  source.sin_port = 0;
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0;
}

// A doomed session's group, as the header defines it: the largest g with K*g/G <= index.
// Dialling again to resume, every session comes from the live address.
sockaddr_in load_generator::source_of(const session& s) const {
  if (!s.doomed || s.reconnecting) return live_source_;
  const std::uint64_t groups = options_.doomed_groups, doomed = options_.doomed;
  const std::uint64_t group = std::min(groups - 1, ((std::uint64_t{s.index} + 1) * groups - 1) / doomed);
  sockaddr_in source = doomed_source_;
  source.sin_addr.s_addr = htonl(static_cast<std::uint32_t>(ntohl(doomed_source_.sin_addr.s_addr) + group));
  return source;
}

void load_generator::start_connect(session& s, time_point now) {
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return fail(s, "socket:" + errno_name(errno));
  const int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (s.doomed && options_.fault == fault_kind::stalled && !s.reconnecting) {
    // As small a receive buffer as the kernel allows, set before connecting, so that the
    // window it advertises is small from the start and closes a few KB after the session
    // stops reading. Shrunk on a live connection instead, the kernel drops segments inside
    // the window it already advertised, the ACKs they carry with them: the peer's own
    // beats then go unacknowledged, its cwnd collapses to one retransmitted segment, and
    // the server hears a silent peer, not a stalled reader (TcpExtBeyondWindow,
    // DelayedACKLost; measured on loopback).
    const int smallest = 1;
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &smallest, sizeof smallest);
  }
  const auto source = source_of(s);
  const bool separate_ports = s.doomed && source.sin_addr.s_addr != live_source_.sin_addr.s_addr;
  if (!bind_source(s.fd, source, separate_ports ? doomed_port_ : live_port_))
    return fail(s, "bind:" + errno_name(errno));
  s.state = session_state::connecting;
  ++in_flight_;
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&server_), sizeof server_) != 0 && errno != EINPROGRESS)
    return fail(s, "connect:" + errno_name(errno));
  socklen_t source_size = sizeof s.source;  // the port is known by now even when connect() chose it
  ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&s.source), &source_size);
  set_interest(s, EPOLLOUT);
  if (s.fd >= 0) wheel_.schedule_at(s.deadline, now + options_.open_timeout);
}

void load_generator::on_connect_done(session& s, time_point now) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  if (error != 0) return fail(s, "connect:" + errno_name(error));
  s.state = session_state::handshaking;
  set_interest(s, EPOLLIN);
  if (s.reconnecting) s.hello_sent = steady::now();  // not the loop turn's now: this event may come late in it
  send_frame(s,
             s.reconnecting ? resume_hello(s)
                            : lifeline::hello_frame{.heartbeat_interval = options_.heartbeat_interval,
                                                    .dead_after = options_.dead_after},
             now);
}

void load_generator::read_from(session& s, time_point now) {
  for (int reads = 0; reads < 4; ++reads) {
    const auto n = ::recv(s.fd, read_buffer_.data(), read_buffer_.size(), 0);
    if (n == 0) return peer_ended(s, "eof", now);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return peer_ended(s, errno == ECONNRESET ? "reset" : "error:" + errno_name(errno), now);
    }
    const auto bytes = static_cast<std::size_t>(n);
    s.decoder.feed(std::span<const std::byte>(read_buffer_.data(), bytes));
    std::error_code ec;
    while (auto f = s.decoder.next(ec)) {
      ++frames_received_;
      handle_frame(s, *f, now);
      if (s.fd < 0 || !s.reading) return;  // ended, or the frame ended it
    }
    if (ec) return peer_ended(s, "decode_error", now);
    if (bytes < read_buffer_.size()) return;  // drained what the kernel had
  }
}

void load_generator::handle_frame(session& s, const lifeline::frame& f, time_point now) {
  if (const auto* beat = std::get_if<lifeline::beat_frame>(&f)) {
    // Echoed in our next beat, as lifeline does, so the server can measure the RTT.
    s.peer_sent_at = beat->sent_at;
    s.peer_beat_received = now;
    note_ack(s, beat->ack);
  } else if (const auto* data = std::get_if<lifeline::data_frame>(&f)) {
    ++s.received;
    note_ack(s, data->ack);
    on_data(s, data->payload, now);
  } else if (const auto* welcome = std::get_if<lifeline::welcome_frame>(&f)) {
    if (s.state != session_state::handshaking) return;
    if (s.reconnecting) return on_resumed(s, *welcome, now);
    on_welcome(s, *welcome, now);
  } else if (const auto* close = std::get_if<lifeline::close_frame>(&f)) {
    // A refused resume names why in the detail: a resume_error's name, one word.
    const bool refused = close->code == lifeline::close_code::resume_rejected && !close->detail.empty();
    peer_ended(s, "close:" + std::string(to_string(close->code)) + (refused ? ":" + std::string(close->detail) : ""), now);
  }
}

void load_generator::on_welcome(session& s, const lifeline::welcome_frame& w, time_point now) {
  s.server_id = w.session_id;
  // The server's settings win, as in lifeline's own client.
  s.interval = options_.heartbeat_interval;
  if (w.heartbeat_interval.count() > 0 && w.dead_after > w.heartbeat_interval) s.interval = w.heartbeat_interval;
  if (s.interval != options_.heartbeat_interval && !warned_interval_) {
    warned_interval_ = true;
    std::fprintf(stderr, "lifeline_loadgen: the server chose H = %lld ms, T = %lld ms (asked for %lld, %lld)\n",
                 static_cast<long long>(w.heartbeat_interval.count()), static_cast<long long>(w.dead_after.count()),
                 static_cast<long long>(options_.heartbeat_interval.count()),
                 static_cast<long long>(options_.dead_after.count()));
  }
  s.state = session_state::open;
  --in_flight_;
  keep_token(s, w);
  schedule_beat(s, now);
}

bool load_generator::send_frame(session& s, const lifeline::frame& f, time_point now) {
  std::error_code ec;
  const auto bytes = encoder_.encode(f, ec);
  if (ec) return true;  // only a frame above the maximum size: none of ours is
  s.last_sent = now;
  if (!s.unsent.empty()) {
    // The socket is already backed up; keep order, bounded.
    if (s.unsent.size() + bytes.size() <= max_unsent) {
      s.unsent.insert(s.unsent.end(), bytes.begin(), bytes.end());
    } else {
      bytes_dropped_ += bytes.size();
    }
    return true;
  }
  const auto n = ::send(s.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (n >= 0 && static_cast<std::size_t>(n) == bytes.size()) return true;
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    peer_ended(s, errno == ECONNRESET || errno == EPIPE ? "reset" : "error:" + errno_name(errno), now);
    return false;
  }
  const auto taken = n < 0 ? std::size_t{0} : static_cast<std::size_t>(n);
  s.unsent.assign(bytes.begin() + static_cast<std::ptrdiff_t>(taken), bytes.end());
  set_interest(s, s.interest | EPOLLOUT);
  return true;
}

void load_generator::flush(session& s, time_point now) {
  while (!s.unsent.empty()) {
    const auto n = ::send(s.fd, s.unsent.data(), s.unsent.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      return peer_ended(s, errno == ECONNRESET || errno == EPIPE ? "reset" : "error:" + errno_name(errno), now);
    }
    s.unsent.erase(s.unsent.begin(), s.unsent.begin() + n);
  }
  set_interest(s, s.interest & ~std::uint32_t{EPOLLOUT});
}

void load_generator::send_beat(session& s, time_point now) {
  const auto held = s.peer_sent_at == lifeline::wire_timestamp{}
                        ? microseconds{0}
                        : std::chrono::duration_cast<microseconds>(now - s.peer_beat_received);
  if (send_frame(s, lifeline::beat_frame{.sent_at = lifeline::to_wire_timestamp(now), .echo_of_peer = s.peer_sent_at,
                                         .held_for = held, .ack = ack_to_send(s)},
                 now))
    ++beats_sent_;
}

// The next beat is due this session's H (+ jitter) after its last send; a send in between
// only moves last_sent, and on_session_deadline re-arms for the remainder.
void load_generator::schedule_beat(session& s, time_point now) {
  s.beat_delay = s.interval;
  if (!s.doomed && options_.jitter.count() > 0) s.beat_delay += microseconds{jitter_us_(rng_)};
  wheel_.schedule_at(s.deadline, std::max(now, s.last_sent + s.beat_delay));
}

void load_generator::on_session_deadline(session& s, time_point now) {
  switch (s.state) {
    case session_state::connecting:
    case session_state::handshaking:
      return fail(s, s.state == session_state::connecting ? "connect:timeout" : "handshake:timeout");
    case session_state::faulted:
      if (s.reconnecting) return redial(s, now);  // the reconnect's time (faults.cpp)
      [[fallthrough]];
    case session_state::open:
      if (!s.sending || s.fd < 0) return;
      if (now < s.last_sent + s.beat_delay) {
        wheel_.schedule_at(s.deadline, s.last_sent + s.beat_delay);
        return;
      }
      if (!s.doomed && options_.loss > 0.0 && loss_(rng_)) {
        ++beats_withheld_;
        s.last_sent = now;  // as if sent: the next one comes another H later
      } else {
        send_beat(s, now);
        if (s.fd < 0) return;
      }
      return schedule_beat(s, now);
    case session_state::waiting:
    case session_state::ended:
      return;
  }
}

void load_generator::set_interest(session& s, std::uint32_t events) {
  if (s.fd < 0 || events == s.interest) return;
  epoll_event event{};
  event.events = events;
  event.data.u64 = s.index;
  // Registered once, at the first interest; events 0 still reports EPOLLERR and EPOLLHUP.
  const int op = s.interest == 0 && s.state == session_state::connecting ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (::epoll_ctl(epoll_fd_, op, s.fd, &event) != 0) {
    std::fprintf(stderr, "lifeline_loadgen: epoll_ctl: %s\n", std::strerror(errno));
    return;
  }
  s.interest = events;
}

// The server ended the session, or its socket failed. A false kill when the session was
// open and not killed; for a killed session, the expected end of the story.
void load_generator::peer_ended(session& s, std::string how, time_point now) {
  switch (s.state) {
    case session_state::connecting:
    case session_state::handshaking:
      return fail(s, "handshake:" + how);
    case session_state::open:
      if (!stopping_) lost_.push_back({s.index, monotonic_ns(now), std::move(how)});
      break;
    case session_state::faulted:
      ++doomed_ended_by_server_;
      if (s.reconnecting && s.fd >= 0) {  // its socket goes; its reconnect stays due
        ::close(s.fd);
        s.fd = -1;
        s.interest = 0;
        return;
      }
      break;
    case session_state::waiting:
    case session_state::ended:
      break;
  }
  close_socket(s);
}

void load_generator::fail(session& s, std::string why) {
  if (s.state == session_state::connecting || s.state == session_state::handshaking) --in_flight_;
  if (s.reconnecting) return record_unresumed(s, std::move(why), steady::now());
  ++failed_;
  ++failure_reasons_[why];
  close_socket(s);
}

void load_generator::close_socket(session& s) {
  wheel_.cancel(s.deadline);
  if (s.fd >= 0) ::close(s.fd);  // also leaves the epoll set
  s.fd = -1;
  s.interest = 0;
  s.state = session_state::ended;
  s.unsent.clear();
  s.unsent.shrink_to_fit();
}

}  // namespace lifeline::loadgen
