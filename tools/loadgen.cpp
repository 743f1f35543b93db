// lifeline_loadgen — the client side of the half-open detection benchmark (DESIGN.md §4–5):
// N lifeline-protocol sessions to one server on loopback, all heartbeating, of which the
// first K ("the doomed") are killed on command with one fault kind, all at one instant or
// in waves, each kill stamped with CLOCK_MONOTONIC so the driver can set it against the
// server's detection time.
//
// Why not lifeline::connector. The faults need a hand on the raw socket at an exact
// instant: withhold beats but keep reading (hung), close in TCP_REPAIR mode (rebooted),
// stop reading but keep beating (stalled); and the load generator must not share code
// paths, or bugs, with the library whose detection it measures. So each session here is
// a plain non-blocking socket speaking the wire codec (frame_encoder / frame_decoder).
//
// Why one thread. The benchmark measures the server's CPU; the generator must cost as
// little as possible and never compete with the server for cores. One epoll loop carries
// every session. Beats are due H after the last send (lifeline's rule); each session's
// next beat is one intrusive entry in a lifeline::timer_wheel with a 1 ms tick: an O(1)
// move per send, and the loop sleeps until the wheel's next expiry, so 10,000 idle
// sessions cost about one send and one receive per session per H (measured: 16 % of a
// core at H = 1 s, nearly all of it the kernel's loopback TCP path).
//
// Driver protocol (stdin/stdout, one line each, stdout flushed after every line):
//   stdout  READY <open> <failed>   every session is open or has failed to open
//   stdin   KILL <ns> [count]       at CLOCK_MONOTONIC <ns> apply --fault to the next <count>
//                                   doomed sessions, in order, that no KILL has reached yet
//                                   (no count: all of them); one of those no longer open
//                                   (lost, or never opened) is passed over: it uses up its
//                                   place in <count> but is not killed
//   stdout  KILLED <k>              the fault was applied to k sessions
//   stdin   STOP  (or EOF)          reset every socket still open (RST: no TIME_WAIT left
//                                   behind for the next run), write --report
//   stdout  DONE                    the report is written; exit status 0
// Commands run in order; a KILL holds the ones after it until it has been applied, and a
// KILL whose instant has passed by then is applied at once (its stamps say when).
// Everything else (progress, warnings, statistics) goes to stderr.
//
// Waves. A heartbeat timer per session means one kill instant samples each session at
// one phase of its beat cycle; the driver samples more by killing in waves, one KILL with
// a count per wave. The packet-filter faults cut sessions off by source address, so with
// --doomed-groups G the doomed are split, in order, into G groups (group g: doomed
// K*g/G up to K*(g+1)/G, integer division) and group g connects from --doomed-address + g;
// KILL counts of the same sizes then kill one group, one address, per wave.
//
// Report (--report PATH), one record per line, fields separated by one space:
//   kill <server session id, 16 hex digits> <kill ns> <KILL> <source>
//        each doomed session killed; <KILL> numbers the KILL lines from 0, <source> is the
//        session's own address:port (two servers behind SO_REUSEPORT issue the same ids,
//        so the driver tells their sessions apart by it)
//   lost <server session id> <ns> <how> <source>              each open session the server
//        ended before STOP and before any kill of it: false kills (a doomed session lost
//        before its KILL counts too, and is not killed); <ns> is when we saw it; how: eof,
//        reset, close:<close_code> (a close frame), error:<errno name>, decode_error
//   echo <sent ns> <round trip ns>                            each live echo sample
//   summary sessions=<n> doomed=<k> live_lost=<n> connect_failed=<n>   (n, k after clamping;
//        live_lost = the number of lost lines)
//
//   lifeline_loadgen --port 7777 --sessions 10000 --doomed 1000 --fault hung --report r.txt
//   (driver) reads "READY 10000 0", writes "KILL <now + 5 ms>", reads "KILLED 1000",
//   waits for the server's verdicts, writes "STOP", reads "DONE", parses r.txt.
//   In two waves instead: "KILL <t1> 500", "KILL <t2> 500"; reads "KILLED 500" twice.
#include <lifeline/frame.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/timer_wheel.hpp>

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using steady = std::chrono::steady_clock;  // libstdc++ reads CLOCK_MONOTONIC: the driver's clock
using time_point = steady::time_point;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

[[nodiscard]] std::int64_t monotonic_ns(time_point t) noexcept {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}
[[nodiscard]] time_point from_monotonic_ns(std::int64_t ns) noexcept {
  return time_point{std::chrono::duration_cast<steady::duration>(nanoseconds{ns})};
}

/// Spins until CLOCK_MONOTONIC reaches `t` (at most kill_lead: the loop wakes that early).
void spin_until(time_point t) noexcept {
  while (steady::now() < t) {
  }
}

[[nodiscard]] std::string errno_name(int error) {
  if (const char* name = ::strerrorname_np(error)) return name;
  return std::to_string(error);
}


/// DESIGN.md §4. The packet-filter kinds (blackholed, unreachable) are applied by the
/// driver; here they only silence the doomed sessions and stamp the kill.
enum class fault_kind { hung, closed, rebooted, stalled, blackholed, unreachable };

[[nodiscard]] fault_kind parse_fault(const std::string& name) {
  if (name == "hung") return fault_kind::hung;
  if (name == "closed") return fault_kind::closed;
  if (name == "rebooted") return fault_kind::rebooted;
  if (name == "stalled") return fault_kind::stalled;
  if (name == "blackholed") return fault_kind::blackholed;
  return fault_kind::unreachable;
}

struct options {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  std::size_t sessions = 1000;
  std::size_t doomed = 0;
  std::string doomed_address = "127.0.0.2";
  std::size_t doomed_groups = 1;         // one source address per group, from doomed_address up
  std::string live_address = "127.0.0.1";
  milliseconds heartbeat_interval{1000};
  milliseconds dead_after{3000};
  fault_kind fault = fault_kind::hung;
  milliseconds echo_interval{100};
  milliseconds jitter{0};
  double loss = 0.0;
  std::string report_path;
  double connect_rate = 2000.0;          // connects started per second
  milliseconds open_timeout{10'000};     // connect + hello/welcome
  std::uint64_t seed = 1;
};

/// A session's life. Transitions: waiting -> connecting -> handshaking -> open -> faulted
/// -> ended; any state may go to ended (failed to open, lost, or stopped).
enum class session_state : std::uint8_t {
  waiting,      ///< the connect pacer has not reached it yet
  connecting,   ///< non-blocking connect in flight
  handshaking,  ///< hello sent, welcome awaited
  open,         ///< heartbeating
  faulted,      ///< the fault was applied; the socket may still be open (hung, stalled, ...)
  ended,        ///< socket closed
};

class load_generator;

struct session {
  session(load_generator& generator, std::uint32_t i, bool is_doomed)
      : owner(&generator), index(i), doomed(is_doomed) {}
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void on_deadline(time_point now);

  load_generator* owner;
  std::uint32_t index;
  bool doomed;
  session_state state = session_state::waiting;
  bool sending = true;               // false once the fault silences it
  bool reading = true;               // false once stalled
  std::uint32_t interest = 0;        // epoll events currently registered
  int fd = -1;
  std::uint64_t server_id = 0;       // from welcome: the server's id for this session
  time_point last_sent{};            // last frame sent, or beat withheld by --loss
  steady::duration beat_delay{};     // H plus this beat's jitter
  milliseconds interval{};           // H as agreed in the welcome
  lifeline::wire_timestamp peer_sent_at{};
  time_point peer_beat_received{};
  std::optional<time_point> killed_at;  // set once the fault is applied; kept after the socket ends
  std::uint32_t killed_by = 0;       // which KILL line, from 0
  sockaddr_in source{};              // our end of the connection, for the report
  std::vector<std::byte> unsent;     // bytes the socket did not take yet; usually empty
  lifeline::frame_decoder decoder;
  lifeline::timer_entry deadline = lifeline::timer_entry::calling<&session::on_deadline>(this);
};

/// A data frame's payload for an echo probe: send time and a tag telling it from game bytes.
struct echo_probe {
  static constexpr std::uint64_t tag = 0x6c6966656c696e65;  // "lifeline"
  std::int64_t sent_ns;
  std::uint64_t magic;
};
static_assert(sizeof(echo_probe) == 16);

struct lost_record {
  std::uint32_t index;
  std::int64_t ns;
  std::string how;
};

struct echo_sample {
  std::int64_t sent_ns;
  std::int64_t round_trip_ns;
};

struct command {
  enum class kind { kill, stop } what;
  time_point at{};
  std::size_t count = std::numeric_limits<std::size_t>::max();  // doomed sessions a kill reaches
};

std::atomic<bool> interrupted{false};
void on_signal(int) { interrupted = true; }

class load_generator {
 public:
  explicit load_generator(options opts)
      : options_(std::move(opts)),
        wheel_(steady::now(), milliseconds{1}),
        rng_(options_.seed),
        jitter_us_(0, std::chrono::duration_cast<microseconds>(options_.jitter).count()),
        loss_(options_.loss),
        read_buffer_(64 * 1024) {}

  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;
  ~load_generator() {
    close_all();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  /// Runs until STOP, EOF on stdin or SIGINT/SIGTERM. Returns the exit status.
  int run();

  void on_session_deadline(session& s, time_point now);

 private:
  // --- set-up and the loop ---
  bool set_up();
  int wait_for_events(std::span<epoll_event> events, nanoseconds timeout);
  void look_for_echo();
  void pace_connects(time_point now);
  [[nodiscard]] time_point next_wakeup(time_point now) const;
  void dispatch(session& s, std::uint32_t events, time_point now);
  void announce_ready_when_settled(time_point now);
  // --- sessions ---
  [[nodiscard]] sockaddr_in source_of(const session& s) const;
  void start_connect(session& s, time_point now);
  bool bind_source(int fd, sockaddr_in source, std::uint16_t& cursor);
  void on_connect_done(session& s, time_point now);
  void read_from(session& s, time_point now);
  void handle_frame(session& s, const lifeline::frame& f, time_point now);
  void on_welcome(session& s, const lifeline::welcome_frame& w, time_point now);
  bool send_frame(session& s, const lifeline::frame& f, time_point now);
  void flush(session& s, time_point now);
  void send_beat(session& s, time_point now);
  void schedule_beat(session& s, time_point now);
  void set_interest(session& s, std::uint32_t events);
  void peer_ended(session& s, std::string how, time_point now);
  void fail(session& s, std::string why);
  void close_socket(session& s);
  // --- echo probes ---
  void probe_echo(time_point now);
  void on_data(session& s, std::span<const std::byte> payload, time_point now);
  // --- commands and faults ---
  void read_commands();
  void parse_command(std::string_view line);
  void run_commands(time_point now);
  std::size_t apply_fault_to_next_doomed(std::size_t count);
  bool apply_fault(session& s, time_point now);
  // --- the end ---
  void close_all();
  bool write_report() const;
  void print_line(const std::string& line) const;

  options options_;
  int epoll_fd_ = -1;
  sockaddr_in server_{};
  sockaddr_in doomed_source_{};
  sockaddr_in live_source_{};
  lifeline::timer_wheel wheel_;  // before sessions_: sessions unlink their entries first
  std::vector<std::unique_ptr<session>> sessions_;
  lifeline::frame_encoder encoder_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<std::int64_t> jitter_us_;
  std::bernoulli_distribution loss_;
  std::vector<std::byte> read_buffer_;

  // connect pacing
  std::size_t next_to_start_ = 0;
  time_point next_connect_at_{};
  steady::duration connect_spacing_{};
  std::size_t in_flight_ = 0;       // connecting + handshaking
  std::size_t in_flight_cap_ = 0;
  std::uint16_t port_low_ = 32768;  // the ephemeral port range, from /proc
  std::uint16_t port_high_ = 60999;
  std::uint16_t live_port_ = 0;     // the next source port to try, per source address
  std::uint16_t doomed_port_ = 0;
  time_point started_at_{};

  // progress and results
  bool ready_ = false;
  bool stopping_ = false;
  bool warned_interval_ = false;
  std::size_t failed_ = 0;
  std::map<std::string, std::size_t> failure_reasons_;
  std::vector<lost_record> lost_;
  std::vector<echo_sample> echoes_;
  std::size_t echo_cursor_ = 0;
  time_point next_echo_at_ = time_point::max();
  std::size_t echoes_sent_ = 0;
  session* echo_session_ = nullptr;  // the last probe's session
  bool echo_in_flight_ = false;
  bool have_epoll_pwait2_ = true;
  std::size_t beats_sent_ = 0;
  std::size_t beats_withheld_ = 0;
  std::size_t frames_received_ = 0;
  std::size_t doomed_ended_by_server_ = 0;
  std::size_t bytes_dropped_ = 0;

  // commands
  bool stdin_watched_ = false;
  bool stdin_done_ = false;
  std::string stdin_buffer_;
  std::deque<command> commands_;
  std::size_t next_doomed_to_reach_ = 0;  // doomed before it have been reached by a KILL
  std::uint32_t kills_applied_ = 0;

  rusage usage_at_ready_{};
  time_point ready_at_{};

  static constexpr std::uint64_t stdin_key = ~std::uint64_t{0};
  static constexpr std::size_t max_unsent = 64 * 1024;
  static constexpr std::size_t spare_fds = 100;
  static constexpr auto kill_lead = microseconds{200};  // wake this early, then spin
  static constexpr std::size_t max_connects_per_turn = 32;
};

void session::on_deadline(time_point now) { owner->on_session_deadline(*this, now); }

// --- set-up and the loop -----------------------------------------------------------------

bool parse_ipv4(const std::string& text, std::uint16_t port, sockaddr_in& out) {
  out = {};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return ::inet_pton(AF_INET, text.c_str(), &out.sin_addr) == 1;
}

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
  if (ready_) wake = std::min(wake, next_echo_at_);
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

// --- sessions ----------------------------------------------------------------------------

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
sockaddr_in load_generator::source_of(const session& s) const {
  if (!s.doomed) return live_source_;
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
  if (s.doomed && options_.fault == fault_kind::stalled) {
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
  send_frame(s, lifeline::hello_frame{.heartbeat_interval = options_.heartbeat_interval, .dead_after = options_.dead_after},
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
  } else if (const auto* data = std::get_if<lifeline::data_frame>(&f)) {
    on_data(s, data->payload, now);
  } else if (const auto* welcome = std::get_if<lifeline::welcome_frame>(&f)) {
    if (s.state == session_state::handshaking) on_welcome(s, *welcome, now);
  } else if (const auto* close = std::get_if<lifeline::close_frame>(&f)) {
    peer_ended(s, "close:" + std::string(to_string(close->code)), now);
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
                                         .held_for = held},
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
    case session_state::open:
    case session_state::faulted:
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
      break;
    case session_state::waiting:
    case session_state::ended:
      break;
  }
  close_socket(s);
}

void load_generator::fail(session& s, std::string why) {
  if (s.state == session_state::connecting || s.state == session_state::handshaking) --in_flight_;
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

// --- echo probes -------------------------------------------------------------------------

// One live session per --echo-ms, round robin, sends a data frame holding its send time;
// the server echoes it and the round trip is one sample of a live session's latency.
void load_generator::probe_echo(time_point now) {
  next_echo_at_ += options_.echo_interval;
  if (next_echo_at_ <= now) next_echo_at_ = now + options_.echo_interval;  // after a stall, no burst
  const std::size_t live = sessions_.size() - options_.doomed;
  for (std::size_t tried = 0; tried < live; ++tried) {
    auto& s = *sessions_[options_.doomed + echo_cursor_];
    echo_cursor_ = (echo_cursor_ + 1) % live;
    if (s.state != session_state::open || !s.unsent.empty()) continue;
    const echo_probe probe{.sent_ns = monotonic_ns(now), .magic = echo_probe::tag};
    std::array<std::byte, sizeof probe> payload{};
    std::memcpy(payload.data(), &probe, sizeof probe);
    if (send_frame(s, lifeline::data_frame{.payload = payload}, now)) {
      ++echoes_sent_;
      echo_session_ = &s;
      echo_in_flight_ = true;
    }
    return;
  }
}

void load_generator::on_data(session&, std::span<const std::byte> payload, time_point now) {
  echo_probe probe{};
  if (payload.size() != sizeof probe) return;
  std::memcpy(&probe, payload.data(), sizeof probe);
  if (probe.magic != echo_probe::tag) return;
  echoes_.push_back({probe.sent_ns, monotonic_ns(now) - probe.sent_ns});
  echo_in_flight_ = false;
}

// --- commands and faults -----------------------------------------------------------------

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
  std::fprintf(stderr, "lifeline_loadgen: error: unknown command '%.*s' (KILL <ns> [count] or STOP)\n",
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
  return true;
}

// --- the end -----------------------------------------------------------------------------

// Abortive closes (RST): a normal close from our side would leave every session's
// ephemeral port in TIME_WAIT for 60 s, and back-to-back runs would then pay for a port
// search through tens of thousands of them on every connect.
void load_generator::close_all() {
  stopping_ = true;
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  for (auto& s : sessions_) {
    if (s->fd < 0) continue;
    ::setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close_socket(*s);
  }
}

bool load_generator::write_report() const {
  if (options_.report_path.empty()) return true;
  std::FILE* out = std::fopen(options_.report_path.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "lifeline_loadgen: error: cannot write %s: %s\n", options_.report_path.c_str(), std::strerror(errno));
    return false;
  }
  const auto source_text = [](const session& s) {
    std::array<char, INET_ADDRSTRLEN> address{};
    ::inet_ntop(AF_INET, &s.source.sin_addr, address.data(), address.size());
    return std::string(address.data()) + ":" + std::to_string(ntohs(s.source.sin_port));
  };
  for (const auto& s : sessions_) {
    if (s->killed_at)
      std::fprintf(out, "kill %016llx %lld %u %s\n", static_cast<unsigned long long>(s->server_id),
                   static_cast<long long>(monotonic_ns(*s->killed_at)), static_cast<unsigned>(s->killed_by),
                   source_text(*s).c_str());
  }
  for (const auto& lost : lost_)
    std::fprintf(out, "lost %016llx %lld %s %s\n", static_cast<unsigned long long>(sessions_[lost.index]->server_id),
                 static_cast<long long>(lost.ns), lost.how.c_str(), source_text(*sessions_[lost.index]).c_str());
  for (const auto& echo : echoes_)
    std::fprintf(out, "echo %lld %lld\n", static_cast<long long>(echo.sent_ns), static_cast<long long>(echo.round_trip_ns));
  std::fprintf(out, "summary sessions=%zu doomed=%zu live_lost=%zu connect_failed=%zu\n", sessions_.size(), options_.doomed,
               lost_.size(), failed_);
  const bool ok = std::ferror(out) == 0;
  if (std::fclose(out) != 0 || !ok) {
    std::fprintf(stderr, "lifeline_loadgen: error: writing %s failed\n", options_.report_path.c_str());
    return false;
  }
  return true;
}

void load_generator::print_line(const std::string& line) const {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lifeline_loadgen: N heartbeating client sessions in one thread; kills the first K on command\n"
               "(stdin: KILL <monotonic ns> [count] | STOP; stdout: READY <open> <failed> | KILLED <k> | DONE)"};
  options opts;
  long long heartbeat_ms = 1000, dead_after_ms = 3000, echo_ms = 100, jitter_ms = 0, open_timeout_ms = 10'000;
  std::string fault = "hung";
  app.add_option("--address", opts.address, "server address")->capture_default_str();
  app.add_option("--port", opts.port, "server port")->required();
  app.add_option("--sessions", opts.sessions, "sessions N (clamped to RLIMIT_NOFILE - 100)")->capture_default_str();
  app.add_option("--doomed", opts.doomed, "the first K sessions are killed by KILL")->capture_default_str();
  app.add_option("--doomed-address", opts.doomed_address, "source address of the doomed sessions (of the first group)")
      ->capture_default_str();
  app.add_option("--doomed-groups", opts.doomed_groups,
                 "G: the doomed, in order, in G groups of about K/G; group g connects from --doomed-address + g")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--live-address", opts.live_address, "source address of the live sessions")->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval H asked for in hello")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--dead-after-ms", dead_after_ms, "dead-after timeout T asked for in hello (> H)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--fault", fault, "fault applied by KILL")
      ->capture_default_str()
      ->check(CLI::IsMember({"hung", "closed", "rebooted", "stalled", "blackholed", "unreachable"}));
  app.add_option("--echo-ms", echo_ms, "one live session sends an echo probe this often (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--jitter-ms", jitter_ms, "live beats are delayed by a uniform 0..J ms")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--loss", opts.loss, "probability that a live beat is withheld")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--report", opts.report_path, "report file written at STOP");
  app.add_option("--connect-rate", opts.connect_rate, "connects started per second")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--open-timeout-ms", open_timeout_ms, "connect + welcome within this, or the session failed")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", opts.seed, "seed of the jitter and loss draws")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (dead_after_ms <= heartbeat_ms) {
    std::fprintf(stderr, "lifeline_loadgen: --dead-after-ms must be greater than --heartbeat-ms\n");
    return 2;
  }
  opts.heartbeat_interval = milliseconds{heartbeat_ms};
  opts.dead_after = milliseconds{dead_after_ms};
  opts.echo_interval = milliseconds{echo_ms};
  opts.jitter = milliseconds{jitter_ms};
  opts.open_timeout = milliseconds{open_timeout_ms};
  opts.fault = parse_fault(fault);

  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop_action {};
  stop_action.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR
  ::sigaction(SIGINT, &stop_action, nullptr);
  ::sigaction(SIGTERM, &stop_action, nullptr);

  load_generator generator(std::move(opts));
  return generator.run();
}
