// bench/detection/resume_scenario.cpp — the resume scenario (resume_scenario.hpp): one
// server with resume on, the load, the fault, the reconnects, and the reckoning from the
// load generators' reports and the server's events.
#include "resume_scenario.hpp"

#include "fault_injection.hpp"
#include "proc_readings.hpp"
#include "server_processes.hpp"
#include "strategy_result.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace lifeline::bench {

namespace {

/// When the server learns of a death: at once for a reset, at T for a blackhole.
long noticed_after_ms(const settings& s) { return s.fault == "reset" ? 0 : s.dead_after_ms; }

/// D within the grace: the session still lingers (or, blackholed, still looks open).
bool within_grace(const settings& s, long d) {
  return d + s.reconnect_spread_ms < noticed_after_ms(s) + s.resume_grace_ms;
}

/// D past the grace: the session is gone whatever the spread (a blackholed one is
/// noticed within T + H of the fault, and the grace runs from then).
bool past_grace(const settings& s, long d) {
  return d > noticed_after_ms(s) + s.heartbeat_ms + s.resume_grace_ms;
}

}  // namespace

resume_result run_resume_scenario(const settings& s, long reconnect_after_ms, std::size_t doomed_total) {
  resume_result r;
  r.reconnect_after_ms = reconnect_after_ms;
  const std::string tag = "resume." + s.fault + "." + std::to_string(reconnect_after_ms);
  const bool filtered = needs_packet_filter(s.fault);
  std::printf("\n[%s] starting the server (resume grace %ld ms)\n", tag.c_str(), s.resume_grace_ms);
  std::string port;
  auto servers = start_servers(s, "lifeline_resume", tag, port);

  const auto shares = load_shares(s, doomed_total);
  const std::size_t processes = shares.size();
  std::vector<std::unique_ptr<child_process>> loads;
  std::vector<fs::path> reports;
  for (std::size_t i = 0; i < processes; ++i) {
    const std::size_t n = shares[i].sessions, k = shares[i].doomed;
    reports.push_back(fs::path(s.out_dir) / (tag + ".load" + std::to_string(i)));
    loads.push_back(std::make_unique<child_process>(
        std::vector<std::string>{s.bin_dir + "/lifeline_loadgen", "--address", "127.0.0.1", "--port", port,
                                 "--sessions", std::to_string(n), "--doomed", std::to_string(k), "--doomed-address",
                                 filtered ? wave_address(0) : "127.0.0.1", "--live-address", "127.0.0.1",
                                 "--heartbeat-ms", std::to_string(s.heartbeat_ms), "--dead-after-ms",
                                 std::to_string(s.dead_after_ms), "--fault", s.fault, "--echo-ms", "20", "--resume",
                                 "--reconnect-after-ms", std::to_string(reconnect_after_ms), "--reconnect-spread-ms",
                                 std::to_string(s.reconnect_spread_ms), "--stream-ms",
                                 std::to_string(s.resume_stream_ms), "--seed", std::to_string(s.seed + i), "--report",
                                 reports.back().string()},
        s.loadgen_nice));
  }
  std::printf("[%s] opening %zu sessions from %zu load process(es)...\n", tag.c_str(), s.sessions, processes);
  std::fflush(stdout);
  for (auto& load : loads) r.sessions_open += sessions_opened_by(*load, s.sessions);
  // Settle, and let the stream run a few rounds before the fault, so messages are in flight.
  pump(servers, std::max(1500ms, std::chrono::milliseconds{3 * s.resume_stream_ms}));

  const ns_t instant = monotonic_ns() + 300'000'000;
  if (filtered) apply_rules(fault_table(s.fault));
  for (auto& load : loads) load->write_line("KILL " + std::to_string(instant));
  while (monotonic_ns() < instant) std::this_thread::sleep_for(200us);
  if (filtered) apply_rules(cut_off(wave_address(0)));
  const double cpu_at_fault = total_cpu_seconds(servers);
  const auto fault_wall = std::chrono::steady_clock::now();
  std::printf("[%s] %zu sessions lost their transport (%s); they dial again after %ld ms (+ 0..%ld ms each)\n",
              tag.c_str(), doomed_total, s.fault.c_str(), reconnect_after_ms, s.reconnect_spread_ms);
  std::fflush(stdout);

  // Long enough for every reconnect to be answered and, past the grace, for every
  // lingering session to expire; then the stream stops and its last echoes come home.
  const long until_ms = std::max(reconnect_after_ms + s.reconnect_spread_ms,
                                 noticed_after_ms(s) + s.heartbeat_ms + s.resume_grace_ms) + 2000;
  pump(servers, std::chrono::milliseconds{until_ms});
  for (auto& load : loads) load->write_line("QUIET");
  pump(servers, 1500ms);
  const ns_t window_end = monotonic_ns();
  r.cpu_during = 100 * (total_cpu_seconds(servers) - cpu_at_fault) /
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - fault_wall).count();
  for (const auto& server : servers) {
    r.lingering_peak += server.counters.lingering_max;
    r.takeovers += server.counters.takeovers;
    r.replayed_by_server += server.counters.replayed;
  }
  stop_all(loads, servers);
  if (filtered) remove_rules();

  std::set<std::string> killed, live_lost;
  std::map<std::string, ns_t> killed_at, dialled_at, hello_at;
  for (const auto& path : reports) {
    std::ifstream report(path);
    for (std::string line; std::getline(report, line);) {
      std::istringstream fields(line);
      std::string kind, id;
      fields >> kind >> id;
      if (kind == "kill") {
        ns_t at = 0;
        fields >> at;
        killed.insert(id);
        killed_at[id] = at;
      } else if (kind == "resumed") {
        ns_t dialled = 0, welcomed = 0, hello = 0;
        int state_lost = 0;
        std::string source;
        fields >> dialled >> welcomed >> state_lost >> source >> hello;
        if (hello > 0) hello_at[id] = hello;
        ++r.resumed;
        r.resumed_state_lost += state_lost != 0 ? 1U : 0U;
        r.resume_ms.push_back(static_cast<double>(welcomed - dialled) / 1e6);
        dialled_at[id] = dialled;
      } else if (kind == "unresumed") {
        ns_t at = 0;
        std::string why;
        fields >> at >> why;
        ++r.unresumed[why];
      } else if (kind == "lost") {
        live_lost.insert(id);
      } else if (kind == "summary") {
        for (std::string field; fields >> field;) {
          const auto eq = field.find('=');
          if (eq == std::string::npos) continue;
          const auto name = field.substr(0, eq);
          const auto value = std::stoull(field.substr(eq + 1));
          if (name == "stream_sent") r.stream_sent += value;
          if (name == "stream_echoed") r.stream_echoed += value;
          if (name == "stream_missing") r.stream_missing += value;
          if (name == "stream_duplicated") r.stream_duplicated += value;
          if (name == "stream_ended") r.stream_ended += value;
        }
      }
    }
  }
  r.killed = killed.size();
  // The server's side: how each death was learnt, when, and which sessions closed.
  std::set<std::string> noticed;
  std::ifstream events(servers.front().events);
  for (std::string kind; events >> kind;) {
    std::string id, what, last;
    ns_t at = 0;
    events >> id >> what >> at >> last;
    if (at > window_end) continue;
    const bool was_killed = killed.contains(id);
    if (kind == "transport_lost" && was_killed && noticed.insert(id).second) {
      ++r.lost_as[what];
      r.noticed_ms.push_back(static_cast<double>(at - killed_at[id]) / 1e6);
    } else if (kind == "resumed" && dialled_at.contains(id)) {
      r.resume_server_ms.push_back(static_cast<double>(at - dialled_at[id]) / 1e6);
      if (hello_at.contains(id)) r.hello_server_ms.push_back(static_cast<double>(at - hello_at[id]) / 1e6);
    } else if (kind == "close") {
      if (was_killed) {
        ++r.expired;
      } else {
        live_lost.insert(id);
      }
    } else if (kind == "transport_lost" && !was_killed) {
      live_lost.insert(id);
    }
  }
  r.live_lost = live_lost.size();
  std::printf("[%s] resumed %zu of %zu killed (%zu with state lost), %zu took over an open transport; stream: %llu "
              "sent, %llu missing, %llu duplicated; %zu live sessions lost\n",
              tag.c_str(), r.resumed, r.killed, r.resumed_state_lost, r.takeovers,
              static_cast<unsigned long long>(r.stream_sent), static_cast<unsigned long long>(r.stream_missing),
              static_cast<unsigned long long>(r.stream_duplicated), r.live_lost);
  return r;
}

void report_resume(const settings& s, const std::vector<resume_result>& results) {
  std::printf("\nResume: N = %zu, K = %zu%% (%s), H = %ld ms, T = %ld ms, grace G = %ld ms, reconnects spread over "
              "%ld ms, a numbered message per killed session every %ld ms\n",
              s.sessions, static_cast<std::size_t>(s.kill_share * 100 + 0.5), s.fault.c_str(), s.heartbeat_ms,
              s.dead_after_ms, s.resume_grace_ms, s.reconnect_spread_ms, s.resume_stream_ms);
  std::printf("%-7s %-7s %-8s %-14s %-16s %-16s %-10s %-9s %-8s %-22s %-9s %-5s %s\n", "D (ms)", "killed",
              "resumed", "hello->server", "connect->server", "connect->client", "state_lost", "takeovers", "expired",
              "stream missing/dup", "peak", "live", "refused");
  std::printf("%-7s %-7s %-8s %-14s %-16s %-16s %-10s %-9s %-8s %-22s %-9s %-5s %s\n", "", "", "", "p50 / p99 ms",
              "p50 / p99 ms", "p50 / p99 ms", "", "", "", "(of sent)", "lingering", "lost", "as");
  for (const auto& r : results) {
    char latency[32], server_latency[32], hello_latency[32], stream[48], resumed[24];
    std::snprintf(hello_latency, sizeof hello_latency, "%.2f / %.2f", quantile(r.hello_server_ms, 0.5),
                  quantile(r.hello_server_ms, 0.99));
    std::snprintf(resumed, sizeof resumed, "%zu", r.resumed);
    std::snprintf(latency, sizeof latency, "%.2f / %.2f", quantile(r.resume_ms, 0.5), quantile(r.resume_ms, 0.99));
    std::snprintf(server_latency, sizeof server_latency, "%.2f / %.2f", quantile(r.resume_server_ms, 0.5),
                  quantile(r.resume_server_ms, 0.99));
    std::snprintf(stream, sizeof stream, "%llu / %llu (%llu)", static_cast<unsigned long long>(r.stream_missing),
                  static_cast<unsigned long long>(r.stream_duplicated), static_cast<unsigned long long>(r.stream_sent));
    std::string refused;
    for (const auto& [why, n] : r.unresumed) refused += (refused.empty() ? "" : ",") + why + "=" + std::to_string(n);
    std::printf("%-7ld %-7zu %-8s %-14s %-16s %-16s %-10zu %-9zu %-8zu %-22s %-9zu %-5zu %s\n", r.reconnect_after_ms,
                r.killed, resumed, r.hello_server_ms.empty() ? "-" : hello_latency,
                r.resume_server_ms.empty() ? "-" : server_latency, r.resume_ms.empty() ? "-" : latency,
                r.resumed_state_lost, r.takeovers, r.expired, stream, r.lingering_peak, r.live_lost,
                refused.empty() ? "-" : refused.c_str());
  }
  std::printf("hello->server: from the resume hello written to the server's on_resumed (its welcome sent): the server's\n"
              "part; connect->server: from the new connection's connect(), so with the handshake and the load\n"
              "generator's own delay in sending the hello; connect->client: to the load generator reading the welcome,\n"
              "in a loop shared with every other session\n");
  for (const auto& r : results) {
    std::string causes;
    for (const auto& [why, n] : r.lost_as) causes += (causes.empty() ? "" : ", ") + why + " " + std::to_string(n);
    std::printf("D = %ld ms: the server learnt of %zu deaths (%s) %.0f / %.0f ms after the fault (p50 / max); "
                "server CPU %.1f %% of a core from the fault on; it replayed %llu frames\n",
                r.reconnect_after_ms, r.noticed_ms.size(), causes.empty() ? "none" : causes.c_str(),
                quantile(r.noticed_ms, 0.5), quantile(r.noticed_ms, 1), r.cpu_during,
                static_cast<unsigned long long>(r.replayed_by_server));
  }
  nlohmann::json doc;
  doc["settings"] = {{"sessions", s.sessions},         {"kill_share", s.kill_share},
                     {"fault", s.fault},               {"heartbeat_ms", s.heartbeat_ms},
                     {"dead_after_ms", s.dead_after_ms}, {"resume_grace_ms", s.resume_grace_ms},
                     {"reconnect_spread_ms", s.reconnect_spread_ms}, {"resume_stream_ms", s.resume_stream_ms},
                     {"server_threads", s.server_threads}, {"seed", s.seed}};
  for (const auto& r : results) {
    doc["runs"].push_back({{"reconnect_after_ms", r.reconnect_after_ms},
                           {"sessions", r.sessions_open},
                           {"killed", r.killed},
                           {"resumed", r.resumed},
                           {"resumed_state_lost", r.resumed_state_lost},
                           {"unresumed", r.unresumed},
                           {"resume_ms", {{"p50", quantile(r.resume_ms, 0.5)}, {"p99", quantile(r.resume_ms, 0.99)},
                                          {"max", quantile(r.resume_ms, 1)}}},
                           {"resume_hello_to_server_ms", {{"p50", quantile(r.hello_server_ms, 0.5)},
                                                          {"p99", quantile(r.hello_server_ms, 0.99)},
                                                          {"max", quantile(r.hello_server_ms, 1)}}},
                           {"resume_server_ms", {{"p50", quantile(r.resume_server_ms, 0.5)},
                                                 {"p99", quantile(r.resume_server_ms, 0.99)},
                                                 {"max", quantile(r.resume_server_ms, 1)}}},
                           {"takeovers", r.takeovers},
                           {"expired", r.expired},
                           {"lost_as", r.lost_as},
                           {"noticed_ms", {{"p50", quantile(r.noticed_ms, 0.5)}, {"max", quantile(r.noticed_ms, 1)}}},
                           {"lingering_peak", r.lingering_peak},
                           {"replayed_by_server", r.replayed_by_server},
                           {"stream", {{"sent", r.stream_sent}, {"echoed", r.stream_echoed}, {"missing", r.stream_missing},
                                       {"duplicated", r.stream_duplicated}, {"ended_with_session", r.stream_ended}}},
                           {"live_lost", r.live_lost},
                           {"cpu_from_fault_pct", r.cpu_during}});
  }
  std::ofstream(fs::path(s.out_dir) / "resume.json") << doc.dump(2) << "\n";
  std::printf("\nwrote %s\n", (fs::path(s.out_dir) / "resume.json").string().c_str());
}

bool resume_check_passes(const settings& s, const std::vector<resume_result>& results) {
  bool passed = true;
  const auto fail = [&passed](long d, const char* what) {
    std::fprintf(stderr, "check failed (D = %ld ms): %s\n", d, what);
    passed = false;
  };
  for (const auto& r : results) {
    const long d = r.reconnect_after_ms;
    if (r.killed == 0) fail(d, "no session was killed");
    if (within_grace(s, d) && r.resumed != r.killed) fail(d, "a session that still lingered did not resume");
    if (past_grace(s, d) && r.resumed != 0) fail(d, "a session resumed after its grace");
    if (r.resumed_state_lost != 0) fail(d, "a resume lost state (the replay buffer should hold this outage)");
    if (r.stream_missing != 0 || r.stream_duplicated != 0) fail(d, "a stream message was lost or duplicated");
    if (r.live_lost != 0) fail(d, "a live session was lost");
  }
  if (passed) std::printf("check passed: resumed within the grace, refused after it, every message once and in order\n");
  return passed;
}

}  // namespace lifeline::bench
