// lifeline_detection_bench: the half-open detection benchmark (the README's main job).
//
// For each liveness strategy, in one run and with the same N, K, H, T and fault: start the
// server (lifeline_bench_server) in its own process and the load (lifeline_loadgen) in
// others, let the sessions run steadily, kill K of them at one instant with the chosen
// fault, and measure how fast each death is detected, what was missed or wrongly killed,
// and what it cost. DESIGN.md §5 lists the figures; bench/RESULTS.md records them.
//
// Packet-filter faults (blackholed, unreachable) run inside a private network namespace
// that this process creates for itself before starting any child, so the nftables rules
// never touch the machine's own traffic.
#include "child_process.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using lifeline::bench::child_process;

namespace {

using ns_t = long long;

ns_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<ns_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

struct settings {
  std::vector<std::string> strategies{"lifeline", "keepalive", "asio_timer", "full_scan", "floor"};
  std::size_t sessions = 10'000;
  double kill_share = 0.5;
  std::string fault = "blackholed";
  long heartbeat_ms = 1000;
  long dead_after_ms = 3000;
  unsigned server_threads = 1;
  double steady_seconds = 5;
  std::size_t sessions_per_loadgen = 9'000;
  long jitter_ms = 0;
  double loss = 0;
  std::string out_dir = "detection-results";
  std::string bin_dir;
  bool check = false;
};

struct result {
  std::string strategy;
  std::size_t sessions_open = 0, doomed = 0, detected = 0, misses = 0, false_kills = 0;
  std::map<std::string, std::size_t> reasons;  // of the doomed sessions' detections
  std::vector<double> detection_ms;             // detected − fault, per detected doomed session
  std::vector<double> lateness_ms;              // detected − (last heard + T), where known
  double cpu_steady = 0, cpu_detection = 0;     // % of one core
  double rss_per_session = 0;                   // bytes
  double wire_bytes_per_session_second = 0;     // both directions, server's view
  double echo_p99_ms = 0;
  std::size_t echo_samples = 0;
};

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) ;
  return v[std::min(v.size() - 1, index == 0 ? 0 : index - 1)];
}

// CPU time (user + system) of a process, in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  const auto after_name = content.rfind(')');
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(content.substr(after_name + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Keeps the latest "stats <ns> open=.. bytes_in=.. bytes_out=.." line of the server.
struct server_counters {
  double bytes = 0;
  void take(const std::string& line) {
    if (line.rfind("stats ", 0) != 0) return;
    double in = 0, out = 0;
    if (const auto p = line.find("bytes_in="); p != std::string::npos) in = std::stod(line.substr(p + 9));
    if (const auto p = line.find("bytes_out="); p != std::string::npos) out = std::stod(line.substr(p + 10));
    bytes = in + out;
  }
};

void pump(child_process& server, server_counters& counters, std::chrono::milliseconds for_how_long) {
  const auto until = std::chrono::steady_clock::now() + for_how_long;
  while (std::chrono::steady_clock::now() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (auto line = server.read_line(std::max(left, 1ms))) counters.take(*line);
  }
}

bool needs_packet_filter(const std::string& fault) { return fault == "blackholed" || fault == "unreachable"; }

// Enters a private network namespace with loopback up, so packet filters stay in it.
void enter_private_network() {
  if (::unshare(CLONE_NEWNET) != 0)
    throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno) +
                             " (packet-filter faults need root)");
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  ifreq request{};
  std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  ::ioctl(fd, SIOCGIFFLAGS, &request);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(fd, SIOCSIFFLAGS, &request) != 0) throw std::runtime_error("cannot bring loopback up");
  ::close(fd);
}

// The rules that cut the doomed sessions' address (127.0.0.2) off, in the input hook so
// the sender's TCP has really sent what is dropped (see tests/fault_netns/).
std::string fault_rules(const std::string& fault) {
  const std::string head =
      "table inet lifeline_bench {\n  chain input {\n    type filter hook input priority filter; policy accept;\n";
  const std::string tail = "  }\n}\n";
  if (fault == "blackholed") return head + "    ip saddr 127.0.0.2 drop\n    ip daddr 127.0.0.2 drop\n" + tail;
  return head + "    ip daddr 127.0.0.2 reject with icmp type host-unreachable\n" +
         "    ip saddr 127.0.0.2 meta l4proto tcp drop\n" + tail;
}

void apply_rules(const std::string& rules) {
  FILE* nft = ::popen("nft -f -", "w");
  if (nft == nullptr) throw std::runtime_error("cannot run nft");
  std::fputs(rules.c_str(), nft);
  if (::pclose(nft) != 0) throw std::runtime_error("nft rejected the fault rules");
}

void remove_rules() { (void)std::system("nft delete table inet lifeline_bench 2>/dev/null"); }

result run_strategy(const settings& s, const std::string& strategy, std::size_t doomed_total) {
  result r;
  r.strategy = strategy;
  const auto events_path = fs::path(s.out_dir) / (strategy + ".events");
  fs::remove(events_path);
  std::printf("\n[%s] starting the server\n", strategy.c_str());
  child_process server({s.bin_dir + "/lifeline_bench_server", "--strategy", strategy, "--address", "127.0.0.1",
                        "--port", "0", "--threads", std::to_string(s.server_threads), "--heartbeat-ms",
                        std::to_string(s.heartbeat_ms), "--dead-after-ms", std::to_string(s.dead_after_ms), "--events",
                        events_path.string()});
  server_counters counters;
  const auto ready = server.read_until("READY", 10s, [&](const std::string& l) { counters.take(l); });
  if (!ready) throw std::runtime_error("the server did not start");
  const auto port = ready->substr(6);
  const long rss_empty = rss_bytes(server.pid());

  // Load: as many generator processes as the descriptor limit requires.
  const std::size_t processes = (s.sessions + s.sessions_per_loadgen - 1) / s.sessions_per_loadgen;
  std::vector<std::unique_ptr<child_process>> loads;
  std::vector<fs::path> reports;
  std::size_t assigned = 0, doomed_assigned = 0;
  for (std::size_t i = 0; i < processes; ++i) {
    const std::size_t n = (i + 1 == processes) ? s.sessions - assigned : s.sessions / processes;
    const std::size_t k = (i + 1 == processes) ? doomed_total - doomed_assigned : doomed_total / processes;
    assigned += n;
    doomed_assigned += k;
    reports.push_back(fs::path(s.out_dir) / (strategy + ".load" + std::to_string(i)));
    loads.push_back(std::make_unique<child_process>(std::vector<std::string>{
        s.bin_dir + "/lifeline_loadgen", "--address", "127.0.0.1", "--port", port, "--sessions", std::to_string(n),
        "--doomed", std::to_string(k), "--doomed-address", "127.0.0.2", "--live-address", "127.0.0.1",
        "--heartbeat-ms", std::to_string(s.heartbeat_ms), "--dead-after-ms", std::to_string(s.dead_after_ms),
        "--fault", s.fault, "--echo-ms", "20", "--jitter-ms", std::to_string(s.jitter_ms), "--loss",
        std::to_string(s.loss), "--report", reports.back().string()}));
  }
  std::printf("[%s] opening %zu sessions from %zu load process(es)...\n", strategy.c_str(), s.sessions, processes);
  std::fflush(stdout);
  for (auto& load : loads) {
    const auto line = load->read_until("READY", std::chrono::seconds{60 + static_cast<long>(s.sessions / 500)},
                                       [](const std::string&) {});
    if (!line) throw std::runtime_error("a load generator did not get its sessions open");
    std::size_t open = 0, failed = 0;
    std::sscanf(line->c_str(), "READY %zu %zu", &open, &failed);
    r.sessions_open += open;
  }
  std::printf("[%s] %zu sessions open; steady state for %.0f s\n", strategy.c_str(), r.sessions_open, s.steady_seconds);
  std::fflush(stdout);

  // Steady state: CPU, memory and wire bytes with every session alive.
  pump(server, counters, 1500ms);  // settle: every session has exchanged a heartbeat
  const double cpu0 = cpu_seconds(server.pid()), bytes0 = counters.bytes;
  const auto t0 = std::chrono::steady_clock::now();
  pump(server, counters, std::chrono::milliseconds{static_cast<long>(s.steady_seconds * 1000)});
  const double steady_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_steady = 100 * (cpu_seconds(server.pid()) - cpu0) / steady_elapsed;
  r.wire_bytes_per_session_second = (counters.bytes - bytes0) / steady_elapsed / static_cast<double>(r.sessions_open);
  r.rss_per_session = static_cast<double>(rss_bytes(server.pid()) - rss_empty) / static_cast<double>(r.sessions_open);

  // The fault, at one instant for all.
  const ns_t kill_at = monotonic_ns() + 300'000'000;
  for (auto& load : loads) load->write_line("KILL " + std::to_string(kill_at));
  ns_t rules_in_place = 0;
  if (needs_packet_filter(s.fault)) {
    while (monotonic_ns() < kill_at) std::this_thread::sleep_for(200us);
    apply_rules(fault_rules(s.fault));
    rules_in_place = monotonic_ns();
  }
  const double cpu_kill = cpu_seconds(server.pid());
  const auto kill_wall = std::chrono::steady_clock::now();
  std::printf("[%s] killed %zu sessions (%s); waiting for detections\n", strategy.c_str(), doomed_total, s.fault.c_str());
  std::fflush(stdout);
  const auto window = std::chrono::milliseconds{2 * s.dead_after_ms + 4000};
  pump(server, counters, window);
  const double detect_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - kill_wall).count();
  r.cpu_detection = 100 * (cpu_seconds(server.pid()) - cpu_kill) / detect_elapsed;
  const ns_t window_end = monotonic_ns();

  for (auto& load : loads) load->write_line("STOP");
  for (auto& load : loads) {
    load->read_until("DONE", 30s, [](const std::string&) {});
    load->wait(5s);
  }
  if (needs_packet_filter(s.fault)) remove_rules();
  server.terminate();
  server.read_until("DONE", 15s, [&](const std::string& l) { counters.take(l); });
  server.wait(5s);

  // Who was killed when, who the server closed when, and what the live sessions saw.
  std::map<std::string, ns_t> killed;
  std::set<std::string> lost_live;
  std::vector<std::pair<ns_t, ns_t>> echoes;  // sent, rtt
  for (const auto& path : reports) {
    std::ifstream report(path);
    for (std::string kind; report >> kind;) {
      if (kind == "kill") {
        std::string id;
        ns_t at = 0;
        report >> id >> at;
        killed[id] = std::max(at, rules_in_place);
      } else if (kind == "lost") {
        std::string id, rest;
        report >> id;
        std::getline(report, rest);
        lost_live.insert(id);
      } else if (kind == "echo") {
        ns_t sent = 0, rtt = 0;
        report >> sent >> rtt;
        echoes.emplace_back(sent, rtt);
      } else {
        std::string rest;
        std::getline(report, rest);
      }
    }
  }
  r.doomed = killed.size();
  std::set<std::string> false_kills = lost_live;
  std::ifstream events(events_path);
  for (std::string kind; events >> kind;) {
    std::string id, reason, last_heard;
    ns_t detected = 0;
    events >> id >> reason >> detected >> last_heard;
    if (kind != "close") continue;
    const auto doomed = killed.find(id);
    if (doomed == killed.end()) {
      if (detected < window_end) false_kills.insert(id);
      continue;
    }
    if (detected > window_end) continue;
    ++r.detected;
    ++r.reasons[reason];
    r.detection_ms.push_back(static_cast<double>(detected - doomed->second) / 1e6);
    if (last_heard != "-" && reason == "heartbeat_timeout")
      r.lateness_ms.push_back(static_cast<double>(detected - std::stoll(last_heard)) / 1e6 -
                              static_cast<double>(s.dead_after_ms));
  }
  r.misses = r.doomed - r.detected;
  r.false_kills = false_kills.size();
  std::vector<double> during;
  for (const auto& [sent, rtt] : echoes)
    if (sent >= kill_at && sent <= kill_at + (s.dead_after_ms + 2000) * 1'000'000LL)
      during.push_back(static_cast<double>(rtt) / 1e6);
  r.echo_samples = during.size();
  r.echo_p99_ms = quantile(during, 0.99);
  std::printf("[%s] detected %zu of %zu, %zu false kills\n", strategy.c_str(), r.detected, r.doomed, r.false_kills);
  return r;
}

std::string reasons_of(const result& r) {
  std::string out;
  for (const auto& [reason, n] : r.reasons) out += (out.empty() ? "" : ",") + reason + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

void print_table(const settings& s, const std::vector<result>& results) {
  std::printf("\nHalf-open detection: N = %zu sessions, K = %zu killed (%s), H = %ld ms, T = %ld ms, %u server thread(s)\n",
              s.sessions, results.empty() ? 0 : results[0].doomed, s.fault.c_str(), s.heartbeat_ms, s.dead_after_ms,
              s.server_threads);
  std::printf("detection = detected − fault; lateness = detected − (last heard + T); CPU in %% of one core (server\n"
              "process, steady state and from the fault to the end of detection); RSS and wire bytes per session;\n"
              "echo p99 = live sessions' echo round trip during the mass death; cpu ratio = steady CPU / lifeline's\n\n");
  std::printf("%-11s %7s %7s %7s %7s %7s %7s %6s %6s %9s %9s %9s %8s %8s %9s\n", "strategy", "min ms", "p50 ms",
              "p99 ms", "max ms", "late99", "latemax", "misses", "false", "cpu idle", "cpu kill", "RSS/sess",
              "B/s/sess", "echo p99", "cpu ratio");
  double lifeline_cpu = 0, floor_cpu = 0;
  for (const auto& r : results) {
    if (r.strategy == "lifeline") lifeline_cpu = r.cpu_steady;
    if (r.strategy == "floor") floor_cpu = r.cpu_steady;
  }
  for (const auto& r : results) {
    std::printf("%-11s %7.0f %7.0f %7.0f %7.0f %7.1f %7.1f %6zu %6zu %8.1f%% %8.1f%% %9.0f %8.1f %8.2f %8.2fx\n",
                r.strategy.c_str(), quantile(r.detection_ms, 0), quantile(r.detection_ms, 0.5),
                quantile(r.detection_ms, 0.99), quantile(r.detection_ms, 1), quantile(r.lateness_ms, 0.99),
                quantile(r.lateness_ms, 1), r.misses,
                r.false_kills, r.cpu_steady, r.cpu_detection, r.rss_per_session, r.wire_bytes_per_session_second,
                r.echo_p99_ms, lifeline_cpu > 0 ? r.cpu_steady / lifeline_cpu : NAN);
  }
  std::printf("\ncause of detection per strategy:");
  for (const auto& r : results) std::printf("  %s: %s", r.strategy.c_str(), reasons_of(r).c_str());
  std::printf("\n");
  if (lifeline_cpu > 0 && floor_cpu > 0)
    std::printf("lifeline's steady CPU is %.2fx the floor's (no liveness at all)\n", lifeline_cpu / floor_cpu);
}

void write_outputs(const settings& s, const std::vector<result>& results) {
  nlohmann::json doc;
  doc["settings"] = {{"sessions", s.sessions}, {"fault", s.fault}, {"heartbeat_ms", s.heartbeat_ms},
                     {"dead_after_ms", s.dead_after_ms}, {"server_threads", s.server_threads},
                     {"jitter_ms", s.jitter_ms}, {"loss", s.loss}};
  std::ofstream csv(fs::path(s.out_dir) / "detection.csv");
  csv << "strategy,sessions,doomed,detected,misses,false_kills,min_ms,p50_ms,p99_ms,max_ms,lateness_p99_ms,"
         "cpu_steady_pct,cpu_detection_pct,rss_per_session,wire_bytes_per_session_second,echo_p99_ms\n";
  for (const auto& r : results) {
    doc["strategies"].push_back({{"strategy", r.strategy}, {"sessions", r.sessions_open}, {"doomed", r.doomed},
                                 {"detected", r.detected}, {"misses", r.misses}, {"false_kills", r.false_kills},
                                 {"detection_ms", {{"min", quantile(r.detection_ms, 0)}, {"p50", quantile(r.detection_ms, 0.5)},
                                                   {"p99", quantile(r.detection_ms, 0.99)}, {"max", quantile(r.detection_ms, 1)}}},
                                 {"lateness_p99_ms", quantile(r.lateness_ms, 0.99)}, {"reasons", r.reasons},
                                 {"cpu_steady_pct", r.cpu_steady}, {"cpu_detection_pct", r.cpu_detection},
                                 {"rss_per_session_bytes", r.rss_per_session},
                                 {"wire_bytes_per_session_second", r.wire_bytes_per_session_second},
                                 {"echo_p99_ms_during_mass_death", r.echo_p99_ms}});
    csv << r.strategy << ',' << r.sessions_open << ',' << r.doomed << ',' << r.detected << ',' << r.misses << ','
        << r.false_kills << ',' << quantile(r.detection_ms, 0) << ',' << quantile(r.detection_ms, 0.5) << ','
        << quantile(r.detection_ms, 0.99) << ',' << quantile(r.detection_ms, 1) << ',' << quantile(r.lateness_ms, 0.99)
        << ',' << r.cpu_steady << ',' << r.cpu_detection << ',' << r.rss_per_session << ','
        << r.wire_bytes_per_session_second << ',' << r.echo_p99_ms << '\n';
    // The CDF's data: sorted detection latencies.
    auto sorted = r.detection_ms;
    std::sort(sorted.begin(), sorted.end());
    std::ofstream cdf(fs::path(s.out_dir) / (r.strategy + ".cdf"));
    for (std::size_t i = 0; i < sorted.size(); ++i)
      cdf << sorted[i] << ' ' << static_cast<double>(i + 1) / static_cast<double>(r.doomed) << '\n';
  }
  std::ofstream(fs::path(s.out_dir) / "detection.json") << doc.dump(2) << '\n';

  // The plot: detection latency CDF per strategy, by gnuplot.
  std::ofstream plot(fs::path(s.out_dir) / "detection_cdf.gnuplot");
  plot << "set terminal svg size 900,540 dynamic\nset output '" << (fs::path(s.out_dir) / "detection_cdf.svg").string()
       << "'\nset title 'Detection latency after the fault (" << s.fault << ", N=" << s.sessions
       << ", T=" << s.dead_after_ms << " ms)'\nset xlabel 'ms after the fault'\nset ylabel 'fraction of killed sessions detected'\n"
       << "set yrange [0:1.02]\nset key bottom right\nset grid\nplot ";
  bool first = true;
  for (const auto& r : results) {
    if (r.detection_ms.empty()) continue;
    plot << (first ? "" : ", ") << "'" << (fs::path(s.out_dir) / (r.strategy + ".cdf")).string()
         << "' using 1:2 with steps lw 2 title '" << r.strategy << "'";
    first = false;
  }
  plot << '\n';
  plot.close();
  if (!first && std::system(("gnuplot " + (fs::path(s.out_dir) / "detection_cdf.gnuplot").string() + " 2>/dev/null").c_str()) == 0)
    std::printf("plot: %s\n", (fs::path(s.out_dir) / "detection_cdf.svg").c_str());
  std::printf("data: %s, %s\n", (fs::path(s.out_dir) / "detection.json").c_str(), (fs::path(s.out_dir) / "detection.csv").c_str());
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  s.bin_dir = fs::canonical("/proc/self/exe").parent_path().parent_path().string();  // build/<preset>
  CLI::App app{"Half-open detection benchmark: kill K of N sessions with a fault, per liveness strategy, "
               "and report detection latency, misses, false kills and cost"};
  app.add_option("--strategies", s.strategies, "strategies to compare")->delimiter(',')->capture_default_str();
  app.add_option("--sessions,-n", s.sessions, "sessions (clamped to the descriptor limit)")->capture_default_str();
  app.add_option("--kill-share", s.kill_share, "share of sessions killed at once")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--fault", s.fault, "hung, closed, rebooted, stalled, blackholed, unreachable")
      ->check(CLI::IsMember({"hung", "closed", "rebooted", "stalled", "blackholed", "unreachable"}))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", s.heartbeat_ms, "heartbeat interval H")->capture_default_str();
  app.add_option("--dead-after-ms", s.dead_after_ms, "dead-after timeout T")->capture_default_str();
  app.add_option("--server-threads", s.server_threads, "server worker threads")->capture_default_str();
  app.add_option("--steady-seconds", s.steady_seconds, "steady-state measurement window")->capture_default_str();
  app.add_option("--sessions-per-loadgen", s.sessions_per_loadgen, "sessions per load process")->capture_default_str();
  app.add_option("--jitter-ms", s.jitter_ms, "random delay of live sessions' heartbeats")->capture_default_str();
  app.add_option("--loss", s.loss, "share of live sessions' heartbeats withheld")->capture_default_str();
  app.add_option("--out", s.out_dir, "directory for JSON, CSV, plot")->capture_default_str();
  app.add_option("--bin-dir", s.bin_dir, "build directory holding bench/ and tools/")->capture_default_str();
  app.add_flag("--check", s.check, "exit 1 unless lifeline detected every killed session with no false kill");
  CLI11_PARSE(app, argc, argv);

  // One server process holds every session: clamp to its descriptor limit.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const auto most = static_cast<std::size_t>(files.rlim_cur) - 100;
  if (s.sessions > most) {
    std::printf("note: --sessions %zu clamped to %zu: one server process may hold %llu descriptors\n", s.sessions, most,
                static_cast<unsigned long long>(files.rlim_cur));
    s.sessions = most;
  }
  const auto doomed = static_cast<std::size_t>(std::llround(s.kill_share * static_cast<double>(s.sessions)));
  fs::create_directories(s.out_dir);
  double load1 = 0;
  if (std::ifstream loadavg("/proc/loadavg"); loadavg >> load1 && load1 > 0.5)
    std::printf("warning: load average %.2f before the run: other work on this machine may distort the figures\n", load1);

  if (needs_packet_filter(s.fault)) {
    try {
      enter_private_network();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lifeline_detection_bench: cannot inject %s: %s\n", s.fault.c_str(), e.what());
      return 77;  // "skipped" for ctest: this machine cannot run packet-filter faults
    }
  }
  try {
    std::vector<result> results;
    // Tools live in <bin>/tools, the server in <bin>/bench: make one directory of links.
    const auto links = fs::path(s.out_dir) / "bin";
    fs::create_directories(links);
    for (const auto& [name, dir] : {std::pair{"lifeline_bench_server", "bench"}, std::pair{"lifeline_loadgen", "tools"}}) {
      fs::remove(links / name);
      fs::create_symlink(fs::path(s.bin_dir) / dir / name, links / name);
    }
    auto run = s;
    run.bin_dir = fs::absolute(links).string();
    for (const auto& strategy : s.strategies) results.push_back(run_strategy(run, strategy, doomed));
    print_table(s, results);
    write_outputs(s, results);
    if (s.check) {
      for (const auto& r : results) {
        if (r.strategy != "lifeline") continue;
        if (r.misses != 0 || r.false_kills != 0 || r.doomed == 0) {
          std::fprintf(stderr, "check failed: lifeline missed %zu and falsely killed %zu of %zu\n", r.misses,
                       r.false_kills, r.doomed);
          return 1;
        }
        std::printf("check passed: lifeline detected all %zu killed sessions, no false kill\n", r.doomed);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifeline_detection_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
