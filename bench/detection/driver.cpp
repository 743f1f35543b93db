// lifeline_detection_bench: the half-open detection benchmark (the README's main job).
//
// For each liveness strategy, in one run and with the same N, K, H, T and fault: start the
// server (lifeline_bench_server) in its own process and the load (lifeline_loadgen) in
// others, let the sessions run steadily, kill K of them with the chosen fault, and measure
// how fast each death is detected, what was missed or wrongly killed, and what it cost.
// DESIGN.md §5 lists the figures; bench/RESULTS.md records them.
//
// Waves (--waves W). Each session's beats keep one phase, so killing all K at one instant
// samples each at one point of its beat cycle. W waves of about K/W, at instants drawn
// uniformly (seeded) within --wave-spread-ms, sample W points; every session's detection
// is measured from its own kill stamp, never from the first wave's.
//
// Server processes (--server-processes P). P servers listen on one port through
// SO_REUSEPORT, which lifeline::server and the baselines set on every listener, and the
// kernel spreads the connections over them: one process's descriptor limit no longer caps
// N. The servers issue the same session ids, so a session is known by its id and the
// process holding its socket (found once every session is open, from each process's
// descriptors and the kernel's socket dump, by the client's address:port, which the load
// generators report). CPU and memory are the sum over the processes.
//
// Packet-filter faults (blackholed, unreachable) run inside a private network namespace
// that this process creates for itself before starting any child, so the nftables rules
// never touch the machine's own traffic. They cut the doomed off by source address: wave
// w's sessions connect from 127.0.0.2 + w, and that address joins the filter's set at the
// wave's instant.
#include "child_process.hpp"

#include <lifeline/config.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

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
  long server_heartbeat_ms = 0;  // 0: the library's default (10 x H)
  long keepalive_idle_s = 0, keepalive_interval_s = 0, keepalive_count = 0;  // 0: each strategy's own
  unsigned server_threads = 1;
  std::size_t stream_bytes = 0;  // a game-tick message to every session (lifeline strategies); 0: none
  long stream_interval_ms = 50;
  long write_stall_ms = 0;       // 0: the library's default
  double steady_seconds = 5;
  int loadgen_nice = 15;         // the clients would be other machines: they yield the cores to the server
  std::size_t cost_windows = 2;  // side-by-side steady windows (0: each strategy's CPU alone, in its own run)
  std::size_t sessions_per_loadgen = 9'000;
  long jitter_ms = 0;
  double loss = 0;
  std::size_t waves = 1;
  long wave_spread_ms = 1000;  // H unless --wave-spread-ms says otherwise
  std::uint64_t seed = 1;
  unsigned server_processes = 1;
  std::string out_dir = "detection-results";
  std::string bin_dir;
  bool check = false;
};

struct wave_result {
  double offset_ms = 0;  // after the first possible instant
  std::size_t killed = 0;
  std::vector<double> detection_ms;
};

struct result {
  std::string strategy;
  std::size_t sessions_open = 0, doomed = 0, detected = 0, misses = 0, false_kills = 0;
  std::map<std::string, std::size_t> reasons;  // of the doomed sessions' detections
  std::vector<double> detection_ms;             // detected − fault, per detected doomed session
  std::vector<double> lateness_ms;              // detected − (last heard + T), where known
  std::vector<wave_result> waves;
  std::vector<std::size_t> sessions_per_server;  // open, by each server's last stats line
  double cpu_steady = 0, cpu_detection = 0;     // % of one core
  std::vector<double> cpu_steady_windows;       // side by side: one value per window
  double rss_per_session = 0;                   // bytes
  double wire_bytes_per_session_second = 0;     // both directions, server's view
  double echo_p99_ms = 0;
  std::size_t echo_samples = 0;
  double run_queue_wait_ms = 0;  // the servers' threads, waiting for a core from the fault to the end of detection
  double steal_pct = NAN;        // of the machine's CPU time over the same span, taken by the hypervisor
  long long run_queue_runs = 0;
  double timer_late_max_ms = NAN;  // lifeline strategies: the deadline timer's worst wake-up delay in the run
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

// Time a process's threads spent runnable but waiting for a core, and how many times they
// were put on one (/proc/<pid>/task/*/schedstat: on-CPU ns, run-queue wait ns, timeslices).
// During the mass detection it tells scheduling delay apart from the server's own work.
struct run_queue_wait {
  double seconds = 0;
  long long runs = 0;
};
// The machine's CPU time, all CPUs, and what the hypervisor took of it (steal): on a
// shared virtual machine the host can hold a vCPU back whatever our priorities say.
struct machine_time {
  long long total = 0, steal = 0;  // clock ticks
};
machine_time machine_time_now() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long field = 0;
  machine_time t;
  stat >> cpu;  // "cpu": user nice system idle iowait irq softirq steal guest guest_nice
  for (int i = 0; i < 8 && stat >> field; ++i) {
    t.total += field;
    if (i == 7) t.steal = field;
  }
  return t;
}

run_queue_wait run_queue_wait_of(pid_t pid) {
  run_queue_wait w;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream stat(task.path() / "schedstat");
    long long on_cpu = 0, waiting = 0, runs = 0;
    if (stat >> on_cpu >> waiting >> runs) {
      w.seconds += static_cast<double>(waiting) / 1e9;
      w.runs += runs;
    }
  }
  return w;
}

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
  fs::path events;
  server_counters counters;
  long rss_empty = 0;
};

// Reads the servers' stats lines for a while, keeping their counters current.
void pump(const std::vector<server_process*>& servers, std::chrono::milliseconds for_how_long) {
  std::vector<child_process*> children;
  for (auto* server : servers) children.push_back(server->process.get());
  const auto until = std::chrono::steady_clock::now() + for_how_long;
  while (std::chrono::steady_clock::now() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (auto line = child_process::read_line_of_any(children, std::max(left, 1ms)))
      servers[line->first]->counters.take(line->second);
  }
}

void pump(std::vector<server_process>& servers, std::chrono::milliseconds for_how_long) {
  std::vector<server_process*> all;
  for (auto& server : servers) all.push_back(&server);
  pump(all, for_how_long);
}

double total_bytes(const std::vector<server_process>& servers) {
  double sum = 0;
  for (const auto& server : servers) sum += server.counters.bytes;
  return sum;
}

double total_cpu_seconds(const std::vector<server_process>& servers) {
  double sum = 0;
  for (const auto& server : servers) sum += cpu_seconds(server.process->pid());
  return sum;
}

// The server process holding each connection, by the client's "address:port". Read once
// every session is open: a socket found in a process's descriptor table, its peer from the
// kernel's socket dump (sock_diag: /proc/net/tcp, its text form, took 1.7 s to read at
// 13,000 sockets in one run).
std::unordered_map<std::string, std::size_t> server_of_each_client(const std::vector<server_process>& servers) {
  std::unordered_map<std::uint64_t, std::size_t> server_of_inode;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    std::error_code ec;
    for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(servers[i].process->pid()) + "/fd", ec)) {
      const auto target = fs::read_symlink(fd.path(), ec).string();
      if (!ec && target.rfind("socket:[", 0) == 0) server_of_inode[std::stoull(target.substr(8))] = i;
    }
  }
  const int diag = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) throw std::runtime_error(std::string("socket(NETLINK_SOCK_DIAG): ") + std::strerror(errno));
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } dump_request{};
  dump_request.header.nlmsg_len = sizeof dump_request;
  dump_request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  dump_request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  dump_request.request.sdiag_family = AF_INET;
  dump_request.request.sdiag_protocol = IPPROTO_TCP;
  dump_request.request.idiag_states = ~0U;
  if (::send(diag, &dump_request, sizeof dump_request, 0) < 0) {
    ::close(diag);
    throw std::runtime_error(std::string("sock_diag request: ") + std::strerror(errno));
  }
  std::unordered_map<std::string, std::size_t> server_of_client;
  // The NLMSG_ macros cast in C style; the same walk by hand, messages 4-byte aligned.
  const auto aligned = [](std::size_t size) { return (size + NLMSG_ALIGNTO - 1) & ~std::size_t{NLMSG_ALIGNTO - 1}; };
  std::vector<char> buffer(256 * 1024);
  for (bool done = false; !done;) {
    const auto received = ::recv(diag, buffer.data(), buffer.size(), 0);
    if (received <= 0) break;
    const auto end = static_cast<std::size_t>(received);
    nlmsghdr header{};
    for (std::size_t at = 0; !done && at + sizeof header <= end; at += aligned(header.nlmsg_len)) {
      std::memcpy(&header, buffer.data() + at, sizeof header);
      if (header.nlmsg_len < sizeof header || at + header.nlmsg_len > end) break;
      done = header.nlmsg_type == NLMSG_DONE || header.nlmsg_type == NLMSG_ERROR;
      inet_diag_msg socket{};
      if (done || header.nlmsg_len < aligned(sizeof header) + sizeof socket) continue;
      std::memcpy(&socket, buffer.data() + at + aligned(sizeof header), sizeof socket);
      const auto server = server_of_inode.find(socket.idiag_inode);
      if (server == server_of_inode.end()) continue;
      in_addr peer{};
      std::memcpy(&peer.s_addr, &socket.id.idiag_dst[0], sizeof peer.s_addr);
      char text[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &peer, text, sizeof text);
      server_of_client[std::string(text) + ":" + std::to_string(ntohs(socket.id.idiag_dport))] = server->second;
    }
  }
  ::close(diag);
  return server_of_client;
}

// TCP_USER_TIMEOUT ends zero-window probes that the peer answers only from Linux 5.11 on.
bool kernel_ends_answered_window_probes() {
  utsname name{};
  int major = 0, minor = 0;
  if (::uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 11);
}

// lifeline's liveness settings as the bench servers get them from these flags; what the
// library derives from them (server beat, user timeout) is asked of the library.
lifeline::liveness_config liveness_of(const settings& s) {
  lifeline::liveness_config l;
  l.heartbeat_interval = std::chrono::milliseconds{s.heartbeat_ms};
  l.dead_after = std::chrono::milliseconds{s.dead_after_ms};
  if (s.server_heartbeat_ms > 0) l.server_heartbeat_interval = std::chrono::milliseconds{s.server_heartbeat_ms};
  if (s.write_stall_ms > 0) l.write_stall_timeout = std::chrono::milliseconds{s.write_stall_ms};
  return l;
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

// The filter that cuts the doomed off, in the input hook so the sender's TCP has really
// sent what is dropped (see tests/fault_netns/). It matches the addresses of the set
// "doomed", empty at first: each wave's address joins it at the wave's instant.
std::string fault_table(const std::string& fault) {
  const std::string head =
      "table inet lifeline_bench {\n  set doomed {\n    type ipv4_addr\n  }\n"
      "  chain input {\n    type filter hook input priority filter; policy accept;\n";
  const std::string tail = "  }\n}\n";
  if (fault == "blackholed") return head + "    ip saddr @doomed drop\n    ip daddr @doomed drop\n" + tail;
  return head + "    ip daddr @doomed reject with icmp type host-unreachable\n" +
         "    ip saddr @doomed meta l4proto tcp drop\n" + tail;
}

std::string cut_off(const std::string& address) { return "add element inet lifeline_bench doomed { " + address + " }\n"; }

void apply_rules(const std::string& rules) {
  FILE* nft = ::popen("nft -f -", "w");
  if (nft == nullptr) throw std::runtime_error("cannot run nft");
  std::fputs(rules.c_str(), nft);
  if (::pclose(nft) != 0) throw std::runtime_error("nft rejected the fault rules");
}

void remove_rules() { (void)std::system("nft delete table inet lifeline_bench 2>/dev/null"); }

// Wave w's doomed sessions connect from 127.0.0.2 + w (the load generators' --doomed-groups):
// all of 127/8 is loopback.
std::string wave_address(std::size_t wave) {
  const in_addr address{htonl(static_cast<in_addr_t>((127U << 24) + 2 + wave))};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

// One instant, or W drawn uniformly within [first, first + spread], in order. The same
// seed gives every strategy of a run the same offsets.
std::vector<ns_t> wave_instants(const settings& s, ns_t first) {
  if (s.waves == 1) return {first};
  std::mt19937_64 random(s.seed);
  std::uniform_int_distribution<ns_t> offset(0, s.wave_spread_ms * 1'000'000LL);
  std::vector<ns_t> instants(s.waves);
  for (auto& at : instants) at = first + offset(random);
  std::sort(instants.begin(), instants.end());
  return instants;
}

// How many of a load generator's k doomed wave w kills: its group of --doomed-groups.
std::size_t wave_share(std::size_t k, std::size_t wave, std::size_t waves) {
  return k * (wave + 1) / waves - k * wave / waves;
}

// Starts the strategy's server processes: the first picks the port (returned in `port`),
// the others join it through SO_REUSEPORT. Events files are named after `tag`.
std::vector<server_process> start_servers(const settings& s, const std::string& strategy, const std::string& tag,
                                          std::string& port) {
  std::vector<server_process> servers(s.server_processes);
  port = "0";
  for (std::size_t i = 0; i < servers.size(); ++i) {
    auto& server = servers[i];
    server.events = fs::path(s.out_dir) / (servers.size() == 1 ? tag + ".events"
                                                               : tag + ".server" + std::to_string(i) + ".events");
    fs::remove(server.events);
    server.process = std::make_unique<child_process>(std::vector<std::string>{
        s.bin_dir + "/lifeline_bench_server", "--strategy", strategy, "--address", "127.0.0.1", "--port", port,
        "--threads", std::to_string(s.server_threads), "--heartbeat-ms", std::to_string(s.heartbeat_ms),
        "--dead-after-ms", std::to_string(s.dead_after_ms), "--server-heartbeat-ms",
        std::to_string(s.server_heartbeat_ms), "--keepalive-idle-s", std::to_string(s.keepalive_idle_s),
        "--keepalive-interval-s", std::to_string(s.keepalive_interval_s), "--keepalive-count",
        std::to_string(s.keepalive_count), "--write-stall-ms", std::to_string(s.write_stall_ms), "--stream-bytes",
        std::to_string(s.stream_bytes), "--stream-interval-ms", std::to_string(s.stream_interval_ms), "--events",
        server.events.string()});
    const auto ready = server.process->read_until("READY", 10s, [&](const std::string& l) { server.counters.take(l); });
    if (!ready)
      throw std::runtime_error(servers.size() == 1 ? "the server did not start"
                                                   : "server process " + std::to_string(i) + " did not start");
    if (i == 0) port = ready->substr(6);
    server.rss_empty = rss_bytes(server.process->pid());
  }
  return servers;
}

// Waits for a load generator's "READY <open> <failed>" and returns how many it opened;
// opening takes longer the more sessions the run has in all.
std::size_t sessions_opened_by(child_process& load, std::size_t sessions_in_run) {
  const auto line = load.read_until("READY", std::chrono::seconds{60 + static_cast<long>(sessions_in_run / 500)},
                                    [](const std::string&) {});
  if (!line) throw std::runtime_error("a load generator did not get its sessions open");
  std::size_t open = 0, failed = 0;
  std::sscanf(line->c_str(), "READY %zu %zu", &open, &failed);
  return open;
}

// Stops load generators (their reports written) and then servers (events flushed).
void stop_all(std::vector<std::unique_ptr<child_process>>& loads, std::vector<server_process>& servers) {
  for (auto& load : loads) load->write_line("STOP");
  for (auto& load : loads) {
    load->read_until("DONE", 30s, [](const std::string&) {});
    load->wait(5s);
  }
  for (auto& server : servers) server.process->terminate();
  for (auto& server : servers) {
    server.process->read_until("DONE", 15s, [&](const std::string& l) { server.counters.take(l); });
    server.process->wait(5s);
  }
}

// Steady-state cost of every strategy, measured side by side: all of them up at once,
// each with its own N live sessions and no fault, their CPU read over the same windows.
// This machine is shared and its speed drifts by tens of percent from one minute to the
// next; run one after the other, a strategy's CPU would carry the drift of its minute.
// In one window every strategy sees the same machine, so the ratios hold.
struct steady_cost {
  std::vector<double> cpu;                       // % of one core, per window
  std::vector<double> bytes_per_session_second;  // both directions, per window
};

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
    const std::size_t processes = (s.sessions + s.sessions_per_loadgen - 1) / s.sessions_per_loadgen;
    for (std::size_t p = 0, assigned = 0; p < processes; ++p) {
      const std::size_t n = (p + 1 == processes) ? s.sessions - assigned : s.sessions / processes;
      assigned += n;
      up.loads.push_back(std::make_unique<child_process>(std::vector<std::string>{
          s.bin_dir + "/lifeline_loadgen", "--address", "127.0.0.1", "--port", port, "--sessions", std::to_string(n),
          "--live-address", source, "--heartbeat-ms", std::to_string(s.heartbeat_ms), "--dead-after-ms",
          std::to_string(s.dead_after_ms), "--echo-ms", "0", "--jitter-ms", std::to_string(s.jitter_ms), "--loss",
          std::to_string(s.loss), "--seed", std::to_string(s.seed)},
          s.loadgen_nice));
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
  const std::size_t processes = (s.sessions + s.sessions_per_loadgen - 1) / s.sessions_per_loadgen;
  std::vector<std::unique_ptr<child_process>> loads;
  std::vector<fs::path> reports;
  std::vector<std::size_t> doomed_of_load;
  std::size_t assigned = 0, doomed_assigned = 0;
  for (std::size_t i = 0; i < processes; ++i) {
    const std::size_t n = (i + 1 == processes) ? s.sessions - assigned : s.sessions / processes;
    const std::size_t k = (i + 1 == processes) ? doomed_total - doomed_assigned : doomed_total / processes;
    assigned += n;
    doomed_assigned += k;
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
  for (std::size_t w = 0; w < instants.size(); ++w) {
    while (monotonic_ns() < instants[w]) std::this_thread::sleep_for(200us);
    if (filtered) {
      apply_rules(cut_off(wave_address(w)));
      rules_in_place[w] = monotonic_ns();
    }
    if (w == 0) {
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
  const auto window = std::chrono::milliseconds{2 * s.dead_after_ms + 4000} +
                      (s.fault == "stalled" ? stalled_wait + std::chrono::milliseconds{4000} : std::chrono::milliseconds{0});
  pump(servers, window);
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
  for (std::size_t i = 0; i < servers.size(); ++i) {
    std::ifstream events(servers[i].events);
    for (std::string kind; events >> kind;) {
      std::string id, reason, last_heard;
      ns_t detected = 0;
      events >> id >> reason >> detected >> last_heard;
      if (kind != "close") continue;
      const session_key key{i, id};
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

std::string reasons_of(const result& r) {
  std::string out;
  for (const auto& [reason, n] : r.reasons) out += (out.empty() ? "" : ",") + reason + ":" + std::to_string(n);
  return out.empty() ? "-" : out;
}

// "at one instant", or "in 4 waves within 1000 ms (seed 1)".
std::string when_killed(const settings& s) {
  if (s.waves == 1) return "at one instant";
  return "in " + std::to_string(s.waves) + " waves within " + std::to_string(s.wave_spread_ms) + " ms (seed " +
         std::to_string(s.seed) + ")";
}

std::string stream_of(const settings& s) {
  if (s.stream_bytes == 0) return "";
  return ", a " + std::to_string(s.stream_bytes) + " B message to every session each " +
         std::to_string(s.stream_interval_ms) + " ms";
}

void print_table(const settings& s, const std::vector<result>& results) {
  const std::string server_beat =
      s.server_heartbeat_ms > 0 ? std::to_string(s.server_heartbeat_ms) + " ms" : "default (10 x H)";
  std::printf("\nHalf-open detection: N = %zu sessions, K = %zu killed (%s) %s, H = %ld ms, T = %ld ms,\n"
              "lifeline's server beat %s, %u server process(es) of %u thread(s), load generators at nice +%d%s\n",
              s.sessions, results.empty() ? 0 : results[0].doomed, s.fault.c_str(), when_killed(s).c_str(),
              s.heartbeat_ms, s.dead_after_ms, server_beat.c_str(), s.server_processes, s.server_threads,
              s.loadgen_nice, stream_of(s).c_str());
  std::printf("detection = detected − that session's fault; lateness = detected − (last heard + T); CPU in %% of one\n"
              "core (sum over the server processes, steady state and from the fault to the end of detection); RSS and\n"
              "wire bytes per session; echo p99 = live sessions' echo round trip during the mass death; cpu ratio =\n"
              "steady CPU / lifeline's. %s\n\n",
              s.cost_windows > 0 ? "Steady CPU and bytes: every strategy up at once, the same windows (mean of them)."
                                 : "Steady CPU and bytes: each strategy in its own run.");
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
  for (const auto& r : results)
    if (r.strategy != "lifeline" && r.strategy != "floor" && lifeline_cpu > 0 && r.cpu_steady > 0)
      std::printf("lifeline's steady CPU is %.2fx %s's\n", lifeline_cpu / r.cpu_steady, r.strategy.c_str());
}

void write_outputs(const settings& s, const std::vector<result>& results) {
  nlohmann::json doc;
  doc["settings"] = {{"sessions", s.sessions}, {"fault", s.fault}, {"heartbeat_ms", s.heartbeat_ms},
                     {"dead_after_ms", s.dead_after_ms}, {"server_heartbeat_ms", s.server_heartbeat_ms},
                     {"server_threads", s.server_threads},
                     {"server_processes", s.server_processes}, {"waves", s.waves}, {"cost_windows", s.cost_windows},
                     {"loadgen_nice", s.loadgen_nice}, {"keepalive_idle_s", s.keepalive_idle_s},
                     {"keepalive_interval_s", s.keepalive_interval_s}, {"keepalive_count", s.keepalive_count},
                     {"wave_spread_ms", s.waves == 1 ? 0 : s.wave_spread_ms}, {"seed", s.seed},
                     {"jitter_ms", s.jitter_ms}, {"loss", s.loss}, {"stream_bytes", s.stream_bytes},
                     {"stream_interval_ms", s.stream_interval_ms}, {"write_stall_ms", liveness_of(s).write_stall_timeout.count()}};
  std::ofstream csv(fs::path(s.out_dir) / "detection.csv");
  csv << "strategy,sessions,doomed,detected,misses,false_kills,min_ms,p50_ms,p99_ms,max_ms,lateness_p99_ms,"
         "cpu_steady_pct,cpu_detection_pct,rss_per_session,wire_bytes_per_session_second,echo_p99_ms,"
         "waves,wave_spread_ms,server_processes\n";
  for (const auto& r : results) {
    nlohmann::json waves = nlohmann::json::array();
    for (const auto& w : r.waves)
      waves.push_back({{"offset_ms", w.offset_ms}, {"killed", w.killed}, {"detected", w.detection_ms.size()},
                       {"detection_ms", {{"min", quantile(w.detection_ms, 0)}, {"p50", quantile(w.detection_ms, 0.5)},
                                         {"max", quantile(w.detection_ms, 1)}}}});
    doc["strategies"].push_back({{"strategy", r.strategy}, {"sessions", r.sessions_open}, {"doomed", r.doomed},
                                 {"detected", r.detected}, {"misses", r.misses}, {"false_kills", r.false_kills},
                                 {"detection_ms", {{"min", quantile(r.detection_ms, 0)}, {"p50", quantile(r.detection_ms, 0.5)},
                                                   {"p99", quantile(r.detection_ms, 0.99)}, {"max", quantile(r.detection_ms, 1)}}},
                                 {"lateness_p99_ms", quantile(r.lateness_ms, 0.99)}, {"reasons", r.reasons},
                                 {"cpu_steady_pct", r.cpu_steady},
                                 {"cpu_steady_pct_per_window", r.cpu_steady_windows},
                                 {"cpu_detection_pct", r.cpu_detection},
                                 {"run_queue_wait_ms_during_detection", r.run_queue_wait_ms},
                                 {"run_queue_runs_during_detection", r.run_queue_runs},
                                 {"steal_pct_during_detection",
                                  std::isnan(r.steal_pct) ? nlohmann::json(nullptr) : nlohmann::json(r.steal_pct)},
                                 {"deadline_timer_late_max_ms", std::isnan(r.timer_late_max_ms)
                                                                    ? nlohmann::json(nullptr)
                                                                    : nlohmann::json(r.timer_late_max_ms)},
                                 {"rss_per_session_bytes", r.rss_per_session},
                                 {"wire_bytes_per_session_second", r.wire_bytes_per_session_second},
                                 {"echo_p99_ms_during_mass_death", r.echo_p99_ms},
                                 {"sessions_per_server_process", r.sessions_per_server}, {"waves", waves}});
    csv << r.strategy << ',' << r.sessions_open << ',' << r.doomed << ',' << r.detected << ',' << r.misses << ','
        << r.false_kills << ',' << quantile(r.detection_ms, 0) << ',' << quantile(r.detection_ms, 0.5) << ','
        << quantile(r.detection_ms, 0.99) << ',' << quantile(r.detection_ms, 1) << ',' << quantile(r.lateness_ms, 0.99)
        << ',' << r.cpu_steady << ',' << r.cpu_detection << ',' << r.rss_per_session << ','
        << r.wire_bytes_per_session_second << ',' << r.echo_p99_ms << ',' << s.waves << ','
        << (s.waves == 1 ? 0 : s.wave_spread_ms) << ',' << s.server_processes << '\n';
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
       << ", T=" << s.dead_after_ms << " ms, " << when_killed(s)
       << ")'\nset xlabel \"ms after each session's own fault\"\nset ylabel 'fraction of killed sessions detected'\n"
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
  app.add_option("--sessions,-n", s.sessions, "sessions (clamped to what the server processes' descriptor limits allow)")
      ->capture_default_str();
  app.add_option("--kill-share", s.kill_share, "share K/N of sessions killed (at once, or over the waves)")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--fault", s.fault, "hung, closed, rebooted, stalled, blackholed, unreachable")
      ->check(CLI::IsMember({"hung", "closed", "rebooted", "stalled", "blackholed", "unreachable"}))
      ->capture_default_str();
  app.add_option("--heartbeat-ms", s.heartbeat_ms, "heartbeat interval H")->capture_default_str();
  app.add_option("--dead-after-ms", s.dead_after_ms, "dead-after timeout T")->capture_default_str();
  app.add_option("--server-heartbeat-ms", s.server_heartbeat_ms,
                 "lifeline: the server's own beat interval (0: the library default, 10 x H)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  std::optional<std::size_t> stream_bytes;
  app.add_option("--stream-bytes", stream_bytes,
                 "lifeline, keepalive: the server sends every session a message this long each --stream-interval-ms, "
                 "as a game sends state updates (0: none; with --fault stalled: 200)")
      ->check(CLI::Range(std::size_t{0}, std::size_t{60000}));
  app.add_option("--stream-interval-ms", s.stream_interval_ms, "the game tick of --stream-bytes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--write-stall-ms", s.write_stall_ms,
                 "lifeline, keepalive: write_stall_timeout (0: the library default)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--server-threads", s.server_threads, "worker threads per server process")->capture_default_str();
  app.add_option("--server-processes", s.server_processes,
                 "server processes sharing one port through SO_REUSEPORT; CPU and memory are their sum")
      ->check(CLI::Range(1U, 64U))->capture_default_str();
  app.add_option("--waves", s.waves,
                 "kill the K sessions in W waves of about K/W, at W instants drawn at random within "
                 "--wave-spread-ms (1: all at one instant)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  std::optional<long> wave_spread_ms;
  app.add_option("--wave-spread-ms", wave_spread_ms, "the waves' instants lie within this span (default: --heartbeat-ms)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", s.seed, "seed of the wave instants and of the load generators' jitter and loss")
      ->capture_default_str();
  app.add_option("--steady-seconds", s.steady_seconds,
                 "steady-state measurement window (widened to whole server beat intervals)")
      ->capture_default_str();
  app.add_option("--keepalive-idle-s", s.keepalive_idle_s,
                 "TCP_KEEPIDLE for lifeline's backstop and for keepalive alone (0: derived from T; keepalive: 1 s)")
      ->check(CLI::Range(0, 32767));
  app.add_option("--keepalive-interval-s", s.keepalive_interval_s,
                 "TCP_KEEPINTVL, as --keepalive-idle-s (0: derived from T; keepalive: 1 s)")
      ->check(CLI::Range(0, 32767));
  app.add_option("--keepalive-count", s.keepalive_count,
                 "TCP_KEEPCNT, as --keepalive-idle-s (0: lifeline 3; keepalive: T in seconds - 1)")
      ->check(CLI::Range(0, 127));
  app.add_option("--loadgen-nice", s.loadgen_nice,
                 "niceness added to the load generators: in production the clients are other machines, here they "
                 "share the server's cores, and without it the server waits for a core during the mass death")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--cost-windows", s.cost_windows,
                 "steady-state windows with every strategy up at once, for CPU and bytes (0: each strategy alone, "
                 "in its own run)")
      ->capture_default_str();
  app.add_option("--sessions-per-loadgen", s.sessions_per_loadgen, "sessions per load process")->capture_default_str();
  app.add_option("--jitter-ms", s.jitter_ms, "random delay of live sessions' heartbeats")->capture_default_str();
  app.add_option("--loss", s.loss, "share of live sessions' heartbeats withheld")->capture_default_str();
  app.add_option("--out", s.out_dir, "directory for JSON, CSV, plot")->capture_default_str();
  app.add_option("--bin-dir", s.bin_dir, "build directory holding bench/ and tools/")->capture_default_str();
  app.add_flag("--check", s.check,
               "exit 1 unless lifeline detected every killed session with no false kill (stalled: all as write_stalled)");
  CLI11_PARSE(app, argc, argv);
  s.wave_spread_ms = wave_spread_ms.value_or(s.heartbeat_ms);
  // A peer that stops reading is found only through what the server writes to it: the
  // beats alone take minutes to fill a window, so the stalled fault brings a game stream.
  s.stream_bytes = stream_bytes.value_or(0);
  if (s.fault == "stalled" && !stream_bytes) {
    s.stream_bytes = 200;
    std::printf("note: --fault stalled: a peer that stops reading is found by what the server cannot write to it; the "
                "server streams %zu B every %ld ms to every session (--stream-bytes)\n",
                s.stream_bytes, s.stream_interval_ms);
  }
  if (s.fault == "stalled" && s.stream_bytes == 0)
    std::printf("warning: --fault stalled with --stream-bytes 0: nothing fills a stalled peer's window, so nothing "
                "can find it\n");
  if (s.fault == "stalled" && !kernel_ends_answered_window_probes()) {
    std::printf("note: this kernel is older than 5.11: TCP_USER_TIMEOUT does not end zero-window probes the peer "
                "answers, so a stalled peer is found only once the server's send buffer fills\n");
    if (s.check) {
      std::fprintf(stderr, "lifeline_detection_bench: --check of the stalled fault needs Linux 5.11 or later\n");
      return 77;  // "skipped" for ctest
    }
  }
  if (s.stream_bytes > 0) {
    std::vector<std::string> streaming, left_out;
    for (const auto& strategy : s.strategies)
      (strategy == "lifeline" || strategy == "keepalive" ? streaming : left_out).push_back(strategy);
    if (!left_out.empty()) {
      std::string names;
      for (const auto& name : left_out) names += (names.empty() ? "" : ", ") + name;
      std::printf("note: left out %s: only the lifeline and keepalive servers stream (--stream-bytes)\n", names.c_str());
      s.strategies = streaming;
    }
    if (s.strategies.empty()) {
      std::fprintf(stderr, "lifeline_detection_bench: --stream-bytes: no strategy left that streams (lifeline, keepalive)\n");
      return 2;
    }
  }
  s.bin_dir = fs::absolute(s.bin_dir).string();  // the links below must not depend on our directory
  if (s.dead_after_ms <= s.heartbeat_ms || s.heartbeat_ms <= 0) {
    std::fprintf(stderr, "lifeline_detection_bench: --dead-after-ms must be greater than --heartbeat-ms (> 0)\n");
    return 2;
  }

  // The steady window must hold whole server beat intervals: every session beats once
  // per interval, at its own phase, so a shorter window (or a fraction of one more) counts
  // some sessions' beats and not others', and a window right after the sessions opened
  // may hold none at all.
  const double server_beat_s =
      std::chrono::duration<double>(lifeline::derive_server_beat(liveness_of(s)).interval).count();
  if (const double whole = std::ceil(s.steady_seconds / server_beat_s - 1e-9) * server_beat_s;
      whole > s.steady_seconds + 1e-9) {
    std::printf("note: steady-state window %.3g s widened to %.3g s: whole intervals of the server's %.3g s beat\n",
                s.steady_seconds, whole, server_beat_s);
    s.steady_seconds = whole;
  }

  // Each server process holds its share of the sessions and may not raise its descriptor
  // limit (the children inherit ours). SO_REUSEPORT spreads connections only about evenly,
  // so with several processes 5 % of each one's room stays spare.
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const auto per_process = static_cast<std::size_t>(files.rlim_cur) - 100;
  const auto most = s.server_processes == 1 ? per_process : s.server_processes * per_process * 95 / 100;
  if (s.sessions > most) {
    if (s.server_processes == 1) {
      std::printf("note: --sessions %zu clamped to %zu: one server process may hold %llu descriptors\n", s.sessions, most,
                  static_cast<unsigned long long>(files.rlim_cur));
    } else {
      std::printf("note: --sessions %zu clamped to %zu: each of the %u server processes may hold %llu descriptors, and "
                  "SO_REUSEPORT spreads sessions only about evenly (5 %% kept spare; more --server-processes raise it)\n",
                  s.sessions, most, s.server_processes, static_cast<unsigned long long>(files.rlim_cur));
    }
    s.sessions = most;
  }
  const auto doomed = static_cast<std::size_t>(std::llround(s.kill_share * static_cast<double>(s.sessions)));
  if (doomed > 0 && s.waves > doomed) {
    std::printf("note: --waves %zu clamped to %zu: a wave kills at least one session\n", s.waves, doomed);
    s.waves = doomed;
  }
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
    std::map<std::string, steady_cost> costs;
    if (s.cost_windows > 0) costs = measure_costs_side_by_side(run);
    for (const auto& strategy : s.strategies) results.push_back(run_strategy(run, strategy, doomed));
    for (auto& r : results) {
      if (const auto cost = costs.find(r.strategy); cost != costs.end()) {
        const auto mean = [](const std::vector<double>& v) {
          double sum = 0;
          for (const double x : v) sum += x;
          return v.empty() ? NAN : sum / static_cast<double>(v.size());
        };
        r.cpu_steady = mean(cost->second.cpu);
        r.cpu_steady_windows = cost->second.cpu;
        r.wire_bytes_per_session_second = mean(cost->second.bytes_per_session_second);
      }
    }
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
        // A stalled peer is alive and still beating: only its write path may give it away.
        const auto write_stalled = r.reasons.find("write_stalled");
        if (s.fault == "stalled" && (write_stalled == r.reasons.end() || write_stalled->second != r.detected)) {
          std::fprintf(stderr, "check failed: lifeline closed stalled peers as %s, not all as write_stalled\n",
                       reasons_of(r).c_str());
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
