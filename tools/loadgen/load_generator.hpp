// tools/loadgen/load_generator.hpp — lifeline_loadgen, the client side of the half-open detection benchmark (DESIGN.md §4–5):
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
//
// Resume (--resume, resume_client.cpp). Sessions speak version 2 as lifeline's connector
// does, but written here from WIRE_FORMAT.md, not taken from the library: they keep the
// welcome's token, count the data frames each way, ack the count on their next beat or
// data frame when it changed, and keep their own data frames until the server acks them.
// With --reconnect-after-ms D (faults reset, blackholed, unreachable) a killed doomed session
// dials again D ms (+ a uniform 0..--reconnect-spread-ms) after its kill, from --live-address
// (a filtered session's own address is cut off; its old socket is reset then, into the
// filter), presents its token, and replays what the server has not received. With
// --stream-ms M every doomed session sends a numbered 16-byte message each M ms, spread
// evenly, kept for replay while it is cut off; the server echoes each, and the echoes
// must come back exactly once and in order. More lines then:
//   stdin   QUIET                   no new stream message from now on (the driver waits a
//                                   moment for the last echoes, then sends STOP)
//   report  resumed <server session id> <dialled ns> <welcomed ns> <state_lost 0|1> <source> <hello ns>
//                                   (dialled: connect(); hello: the resume hello written)
//           unresumed <server session id> <ns> <why> <source>   (why: close:<code>[:<detail>],
//                                   eof, reset, connect:<errno>, timeout, ...)
//   summary ... stream_sent=<n> stream_echoed=<n> stream_missing=<n> stream_duplicated=<n>
//           stream_ended=<n>        (missing: echoes skipped or never back, of sessions open
//                                   at STOP; ended: sent by sessions that did not resume)
//
// The files, one concept each: load_generator.hpp (options, a session, the generator),
// event_loop.cpp (set-up and the loop), client_session.cpp (connect, handshake, frames,
// beats), echo_probes.cpp, faults.cpp (commands and faults), report.cpp (the end),
// main.cpp (flags).
#pragma once
#include <lifeline/frame.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/timer_wheel.hpp>

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


namespace lifeline::loadgen {


using steady = std::chrono::steady_clock;  // libstdc++ reads CLOCK_MONOTONIC: the driver's clock
using time_point = steady::time_point;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

[[nodiscard]] inline std::int64_t monotonic_ns(time_point t) noexcept {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}
[[nodiscard]] inline time_point from_monotonic_ns(std::int64_t ns) noexcept {
  return time_point{std::chrono::duration_cast<steady::duration>(nanoseconds{ns})};
}

/// Spins until CLOCK_MONOTONIC reaches `t` (at most kill_lead: the loop wakes that early).
inline void spin_until(time_point t) noexcept {
  while (steady::now() < t) {
  }
}

[[nodiscard]] inline std::string errno_name(int error) {
  if (const char* name = ::strerrorname_np(error)) return name;
  return std::to_string(error);
}


/// DESIGN.md §4. The packet-filter kinds (blackholed, unreachable) are applied by the
/// driver; here they only silence the doomed sessions and stamp the kill. reset closes
/// abortively (an RST now), as a client whose network stack gives up on the connection.
enum class fault_kind { hung, closed, rebooted, stalled, blackholed, unreachable, reset };

[[nodiscard]] inline fault_kind parse_fault(const std::string& name) {
  if (name == "hung") return fault_kind::hung;
  if (name == "closed") return fault_kind::closed;
  if (name == "rebooted") return fault_kind::rebooted;
  if (name == "stalled") return fault_kind::stalled;
  if (name == "blackholed") return fault_kind::blackholed;
  if (name == "reset") return fault_kind::reset;
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
  // Resume (resume_client.cpp): with resume on, sessions keep the welcome's token and count,
  // ack and keep their data frames; a killed doomed session dials again reconnect_after
  // (+ a uniform 0..reconnect_spread) after its kill and resumes; every doomed session
  // sends a numbered message each stream_interval, which the server echoes.
  bool resume = false;
  std::optional<milliseconds> reconnect_after;
  milliseconds reconnect_spread{0};
  milliseconds stream_interval{0};
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

  // Resume (--resume). Data frames are numbered 1, 2, ... each way, across connections.
  std::vector<std::byte> token;      // the last welcome's; empty: the server offers no resume
  std::uint32_t received = 0;        // data frames received in this session
  std::uint32_t ack_sent = 0;        // the count our last ack carried
  std::uint32_t sent = 0;            // data frames sent (or kept to send) in this session
  std::uint32_t peer_received = 0;   // the server's ack: it has our frames up to this one
  std::deque<std::array<std::byte, 16>> unacked;  // our frames peer_received + 1 .. sent
  bool reconnecting = false;         // dialling again, or waiting to, to resume
  time_point redial_started{};       // the new connection's connect()
  time_point hello_sent{};           // its resume hello written
  // The stream check: our numbered messages as the server echoes them back.
  std::uint64_t stream_sent = 0;     // numbered 1, 2, ...
  std::uint64_t stream_next = 1;     // the echo expected next
  std::uint64_t stream_missing = 0;  // numbers skipped by an echo: lost one way or the other
  std::uint64_t stream_duplicated = 0;
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
  enum class kind { kill, quiet, stop } what;
  time_point at{};
  std::size_t count = std::numeric_limits<std::size_t>::max();  // doomed sessions a kill reaches
};

/// Set by SIGINT and SIGTERM (main.cpp); the loop then stops as on STOP.
inline std::atomic<bool> interrupted{false};

class load_generator {
 public:
  explicit load_generator(options opts)
      : options_(std::move(opts)),
        wheel_(steady::now(), milliseconds{1}),
        rng_(options_.seed),
        jitter_us_(0, std::chrono::duration_cast<microseconds>(options_.jitter).count()),
        loss_(options_.loss),
        read_buffer_(64 * 1024),
        reconnect_spread_us_(0, std::chrono::duration_cast<microseconds>(options_.reconnect_spread).count()) {}

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
  // --- resume (resume_client.cpp) ---
  bool send_data(session& s, std::span<const std::byte, 16> payload, time_point now);
  [[nodiscard]] std::uint32_t ack_to_send(session& s) noexcept;
  void note_ack(session& s, std::uint32_t ack) noexcept;
  void keep_token(session& s, const lifeline::welcome_frame& w);
  void redial(session& s, time_point now);
  [[nodiscard]] lifeline::hello_frame resume_hello(const session& s) const;
  void on_resumed(session& s, const lifeline::welcome_frame& w, time_point now);
  void record_unresumed(session& s, std::string why, time_point now);
  void pace_stream(time_point now);
  bool on_stream_echo(session& s, std::span<const std::byte> payload);
  // --- commands and faults ---
  void read_commands();
  void parse_command(std::string_view line);
  void run_commands(time_point now);
  std::size_t apply_fault_to_next_doomed(std::size_t count);
  bool apply_fault(session& s, time_point now);
  // --- the end ---
  void tally_stream();
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

  // resume and the stream
  struct resume_record {
    std::uint32_t index;
    std::int64_t dialled_ns, welcomed_ns;
    bool state_lost;
    std::int64_t hello_ns;
  };
  struct unresumed_record {
    std::uint32_t index;
    std::int64_t ns;
    std::string why;
  };
  std::vector<resume_record> resumed_;
  std::vector<unresumed_record> unresumed_;
  std::uniform_int_distribution<std::int64_t> reconnect_spread_us_;
  time_point next_stream_at_ = time_point::max();
  steady::duration stream_spacing_{};
  std::size_t stream_cursor_ = 0;
  bool quiet_ = false;               // QUIET: no new stream message
  struct {
    std::uint64_t sent = 0, echoed = 0, missing = 0, duplicated = 0, ended = 0;
  } stream_;
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
  static constexpr std::size_t max_stream_per_turn = 64;
};

}  // namespace lifeline::loadgen
