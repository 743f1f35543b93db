// bench/detection/report.cpp — the table, JSON, CSV and plot of report.hpp. Reason names
// are whatever the servers wrote: nothing here lists them.
#include "report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace lifeline::bench {

namespace {

// "at one instant", or "in 4 waves within 1000 ms (seed 1)".
std::string when_killed(const settings& s) {
  if (s.waves == 1) return "at one instant";
  return "in " + std::to_string(s.waves) + " waves within " + std::to_string(s.wave_spread_ms) + " ms (seed " +
         std::to_string(s.seed) + ")";
}

std::string stream_of(const settings& s) {
  if (s.stream_bytes == 0) return "";
  return ", a " + std::to_string(s.stream_bytes) + " B message to every session each " +
         std::to_string(s.stream_interval_ms) + " ms";
}

std::string pause_of(const settings& s) {
  if (s.server_pause_ms == 0) return "";
  return ", every server process stopped " + std::to_string(s.server_pause_ms) + " ms right after the " +
         (s.waves == 1 ? "fault" : "first wave");
}

// --server-pause-ms: whether a strategy found every killed session within T + P + H.
bool within_bound(const settings& s, const result& r) {
  return r.misses == 0 && !r.detection_ms.empty() &&
         quantile(r.detection_ms, 1) <= static_cast<double>(detection_bound_ms(s));
}

}  // namespace

void print_table(const settings& s, const std::vector<result>& results) {
  const std::string server_beat =
      s.server_heartbeat_ms > 0 ? std::to_string(s.server_heartbeat_ms) + " ms" : "default (10 x H)";
  std::printf("\nHalf-open detection: N = %zu sessions, K = %zu killed (%s) %s, H = %ld ms, T = %ld ms,\n"
              "lifeline's server beat %s, %u server process(es) of %u thread(s), load generators at nice +%d%s%s\n",
              s.sessions, results.empty() ? 0 : results[0].doomed, s.fault.c_str(), when_killed(s).c_str(),
              s.heartbeat_ms, s.dead_after_ms, server_beat.c_str(), s.server_processes, s.server_threads,
              s.loadgen_nice, stream_of(s).c_str(), pause_of(s).c_str());
  std::printf("detection = detected − that session's fault; lateness = detected − (last heard + T); CPU in %% of one\n"
              "core (sum over the server processes, steady state and from the fault to the end of detection); RSS and\n"
              "wire bytes per session; echo p99 = live sessions' echo round trip during the mass death; cpu ratio =\n"
              "steady CPU / lifeline's. %s\n\n",
              s.cost_windows > 0 ? "Steady CPU and bytes: every strategy up at once, the same windows (mean of them)."
                                 : "Steady CPU and bytes: each strategy in its own run.");
  std::printf("%-11s %7s %7s %7s %7s %7s %7s %6s %6s %9s %9s %9s %8s %8s %9s\n", "strategy", "min ms", "p50 ms",
              "p99 ms", "max ms", "late99", "latemax", "misses", "false", "cpu idle", "cpu kill", "RSS/sess",
              "B/s/sess", "echo p99", "cpu ratio");
  double lifeline_cpu = 0, floor_cpu = 0;
  for (const auto& r : results) {
    if (r.strategy == "lifeline") lifeline_cpu = r.cpu_steady;
    if (r.strategy == "floor") floor_cpu = r.cpu_steady;
  }
  for (const auto& r : results) {
    std::printf("%-11s %7.0f %7.0f %7.0f %7.0f %7.1f %7.1f %6zu %6zu %8.1f%% %8.1f%% %9.0f %8.1f %8.2f %8.2fx\n",
                r.strategy.c_str(), quantile(r.detection_ms, 0), quantile(r.detection_ms, 0.5),
                quantile(r.detection_ms, 0.99), quantile(r.detection_ms, 1), quantile(r.lateness_ms, 0.99),
                quantile(r.lateness_ms, 1), r.misses,
                r.false_kills, r.cpu_steady, r.cpu_detection, r.rss_per_session, r.wire_bytes_per_session_second,
                r.echo_p99_ms, lifeline_cpu > 0 ? r.cpu_steady / lifeline_cpu : NAN);
  }
  std::printf("\ncause of detection per strategy:");
  for (const auto& r : results) std::printf("  %s: %s", r.strategy.c_str(), reasons_of(r).c_str());
  std::printf("\n");
  if (s.server_pause_ms > 0) {
    std::printf("bound on max detection with the server pause, T + P + H = %ld + %ld + %ld = %ld ms:", s.dead_after_ms,
                s.server_pause_ms, s.heartbeat_ms, detection_bound_ms(s));
    for (const auto& r : results) {
      if (r.misses > 0 || r.detection_ms.empty())
        std::printf("  %s: %zu of %zu missed, not met", r.strategy.c_str(), r.misses, r.doomed);
      else
        std::printf("  %s: %.0f ms, %s", r.strategy.c_str(), quantile(r.detection_ms, 1),
                    within_bound(s, r) ? "met" : "NOT met");
    }
    std::printf("\n");
  }
  if (lifeline_cpu > 0 && floor_cpu > 0)
    std::printf("lifeline's steady CPU is %.2fx the floor's (no liveness at all)\n", lifeline_cpu / floor_cpu);
  for (const auto& r : results)
    if (r.strategy != "lifeline" && r.strategy != "floor" && lifeline_cpu > 0 && r.cpu_steady > 0)
      std::printf("lifeline's steady CPU is %.2fx %s's\n", lifeline_cpu / r.cpu_steady, r.strategy.c_str());
}

void write_outputs(const settings& s, const std::vector<result>& results) {
  nlohmann::json doc;
  doc["settings"] = {{"sessions", s.sessions}, {"fault", s.fault}, {"heartbeat_ms", s.heartbeat_ms},
                     {"dead_after_ms", s.dead_after_ms}, {"server_heartbeat_ms", s.server_heartbeat_ms},
                     {"server_threads", s.server_threads},
                     {"server_processes", s.server_processes}, {"waves", s.waves}, {"cost_windows", s.cost_windows},
                     {"loadgen_nice", s.loadgen_nice}, {"keepalive_idle_s", s.keepalive_idle_s},
                     {"keepalive_interval_s", s.keepalive_interval_s}, {"keepalive_count", s.keepalive_count},
                     {"wave_spread_ms", s.waves == 1 ? 0 : s.wave_spread_ms}, {"seed", s.seed},
                     {"jitter_ms", s.jitter_ms}, {"loss", s.loss}, {"stream_bytes", s.stream_bytes},
                     {"stream_interval_ms", s.stream_interval_ms}, {"write_stall_ms", liveness_of(s).write_stall_timeout.count()},
                     {"server_pause_ms", s.server_pause_ms}};
  std::ofstream csv(fs::path(s.out_dir) / "detection.csv");
  csv << "strategy,sessions,doomed,detected,misses,false_kills,min_ms,p50_ms,p99_ms,max_ms,lateness_p99_ms,"
         "cpu_steady_pct,cpu_detection_pct,rss_per_session,wire_bytes_per_session_second,echo_p99_ms,"
         "waves,wave_spread_ms,server_processes\n";
  for (const auto& r : results) {
    nlohmann::json waves = nlohmann::json::array();
    for (const auto& w : r.waves)
      waves.push_back({{"offset_ms", w.offset_ms}, {"killed", w.killed}, {"detected", w.detection_ms.size()},
                       {"detection_ms", {{"min", quantile(w.detection_ms, 0)}, {"p50", quantile(w.detection_ms, 0.5)},
                                         {"max", quantile(w.detection_ms, 1)}}}});
    nlohmann::json entry = {{"strategy", r.strategy}, {"sessions", r.sessions_open}, {"doomed", r.doomed},
                            {"detected", r.detected}, {"misses", r.misses}, {"false_kills", r.false_kills},
                            {"detection_ms", {{"min", quantile(r.detection_ms, 0)}, {"p50", quantile(r.detection_ms, 0.5)},
                                              {"p99", quantile(r.detection_ms, 0.99)}, {"max", quantile(r.detection_ms, 1)}}},
                            {"lateness_p99_ms", quantile(r.lateness_ms, 0.99)}, {"reasons", r.reasons},
                            {"cpu_steady_pct", r.cpu_steady},
                            {"cpu_steady_pct_per_window", r.cpu_steady_windows},
                            {"cpu_detection_pct", r.cpu_detection},
                            {"run_queue_wait_ms_during_detection", r.run_queue_wait_ms},
                            {"run_queue_runs_during_detection", r.run_queue_runs},
                            {"steal_pct_during_detection",
                             std::isnan(r.steal_pct) ? nlohmann::json(nullptr) : nlohmann::json(r.steal_pct)},
                            {"deadline_timer_late_max_ms", std::isnan(r.timer_late_max_ms)
                                                               ? nlohmann::json(nullptr)
                                                               : nlohmann::json(r.timer_late_max_ms)},
                            {"rss_per_session_bytes", r.rss_per_session},
                            {"wire_bytes_per_session_second", r.wire_bytes_per_session_second},
                            {"echo_p99_ms_during_mass_death", r.echo_p99_ms},
                            {"sessions_per_server_process", r.sessions_per_server}, {"waves", waves}};
    if (s.server_pause_ms > 0) {
      entry["server_pause"] = {{"start_ns", r.pause_start_ns}, {"end_ns", r.pause_end_ns},
                               {"after_fault_ms", r.pause_after_fault_ms},
                               {"length_ms", static_cast<double>(r.pause_end_ns - r.pause_start_ns) / 1e6},
                               {"took_effect", r.pause_took_effect}};
      entry["detection_bound_ms"] = detection_bound_ms(s);
      entry["max_detection_within_bound"] = within_bound(s, r);
    }
    doc["strategies"].push_back(entry);
    csv << r.strategy << ',' << r.sessions_open << ',' << r.doomed << ',' << r.detected << ',' << r.misses << ','
        << r.false_kills << ',' << quantile(r.detection_ms, 0) << ',' << quantile(r.detection_ms, 0.5) << ','
        << quantile(r.detection_ms, 0.99) << ',' << quantile(r.detection_ms, 1) << ',' << quantile(r.lateness_ms, 0.99)
        << ',' << r.cpu_steady << ',' << r.cpu_detection << ',' << r.rss_per_session << ','
        << r.wire_bytes_per_session_second << ',' << r.echo_p99_ms << ',' << s.waves << ','
        << (s.waves == 1 ? 0 : s.wave_spread_ms) << ',' << s.server_processes << '\n';
    // The CDF's data: sorted detection latencies.
    auto sorted = r.detection_ms;
    std::sort(sorted.begin(), sorted.end());
    std::ofstream cdf(fs::path(s.out_dir) / (r.strategy + ".cdf"));
    for (std::size_t i = 0; i < sorted.size(); ++i)
      cdf << sorted[i] << ' ' << static_cast<double>(i + 1) / static_cast<double>(r.doomed) << '\n';
  }
  std::ofstream(fs::path(s.out_dir) / "detection.json") << doc.dump(2) << '\n';

  // The plot: detection latency CDF per strategy, by gnuplot.
  std::ofstream plot(fs::path(s.out_dir) / "detection_cdf.gnuplot");
  plot << "set terminal svg size 900,540 dynamic\nset output '" << (fs::path(s.out_dir) / "detection_cdf.svg").string()
       << "'\nset title 'Detection latency after the fault (" << s.fault << ", N=" << s.sessions
       << ", T=" << s.dead_after_ms << " ms, " << when_killed(s) << pause_of(s)
       << ")'\nset xlabel \"ms after each session's own fault\"\nset ylabel 'fraction of killed sessions detected'\n"
       << "set yrange [0:1.02]\nset key bottom right\nset grid\nplot ";
  bool first = true;
  for (const auto& r : results) {
    if (r.detection_ms.empty()) continue;
    plot << (first ? "" : ", ") << "'" << (fs::path(s.out_dir) / (r.strategy + ".cdf")).string()
         << "' using 1:2 with steps lw 2 title '" << r.strategy << "'";
    first = false;
  }
  plot << '\n';
  plot.close();
  if (!first && std::system(("gnuplot " + (fs::path(s.out_dir) / "detection_cdf.gnuplot").string() + " 2>/dev/null").c_str()) == 0)
    std::printf("plot: %s\n", (fs::path(s.out_dir) / "detection_cdf.svg").c_str());
  std::printf("data: %s, %s\n", (fs::path(s.out_dir) / "detection.json").c_str(), (fs::path(s.out_dir) / "detection.csv").c_str());
}

}  // namespace lifeline::bench
