// lifeline_detection_bench: the half-open detection benchmark (the README's main job).
//
// For each liveness strategy, in one run and with the same N, K, H, T and fault: start the
// server (lifeline_bench_server) in its own process and the load (lifeline_loadgen) in
// others, let the sessions run steadily, kill K of them with the chosen fault, and measure
// how fast each death is detected, what was missed or wrongly killed, and what it cost.
// DESIGN.md §5 lists the figures; bench/RESULTS.md records them.
//
// Waves (--waves W). Each session's beats keep one phase, so killing all K at one instant
// samples each at one point of its beat cycle. W waves of about K/W, at instants drawn
// uniformly (seeded) within --wave-spread-ms, sample W points; every session's detection
// is measured from its own kill stamp, never from the first wave's.
//
// Server processes (--server-processes P). P servers listen on one port through
// SO_REUSEPORT, which lifeline::server and the baselines set on every listener, and the
// kernel spreads the connections over them: one process's descriptor limit no longer caps
// N. The servers issue the same session ids, so a session is known by its id and the
// process holding its socket (found once every session is open, from each process's
// descriptors and the kernel's socket dump, by the client's address:port, which the load
// generators report). CPU and memory are the sum over the processes.
//
// Packet-filter faults (blackholed, unreachable) run inside a private network namespace
// that this process creates for itself before starting any child, so the nftables rules
// never touch the machine's own traffic. They cut the doomed off by source address: wave
// w's sessions connect from 127.0.0.2 + w, and that address joins the filter's set at the
// wave's instant.
//
// Server pause (--server-pause-ms P). Right after the fault instant (with waves, the first
// wave's: one pause per run, however many waves), every server process of the run is
// stopped with SIGSTOP and continued with SIGCONT P ms later, both stamped on
// CLOCK_MONOTONIC. A stopped process keeps its sockets and its kernel goes on receiving and
// ACKing, so the live peers' beats pile up in its buffers: a server that convicts on its
// deadline timer before reading them closes live sessions (false kills). The wait for
// detections grows by P; false kills count over the whole span; the table states the bound
// T + P + H and whether each strategy's max detection met it, and --check holds lifeline to it.
//
// Flags (--help has the details): --strategies, --sessions N, --kill-share K/N, --fault,
// --heartbeat-ms H, --dead-after-ms T, --server-heartbeat-ms, --stream-bytes,
// --stream-interval-ms, --write-stall-ms, --server-threads, --server-processes, --waves,
// --wave-spread-ms, --seed, --steady-seconds, --keepalive-idle-s, --keepalive-interval-s,
// --keepalive-count, --loadgen-nice, --cost-windows, --sessions-per-loadgen, --jitter-ms,
// --loss, --server-pause-ms P, --resume-grace-ms, --reconnect-after-ms, --reconnect-spread-ms,
// --resume-stream-ms, --out, --bin-dir, --check.
//
// Resume (--reconnect-after-ms D[,D2...], faults reset and blackholed): instead of the
// strategies, the resume scenario (resume_scenario.hpp) once per D. The strategy
// lifeline_resume (lifeline with --resume-grace-ms) may also run beside the others in a
// plain run, to set its steady cost and detection against lifeline's. A refused value exits 2 before
// any work starts; 77 means this machine cannot run what was asked (ctest: skipped).
//
// The files, one concept each: driver_settings (flags), proc_readings (clock and /proc),
// server_processes (the servers, their stats, who holds which client), fault_injection
// (waves, private namespace, nftables), cost_windows (steady cost side by side),
// run_strategy (one strategy's run and its result), report (table, JSON, CSV, plot),
// resume_scenario (the resume scenario, its table and JSON).
#include "cost_windows.hpp"
#include "driver_settings.hpp"
#include "fault_injection.hpp"
#include "report.hpp"
#include "resume_scenario.hpp"
#include "run_strategy.hpp"

#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using namespace lifeline::bench;

int main(int argc, char** argv) {
  settings s;
  if (const auto exit_code = read_settings(argc, argv, s)) return *exit_code;
  const auto doomed = doomed_sessions(s);
  fs::create_directories(s.out_dir);
  double load1 = 0;
  if (std::ifstream loadavg("/proc/loadavg"); loadavg >> load1 && load1 > 0.5)
    std::printf("warning: load average %.2f before the run: other work on this machine may distort the figures\n", load1);

  if (needs_packet_filter(s.fault)) {
    try {
      enter_private_network();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lifeline_detection_bench: cannot inject %s: %s\n", s.fault.c_str(), e.what());
      return 77;  // "skipped" for ctest: this machine cannot run packet-filter faults
    }
  }
  try {
    std::vector<result> results;
    // Tools live in <bin>/tools, the server in <bin>/bench: make one directory of links.
    const auto links = fs::path(s.out_dir) / "bin";
    fs::create_directories(links);
    for (const auto& [name, dir] : {std::pair{"lifeline_bench_server", "bench"}, std::pair{"lifeline_loadgen", "tools"}}) {
      fs::remove(links / name);
      fs::create_symlink(fs::path(s.bin_dir) / dir / name, links / name);
    }
    auto run = s;
    run.bin_dir = fs::absolute(links).string();
    if (!s.reconnect_after_ms.empty()) {  // the resume scenario, one run per D
      std::vector<resume_result> resumes;
      for (const long d : s.reconnect_after_ms) resumes.push_back(run_resume_scenario(run, d, doomed));
      report_resume(s, resumes);
      return s.check && !resume_check_passes(s, resumes) ? 1 : 0;
    }
    std::map<std::string, steady_cost> costs;
    if (s.cost_windows > 0) costs = measure_costs_side_by_side(run);
    for (const auto& strategy : s.strategies) results.push_back(run_strategy(run, strategy, doomed));
    for (auto& r : results) {
      if (const auto cost = costs.find(r.strategy); cost != costs.end()) {
        const auto mean = [](const std::vector<double>& v) {
          double sum = 0;
          for (const double x : v) sum += x;
          return v.empty() ? NAN : sum / static_cast<double>(v.size());
        };
        r.cpu_steady = mean(cost->second.cpu);
        r.cpu_steady_windows = cost->second.cpu;
        r.wire_bytes_per_session_second = mean(cost->second.bytes_per_session_second);
      }
    }
    print_table(s, results);
    write_outputs(s, results);
    if (s.check) {
      for (const auto& r : results) {
        if (r.strategy != "lifeline") continue;
        bool failed = false;
        if (r.misses != 0 || r.false_kills != 0 || r.doomed == 0) {
          std::fprintf(stderr, "check failed: lifeline missed %zu and falsely killed %zu of %zu\n", r.misses,
                       r.false_kills, r.doomed);
          failed = true;
        }
        // A pause that did not stop the servers would pass for nothing; one that did may
        // delay a detection by P, never more (false kills are checked above).
        if (s.server_pause_ms > 0 && !r.pause_took_effect) {
          std::fprintf(stderr, "check failed: the server pause did not stop every server process\n");
          failed = true;
        }
        if (const double max_ms = quantile(r.detection_ms, 1);
            s.server_pause_ms > 0 && !(max_ms <= static_cast<double>(detection_bound_ms(s)))) {
          std::fprintf(stderr, "check failed: lifeline's max detection %.0f ms exceeds T + P + H = %ld ms\n", max_ms,
                       detection_bound_ms(s));
          failed = true;
        }
        if (failed) return 1;
        // A stalled peer is alive and still beating: only its write path may give it away.
        const auto write_stalled = r.reasons.find("write_stalled");
        if (s.fault == "stalled" && (write_stalled == r.reasons.end() || write_stalled->second != r.detected)) {
          std::fprintf(stderr, "check failed: lifeline closed stalled peers as %s, not all as write_stalled\n",
                       reasons_of(r).c_str());
          return 1;
        }
        std::printf("check passed: lifeline detected all %zu killed sessions, no false kill%s\n", r.doomed,
                    s.server_pause_ms > 0 ? ", max detection within T + P + H" : "");
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifeline_detection_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
