// lifeline_bench_server: the server process of the half-open detection benchmark. It runs
// one liveness strategy, chosen on the command line, behind the same wire protocol,
// threads and I/O, so that the driver can compare them side by side:
//   lifeline    lifeline::server as shipped: heartbeats on the timer wheel, kernel backstop
//   keepalive   lifeline::server with heartbeats off: kernel keepalive is the only detector
//   asio_timer  baseline: two asio::steady_timer per session (baseline_server.hpp)
//   full_scan   baseline: one periodic scan of all sessions per thread
//   floor       baseline: no liveness tracking at all
// Every server echoes data frames to their sender, and every server that beats (all but
// keepalive and floor) beats at lifeline's server rate (10 x H unless --server-heartbeat-ms):
// beats are one write() per quiet session each, the largest cost of liveness on the
// server, so giving the baselines lifeline's rate keeps the comparison to tracking alone.
//
// With --stream-bytes B (lifeline strategies), a game-tick thread sends every open session
// a B-byte message each --stream-interval-ms through server::send, as a game's simulation
// thread sends state updates. Without a stream nothing fills the window of a peer that stops
// reading (the stalled fault); with one, the window shuts and the kernel probes it until
// TCP_USER_TIMEOUT, or the queue backs up into lifeline (write_stall_timeout, the limit).
//
// Talking to the driver (stdout is for the driver only; notes for humans go to stderr):
//   stdout  "READY <port>" once listening; then every second
//           "stats <now_ns> open=<n> bytes_in=<n> bytes_out=<n> heartbeats_out=<n>
//           [timer_late_max_ms=<ms>] [stream_queue_full=<n>]" (lifeline strategies: the worst
//           wake-up delay of the deadline timer so far, server_stats::deadline_timer_lateness;
//           with a stream, the stream messages refused as queue_full so far);
//           "DONE" after SIGTERM or SIGINT, once every session is closed and the events
//           file flushed (exit status 0).
//   events  one line per session that completed its handshake and then ended:
//           "close <session id, 16 hex digits> <reason> <detected_ns> <last_heard_ns or ->"
//           flushed at least every 100 ms and at exit. With --resume-grace-ms (lifeline),
//           also "transport_lost <id> <cause> <ns> <last_heard_ns or ->" when a session
//           starts lingering and "resumed <id> <how> <ns> <replayed>" when it resumes (how:
//           resumed, state_lost, takeover or takeover_state_lost); the stats lines then add
//           lingering=, transports_lost=, resumed=, resumed_state_lost=, takeovers=,
//           resumes_refused=, replayed=.
// All times are CLOCK_MONOTONIC nanoseconds (std::chrono::steady_clock on Linux), shared
// by every process of the machine, so the driver can compare them with its fault stamps.
//
//   lifeline_bench_server --strategy full_scan --threads 2 --heartbeat-ms 1000 --dead-after-ms 3000 --events ev.txt
#include "baseline_server.hpp"

#include <lifeline/server.hpp>

#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;

enum class strategy { lifeline, keepalive, asio_timer, full_scan, floor };

std::int64_t monotonic_ns(time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// The events file. Closes are recorded on the worker threads, into one buffer per thread
// (its own lock, contended only by the flush), so a mass death does not serialise the
// threads on one lock; the main thread writes the buffers out.
class event_log {
 public:
  event_log(const std::string& path, unsigned threads)
      : file_(std::fopen(path.c_str(), "w")), slots_(std::make_unique<slot[]>(threads)), threads_(threads) {
    if (file_ == nullptr) throw std::system_error(errno, std::system_category(), "--events " + path);
  }
  ~event_log() {
    flush();
    std::fclose(file_);
  }
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;

  /// The worker thread `thread` only. Without `last_heard` the line says "-".
  void record(unsigned thread, std::uint64_t session_id, std::string_view reason, time_point detected,
              std::optional<time_point> last_heard, std::string_view kind = "close") {
    char heard[24] = "-";
    if (last_heard) std::snprintf(heard, sizeof heard, "%" PRId64, monotonic_ns(*last_heard));
    record_line(thread, kind, session_id, reason, detected, heard);
  }

  /// The worker thread `thread` only: "<kind> <id> <what> <ns> <last>".
  void record_line(unsigned thread, std::string_view kind, std::uint64_t session_id, std::string_view what,
                   time_point at, std::string_view last) {
    char line[192];
    const int n = std::snprintf(line, sizeof line, "%.*s %016" PRIx64 " %.*s %" PRId64 " %.*s\n",
                                static_cast<int>(kind.size()), kind.data(), session_id, static_cast<int>(what.size()),
                                what.data(), monotonic_ns(at), static_cast<int>(last.size()), last.data());
    auto& s = slots_[std::min(thread, threads_ - 1)];
    std::lock_guard lock(s.mutex);
    s.pending.append(line, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof line) - 1)));
  }

  /// The main thread only.
  void flush() {
    for (unsigned i = 0; i < threads_; ++i) {
      {
        std::lock_guard lock(slots_[i].mutex);
        slots_[i].pending.swap(writing_);
      }
      std::fwrite(writing_.data(), 1, writing_.size(), file_);
      writing_.clear();
    }
    std::fflush(file_);
  }

 private:
  struct alignas(64) slot {  // a cache line each: threads do not share one
    std::mutex mutex;
    std::string pending;
  };
  std::FILE* file_;
  std::unique_ptr<slot[]> slots_;
  unsigned threads_;
  std::string writing_;
};

// The sessions open right now, kept by the server's handlers on the shard threads. Shared
// between those handlers and the game stream, so that neither outlives it. One mutex for
// every shard: a benchmark's simplicity, on each open and close (and once per tick).
class open_sessions {
 public:
  void opened(lifeline::session_id id) {
    std::lock_guard lock(mutex_);
    ids_.insert(id.value);
  }
  void closed(lifeline::session_id id) {
    std::lock_guard lock(mutex_);
    ids_.erase(id.value);
  }
  void copy_to(std::vector<std::uint64_t>& out) const {
    std::lock_guard lock(mutex_);
    out.assign(ids_.begin(), ids_.end());
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_set<std::uint64_t> ids_;
};

// The game's tick: every `interval`, one message of `bytes` to every open session, sent
// from a thread of its own through server::send (any thread), as a game's simulation
// sends state updates. Destroy it before the server it sends through: that stops the tick.
class game_stream {
 public:
  game_stream(lifeline::server& server, std::shared_ptr<const open_sessions> sessions, std::size_t bytes,
              std::chrono::milliseconds interval)
      : server_(server), sessions_(std::move(sessions)), message_(bytes, std::byte{0}), interval_(interval) {}
  ~game_stream() { stop(); }
  game_stream(const game_stream&) = delete;
  game_stream& operator=(const game_stream&) = delete;

  void start() {
    thread_ = std::jthread([this](const std::stop_token& stopping) { run(stopping); });
  }
  void stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  /// Messages send() refused as queue_full: their peer is not reading them.
  std::uint64_t refused_as_queue_full() const { return refused_.load(std::memory_order_relaxed); }

 private:
  void run(const std::stop_token& stopping) {
    std::vector<std::uint64_t> targets;
    for (auto next = clock::now(); !stopping.stop_requested(); next += interval_) {
      std::this_thread::sleep_until(next);
      sessions_->copy_to(targets);
      for (const auto id : targets)
        if (server_.send(lifeline::session_id{id}, message_) == lifeline::session_error::queue_full)
          refused_.fetch_add(1, std::memory_order_relaxed);
      if (clock::now() > next + interval_) next = clock::now();  // fell behind: no burst to catch up
    }
  }

  lifeline::server& server_;
  const std::shared_ptr<const open_sessions> sessions_;
  const std::vector<std::byte> message_;
  const std::chrono::milliseconds interval_;
  std::atomic<std::uint64_t> refused_{0};
  std::jthread thread_;
};

// What the driver sees of a running server, whichever strategy it runs.
struct running_server {
  std::uint16_t port = 0;
  std::function<void(std::FILE*, time_point)> print_stats;
  std::function<void()> stop;
};

void print_stats_line(std::FILE* out, time_point now, std::uint64_t open, std::uint64_t in, std::uint64_t sent,
                      std::uint64_t beats, long timer_late_max_ms = -1, const game_stream* stream = nullptr,
                      const lifeline::session_stats* resume = nullptr) {
  std::fprintf(out, "stats %" PRId64 " open=%" PRIu64 " bytes_in=%" PRIu64 " bytes_out=%" PRIu64 " heartbeats_out=%" PRIu64,
               monotonic_ns(now), open, in, sent, beats);
  if (timer_late_max_ms >= 0) std::fprintf(out, " timer_late_max_ms=%ld", timer_late_max_ms);
  if (stream != nullptr) std::fprintf(out, " stream_queue_full=%" PRIu64, stream->refused_as_queue_full());
  if (resume != nullptr)
    std::fprintf(out,
                 " lingering=%" PRIu64 " transports_lost=%" PRIu64 " resumed=%" PRIu64 " resumed_state_lost=%" PRIu64
                 " takeovers=%" PRIu64 " resumes_refused=%" PRIu64 " replayed=%" PRIu64,
                 resume->sessions_lingering, resume->transports_lost, resume->resumed, resume->resumed_state_lost,
                 resume->takeovers, resume->resumes_refused, resume->replayed_frames);
  std::fputc('\n', out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lifeline detection benchmark: the server, running one liveness strategy"};
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  unsigned threads = 2;
  long heartbeat_ms = 1000, dead_after_ms = 3000, scan_ms = 4, wheel_tick_ms = 4, server_heartbeat_ms = 0;
  long keepalive_idle_s = 0, keepalive_interval_s = 0, keepalive_count = 0;  // 0: the strategy's own choice
  long write_stall_ms = 0;  // 0: the library's default
  std::size_t stream_bytes = 0;
  long stream_interval_ms = 50;
  long resume_grace_ms = 0;
  std::string events_path;
  const std::map<std::string, strategy> strategies{{"lifeline", strategy::lifeline},
                                                   {"keepalive", strategy::keepalive},
                                                   {"asio_timer", strategy::asio_timer},
                                                   {"full_scan", strategy::full_scan},
                                                   {"floor", strategy::floor}};
  std::string strategy_name = "lifeline";
  app.add_option("--strategy", strategy_name, "liveness strategy: lifeline|keepalive|asio_timer|full_scan|floor")
      ->check(CLI::IsMember(strategies))
      ->capture_default_str();
  app.add_option("--address", address, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "port to listen on (0: any free one)")->capture_default_str();
  app.add_option("--threads", threads, "worker threads, one io_context each")->check(CLI::Range(1u, 256u))->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval H: a beat after this long without a send")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--dead-after-ms", dead_after_ms, "T: a peer silent this long is dead (> H)")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--server-heartbeat-ms", server_heartbeat_ms,
                 "lifeline: the server's own beat interval (0: the library default, 10 x H; clients are told)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--keepalive-idle-s", keepalive_idle_s,
                 "lifeline, keepalive: TCP_KEEPIDLE (0: lifeline derives it from T; keepalive uses 1 s)")
      ->check(CLI::Range(0, 32767));
  app.add_option("--keepalive-interval-s", keepalive_interval_s,
                 "lifeline, keepalive: TCP_KEEPINTVL (0: lifeline derives it from T; keepalive uses 1 s)")
      ->check(CLI::Range(0, 32767));
  app.add_option("--keepalive-count", keepalive_count,
                 "lifeline, keepalive: TCP_KEEPCNT (0: lifeline uses 3; keepalive uses T in seconds - 1)")
      ->check(CLI::Range(0, 127));
  app.add_option("--scan-ms", scan_ms, "full_scan: period of the scan of every session")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--wheel-tick-ms", wheel_tick_ms, "lifeline, keepalive: timer wheel tick")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--write-stall-ms", write_stall_ms,
                 "lifeline, keepalive: write_stall_timeout, queued bytes making no progress this long close the session "
                 "(0: the library default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stream-bytes", stream_bytes,
                 "lifeline, keepalive: a game-tick thread sends every open session a message this long each "
                 "--stream-interval-ms (0: no stream)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{60000}))
      ->capture_default_str();
  app.add_option("--stream-interval-ms", stream_interval_ms, "the game tick of --stream-bytes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--resume-grace-ms", resume_grace_ms,
                 "lifeline: liveness.resume.grace, a session whose transport dies is kept this long for the client to "
                 "resume (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--events", events_path, "file that gets one line per closed session")->required();
  CLI11_PARSE(app, argc, argv);
  const strategy chosen = strategies.at(strategy_name);
  if (stream_bytes > 0 && chosen != strategy::lifeline && chosen != strategy::keepalive) {
    std::fprintf(stderr, "lifeline_bench_server: --stream-bytes: only the lifeline and keepalive strategies stream\n");
    return 2;
  }
  if (resume_grace_ms > 0 && chosen != strategy::lifeline) {
    std::fprintf(stderr, "lifeline_bench_server: --resume-grace-ms: only the lifeline strategy resumes\n");
    return 2;
  }
  if (dead_after_ms <= heartbeat_ms) {
    std::fprintf(stderr, "lifeline_bench_server: --dead-after-ms must be greater than --heartbeat-ms\n");
    return 2;
  }
  const std::chrono::milliseconds heartbeat{heartbeat_ms}, dead_after{dead_after_ms};
  // lifeline's liveness settings; the baselines take their server beat from them too.
  lifeline::liveness_config liveness;
  liveness.heartbeat_interval = heartbeat;
  liveness.dead_after = dead_after;
  liveness.wheel_tick = std::chrono::milliseconds{wheel_tick_ms};
  if (server_heartbeat_ms > 0) liveness.server_heartbeat_interval = std::chrono::milliseconds{server_heartbeat_ms};
  if (write_stall_ms > 0) liveness.write_stall_timeout = std::chrono::milliseconds{write_stall_ms};
  liveness.resume.grace = std::chrono::milliseconds{resume_grace_ms};

  // SIGTERM and SIGINT are taken by the main thread with sigtimedwait(); blocked here,
  // before any thread starts, so that every thread inherits the mask and none is
  // interrupted in the middle of its work.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<event_log> events;
  std::unique_ptr<lifeline::server> lifeline_server;
  std::unique_ptr<game_stream> stream;  // declared after the server: destroyed (stopped) before it
  std::unique_ptr<lifeline::bench::baseline_server> baseline;
  running_server server;
  try {
    events = std::make_unique<event_log>(events_path, threads);
    if (chosen == strategy::lifeline || chosen == strategy::keepalive) {
      lifeline::server_config config;
      config.listen_address = address;
      config.port = port;
      config.share_port = true;  // --server-processes: several of us on one port, on purpose
      config.worker_threads = threads;
      config.liveness = liveness;
      if (chosen == strategy::keepalive) {
        // The kernel alone, tuned to detect about T after the last segment heard:
        // idle + count × interval = 1 s + (⌈T⌉ - 1) × 1 s. TCP_USER_TIMEOUT is off, as
        // it would cut keepalive short (and is a different detector).
        const auto t_seconds = std::chrono::ceil<std::chrono::seconds>(dead_after).count();
        config.liveness.heartbeats = false;
        config.liveness.keepalive.idle = std::chrono::seconds{1};
        config.liveness.keepalive.interval = std::chrono::seconds{1};
        config.liveness.keepalive.count = static_cast<int>(std::clamp<std::int64_t>(t_seconds - 1, 1, 127));
        config.liveness.user_timeout_enabled = false;
      }
      // Explicit probe settings win, for lifeline's backstop as for keepalive alone.
      if (keepalive_idle_s > 0) config.liveness.keepalive.idle = std::chrono::seconds{keepalive_idle_s};
      if (keepalive_interval_s > 0) config.liveness.keepalive.interval = std::chrono::seconds{keepalive_interval_s};
      if (keepalive_count > 0) config.liveness.keepalive.count = static_cast<int>(keepalive_count);
      if (chosen == strategy::keepalive) {
        const auto b = lifeline::derive_kernel_backstop(config.liveness);
        std::fprintf(stderr,
                     "lifeline_bench_server: keepalive idle %lld s, interval %lld s, count %d: a peer gone silent is "
                     "detected about %lld s after the last segment heard; no heartbeats, no TCP_USER_TIMEOUT\n",
                     static_cast<long long>(b.keepalive_idle.count()), static_cast<long long>(b.keepalive_interval.count()),
                     b.keepalive_count,
                     static_cast<long long>((b.keepalive_idle + b.keepalive_count * b.keepalive_interval).count()));
      }
      auto& log = *events;
      lifeline::session_handlers handlers{
          .on_opened = {},
          .on_message = [&](lifeline::session_id id, std::span<const std::byte> bytes) { lifeline_server->send(id, bytes); },
          .on_closed =
              [&log](lifeline::session_id id, lifeline::close_info why) {
                log.record(id.shard(), id.value, lifeline::to_string(why.reason), clock::now(), why.last_heard);
              },
      };
      if (resume_grace_ms > 0) {
        handlers.on_transport_lost = [&log](lifeline::session_id id, lifeline::close_info cause) {
          log.record(id.shard(), id.value, lifeline::to_string(cause.reason), clock::now(), cause.last_heard,
                     "transport_lost");
        };
        handlers.on_resumed = [&log](lifeline::session_id id, lifeline::resumed_info how) {
          const char* what = how.takeover ? (how.state_lost ? "takeover_state_lost" : "takeover")
                                          : (how.state_lost ? "state_lost" : "resumed");
          log.record_line(id.shard(), "resumed", id.value, what, clock::now(), std::to_string(how.replayed));
        };
      }
      const auto sessions = std::make_shared<open_sessions>();  // the handlers' own, for as long as they live
      if (stream_bytes > 0) {
        handlers.on_opened = [sessions](lifeline::session_id id) { sessions->opened(id); };
        handlers.on_closed = [sessions, record = std::move(handlers.on_closed)](lifeline::session_id id,
                                                                                 lifeline::close_info why) {
          sessions->closed(id);
          record(id, why);
        };
      }
      lifeline_server = std::make_unique<lifeline::server>(config, std::move(handlers));
      if (stream_bytes > 0)
        stream = std::make_unique<game_stream>(*lifeline_server, sessions, stream_bytes,
                                               std::chrono::milliseconds{stream_interval_ms});
      lifeline_server->start();
      if (stream) stream->start();
      server.port = lifeline_server->port();
      server.print_stats = [&](std::FILE* out, time_point now) {
        const auto s = lifeline_server->stats().total;
        print_stats_line(out, now, s.sessions_open, s.bytes_received, s.bytes_sent, s.heartbeats_sent,
                         // The histogram stops at 1 s; a longer stall is in longest_loop_stall.
                         static_cast<long>(std::max(s.deadline_timer_lateness.quantile(1.0), s.longest_loop_stall).count()),
                         stream.get(), resume_grace_ms > 0 ? &s : nullptr);
      };
      server.stop = [&] {
        if (stream) stream->stop();  // no more sends; the sessions still close, and leave the set
        lifeline_server->stop();
      };
    } else {
      lifeline::bench::baseline_config config;
      config.listen_address = address;
      config.port = port;
      config.threads = threads;
      config.heartbeat_interval = heartbeat;
      config.dead_after = dead_after;
      const auto beat = lifeline::derive_server_beat(liveness);  // the same server beat as lifeline's
      config.server_heartbeat_interval = beat.interval;
      config.server_dead_after = beat.clients_wait;
      config.scan_period = std::chrono::milliseconds{scan_ms};
      config.strategy = chosen == strategy::asio_timer  ? lifeline::bench::baseline_strategy::asio_timer
                        : chosen == strategy::full_scan ? lifeline::bench::baseline_strategy::full_scan
                                                        : lifeline::bench::baseline_strategy::floor;
      auto& log = *events;
      baseline = std::make_unique<lifeline::bench::baseline_server>(
          config, [&log](unsigned thread, std::uint64_t id, lifeline::close_reason why, time_point detected,
                         time_point last_heard) {
            log.record(thread, id, lifeline::to_string(why), detected, last_heard);
          });
      baseline->start();
      server.port = baseline->port();
      server.print_stats = [&](std::FILE* out, time_point now) {
        const auto c = baseline->counters();
        print_stats_line(out, now, c.sessions_open, c.bytes_received, c.bytes_sent, c.heartbeats_sent);
      };
      server.stop = [&] { baseline->stop(); };
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifeline_bench_server: %s\n", e.what());
    return 2;
  }

  std::printf("READY %u\n", static_cast<unsigned>(server.port));
  std::fflush(stdout);

  // The main thread: events out every 100 ms, stats every second, until told to stop.
  constexpr auto flush_period = std::chrono::milliseconds{100};
  constexpr auto stats_period = std::chrono::seconds{1};
  auto next_flush = clock::now() + flush_period;
  auto next_stats = clock::now() + stats_period;
  for (;;) {
    const auto wait = std::max(std::min(next_flush, next_stats) - clock::now(), clock::duration::zero());
    const auto wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    const timespec timeout{.tv_sec = static_cast<time_t>(wait_ns / 1'000'000'000),
                           .tv_nsec = static_cast<long>(wait_ns % 1'000'000'000)};
    if (sigtimedwait(&stop_signals, nullptr, &timeout) > 0) break;  // else EAGAIN (timeout) or EINTR
    const auto now = clock::now();
    if (now >= next_flush) {
      events->flush();
      next_flush = now + flush_period;
    }
    if (now >= next_stats) {
      server.print_stats(stdout, now);
      std::fflush(stdout);
      next_stats += stats_period;
      if (next_stats <= now) next_stats = now + stats_period;  // a slow stats() call: no burst
    }
  }

  server.stop();  // every session closed (reason shutdown, recorded), threads joined
  events->flush();
  std::printf("DONE\n");
  std::fflush(stdout);
  return 0;
}
