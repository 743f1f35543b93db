// bench/detection/cost_windows.hpp — the steady-state cost of every strategy, measured side
// by side (--cost-windows W): all strategies up at once, each with its own N live sessions
// and no fault, their CPU and wire bytes read over the same W windows.
//
// This machine is shared and its speed drifts by tens of percent from one minute to the
// next; run one after the other, a strategy's CPU would carry the drift of its minute.
// In one window every strategy sees the same machine, so the ratios hold.
//
//   const auto costs = measure_costs_side_by_side(s);
//   costs.at("lifeline").cpu;  // % of one core, one value per window
#pragma once

#include "driver_settings.hpp"

#include <map>
#include <string>
#include <vector>

namespace lifeline::bench {

struct steady_cost {
  std::vector<double> cpu;                       // % of one core, per window
  std::vector<double> bytes_per_session_second;  // both directions, per window
};

/// Starts every strategy of `s` at once, measures s.cost_windows windows of s.steady_seconds,
/// stops them all. Prints one line per window.
std::map<std::string, steady_cost> measure_costs_side_by_side(const settings& s);

}  // namespace lifeline::bench
