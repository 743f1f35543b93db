// bench/detection/driver_settings.hpp — what one run of the detection benchmark is asked to
// do: its settings, read from the command line, checked, and settled (defaults that depend on
// other flags, the steady window widened to whole server beats, N and W clamped to what the
// machine and K allow) before any work starts.
//
// After read_settings() the rest of the driver only reads them (main points bin_dir at its
// directory of links once). lifeline's own liveness figures (server beat, user timeout) are
// asked of the library (liveness_of), never worked out here again.
//
//   settings s;
//   if (const auto exit_code = read_settings(argc, argv, s)) return *exit_code;
//   const auto k = doomed_sessions(s);
#pragma once

#include <lifeline/config.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lifeline::bench {

struct settings {
  std::vector<std::string> strategies{"lifeline", "keepalive", "asio_timer", "full_scan", "floor"};
  std::size_t sessions = 10'000;
  double kill_share = 0.5;
  std::string fault = "blackholed";
  long heartbeat_ms = 1000;
  long dead_after_ms = 3000;
  long server_heartbeat_ms = 0;  // 0: the library's default (10 x H)
  long keepalive_idle_s = 0, keepalive_interval_s = 0, keepalive_count = 0;  // 0: each strategy's own
  unsigned server_threads = 1;
  std::size_t stream_bytes = 0;  // a game-tick message to every session (lifeline strategies); 0: none
  long stream_interval_ms = 50;
  long write_stall_ms = 0;       // 0: the library's default
  double steady_seconds = 5;
  int loadgen_nice = 15;         // the clients would be other machines: they yield the cores to the server
  std::size_t cost_windows = 2;  // side-by-side steady windows (0: each strategy's CPU alone, in its own run)
  std::size_t sessions_per_loadgen = 9'000;
  long jitter_ms = 0;
  double loss = 0;
  std::size_t waves = 1;
  long wave_spread_ms = 1000;  // H unless --wave-spread-ms says otherwise
  std::uint64_t seed = 1;
  unsigned server_processes = 1;
  long server_pause_ms = 0;    // every server process stopped this long right after the (first) fault instant; 0: none
  std::string out_dir = "detection-results";
  std::string bin_dir;
  bool check = false;
  // Resume (resume_scenario.hpp). The strategy lifeline_resume is lifeline with
  // liveness.resume.grace = resume_grace_ms; with reconnect_after_ms given, the run is the
  // resume scenario: the killed sessions come back after each D in turn.
  long resume_grace_ms = 5000;
  std::vector<long> reconnect_after_ms;  // empty: no resume scenario
  long reconnect_spread_ms = 1000;
  long resume_stream_ms = 500;
};

/// Parses and checks the command line into `s` and settles what depends on the machine, with
/// a note on stdout for each adjustment. nullopt: go on; otherwise the process's exit code
/// (0 after --help, 2 for a value refused or flags that contradict each other, 77 when this
/// machine cannot run what was asked).
std::optional<int> read_settings(int argc, char** argv, settings& s);

/// K: the sessions the fault kills, kill_share of N.
std::size_t doomed_sessions(const settings& s);

/// With --server-pause-ms P: T + P + H, in ms, the bound set against each strategy's max
/// detection. A dead session's deadline is at most T after its fault; the pause may hold its
/// conviction back by P; H is the slack of one beat interval.
long detection_bound_ms(const settings& s);

// lifeline's liveness settings as the bench servers get them from these flags; what the
// library derives from them (server beat, user timeout) is asked of the library.
lifeline::liveness_config liveness_of(const settings& s);

}  // namespace lifeline::bench
