// bench/detection/server_processes.cpp — starting, reading and stopping the benchmark's
// server processes (server_processes.hpp), and placing each client on the process that
// holds its socket through the kernel's socket dump (sock_diag).
#include "server_processes.hpp"

#include "proc_readings.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace lifeline::bench {

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

std::vector<server_process> start_servers(const settings& s, const std::string& strategy, const std::string& tag,
                                          std::string& port) {
  std::vector<server_process> servers(s.server_processes);
  port = "0";
  for (std::size_t i = 0; i < servers.size(); ++i) {
    auto& server = servers[i];
    server.events = fs::path(s.out_dir) / (servers.size() == 1 ? tag + ".events"
                                                               : tag + ".server" + std::to_string(i) + ".events");
    fs::remove(server.events);
    // lifeline_resume is lifeline with sessions kept for resume.
    const bool resume = strategy == "lifeline_resume";
    server.process = std::make_unique<child_process>(std::vector<std::string>{
        s.bin_dir + "/lifeline_bench_server", "--strategy", resume ? "lifeline" : strategy, "--resume-grace-ms",
        resume ? std::to_string(s.resume_grace_ms) : "0", "--address", "127.0.0.1", "--port", port,
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

std::vector<load_share> load_shares(const settings& s, std::size_t doomed_total) {
  const std::size_t processes = (s.sessions + s.sessions_per_loadgen - 1) / s.sessions_per_loadgen;
  std::vector<load_share> shares;
  std::size_t assigned = 0, doomed_assigned = 0;
  for (std::size_t i = 0; i < processes; ++i) {
    const bool last = i + 1 == processes;
    const load_share share{last ? s.sessions - assigned : s.sessions / processes,
                           last ? doomed_total - doomed_assigned : doomed_total / processes};
    assigned += share.sessions;
    doomed_assigned += share.doomed;
    shares.push_back(share);
  }
  return shares;
}

std::size_t sessions_opened_by(child_process& load, std::size_t sessions_in_run) {
  const auto line = load.read_until("READY", std::chrono::seconds{60 + static_cast<long>(sessions_in_run / 500)},
                                    [](const std::string&) {});
  if (!line) throw std::runtime_error("a load generator did not get its sessions open");
  std::size_t open = 0, failed = 0;
  std::sscanf(line->c_str(), "READY %zu %zu", &open, &failed);
  return open;
}

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

server_pause::server_pause(std::vector<server_process>& servers, std::chrono::milliseconds length)
    : servers_(servers), length_ns_(static_cast<ns_t>(length.count()) * 1'000'000LL) {}

server_pause::~server_pause() {
  if (pending()) signal_all(SIGCONT);
}

void server_pause::signal_all(int signal) const {
  for (const auto& server : servers_) ::kill(server.process->pid(), signal);
}

void server_pause::begin() {
  if (length_ns_ == 0 || start_ns_ != 0) return;
  signal_all(SIGSTOP);
  start_ns_ = monotonic_ns();
}

std::chrono::milliseconds server_pause::time_left() const {
  if (!pending()) return 0ms;
  const ns_t left = start_ns_ + length_ns_ - monotonic_ns();
  return std::chrono::milliseconds{left <= 0 ? 0 : (left + 999'999) / 1'000'000};
}

void server_pause::end_if_due() {
  if (pending() && monotonic_ns() >= start_ns_ + length_ns_) end();
}

void server_pause::end() {
  if (!pending()) return;
  while (monotonic_ns() < start_ns_ + length_ns_) std::this_thread::sleep_for(200us);
  were_stopped_ = std::all_of(servers_.begin(), servers_.end(),
                              [](const server_process& server) { return is_stopped(server.process->pid()); });
  signal_all(SIGCONT);
  end_ns_ = monotonic_ns();
}

}  // namespace lifeline::bench
