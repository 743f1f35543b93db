// bench/detection/server_processes.hpp — the benchmark's server processes
// (lifeline_bench_server, one strategy each) as the driver sees them: starting them on one
// port, pumping their stats lines, summing their CPU and bytes, finding which process holds
// which client, pausing them (SIGSTOP, SIGCONT), and stopping them with their load generators.
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
#include "proc_readings.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
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
  // lifeline_resume: sessions lingering now and at most so far, and the resume counters.
  std::size_t lingering = 0, lingering_max = 0;
  std::uint64_t resumed = 0, resumed_state_lost = 0, takeovers = 0, resumes_refused = 0, replayed = 0;
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
    const auto count = [&line](const char* name, auto& into) {
      if (const auto p = line.find(name); p != std::string::npos) into = std::stoull(line.substr(p + std::strlen(name)));
    };
    count(" lingering=", lingering);
    lingering_max = std::max(lingering_max, lingering);
    count(" resumed=", resumed);
    count(" resumed_state_lost=", resumed_state_lost);
    count(" takeovers=", takeovers);
    count(" resumes_refused=", resumes_refused);
    count(" replayed=", replayed);
    bytes = in + out;
  }
};

struct server_process {
  std::unique_ptr<child_process> process;
  std::filesystem::path events;
  server_counters counters;
  long rss_empty = 0;
};

/// How many sessions, and how many of them doomed, each load generator process opens: as
/// many processes as sessions_per_loadgen requires, the sessions and the doomed spread
/// evenly over them (the last takes the remainders).
struct load_share {
  std::size_t sessions = 0;
  std::size_t doomed = 0;
};
std::vector<load_share> load_shares(const settings& s, std::size_t doomed_total);

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

// --server-pause-ms: every server process stopped (SIGSTOP) and, P ms later, continued
// (SIGCONT), as a long GC pause or a descheduled VM would stop a game server. A stopped
// process keeps its sockets: its kernel goes on receiving and ACKing, so the peers' beats
// wait in its receive buffers (DESIGN.md §6, §8). The pause never blocks the driver, which
// has wave instants to keep meanwhile: it calls end_if_due() as it waits, or end() to wait
// out the rest. Destroyed while pending, it continues the servers at once.
//
//   server_pause pause(servers, 2000ms);
//   pause.begin();                       // right after the fault instant
//   pump(servers, pause.time_left());
//   pause.end();                         // stamps; were_stopped() says it took effect
class server_pause {
 public:
  /// Nothing happens with a length of 0.
  server_pause(std::vector<server_process>& servers, std::chrono::milliseconds length);
  ~server_pause();
  server_pause(const server_pause&) = delete;
  server_pause& operator=(const server_pause&) = delete;

  /// SIGSTOP to every server process; the start is stamped once all are sent.
  void begin();
  /// Begun and not yet ended.
  [[nodiscard]] bool pending() const noexcept { return start_ns_ != 0 && end_ns_ == 0; }
  /// Until the end is due, rounded up to whole ms (0 when due or not pending).
  [[nodiscard]] std::chrono::milliseconds time_left() const;
  /// end() if the pause is pending and due.
  void end_if_due();
  /// Waits until start + length, checks that every server was stopped, SIGCONT to every
  /// server process; the end is stamped once all are sent. Nothing unless pending.
  void end();

  /// CLOCK_MONOTONIC ns; 0 until begun / ended.
  [[nodiscard]] ns_t start_ns() const noexcept { return start_ns_; }
  [[nodiscard]] ns_t end_ns() const noexcept { return end_ns_; }
  /// Every thread of every server process was found stopped just before SIGCONT.
  [[nodiscard]] bool were_stopped() const noexcept { return were_stopped_; }

 private:
  void signal_all(int signal) const;

  std::vector<server_process>& servers_;
  ns_t length_ns_;
  ns_t start_ns_ = 0, end_ns_ = 0;
  bool were_stopped_ = false;
};

}  // namespace lifeline::bench
