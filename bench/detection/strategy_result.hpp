// bench/detection/strategy_result.hpp — what one strategy's run yields (detections, misses,
// false kills, cost) and the two helpers every reader of it uses: quantiles of a sample and
// the detections' causes as one string.
//
// Latencies are plain doubles in milliseconds here on purpose: they are samples for
// quantiles, tables and JSON, never durations fed back into a clock.
//
//   result r = run_strategy(s, "lifeline", k);
//   std::printf("p99 %.0f ms, causes %s\n", quantile(r.detection_ms, 0.99), reasons_of(r).c_str());
#pragma once

#include "proc_readings.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace lifeline::bench {

struct wave_result {
  double offset_ms = 0;  // after the first possible instant
  std::size_t killed = 0;
  std::vector<double> detection_ms;
};

struct result {
  std::string strategy;
  std::size_t sessions_open = 0, doomed = 0, detected = 0, misses = 0, false_kills = 0;
  std::map<std::string, std::size_t> reasons;  // of the doomed sessions' detections
  std::vector<double> detection_ms;             // detected − fault, per detected doomed session
  std::vector<double> lateness_ms;              // detected − (last heard + T), where known
  std::vector<wave_result> waves;
  std::vector<std::size_t> sessions_per_server;  // open, by each server's last stats line
  double cpu_steady = 0, cpu_detection = 0;     // % of one core
  std::vector<double> cpu_steady_windows;       // side by side: one value per window
  double rss_per_session = 0;                   // bytes
  double wire_bytes_per_session_second = 0;     // both directions, server's view
  double echo_p99_ms = 0;
  std::size_t echo_samples = 0;
  double run_queue_wait_ms = 0;  // the servers' threads, waiting for a core from the fault to the end of detection
  double steal_pct = NAN;        // of the machine's CPU time over the same span, taken by the hypervisor
  long long run_queue_runs = 0;
  double timer_late_max_ms = NAN;  // lifeline strategies: the deadline timer's worst wake-up delay in the run
  // --server-pause-ms: when every server process was stopped and continued (CLOCK_MONOTONIC,
  // 0: no pause), the stop after the first fault instant, and whether it took effect.
  ns_t pause_start_ns = 0, pause_end_ns = 0;
  double pause_after_fault_ms = NAN;
  bool pause_took_effect = false;
};

/// The q-quantile of `v` (nearest rank); NaN for an empty sample.
inline double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) ;
  return v[std::min(v.size() - 1, index == 0 ? 0 : index - 1)];
}

/// "reason:count,..." over the doomed sessions' detections, by name; "-" when none.
inline std::string reasons_of(const result& r) {
  std::string out;
  for (const auto& [reason, n] : r.reasons) out += (out.empty() ? "" : ",") + reason + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

}  // namespace lifeline::bench
