// bench/detection/run_strategy.hpp — one strategy's whole run: its servers and load
// generators started, the sessions opened and run steadily, the fault injected (at one
// instant or in waves), the detections awaited, and the result collected from the load
// generators' reports and the servers' events files.
//
// Detection is measured per session from its own kill stamp (for a packet-filter fault,
// from when its wave's rule was in place); a live session closed by the server, or lost by
// its client, before the end of the wait is a false kill. With --server-pause-ms P the
// servers are stopped right after the first wave's instant and continued P ms later
// (server_pause), and the wait grows by P.
//
//   for (const auto& strategy : s.strategies) results.push_back(run_strategy(s, strategy, k));
#pragma once

#include "driver_settings.hpp"
#include "strategy_result.hpp"

#include <cstddef>
#include <string>

namespace lifeline::bench {

/// Runs `strategy` with `doomed_total` of s.sessions killed; prints progress to stdout.
/// Throws std::runtime_error when a child does not start or open its sessions.
result run_strategy(const settings& s, const std::string& strategy, std::size_t doomed_total);

}  // namespace lifeline::bench
