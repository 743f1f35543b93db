// bench/detection/run_strategy.cpp — one strategy's run (run_strategy.hpp), step by step:
// servers, load, steady state, fault, wait, and the reckoning of who was killed when, who was
// closed when, and which live sessions were lost.
#include "run_strategy.hpp"

#include "fault_injection.hpp"
#include "proc_readings.hpp"
#include "server_processes.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <utility>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace lifeline::bench {

result run_strategy(const settings& s, const std::string& strategy, std::size_t doomed_total) {
  result r;
  r.strategy = strategy;
  const bool filtered = needs_packet_filter(s.fault);
  const std::string several =
      s.server_processes == 1 ? "" : " (" + std::to_string(s.server_processes) + " processes, one port)";
  std::printf("\n[%s] starting the server%s\n", strategy.c_str(), several.c_str());

  std::string port;
  auto servers = start_servers(s, strategy, strategy, port);

  // Load: as many generator processes as the descriptor limit requires.
  const auto shares = load_shares(s, doomed_total);
  const std::size_t processes = shares.size();
  std::vector<std::unique_ptr<child_process>> loads;
  std::vector<fs::path> reports;
  std::vector<std::size_t> doomed_of_load;
  for (std::size_t i = 0; i < processes; ++i) {
    const std::size_t n = shares[i].sessions, k = shares[i].doomed;
    doomed_of_load.push_back(k);
    reports.push_back(fs::path(s.out_dir) / (strategy + ".load" + std::to_string(i)));
    std::vector<std::string> argv{
        s.bin_dir + "/lifeline_loadgen", "--address", "127.0.0.1", "--port", port, "--sessions", std::to_string(n),
        "--doomed", std::to_string(k), "--doomed-address", wave_address(0), "--live-address", "127.0.0.1",
        "--heartbeat-ms", std::to_string(s.heartbeat_ms), "--dead-after-ms", std::to_string(s.dead_after_ms),
        "--fault", s.fault, "--echo-ms", "20", "--jitter-ms", std::to_string(s.jitter_ms), "--loss",
        std::to_string(s.loss), "--seed", std::to_string(s.seed), "--report", reports.back().string()};
    // Only the packet filter needs a wave's sessions on an address of their own.
    if (filtered) argv.insert(argv.end(), {"--doomed-groups", std::to_string(s.waves)});
    if (strategy == "lifeline_resume") argv.emplace_back("--resume");  // acks what it receives
    loads.push_back(std::make_unique<child_process>(argv, s.loadgen_nice));
  }
  std::printf("[%s] opening %zu sessions from %zu load process(es)...\n", strategy.c_str(), s.sessions, processes);
  std::fflush(stdout);
  for (auto& load : loads) r.sessions_open += sessions_opened_by(*load, s.sessions);
  if (s.cost_windows == 0)
    std::printf("[%s] %zu sessions open; steady state for %.3g s\n", strategy.c_str(), r.sessions_open, s.steady_seconds);
  else
    std::printf("[%s] %zu sessions open\n", strategy.c_str(), r.sessions_open);
  std::fflush(stdout);
  std::unordered_map<std::string, std::size_t> server_of_client;
  if (servers.size() > 1) server_of_client = server_of_each_client(servers);

  // Steady state: CPU, memory and wire bytes with every session alive.
  pump(servers, 1500ms);  // settle: every session has exchanged a heartbeat
  for (const auto& server : servers) r.sessions_per_server.push_back(server.counters.open);
  if (servers.size() > 1) {
    std::string spread;
    for (const auto open : r.sessions_per_server) spread += (spread.empty() ? "" : " + ") + std::to_string(open);
    std::printf("[%s] sessions per server process: %s\n", strategy.c_str(), spread.c_str());
  }
  if (s.cost_windows == 0) {  // else measured side by side (measure_costs_side_by_side)
    const double cpu0 = total_cpu_seconds(servers), bytes0 = total_bytes(servers);
    const auto t0 = std::chrono::steady_clock::now();
    pump(servers, std::chrono::milliseconds{static_cast<long>(s.steady_seconds * 1000)});
    const double steady_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cpu_steady = 100 * (total_cpu_seconds(servers) - cpu0) / steady_elapsed;
    r.wire_bytes_per_session_second =
        (total_bytes(servers) - bytes0) / steady_elapsed / static_cast<double>(r.sessions_open);
  }
  long rss_growth = 0;
  for (const auto& server : servers) rss_growth += rss_bytes(server.process->pid()) - server.rss_empty;
  r.rss_per_session = static_cast<double>(rss_growth) / static_cast<double>(r.sessions_open);

  // The fault: all at one instant, or wave by wave. Every KILL is sent now, each load
  // generator applies them at their instants; the filter, if any, follows wave by wave.
  const ns_t first_instant = monotonic_ns() + 300'000'000;
  const auto instants = wave_instants(s, first_instant);
  if (filtered) apply_rules(fault_table(s.fault));  // drops nothing until an address joins the set
  for (std::size_t i = 0; i < loads.size(); ++i) {
    for (std::size_t w = 0; w < instants.size(); ++w) {
      const auto count = instants.size() == 1 ? std::string{} : " " + std::to_string(wave_share(doomed_of_load[i], w, s.waves));
      loads[i]->write_line("KILL " + std::to_string(instants[w]) + count);
    }
  }
  std::vector<ns_t> rules_in_place(instants.size(), 0);
  double cpu_kill = 0;
  machine_time machine_at_kill;
  auto kill_wall = std::chrono::steady_clock::now();
  // --server-pause-ms: the servers stop right after the first wave's instant (its rule in
  // place, for a packet-filter fault); later waves keep their instants meanwhile.
  server_pause pause(servers, std::chrono::milliseconds{s.server_pause_ms});
  for (std::size_t w = 0; w < instants.size(); ++w) {
    while (monotonic_ns() < instants[w]) {
      pause.end_if_due();
      std::this_thread::sleep_for(200us);
    }
    if (filtered) {
      apply_rules(cut_off(wave_address(w)));
      rules_in_place[w] = monotonic_ns();
    }
    if (w == 0) {
      pause.begin();  // nothing when P = 0
      cpu_kill = total_cpu_seconds(servers);
      for (const auto& server : servers) {
        const auto wait = run_queue_wait_of(server.process->pid());
        r.run_queue_wait_ms -= 1e3 * wait.seconds;
        r.run_queue_runs -= wait.runs;
      }
      kill_wall = std::chrono::steady_clock::now();
      machine_at_kill = machine_time_now();
    }
  }
  if (instants.size() == 1) {
    std::printf("[%s] killed %zu sessions (%s); waiting for detections\n", strategy.c_str(), doomed_total, s.fault.c_str());
  } else {
    std::printf("[%s] killed %zu sessions (%s) in %zu waves within %ld ms; waiting for detections\n", strategy.c_str(),
                doomed_total, s.fault.c_str(), s.waves, s.wave_spread_ms);
  }
  if (filtered) {
    ns_t slowest = 0;
    for (std::size_t w = 0; w < instants.size(); ++w) slowest = std::max(slowest, rules_in_place[w] - instants[w]);
    std::printf("[%s] the filter was in place at most %.1f ms after a wave's instant\n", strategy.c_str(),
                static_cast<double>(slowest) / 1e6);
  }
  std::fflush(stdout);
  // A stalled peer's window shuts within a second or so of the kill; then TCP_USER_TIMEOUT
  // ends the kernel's probes of it, or, where the server's send buffer fills first,
  // write_stall_timeout runs out. Wait for the later of the two too.
  const auto liveness = liveness_of(s);
  const auto stalled_wait = std::max(lifeline::derive_kernel_backstop(liveness).user_timeout, liveness.write_stall_timeout);
  // A pause of P delays every detection due during it by up to P: the wait grows by P.
  const auto window = std::chrono::milliseconds{2 * s.dead_after_ms + 4000} +
                      (s.fault == "stalled" ? stalled_wait + std::chrono::milliseconds{4000} : std::chrono::milliseconds{0}) +
                      std::chrono::milliseconds{s.server_pause_ms};
  if (pause.pending()) {
    const auto wait_end = std::chrono::steady_clock::now() + window;
    // Read the stats until shortly before the end: poll() wakes late on a loaded machine,
    // and end() sleeps out the rest in 200 us steps, as the wave instants are kept.
    pump(servers, std::max(0ms, pause.time_left() - 5ms));
    pause.end();
    pump(servers, std::chrono::duration_cast<std::chrono::milliseconds>(wait_end - std::chrono::steady_clock::now()));
  } else {
    pump(servers, window);
  }
  if (pause.end_ns() != 0) {
    r.pause_start_ns = pause.start_ns();
    r.pause_end_ns = pause.end_ns();
    r.pause_after_fault_ms = static_cast<double>(pause.start_ns() - instants.front()) / 1e6;
    r.pause_took_effect = pause.were_stopped();
    std::printf("[%s] every server process stopped (SIGSTOP) %.1f ms after the %s instant, continued (SIGCONT) %.1f "
                "ms later: CLOCK_MONOTONIC %lld to %lld ns\n",
                strategy.c_str(), r.pause_after_fault_ms, instants.size() == 1 ? "fault's" : "first wave's",
                static_cast<double>(r.pause_end_ns - r.pause_start_ns) / 1e6, r.pause_start_ns, r.pause_end_ns);
    if (!r.pause_took_effect)
      std::printf("[%s] warning: a server process was not stopped when the pause ended\n", strategy.c_str());
  }
  const double detect_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_wall).count();
  r.cpu_detection = 100 * (total_cpu_seconds(servers) - cpu_kill) / detect_elapsed;
  for (const auto& server : servers) {
    const auto w = run_queue_wait_of(server.process->pid());
    r.run_queue_wait_ms += 1e3 * w.seconds;
    r.run_queue_runs += w.runs;
  }
  if (const auto machine = machine_time_now(); machine.total > machine_at_kill.total)
    r.steal_pct = 100.0 * static_cast<double>(machine.steal - machine_at_kill.steal) /
                  static_cast<double>(machine.total - machine_at_kill.total);
  for (const auto& server : servers)
    if (!std::isnan(server.counters.timer_late_max_ms))
      r.timer_late_max_ms = std::isnan(r.timer_late_max_ms) ? server.counters.timer_late_max_ms
                                                            : std::max(r.timer_late_max_ms, server.counters.timer_late_max_ms);
  std::printf("[%s] the server waited for a core %.0f ms in all during detection, over %lld runs (%.0f us each)",
              strategy.c_str(), r.run_queue_wait_ms, r.run_queue_runs,
              r.run_queue_runs > 0 ? 1e3 * r.run_queue_wait_ms / static_cast<double>(r.run_queue_runs) : 0.0);
  if (!std::isnan(r.timer_late_max_ms))
    std::printf("; its deadline timer woke at worst %.0f ms late", r.timer_late_max_ms);
  std::printf("\n");
  std::uint64_t refused = 0;
  for (const auto& server : servers) refused += server.counters.stream_refused;
  if (refused > 0)
    std::printf("[%s] the game stream had %llu messages refused as queue_full (peers not reading them)\n",
                strategy.c_str(), static_cast<unsigned long long>(refused));
  if (r.steal_pct >= 1.0)
    std::printf("[%s] warning: the hypervisor took %.1f %% of this machine's CPU time during detection (steal): "
                "lateness and echo times include that\n",
                strategy.c_str(), r.steal_pct);
  const ns_t window_end = monotonic_ns();

  stop_all(loads, servers);
  if (filtered) remove_rules();

  // A session is known by its server process and that process's id for it: the processes
  // issue the same ids. One the driver could not place keeps its address to stay distinct.
  using session_key = std::pair<std::size_t, std::string>;
  constexpr auto unplaced = static_cast<std::size_t>(-1);
  std::size_t unplaced_sessions = 0;
  const auto key_of = [&](const std::string& id, const std::string& source) -> session_key {
    if (servers.size() == 1) return {0, id};
    if (const auto found = server_of_client.find(source); found != server_of_client.end()) return {found->second, id};
    ++unplaced_sessions;
    return {unplaced, id + "@" + source};
  };

  // Who was killed when, who the server closed when, and what the live sessions saw.
  struct kill_record {
    ns_t at = 0;
    std::size_t wave = 0;
  };
  std::map<session_key, kill_record> killed;
  std::set<session_key> lost_live;
  std::vector<std::pair<ns_t, ns_t>> echoes;  // sent, rtt
  for (const auto& path : reports) {
    std::ifstream report(path);
    for (std::string line; std::getline(report, line);) {
      std::istringstream fields(line);
      std::string kind;
      fields >> kind;
      if (kind == "kill") {
        std::string id, source;
        ns_t at = 0;
        std::size_t wave = 0;  // the KILL line's number: one per wave, in order
        fields >> id >> at >> wave >> source;
        wave = std::min(wave, instants.size() - 1);
        // A packet-filter fault is complete once the rule is in place, not before.
        killed[key_of(id, source)] = {std::max(at, rules_in_place[wave]), wave};
      } else if (kind == "lost") {
        std::string id, how, source;
        ns_t at = 0;
        fields >> id >> at >> how >> source;
        lost_live.insert(key_of(id, source));
      } else if (kind == "echo") {
        ns_t sent = 0, rtt = 0;
        fields >> sent >> rtt;
        echoes.emplace_back(sent, rtt);
      }
    }
  }
  if (unplaced_sessions > 0)
    std::printf("[%s] warning: %zu killed or lost sessions were in no server's descriptor table\n", strategy.c_str(),
                unplaced_sessions);
  r.doomed = killed.size();
  r.waves.resize(instants.size());
  for (std::size_t w = 0; w < instants.size(); ++w)
    r.waves[w].offset_ms = static_cast<double>(instants[w] - first_instant) / 1e6;
  for (const auto& [key, kill] : killed) ++r.waves[kill.wave].killed;
  std::set<session_key> false_kills = lost_live;
  std::set<session_key> detected_once;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    std::ifstream events(servers[i].events);
    for (std::string kind; events >> kind;) {
      std::string id, reason, last_heard;
      ns_t detected = 0;
      events >> id >> reason >> detected >> last_heard;
      // With resume on, the server detects a death when the session starts lingering
      // (transport_lost); the close after its grace is the same death, not another.
      if (kind != "close" && kind != "transport_lost") continue;
      const session_key key{i, id};
      if (!detected_once.insert(key).second) continue;
      const auto doomed = killed.find(key);
      if (doomed == killed.end()) {
        if (detected < window_end) false_kills.insert(key);
        continue;
      }
      if (detected > window_end) continue;
      ++r.detected;
      ++r.reasons[reason];
      const double detection_ms = static_cast<double>(detected - doomed->second.at) / 1e6;
      r.detection_ms.push_back(detection_ms);
      r.waves[doomed->second.wave].detection_ms.push_back(detection_ms);
      if (last_heard != "-" && reason == "heartbeat_timeout")
        r.lateness_ms.push_back(static_cast<double>(detected - std::stoll(last_heard)) / 1e6 -
                                static_cast<double>(s.dead_after_ms));
    }
  }
  r.misses = r.doomed - r.detected;
  r.false_kills = false_kills.size();
  std::vector<double> during;
  for (const auto& [sent, rtt] : echoes)
    if (sent >= instants.front() && sent <= instants.back() + (s.dead_after_ms + 2000) * 1'000'000LL)
      during.push_back(static_cast<double>(rtt) / 1e6);
  r.echo_samples = during.size();
  r.echo_p99_ms = quantile(during, 0.99);
  if (r.waves.size() > 1) {
    for (std::size_t w = 0; w < r.waves.size(); ++w) {
      const auto& wave = r.waves[w];
      std::printf("[%s]   wave %zu at +%.0f ms: %zu killed, %zu detected in %.0f / %.0f / %.0f ms (min / p50 / max)\n",
                  strategy.c_str(), w + 1, wave.offset_ms, wave.killed, wave.detection_ms.size(),
                  quantile(wave.detection_ms, 0), quantile(wave.detection_ms, 0.5), quantile(wave.detection_ms, 1));
    }
  }
  std::printf("[%s] detected %zu of %zu, %zu false kills\n", strategy.c_str(), r.detected, r.doomed, r.false_kills);
  return r;
}

}  // namespace lifeline::bench
