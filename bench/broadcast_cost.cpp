// lifeline_broadcast_bench: what one state message to every player costs the server, as
// one broadcast() against one send() per session (broadcast.hpp), in the same run.
//
// The server (one worker thread) runs in this process; its N sessions come from client
// processes (this program again, --client), each a lifeline::connector that reads what it
// is sent, so the clients' CPU is not the server's. A game thread here sends a `bytes`
// message to all N sessions `hz` times a second, in windows that alternate between the two
// ways (broadcast, singles, broadcast, ...), so both see the same machine. Per window and
// per tick it reports the server process's CPU (getrusage: the game thread and the worker,
// which writes the frames to the sockets), the game thread's own CPU, and the memory
// allocations made (operator new, counted in this process), then the ratios.
//
//   lifeline_broadcast_bench --sessions 10000 --hz 20 --bytes 200 --window-seconds 5 --windows 4
#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <CLI/CLI.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <new>
#include <string>
#include <thread>
#include <vector>

// --- counting allocations in this process ------------------------------------------------
namespace {
std::atomic<std::uint64_t> allocations{0};
}
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<bool> stop_requested{false};

std::chrono::microseconds process_cpu() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return std::chrono::seconds{usage.ru_utime.tv_sec + usage.ru_stime.tv_sec} +
         std::chrono::microseconds{usage.ru_utime.tv_usec + usage.ru_stime.tv_usec};
}

std::chrono::microseconds thread_cpu() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::seconds{t.tv_sec} + std::chrono::nanoseconds{t.tv_nsec});
}

// The client side: `sessions` connector sessions, opened at a steady pace, kept until stdin closes.
int run_clients(std::uint16_t port, std::size_t sessions) {
  lifeline::connector_config config;
  config.max_sessions = sessions + 16;
  std::atomic<std::uint64_t> received{0};
  lifeline::connector client(config, {.on_opened = [](lifeline::session_id) {},
                                      .on_message = [&](lifeline::session_id, std::span<const std::byte>) { ++received; },
                                      .on_closed = [](lifeline::session_id, lifeline::close_info) {}});
  client.start();
  for (std::size_t i = 0; i < sessions; ++i) {
    client.connect({.address = "127.0.0.1", .port = port});
    if (i % 200 == 199) std::this_thread::sleep_for(20ms);  // a pace the accept queue takes
  }
  char byte;
  while (::read(STDIN_FILENO, &byte, 1) > 0) {
  }
  client.stop(std::chrono::milliseconds{0});
  std::fprintf(stderr, "client: %llu messages received\n", static_cast<unsigned long long>(received.load()));
  return 0;
}

struct window_result {
  bool broadcast = false;
  std::size_t ticks = 0;
  double process_us_per_tick = 0;
  double game_thread_us_per_tick = 0;
  double allocations_per_tick = 0;
  std::size_t refused = 0;  // queue_full or unknown
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Server CPU and allocations per state message to every session: broadcast() against single send()s"};
  std::size_t sessions = 10'000;
  unsigned hz = 20;
  std::size_t bytes = 200;
  double window_seconds = 5;
  unsigned windows = 4;
  unsigned client_processes = 2;
  bool client_role = false;
  bool check = false;
  std::uint16_t client_port = 0;
  app.add_option("--sessions", sessions, "sessions to send to (clamped to what the descriptor limit allows)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{19'000}));
  app.add_option("--hz", hz, "state messages per second")->check(CLI::Range(1u, 1000u));
  app.add_option("--bytes", bytes, "message size")->check(CLI::Range(std::size_t{1}, std::size_t{60'000}));
  app.add_option("--window-seconds", window_seconds, "length of each measured window")->check(CLI::Range(0.5, 600.0));
  app.add_option("--windows", windows, "windows, alternating broadcast and singles (even: as many of each)")
      ->check(CLI::Range(2u, 100u));
  app.add_option("--client-processes", client_processes, "processes the sessions' clients run in")->check(CLI::Range(1u, 16u));
  app.add_flag("--check", check, "exit 1 unless every session was open and every message was queued and sent");
  app.add_flag("--client", client_role, "(internal) run as a client process");
  app.add_option("--port", client_port, "(internal) the server's port, for --client");
  CLI11_PARSE(app, argc, argv);
  if (client_role) return run_clients(client_port, sessions);

  std::signal(SIGINT, [](int) { stop_requested = true; });
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur != RLIM_INFINITY && sessions + 64 > files.rlim_cur) {
    sessions = files.rlim_cur - 64;
    std::printf("sessions clamped to %zu by the descriptor limit (%llu)\n", sessions, static_cast<unsigned long long>(files.rlim_cur));
  }

  lifeline::server_config config;
  config.listen_address = "127.0.0.1";
  config.worker_threads = 1;
  config.admission.handshaking_share = 1.0;  // the clients open their sessions in bursts
  std::atomic<std::size_t> opened{0};
  std::vector<lifeline::session_id> ids(sessions);
  lifeline::server game(config, {.on_opened = [&](lifeline::session_id id) {
                                   const auto i = opened.fetch_add(1);
                                   if (i < ids.size()) ids[i] = id;
                                 },
                                 .on_message = [](lifeline::session_id, std::span<const std::byte>) {},
                                 .on_closed = [](lifeline::session_id, lifeline::close_info) {}});
  game.start();

  // The clients: this program again, each holding a share of the sessions until its stdin closes.
  std::vector<std::pair<pid_t, int>> clients;
  for (unsigned c = 0; c < client_processes; ++c) {
    const auto share = sessions / client_processes + (c < sessions % client_processes ? 1 : 0);
    int to_child[2];
    if (::pipe(to_child) != 0) return 1;
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(to_child[0], STDIN_FILENO);
      ::close(to_child[0]);
      ::close(to_child[1]);
      const auto share_text = std::to_string(share), port_text = std::to_string(game.port());
      ::execl("/proc/self/exe", argv[0], "--client", "--port", port_text.c_str(), "--sessions", share_text.c_str(),
              static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    ::close(to_child[0]);
    clients.emplace_back(pid, to_child[1]);
  }
  const auto opening_deadline = clock_type::now() + 120s;
  while (opened.load() < sessions && clock_type::now() < opening_deadline && !stop_requested) {
    std::fprintf(stderr, "\ropening sessions: %zu of %zu", opened.load(), sessions);
    std::this_thread::sleep_for(500ms);
  }
  std::fprintf(stderr, "\ropening sessions: %zu of %zu\n", opened.load(), sessions);
  const auto members = std::min(opened.load(), sessions);
  ids.resize(members);

  const std::vector<std::byte> message(bytes, std::byte{0x42});
  const auto tick = std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(1.0 / hz));
  const auto send_for = [&](bool broadcast, std::chrono::duration<double> length) {
    window_result r;
    r.broadcast = broadcast;
    const auto cpu0 = process_cpu(), game0 = thread_cpu();
    const auto alloc0 = allocations.load();
    const auto start = clock_type::now();
    auto next = start;
    while (clock_type::now() - start < length && !stop_requested) {
      if (broadcast) {
        const auto result = game.broadcast(ids, message);
        r.refused += result.unknown + result.queue_full;
      } else {
        for (const auto id : ids)
          if (game.send(id, message)) ++r.refused;
      }
      ++r.ticks;
      next += tick;
      std::this_thread::sleep_until(next);
    }
    const auto ticks = static_cast<double>(std::max<std::size_t>(r.ticks, 1));
    r.process_us_per_tick = static_cast<double>((process_cpu() - cpu0).count()) / ticks;
    r.game_thread_us_per_tick = static_cast<double>((thread_cpu() - game0).count()) / ticks;
    r.allocations_per_tick = static_cast<double>(allocations.load() - alloc0) / ticks;
    return r;
  };
  std::printf("%zu sessions, %zu-byte message, %u Hz, %u windows of %.1f s, alternating\n", members, bytes, hz, windows, window_seconds);
  (void)send_for(true, 1s);  // warm-up: first writes, buffers
  std::vector<window_result> results;
  for (unsigned w = 0; w < windows && !stop_requested; ++w) {
    results.push_back(send_for(w % 2 == 0, std::chrono::duration<double>(window_seconds)));
    const auto& r = results.back();
    std::printf("  window %u %-9s ticks %4zu  process CPU %8.0f us/tick  game thread %8.0f us/tick  allocations %8.1f /tick  refused %zu\n",
                w + 1, r.broadcast ? "broadcast" : "singles", r.ticks, r.process_us_per_tick, r.game_thread_us_per_tick,
                r.allocations_per_tick, r.refused);
  }
  double sums[2][3] = {};
  int counts[2] = {};
  for (const auto& r : results) {
    const int k = r.broadcast ? 0 : 1;
    sums[k][0] += r.process_us_per_tick;
    sums[k][1] += r.game_thread_us_per_tick;
    sums[k][2] += r.allocations_per_tick;
    ++counts[k];
  }
  if (counts[0] > 0 && counts[1] > 0) {
    for (auto& row : sums[0]) row /= counts[0];
    for (auto& row : sums[1]) row /= counts[1];
    std::printf("mean per tick   broadcast: process %.0f us, game thread %.0f us, %.1f allocations\n", sums[0][0], sums[0][1], sums[0][2]);
    std::printf("                singles:   process %.0f us, game thread %.0f us, %.1f allocations\n", sums[1][0], sums[1][1], sums[1][2]);
    std::printf("broadcast / singles: process CPU %.2fx, game thread CPU %.2fx, allocations %.3fx\n", sums[0][0] / sums[1][0],
                sums[0][1] / sums[1][1], sums[0][2] / std::max(sums[1][2], 1e-9));
  }
  // Every message queued was written: the server's frames sent cover every tick's members.
  std::size_t ticks = 0, refused = 0;
  for (const auto& r : results) {
    ticks += r.ticks;
    refused += r.refused;
  }
  const auto sent = game.stats().total.frames_sent;
  const bool all_there = members == sessions && refused == 0 && sent >= ticks * members;
  std::printf("frames sent %llu for %zu ticks x %zu sessions; refused %zu\n", static_cast<unsigned long long>(sent), ticks,
              members, refused);
  for (auto& [pid, pipe] : clients) ::close(pipe);  // the clients stop when their stdin closes
  for (auto& [pid, pipe] : clients) ::waitpid(pid, nullptr, 0);
  game.stop();
  if (check && !all_there) {
    std::fprintf(stderr, "check failed: not every session opened, or not every message was sent\n");
    return 1;
  }
  return 0;
}
