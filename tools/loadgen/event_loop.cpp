// tools/loadgen/event_loop.cpp — set-up and the loop: descriptors, ports, connect pacing, the epoll loop, READY (load_generator.hpp).
#include "load_generator.hpp"

namespace lifeline::loadgen {

void session::on_deadline(time_point now) { owner->on_session_deadline(*this, now); }

namespace {
bool parse_ipv4(const std::string& text, std::uint16_t port, sockaddr_in& out) {
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return ::inet_pton(AF_INET, text.c_str(), &out.sin_addr) == 1;
}
}  // namespace

bool load_generator::set_up() {
  if (!parse_ipv4(options_.address, options_.port, server_) || !parse_ipv4(options_.doomed_address, 0, doomed_source_) ||
      !parse_ipv4(options_.live_address, 0, live_source_)) {
    std::fprintf(stderr, "lifeline_loadgen: --address, --doomed-address and --live-address must be IPv4 addresses\n");
    return false;
  }

  // Every session is one fd: stay under RLIMIT_NOFILE with room for stdio, epoll, the report.
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const std::size_t fit = limit.rlim_cur > spare_fds ? static_cast<std::size_t>(limit.rlim_cur) - spare_fds : 0;
  if (options_.sessions > fit) {
    std::fprintf(stderr, "lifeline_loadgen: --sessions %zu clamped to %zu (RLIMIT_NOFILE %llu, %zu fds kept spare)\n",
                 options_.sessions, fit, static_cast<unsigned long long>(limit.rlim_cur), spare_fds);
    options_.sessions = fit;
  }
  if (options_.doomed > options_.sessions) {
    std::fprintf(stderr, "lifeline_loadgen: --doomed %zu clamped to the %zu sessions\n", options_.doomed, options_.sessions);
    options_.doomed = options_.sessions;
  }
  const auto last_group_address = std::uint64_t{ntohl(doomed_source_.sin_addr.s_addr)} + options_.doomed_groups - 1;
  if (options_.doomed_groups == 0 || last_group_address > 0xFFFFFFFFu) {
    std::fprintf(stderr, "lifeline_loadgen: --doomed-groups must be at least 1 and fit above --doomed-address\n");
    return false;
  }

  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    std::fprintf(stderr, "lifeline_loadgen: epoll_create1: %s\n", std::strerror(errno));
    return false;
  }
  sessions_.reserve(options_.sessions);
  for (std::size_t i = 0; i < options_.sessions; ++i)
    sessions_.push_back(std::make_unique<session>(*this, static_cast<std::uint32_t>(i), i < options_.doomed));

  if (std::FILE* range = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    unsigned low = 0, high = 0;
    if (std::fscanf(range, "%u %u", &low, &high) == 2 && low > 0 && low < high && high <= 65535) {
      port_low_ = static_cast<std::uint16_t>(low);
      port_high_ = static_cast<std::uint16_t>(high);
    }
    std::fclose(range);
  }
  // Start at a point of the range that depends on the pid, so that two generators
  // running at once do not walk the same ports.
  const auto span = static_cast<unsigned>(port_high_ - port_low_) + 1;
  live_port_ = static_cast<std::uint16_t>(port_low_ + (static_cast<unsigned>(::getpid()) * 7919U) % span);
  doomed_port_ = live_port_;

  connect_spacing_ = std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1.0 / options_.connect_rate));
  // At most one second's worth of connects in flight: a slow server is not flooded with
  // SYNs its accept queue would drop.
  in_flight_cap_ = std::max<std::size_t>(16, static_cast<std::size_t>(options_.connect_rate));
  started_at_ = steady::now();
  next_connect_at_ = started_at_;
  return true;
}

int load_generator::run() {
  if (!set_up()) return 2;
  std::array<epoll_event, 512> events{};
  for (;;) {
    auto now = steady::now();
    if (interrupted) commands_.push_front({command::kind::stop});
    pace_connects(now);
    wheel_.advance(now);
    announce_ready_when_settled(now);
    if (ready_ && now >= next_echo_at_) probe_echo(now);
    if (ready_ && now >= next_stream_at_) pace_stream(now);
    run_commands(now);
    if (stopping_) break;

    now = steady::now();
    const auto wake = next_wakeup(now);
    const int n = wait_for_events(events, wake <= now ? nanoseconds{0} : std::min<nanoseconds>(wake - now, milliseconds{1000}));
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "lifeline_loadgen: epoll_wait: %s\n", std::strerror(errno));
      return 2;
    }
    now = steady::now();
    for (int i = 0; i < n; ++i) {
      const auto& event = events[static_cast<std::size_t>(i)];
      if (event.data.u64 == stdin_key) {
        read_commands();
      } else {
        dispatch(*sessions_[static_cast<std::size_t>(event.data.u64)], event.events, now);
      }
      if (i % 16 == 15) look_for_echo();
    }
  }

  tally_stream();
  close_all();
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  const auto cpu_seconds = [](const rusage& u) {
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const double wall = ready_ ? std::chrono::duration<double>(steady::now() - ready_at_).count() : 0.0;
  const double cpu = cpu_seconds(usage) - (ready_ ? cpu_seconds(usage_at_ready_) : 0.0);
  std::fprintf(stderr,
               "lifeline_loadgen: since READY %.1f s, cpu %.3f s (%.2f %% of a core); total cpu %.3f s; "
               "beats sent %zu, withheld %zu; frames received %zu; echoes %zu of %zu; doomed ended by server %zu; "
               "bytes dropped %zu\n",
               wall, cpu, wall >= 1.0 ? 100.0 * cpu / wall : 0.0, cpu_seconds(usage), beats_sent_, beats_withheld_,
               frames_received_, echoes_.size(), echoes_sent_, doomed_ended_by_server_, bytes_dropped_);
  const bool written = write_report();
  print_line("DONE");
  return written ? 0 : 1;
}

// epoll_pwait2 (Linux 5.11) takes the timeout in nanoseconds: the loop wakes when the
// wheel's tick is due, not rounded up to the next millisecond. epoll_wait is the fallback.
int load_generator::wait_for_events(std::span<epoll_event> events, nanoseconds timeout) {
  const auto capacity = static_cast<int>(events.size());
  if (have_epoll_pwait2_) {
    const timespec limit{.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000),
                         .tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000)};
    const int n = ::epoll_pwait2(epoll_fd_, events.data(), capacity, &limit, nullptr);
    if (n >= 0 || errno != ENOSYS) return n;
    have_epoll_pwait2_ = false;
  }
  return ::epoll_wait(epoll_fd_, events.data(), capacity, static_cast<int>(std::chrono::ceil<milliseconds>(timeout).count()));
}

// The reply to the echo probe in flight, if it has come: called between chunks of other
// work, so that a round trip does not include the time we spent on other sessions.
void load_generator::look_for_echo() {
  if (echo_in_flight_ && echo_session_->fd >= 0 && echo_session_->reading) read_from(*echo_session_, steady::now());
}

// Starts the connects whose paced time has come, a bounded number per loop turn: when
// connects cost more CPU than their spacing, an unbounded catch-up would grow every turn
// and starve the open sessions' beats and reads (seen at 20,000/s: thousands of sessions
// timed out by the server while still connecting others).
void load_generator::pace_connects(time_point now) {
  for (std::size_t started = 0; started < max_connects_per_turn; ++started) {
    if (next_to_start_ >= sessions_.size() || next_connect_at_ > now) return;
    if (in_flight_ >= in_flight_cap_) {
      next_connect_at_ = now;  // resume at the paced rate once a slot frees, no burst
      return;
    }
    start_connect(*sessions_[next_to_start_++], now);
    next_connect_at_ += connect_spacing_;
  }
}

time_point load_generator::next_wakeup(time_point now) const {
  auto wake = wheel_.next_wakeup();
  if (next_to_start_ < sessions_.size() && in_flight_ < in_flight_cap_) wake = std::min(wake, next_connect_at_);
  if (ready_) wake = std::min({wake, next_echo_at_, quiet_ ? time_point::max() : next_stream_at_});
  if (!commands_.empty()) {
    const auto& next = commands_.front();
    wake = std::min(wake, next.what == command::kind::kill ? next.at - kill_lead : now);
  }
  return wake;
}

void load_generator::dispatch(session& s, std::uint32_t events, time_point now) {
  if (s.fd < 0) return;
  if (s.state == session_state::connecting) return on_connect_done(s, now);
  if (s.reading && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    read_from(s, now);
  } else if (!s.reading && (events & (EPOLLERR | EPOLLHUP))) {
    // A stalled session reads nothing, so the error is all we learn: the server reset it.
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size);
    peer_ended(s, error == ECONNRESET || error == 0 ? "reset" : "error:" + errno_name(error), now);
  }
  if (s.fd >= 0 && (events & EPOLLOUT)) flush(s, now);
}

void load_generator::announce_ready_when_settled(time_point now) {
  if (ready_ || next_to_start_ < sessions_.size() || in_flight_ > 0) return;
  ready_ = true;
  ready_at_ = now;
  ::getrusage(RUSAGE_SELF, &usage_at_ready_);
  std::size_t open = 0;
  for (const auto& s : sessions_) open += s->state == session_state::open ? 1U : 0U;
  std::string reasons;
  for (const auto& [why, count] : failure_reasons_) reasons += " " + why + "=" + std::to_string(count);
  std::fprintf(stderr, "lifeline_loadgen: %zu sessions in %.2f s: %zu open, %zu failed%s%s\n", sessions_.size(),
               std::chrono::duration<double>(now - started_at_).count(), open, failed_, reasons.empty() ? "" : ":",
               reasons.c_str());
  print_line("READY " + std::to_string(open) + " " + std::to_string(failed_));
  if (options_.echo_interval.count() > 0) next_echo_at_ = now + options_.echo_interval;
  if (options_.stream_interval.count() > 0 && options_.doomed > 0) {
    stream_spacing_ = std::chrono::duration_cast<steady::duration>(options_.stream_interval) /
                      static_cast<steady::rep>(options_.doomed);
    next_stream_at_ = now + stream_spacing_;
  }

  // Commands are read only now: the driver speaks after READY.
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = stdin_key;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, STDIN_FILENO, &event) == 0) {
    stdin_watched_ = true;
  } else {
    // A regular file (or /dev/null) cannot be watched but never blocks: read it all now.
    while (!stdin_done_) read_commands();
  }
}

}  // namespace lifeline::loadgen
