// bench/detection/cost_windows.cpp — the side-by-side steady windows (cost_windows.hpp).
// Each strategy connects from its own source address (127.0.1.<i>), because one address has
// about 28,000 ports for all of them.
#include "cost_windows.hpp"

#include "server_processes.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace lifeline::bench {

std::map<std::string, steady_cost> measure_costs_side_by_side(const settings& s) {
  std::printf("\n[cost] every strategy at once, %zu live sessions each, no fault: %zu window(s) of %.3g s\n",
              s.sessions, s.cost_windows, s.steady_seconds);
  std::fflush(stdout);
  struct setup {
    std::string strategy;
    std::vector<server_process> servers;
    std::vector<std::unique_ptr<child_process>> loads;
    std::size_t open = 0;
  };
  std::vector<setup> setups;
  for (std::size_t i = 0; i < s.strategies.size(); ++i) {
    auto& up = setups.emplace_back();
    up.strategy = s.strategies[i];
    std::string port;
    up.servers = start_servers(s, up.strategy, "cost." + up.strategy, port);
    // Its own source address per strategy: one address has ~28,000 ports for all of them.
    const std::string source = "127.0.1." + std::to_string(i + 1);
    for (const auto& share : load_shares(s, 0)) {
      const std::size_t n = share.sessions;
      std::vector<std::string> argv{
          s.bin_dir + "/lifeline_loadgen", "--address", "127.0.0.1", "--port", port, "--sessions", std::to_string(n),
          "--live-address", source, "--heartbeat-ms", std::to_string(s.heartbeat_ms), "--dead-after-ms",
          std::to_string(s.dead_after_ms), "--echo-ms", "0", "--jitter-ms", std::to_string(s.jitter_ms), "--loss",
          std::to_string(s.loss), "--seed", std::to_string(s.seed)};
      if (up.strategy == "lifeline_resume") argv.emplace_back("--resume");  // acks what it receives
      up.loads.push_back(std::make_unique<child_process>(argv, s.loadgen_nice));
    }
  }
  std::vector<server_process*> all;
  for (auto& up : setups) {
    for (auto& load : up.loads) up.open += sessions_opened_by(*load, s.sessions);
    for (auto& server : up.servers) all.push_back(&server);
  }
  pump(all, 1500ms);  // settle: every session has exchanged a heartbeat

  std::map<std::string, steady_cost> costs;
  for (std::size_t w = 0; w < s.cost_windows; ++w) {
    std::vector<double> cpu0, bytes0;
    for (auto& up : setups) {
      cpu0.push_back(total_cpu_seconds(up.servers));
      bytes0.push_back(total_bytes(up.servers));
    }
    const auto t0 = std::chrono::steady_clock::now();
    pump(all, std::chrono::milliseconds{static_cast<long>(s.steady_seconds * 1000)});
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string line;
    for (std::size_t i = 0; i < setups.size(); ++i) {
      auto& cost = costs[setups[i].strategy];
      cost.cpu.push_back(100 * (total_cpu_seconds(setups[i].servers) - cpu0[i]) / elapsed);
      cost.bytes_per_session_second.push_back((total_bytes(setups[i].servers) - bytes0[i]) / elapsed /
                                              static_cast<double>(std::max<std::size_t>(1, setups[i].open)));
      char part[96];
      std::snprintf(part, sizeof part, "%s%s %.1f%%", i == 0 ? "" : ", ", setups[i].strategy.c_str(), cost.cpu.back());
      line += part;
    }
    std::printf("[cost] window %zu: %s\n", w + 1, line.c_str());
    std::fflush(stdout);
  }
  for (auto& up : setups) stop_all(up.loads, up.servers);
  for (auto& up : setups)
    for (auto& server : up.servers) fs::remove(server.events);
  return costs;
}

}  // namespace lifeline::bench
