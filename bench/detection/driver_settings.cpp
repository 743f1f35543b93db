// bench/detection/driver_settings.cpp — the detection benchmark's flags: their CLI11
// definitions, the checks that need more than one flag, and the settling of the figures that
// depend on the machine (descriptor limit, kernel version) or on the library (server beat).
// Every note and refusal prints here, before the driver starts a child.
#include "driver_settings.hpp"

#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <sys/utsname.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

namespace fs = std::filesystem;

namespace lifeline::bench {

namespace {

// TCP_USER_TIMEOUT ends zero-window probes that the peer answers only from Linux 5.11 on.
bool kernel_ends_answered_window_probes() {
  utsname name{};
  int major = 0, minor = 0;
  if (::uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 11);
}

}  // namespace

std::size_t doomed_sessions(const settings& s) {
  return static_cast<std::size_t>(std::llround(s.kill_share * static_cast<double>(s.sessions)));
}

long detection_bound_ms(const settings& s) { return s.dead_after_ms + s.server_pause_ms + s.heartbeat_ms; }

lifeline::liveness_config liveness_of(const settings& s) {
  lifeline::liveness_config l;
  l.heartbeat_interval = std::chrono::milliseconds{s.heartbeat_ms};
  l.dead_after = std::chrono::milliseconds{s.dead_after_ms};
  if (s.server_heartbeat_ms > 0) l.server_heartbeat_interval = std::chrono::milliseconds{s.server_heartbeat_ms};
  if (s.write_stall_ms > 0) l.write_stall_timeout = std::chrono::milliseconds{s.write_stall_ms};
  return l;
}

std::optional<int> read_settings(int argc, char** argv, settings& s) {
  s.bin_dir = fs::canonical("/proc/self/exe").parent_path().parent_path().string();  // build/<preset>
  CLI::App app{"Half-open detection benchmark: kill K of N sessions with a fault, per liveness strategy, "
               "and report detection latency, misses, false kills and cost"};
  app.add_option("--strategies", s.strategies, "strategies to compare")->delimiter(',')->capture_default_str();
  app.add_option("--sessions,-n", s.sessions, "sessions (clamped to what the server processes' descriptor limits allow)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--kill-share", s.kill_share, "share K/N of sessions killed (at once, or over the waves)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--fault", s.fault, "hung, closed, rebooted, stalled, blackholed, unreachable, reset (an RST from the peer)")
      ->check(CLI::IsMember({"hung", "closed", "rebooted", "stalled", "blackholed", "unreachable", "reset"}))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", s.heartbeat_ms, "heartbeat interval H")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--dead-after-ms", s.dead_after_ms, "dead-after timeout T")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--server-heartbeat-ms", s.server_heartbeat_ms,
                 "lifeline: the server's own beat interval (0: the library default, 10 x H)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  std::optional<std::size_t> stream_bytes;
  app.add_option("--stream-bytes", stream_bytes,
                 "lifeline, keepalive: the server sends every session a message this long each --stream-interval-ms, "
                 "as a game sends state updates (0: none; with --fault stalled: 200)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{60000}));
  app.add_option("--stream-interval-ms", s.stream_interval_ms, "the game tick of --stream-bytes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--write-stall-ms", s.write_stall_ms,
                 "lifeline, keepalive: write_stall_timeout (0: the library default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--server-threads", s.server_threads, "worker threads per server process")
      ->check(CLI::Range(1U, 256U))  // as lifeline_bench_server's --threads
      ->capture_default_str();
  app.add_option("--server-processes", s.server_processes,
                 "server processes sharing one port through SO_REUSEPORT; CPU and memory are their sum")
      ->check(CLI::Range(1U, 64U))->capture_default_str();
  app.add_option("--waves", s.waves,
                 "kill the K sessions in W waves of about K/W, at W instants drawn at random within "
                 "--wave-spread-ms (1: all at one instant)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  std::optional<long> wave_spread_ms;
  app.add_option("--wave-spread-ms", wave_spread_ms, "the waves' instants lie within this span (default: --heartbeat-ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", s.seed, "seed of the wave instants and of the load generators' jitter and loss")
      ->capture_default_str();
  app.add_option("--steady-seconds", s.steady_seconds,
                 "steady-state measurement window (widened to whole server beat intervals)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--keepalive-idle-s", s.keepalive_idle_s,
                 "TCP_KEEPIDLE for lifeline's backstop and for keepalive alone (0: derived from T; keepalive: 1 s)")
      ->check(CLI::Range(0, 32767));
  app.add_option("--keepalive-interval-s", s.keepalive_interval_s,
                 "TCP_KEEPINTVL, as --keepalive-idle-s (0: derived from T; keepalive: 1 s)")
      ->check(CLI::Range(0, 32767));
  app.add_option("--keepalive-count", s.keepalive_count,
                 "TCP_KEEPCNT, as --keepalive-idle-s (0: lifeline 3; keepalive: T in seconds - 1)")
      ->check(CLI::Range(0, 127));
  app.add_option("--loadgen-nice", s.loadgen_nice,
                 "niceness added to the load generators: in production the clients are other machines, here they "
                 "share the server's cores, and without it the server waits for a core during the mass death")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--cost-windows", s.cost_windows,
                 "steady-state windows with every strategy up at once, for CPU and bytes (0: each strategy alone, "
                 "in its own run)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--sessions-per-loadgen", s.sessions_per_loadgen, "sessions per load process")
      ->check(CLI::PositiveNumber)  // 0 would divide by zero
      ->capture_default_str();
  app.add_option("--jitter-ms", s.jitter_ms, "random delay of live sessions' heartbeats")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--loss", s.loss, "share of live sessions' heartbeats withheld")
      ->check(CLI::Range(0.0, 1.0))  // as lifeline_loadgen's --loss
      ->capture_default_str();
  app.add_option("--server-pause-ms", s.server_pause_ms,
                 "right after the fault instant (with --waves: the first wave's), stop every server process "
                 "(SIGSTOP) for P ms, then continue them (SIGCONT); their kernels go on receiving the live "
                 "sessions' beats meanwhile. The wait for detections grows by P, false kills count over the "
                 "whole span, and each strategy's max detection is set against T + P + H (0: no pause)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--resume-grace-ms", s.resume_grace_ms,
                 "strategy lifeline_resume: liveness.resume.grace, how long a session outlives its transport")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--reconnect-after-ms", s.reconnect_after_ms,
                 "the resume scenario (--fault reset, blackholed or unreachable): the killed sessions dial again D ms "
                 "after the "
                 "fault and resume, one run per D given (e.g. 1000,9000: below and above the grace)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  app.add_option("--reconnect-spread-ms", s.reconnect_spread_ms,
                 "resume scenario: each session's reconnect a further uniform 0..S ms later, as clients do not all "
                 "come back in the same millisecond")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--resume-stream-ms", s.resume_stream_ms,
                 "resume scenario: every killed session sends a numbered message this often, echoed by the server, "
                 "and every one must come back exactly once and in order (0: none, to time resumes alone)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--out", s.out_dir, "directory for JSON, CSV, plot")->capture_default_str();
  app.add_option("--bin-dir", s.bin_dir, "build directory holding bench/ and tools/")->capture_default_str();
  app.add_flag("--check", s.check,
               "exit 1 unless lifeline detected every killed session with no false kill (stalled: all as write_stalled; "
               "with --server-pause-ms: and its max detection within T + P + H)");
  // A refused flag exits 2, as the checks below do (CLI11 alone would exit 10x); the
  // message names the flag, and nothing has started yet.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help (code 0) or the error
    return code == 0 ? 0 : 2;
  }
  s.wave_spread_ms = wave_spread_ms.value_or(s.heartbeat_ms);
  if (!s.reconnect_after_ms.empty()) {
    const auto refuse = [](const char* why) {
      std::fprintf(stderr, "lifeline_detection_bench: --reconnect-after-ms: %s\n", why);
      return 2;
    };
    if (s.fault != "reset" && s.fault != "blackholed" && s.fault != "unreachable")
      return refuse("the resume scenario takes --fault reset, blackholed or unreachable");
    if (s.waves != 1 || s.server_processes != 1 || s.server_pause_ms != 0)
      return refuse("the resume scenario runs one server process, one wave, no pause");
    s.strategies = {"lifeline_resume"};
    s.cost_windows = 0;
  }
  // A peer that stops reading is found only through what the server writes to it: the
  // beats alone take minutes to fill a window, so the stalled fault brings a game stream.
  s.stream_bytes = stream_bytes.value_or(0);
  if (s.fault == "stalled" && !stream_bytes) {
    s.stream_bytes = 200;
    std::printf("note: --fault stalled: a peer that stops reading is found by what the server cannot write to it; the "
                "server streams %zu B every %ld ms to every session (--stream-bytes)\n",
                s.stream_bytes, s.stream_interval_ms);
  }
  if (s.fault == "stalled" && s.stream_bytes == 0)
    std::printf("warning: --fault stalled with --stream-bytes 0: nothing fills a stalled peer's window, so nothing "
                "can find it\n");
  if (s.fault == "stalled" && !kernel_ends_answered_window_probes()) {
    std::printf("note: this kernel is older than 5.11: TCP_USER_TIMEOUT does not end zero-window probes the peer "
                "answers, so a stalled peer is found only once the server's send buffer fills\n");
    if (s.check) {
      std::fprintf(stderr, "lifeline_detection_bench: --check of the stalled fault needs Linux 5.11 or later\n");
      return 77;  // "skipped" for ctest
    }
  }
  if (s.stream_bytes > 0) {
    std::vector<std::string> streaming, left_out;
    for (const auto& strategy : s.strategies)
      (strategy == "lifeline" || strategy == "keepalive" ? streaming : left_out).push_back(strategy);
    if (!left_out.empty()) {
      std::string names;
      for (const auto& name : left_out) names += (names.empty() ? "" : ", ") + name;
      std::printf("note: left out %s: only the lifeline and keepalive servers stream (--stream-bytes)\n", names.c_str());
      s.strategies = streaming;
    }
    if (s.strategies.empty()) {
      std::fprintf(stderr, "lifeline_detection_bench: --stream-bytes: no strategy left that streams (lifeline, keepalive)\n");
      return 2;
    }
  }
  s.bin_dir = fs::absolute(s.bin_dir).string();  // the links below must not depend on our directory
  if (s.dead_after_ms <= s.heartbeat_ms || s.heartbeat_ms <= 0) {
    std::fprintf(stderr, "lifeline_detection_bench: --dead-after-ms must be greater than --heartbeat-ms (> 0)\n");
    return 2;
  }

  // The steady window must hold whole server beat intervals: every session beats once
  // per interval, at its own phase, so a shorter window (or a fraction of one more) counts
  // some sessions' beats and not others', and a window right after the sessions opened
  // may hold none at all.
  const double server_beat_s =
      std::chrono::duration<double>(lifeline::derive_server_beat(liveness_of(s)).interval).count();
  if (const double whole = std::ceil(s.steady_seconds / server_beat_s - 1e-9) * server_beat_s;
      whole > s.steady_seconds + 1e-9) {
    std::printf("note: steady-state window %.3g s widened to %.3g s: whole intervals of the server's %.3g s beat\n",
                s.steady_seconds, whole, server_beat_s);
    s.steady_seconds = whole;
  }

  // Each server process holds its share of the sessions and may not raise its descriptor
  // limit (the children inherit ours). SO_REUSEPORT spreads connections only about evenly,
  // so with several processes 5 % of each one's room stays spare.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const auto per_process = static_cast<std::size_t>(files.rlim_cur) - 100;
  const auto most = s.server_processes == 1 ? per_process : s.server_processes * per_process * 95 / 100;
  if (s.sessions > most) {
    if (s.server_processes == 1) {
      std::printf("note: --sessions %zu clamped to %zu: one server process may hold %llu descriptors\n", s.sessions, most,
                  static_cast<unsigned long long>(files.rlim_cur));
    } else {
      std::printf("note: --sessions %zu clamped to %zu: each of the %u server processes may hold %llu descriptors, and "
                  "SO_REUSEPORT spreads sessions only about evenly (5 %% kept spare; more --server-processes raise it)\n",
                  s.sessions, most, s.server_processes, static_cast<unsigned long long>(files.rlim_cur));
    }
    s.sessions = most;
  }
  const auto doomed = doomed_sessions(s);
  if (doomed > 0 && s.waves > doomed) {
    std::printf("note: --waves %zu clamped to %zu: a wave kills at least one session\n", s.waves, doomed);
    s.waves = doomed;
  }
  return std::nullopt;
}

}  // namespace lifeline::bench
