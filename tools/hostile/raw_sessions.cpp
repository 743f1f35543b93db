// A raw_pool's loop, set-up, connecting, ending and commands (see raw_sessions.hpp; the
// reading and writing are in raw_sessions_io.cpp).
#include "raw_sessions.hpp"

#include "interrupt.hpp"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lifeline::hostile {
namespace {

constexpr std::uint64_t stdin_key = ~std::uint64_t{0};
constexpr std::size_t connects_per_turn = 64;
constexpr std::size_t spare_fds = 64;

}  // namespace

std::string errno_name(int error) {
  if (const char* name = ::strerrorname_np(error)) return name;
  return std::to_string(error);
}

raw_session::raw_session(raw_pool& owner, std::uint32_t i, std::size_t max_frame)
    : pool(&owner), index(i), decoder(max_frame) {}

void raw_session::on_beat_due(time_point now) { pool->beat_due(*this, now); }
void raw_session::on_role_due(time_point now) { pool->role_.on_timer(*this, now); }

raw_pool::raw_pool(raw_pool_settings settings, raw_role& role)
    : settings_(std::move(settings)),
      role_(role),
      wheel_(steady::now(), milliseconds{1}),
      encoder_(settings_.max_frame),
      read_buffer_(64 * 1024) {}

raw_pool::~raw_pool() {
  for (auto& s : sessions_) abort(*s);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

std::string raw_pool::failures_text() const {
  std::string text;
  for (const auto& [how, count] : failures_) text += " " + how + "=" + std::to_string(count);
  return text;
}

bool raw_pool::set_up() {
  // One descriptor per session: stay under RLIMIT_NOFILE, raised to its hard limit.
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  const std::size_t fit = limit.rlim_cur > spare_fds ? static_cast<std::size_t>(limit.rlim_cur) - spare_fds : 0;
  if (settings_.sessions > fit) {
    std::fprintf(stderr, "lifeline_hostile worker: %zu sessions clamped to %zu (RLIMIT_NOFILE %llu)\n",
                 settings_.sessions, fit, static_cast<unsigned long long>(limit.rlim_cur));
    settings_.sessions = fit;
  }
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    std::fprintf(stderr, "lifeline_hostile worker: epoll_create1: %s\n", std::strerror(errno));
    return false;
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = stdin_key;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, STDIN_FILENO, &event);  // a file or /dev/null cannot be watched: no commands

  if (std::FILE* range = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "r")) {
    unsigned low = 0, high = 0;
    if (std::fscanf(range, "%u %u", &low, &high) == 2 && low > 0 && low < high && high <= 65535) {
      port_low_ = static_cast<std::uint16_t>(low);
      port_high_ = static_cast<std::uint16_t>(high);
    }
    std::fclose(range);
  }
  // Each process starts at its own point of the range, so two workers do not walk the same ports.
  const auto span = static_cast<unsigned>(port_high_ - port_low_) + 1;
  for (std::size_t i = 0; i < settings_.sources.size(); ++i)
    port_cursor_.push_back(static_cast<std::uint16_t>(
        port_low_ + (static_cast<unsigned>(::getpid()) * 7919U + static_cast<unsigned>(i) * 104729U) % span));

  sessions_.reserve(settings_.sessions);
  for (std::size_t i = 0; i < settings_.sessions; ++i)
    sessions_.push_back(std::make_unique<raw_session>(*this, static_cast<std::uint32_t>(i), settings_.max_frame));
  next_connect_at_ = steady::now();
  return true;
}

int raw_pool::run() {
  if (!set_up()) return 2;
  std::array<epoll_event, 512> events{};
  next_second_ = steady::now() + std::chrono::seconds{1};
  for (;;) {
    auto now = steady::now();
    if (interrupted()) stopping_ = true;
    if (stopping_) break;
    pace_connects(now);
    wheel_.advance(now);
    if (!settled_ && next_to_start_ == sessions_.size() && in_flight_ == 0 && reopen_queue_.empty()) {
      settled_ = true;
      role_.on_settled(now);
    }
    if (now >= next_second_) {
      role_.on_second(now);
      next_second_ = std::max(next_second_ + std::chrono::seconds{1}, now);
    }
    now = steady::now();
    const auto wake = next_wakeup();
    const auto wait = wake <= now ? milliseconds{0}
                                  : std::min(std::chrono::ceil<milliseconds>(wake - now), milliseconds{1000});
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), static_cast<int>(wait.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "lifeline_hostile worker: epoll_wait: %s\n", std::strerror(errno));
      return 2;
    }
    now = steady::now();
    for (int i = 0; i < n; ++i) {
      const auto& event = events[static_cast<std::size_t>(i)];
      if (event.data.u64 == stdin_key) read_commands(now);
      else dispatch(*sessions_[static_cast<std::size_t>(event.data.u64)], event.events, now);
    }
  }
  for (auto& s : sessions_) abort(*s);
  role_.finish();
  emit("DONE");
  return 0;
}

time_point raw_pool::next_wakeup() const {
  auto wake = std::min(wheel_.next_wakeup(), next_second_);
  const bool waiting = next_to_start_ < sessions_.size() || !reopen_queue_.empty();
  if (waiting && in_flight_ < settings_.connects_in_flight) wake = std::min(wake, next_connect_at_);
  return wake;
}

// --- connecting ----------------------------------------------------------------------------

void raw_pool::pace_connects(time_point now) {
  const auto spacing = settings_.connect_rate > 0
                           ? std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1.0 / settings_.connect_rate))
                           : steady::duration::zero();
  for (std::size_t started = 0; started < connects_per_turn; ++started) {
    if (in_flight_ >= settings_.connects_in_flight || next_connect_at_ > now) return;
    raw_session* s = nullptr;
    if (!reopen_queue_.empty()) {
      s = reopen_queue_.back();
      reopen_queue_.pop_back();
    } else if (next_to_start_ < sessions_.size()) {
      s = sessions_[next_to_start_++].get();
    } else {
      return;
    }
    start_connect(*s, now);
    next_connect_at_ = std::max(next_connect_at_ + spacing, now - milliseconds{100});  // no burst after a stall
  }
}

void raw_pool::start_connect(raw_session& s, time_point now) {
  s.state = raw_state::connecting;
  s.reading = true;
  s.beating = settings_.beat;
  s.decoder = lifeline::frame_decoder(settings_.max_frame);
  s.peer_sent_at = {};
  s.server_id = 0;
  s.connect_started = now;
  ++connects_started_;
  ++in_flight_;
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return ended(s, "socket:" + errno_name(errno), now);
  const int one = 1;
  ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (settings_.receive_buffer > 0)
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &settings_.receive_buffer, sizeof settings_.receive_buffer);
  // Bound to the session's source address with a port of our own choosing, walking the
  // ephemeral range: letting connect() choose costs a search through every port in use
  // from that address, on every connect (tools/loadgen.cpp measured it). After a run of
  // ports in use, the kernel chooses after all.
  if (!settings_.sources.empty()) {
    const std::size_t which = s.index % settings_.sources.size();
    sockaddr_in source = settings_.sources[which];
    auto& cursor = port_cursor_[which];
    bool bound = false;
    for (int attempt = 0; attempt < 64 && !bound; ++attempt) {
      source.sin_port = htons(cursor);
      cursor = cursor >= port_high_ ? port_low_ : static_cast<std::uint16_t>(cursor + 1);
      bound = ::bind(s.fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0;
      if (!bound && errno != EADDRINUSE) break;
    }
    if (!bound) {
      ::setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);  // the kernel chooses at connect()
      source.sin_port = 0;
      if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0)
        return ended(s, "bind:" + errno_name(errno), now);
    }
  }
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&settings_.server), sizeof settings_.server) != 0 &&
      errno != EINPROGRESS)
    return ended(s, "connect:" + errno_name(errno), now);
  epoll_event event{};
  event.events = EPOLLOUT;
  event.data.u64 = s.index;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &event) != 0) return ended(s, "epoll:" + errno_name(errno), now);
  s.interest = EPOLLOUT;
  wheel_.schedule_at(s.beat_timer, now + settings_.open_timeout);  // the open deadline, until open
}

void raw_pool::on_connect_done(raw_session& s, time_point now) {
  int error = 0;
  socklen_t size = sizeof error;
  if (::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
  if (error != 0) return ended(s, "connect:" + errno_name(error), now);
  ++connects_done_;
  if (settings_.handshake) {
    s.state = raw_state::handshaking;
    set_interest(s, EPOLLIN);
    send_frame(s, lifeline::hello_frame{.heartbeat_interval = settings_.heartbeat, .dead_after = settings_.dead_after}, now);
    return;
  }
  s.state = raw_state::open;
  --in_flight_;
  ++open_now_;
  s.opened_at = now;
  wheel_.cancel(s.beat_timer);
  set_interest(s, s.reading ? std::uint32_t{EPOLLIN} : 0U);
  role_.on_opened(s, now);
}

void raw_pool::reopen(raw_session& s, time_point) {
  abort(s);
  reopen_queue_.push_back(&s);
}

// --- ending --------------------------------------------------------------------------------------

void raw_pool::ended(raw_session& s, std::string how, time_point now) {
  const auto was = s.state;
  if (was == raw_state::connecting || was == raw_state::handshaking) {
    --in_flight_;
    ++failures_[how];
  } else if (was == raw_state::open) {
    --open_now_;
  }
  close_socket(s);
  if (!stopping_) role_.on_ended(s, was, how, now);
}

void raw_pool::abort(raw_session& s) {
  if (s.fd < 0 && s.state == raw_state::ended) return;
  if (s.state == raw_state::connecting || s.state == raw_state::handshaking) --in_flight_;
  else if (s.state == raw_state::open) --open_now_;
  close_socket(s);
}

// Abortive (RST): no TIME_WAIT is left on our side whoever closed first, so ports come back
// at once for the next connect, wave or run.
void raw_pool::close_socket(raw_session& s) {
  wheel_.cancel(s.beat_timer);
  if (s.fd >= 0) {
    const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    ::close(s.fd);  // also leaves the epoll set
  }
  s.fd = -1;
  s.interest = 0;
  s.state = raw_state::ended;
  s.stream.reset();
  std::vector<std::byte>().swap(s.unsent);
}

// --- commands ------------------------------------------------------------------------------------

void raw_pool::read_commands(time_point now) {
  std::array<char, 4096> buffer{};
  const auto n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, STDIN_FILENO, nullptr);
    stopping_ = true;  // EOF means STOP
    return;
  }
  stdin_buffer_.append(buffer.data(), static_cast<std::size_t>(n));
  for (auto end = stdin_buffer_.find('\n'); end != std::string::npos; end = stdin_buffer_.find('\n')) {
    const std::string line = stdin_buffer_.substr(0, end);
    stdin_buffer_.erase(0, end + 1);
    if (line == "STOP") stopping_ = true;
    else if (!line.empty()) role_.on_command(line, now);
  }
}

void raw_pool::emit(const std::string& line) const {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace lifeline::hostile
