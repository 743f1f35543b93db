// tools/loadgen/faults.cpp — the driver's commands and the faults they apply
// (load_generator.hpp).
#include "load_generator.hpp"

namespace lifeline::loadgen {

void load_generator::read_commands() {
  std::array<char, 4096> buffer{};
  const auto n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    stdin_done_ = true;
    if (stdin_watched_) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, STDIN_FILENO, nullptr);
    stdin_watched_ = false;
    if (!stdin_buffer_.empty()) parse_command(stdin_buffer_);
    commands_.push_back({command::kind::stop});  // EOF means STOP
    return;
  }
  stdin_buffer_.append(buffer.data(), static_cast<std::size_t>(n));
  std::size_t end;
  while ((end = stdin_buffer_.find('\n')) != std::string::npos) {
    parse_command(std::string_view(stdin_buffer_).substr(0, end));
    stdin_buffer_.erase(0, end + 1);
  }
}

void load_generator::parse_command(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return;
  if (line == "STOP") {
    commands_.push_back({command::kind::stop});
    return;
  }
  if (line == "QUIET") {
    commands_.push_back({command::kind::quiet});
    return;
  }
  if (line.starts_with("KILL ")) {
    const auto* const last = line.data() + line.size();
    const auto skip_blanks = [last](const char* p) {
      while (p != last && *p == ' ') ++p;
      return p;
    };
    std::int64_t ns = 0;
    auto parsed = std::from_chars(skip_blanks(line.data() + 5), last, ns);
    command kill{command::kind::kill, from_monotonic_ns(ns)};
    if (parsed.ec == std::errc{} && parsed.ptr != last && *parsed.ptr == ' ')
      parsed = std::from_chars(skip_blanks(parsed.ptr), last, kill.count);
    if (parsed.ec == std::errc{} && parsed.ptr == last) {
      commands_.push_back(kill);
      return;
    }
  }
  std::fprintf(stderr, "lifeline_loadgen: error: unknown command '%.*s' (KILL <ns> [count], QUIET or STOP)\n",
               static_cast<int>(line.size()), line.data());
}

void load_generator::run_commands(time_point now) {
  while (!commands_.empty()) {
    const auto next = commands_.front();
    if (next.what == command::kind::stop) {
      commands_.clear();
      stopping_ = true;
      return;
    }
    if (next.what == command::kind::quiet) {
      commands_.pop_front();
      quiet_ = true;
      continue;
    }
    if (now < next.at - kill_lead) return;  // the loop wakes kill_lead early
    spin_until(next.at);
    commands_.pop_front();
    const auto killed = apply_fault_to_next_doomed(next.count);
    print_line("KILLED " + std::to_string(killed));
    now = steady::now();
  }
}

std::size_t load_generator::apply_fault_to_next_doomed(std::size_t count) {
  if (next_doomed_to_reach_ == options_.doomed)
    std::fprintf(stderr, "lifeline_loadgen: KILL after every doomed session was reached: nothing left to kill\n");
  const std::size_t end = options_.doomed - next_doomed_to_reach_ <= count ? options_.doomed : next_doomed_to_reach_ + count;
  const auto kill_number = kills_applied_++;
  std::size_t killed = 0;
  for (; next_doomed_to_reach_ < end; ++next_doomed_to_reach_) {
    auto& s = *sessions_[next_doomed_to_reach_];
    if (s.state != session_state::open) continue;
    if (!apply_fault(s, steady::now())) break;
    s.killed_by = kill_number;
    // Applying a fault to thousands of sessions takes milliseconds (a close on loopback
    // runs the server's side of the TCP exchange too). Meanwhile, look for the echo in
    // flight, or its round trip would include our own busy time, not the server's.
    if (++killed % 16 == 0) look_for_echo();
  }
  return killed;
}

// Applies the fault to one open doomed session, stamping it just before the system call
// that makes it, so detection - kill is never negative. False if the fault cannot be
// applied at all (TCP_REPAIR without CAP_NET_ADMIN).
bool load_generator::apply_fault(session& s, time_point now) {
  switch (options_.fault) {
    case fault_kind::hung:
    case fault_kind::blackholed:
    case fault_kind::unreachable:
      // Silent from now on; still reading, so the kernel keeps ACKing with an open window.
      s.sending = false;
      wheel_.cancel(s.deadline);
      s.unsent.clear();
      set_interest(s, EPOLLIN);
      break;
    case fault_kind::closed:
      // A FIN now. The socket stays open, reading, until the server's own EOF: closing
      // with unread bytes would send an RST instead, and the server would see a reset.
      s.sending = false;
      wheel_.cancel(s.deadline);
      s.unsent.clear();
      set_interest(s, EPOLLIN);
      ::shutdown(s.fd, SHUT_WR);
      break;
    case fault_kind::rebooted: {
      const int on = 1;
      if (::setsockopt(s.fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0) {
        std::fprintf(stderr, "lifeline_loadgen: error: TCP_REPAIR: %s (needs CAP_NET_ADMIN); rebooted fault not applied\n",
                     std::strerror(errno));
        return false;
      }
      // The kernel forgets the connection without FIN or RST, as a rebooted host would.
      s.killed_at = now;
      close_socket(s);
      return true;
    }
    case fault_kind::reset: {
      // An RST now: the server hears of it at once, as from a client whose stack gave up.
      const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
      ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
      close_socket(s);
      break;
    }
    case fault_kind::stalled: {
      // Never read again (the receive buffer was made small before connecting), so the
      // window closes and the server's writes back up; the beats go on, so only the write
      // path can tell.
      s.reading = false;
      set_interest(s, s.unsent.empty() ? 0 : std::uint32_t{EPOLLOUT});
      break;
    }
  }
  s.killed_at = now;
  s.state = session_state::faulted;
  if (options_.reconnect_after && !s.token.empty()) {  // back after D (+ spread), to resume
    s.reconnecting = true;
    wheel_.schedule_at(s.deadline, now + *options_.reconnect_after + microseconds{reconnect_spread_us_(rng_)});
  }
  return true;
}

}  // namespace lifeline::loadgen
