// bench/detection/server_processes.hpp — the benchmark's server processes
// (lifeline_bench_server, one strategy each) as the driver sees them: starting them on one
// port, pumping their stats lines, summing their CPU and bytes, finding which process holds
// which client, and stopping them with their load generators.
//
// Several server processes share one port through SO_REUSEPORT, so one process's descriptor
// limit no longer caps N; they issue the same session ids, so a session is known by its
// process and its id (server_of_each_client). The counters are only as fresh as the last
// pump(): read the stats lines while waiting, never sleep.
//
//   std::string port;
//   auto servers = start_servers(s, "lifeline", "lifeline", port);
//   pump(servers, 1500ms);
//   const double cpu = total_cpu_seconds(servers);
#pragma once

#include "child_process.hpp"
#include "driver_settings.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace lifeline::bench {

// Keeps the latest "stats <ns> open=.. bytes_in=.. bytes_out=.." line of one server.
struct server_counters {
  double bytes = 0;
  std::size_t open = 0;
  double timer_late_max_ms = NAN;  // lifeline strategies: the deadline timer's worst wake-up delay so far
  std::uint64_t stream_refused = 0;  // with a game stream: messages send() refused as queue_full
  void take(const std::string& line) {
    if (line.rfind("stats ", 0) != 0) return;
    double in = 0, out = 0;
    if (const auto p = line.find("bytes_in="); p != std::string::npos) in = std::stod(line.substr(p + 9));
    if (const auto p = line.find("bytes_out="); p != std::string::npos) out = std::stod(line.substr(p + 10));
    if (const auto p = line.find("open="); p != std::string::npos) open = std::stoul(line.substr(p + 5));
    if (const auto p = line.find("timer_late_max_ms="); p != std::string::npos)
      timer_late_max_ms = std::stod(line.substr(p + 18));
    if (const auto p = line.find("stream_queue_full="); p != std::string::npos)
      stream_refused = std::stoull(line.substr(p + 18));
    bytes = in + out;
  }
};

struct server_process {
  std::unique_ptr<child_process> process;
  std::filesystem::path events;
  server_counters counters;
  long rss_empty = 0;
};

// Reads the servers' stats lines for a while, keeping their counters current.
void pump(const std::vector<server_process*>& servers, std::chrono::milliseconds for_how_long);
void pump(std::vector<server_process>& servers, std::chrono::milliseconds for_how_long);

double total_bytes(const std::vector<server_process>& servers);
double total_cpu_seconds(const std::vector<server_process>& servers);

// The server process holding each connection, by the client's "address:port". Read once
// every session is open: a socket found in a process's descriptor table, its peer from the
// kernel's socket dump (sock_diag: /proc/net/tcp, its text form, took 1.7 s to read at
// 13,000 sockets in one run).
std::unordered_map<std::string, std::size_t> server_of_each_client(const std::vector<server_process>& servers);

// Starts the strategy's server processes: the first picks the port (returned in `port`),
// the others join it through SO_REUSEPORT. Events files are named after `tag`.
std::vector<server_process> start_servers(const settings& s, const std::string& strategy, const std::string& tag,
                                          std::string& port);

// Waits for a load generator's "READY <open> <failed>" and returns how many it opened;
// opening takes longer the more sessions the run has in all.
std::size_t sessions_opened_by(child_process& load, std::size_t sessions_in_run);

// Stops load generators (their reports written) and then servers (events flushed).
void stop_all(std::vector<std::unique_ptr<child_process>>& loads, std::vector<server_process>& servers);

}  // namespace lifeline::bench
