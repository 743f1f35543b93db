// bench/detection/resume_scenario.hpp — the resume scenario of the detection benchmark
// (DESIGN.md §10, issue "a dead transport is not a dead player"): N sessions on one
// lifeline server with liveness.resume.grace = G; K of them lose their transport at one
// instant (reset: an RST from the client; blackholed: every packet of theirs dropped, in a
// private network namespace; unreachable: answered with ICMP host-unreachable there) and dial again D ms later (+ a uniform 0..S ms each) from
// another address, presenting their tokens. Meanwhile each of the K sends a numbered message
// every M ms, kept while it is cut off and replayed on resume; the server echoes every one,
// and every echo must come back exactly once and in order.
//
// Figures per D: resumed share of the killed (goal: 100 % when the session still lingers,
// 0 % once its grace is over), time from the new connection's connect() to the resumed
// welcome (p50 / p99; to the server's on_resumed, and to the client reading the welcome),
// resumed with state_lost, takeovers (a blackholed session back before
// the server noticed its death), stream messages missing and duplicated, how the server
// learnt of each death and how long it took, lingering sessions at the peak, and live
// sessions falsely lost. A reconnect after the grace must be refused with a reason.
//
//   for (const long d : s.reconnect_after_ms) results.push_back(run_resume_scenario(s, d, k));
//   print_resume_table(s, results);
#pragma once

#include "driver_settings.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lifeline::bench {

struct resume_result {
  long reconnect_after_ms = 0;
  std::size_t sessions_open = 0;
  std::size_t killed = 0;
  std::size_t resumed = 0;             // the killed that got a resumed welcome
  std::size_t resumed_state_lost = 0;  // of those, with state_lost
  std::map<std::string, std::size_t> unresumed;  // why, for the killed that did not resume
  std::vector<double> resume_ms;       // connect() of the new connection to the client reading the welcome
  std::vector<double> resume_server_ms;  // connect() to the server's on_resumed (its welcome sent)
  std::vector<double> hello_server_ms;   // the resume hello written to the server's on_resumed: the server's part
  std::size_t takeovers = 0;           // server: resumes that found the old transport open
  std::uint64_t replayed_by_server = 0;
  std::map<std::string, std::size_t> lost_as;  // server: the cause each killed session lingered on
  std::vector<double> noticed_ms;      // server: fault to transport_lost
  std::size_t expired = 0;             // server: killed sessions closed at the end of their grace
  std::size_t lingering_peak = 0;
  std::uint64_t stream_sent = 0, stream_echoed = 0, stream_missing = 0, stream_duplicated = 0, stream_ended = 0;
  std::size_t live_lost = 0;           // live sessions ended before the end: false kills
  double cpu_during = 0;               // server CPU, % of a core, from the fault to the end
};

/// One run of the scenario with reconnects after `reconnect_after_ms`; progress on stdout.
/// Throws std::runtime_error when a child does not start or open its sessions.
resume_result run_resume_scenario(const settings& s, long reconnect_after_ms, std::size_t doomed);

/// The table on stdout, and resume.json in s.out_dir.
void report_resume(const settings& s, const std::vector<resume_result>& results);

/// --check: every killed session resumed when D < G (none when D > G + T), nothing missing,
/// nothing duplicated, no state lost, no live session lost. False, with why on stderr.
bool resume_check_passes(const settings& s, const std::vector<resume_result>& results);

}  // namespace lifeline::bench
