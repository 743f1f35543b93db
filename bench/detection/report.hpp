// bench/detection/report.hpp — the benchmark's output: the side-by-side table on stdout, and
// in --out the JSON and CSV of every figure, one CDF data file per strategy and the gnuplot
// script of the detection-latency CDF (rendered to SVG when gnuplot is there).
//
// The JSON keys are read by other tools (lifeline_tune): add keys, never rename them.
//
//   print_table(s, results);
//   write_outputs(s, results);
#pragma once

#include "driver_settings.hpp"
#include "strategy_result.hpp"

#include <vector>

namespace lifeline::bench {

void print_table(const settings& s, const std::vector<result>& results);
void write_outputs(const settings& s, const std::vector<result>& results);

}  // namespace lifeline::bench
