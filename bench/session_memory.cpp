// lifeline_session_memory: user-space bytes a server holds per idle session.
//
// Starts a server (one worker thread) in this process, opens N plain TCP connections to
// it that complete the handshake and then stay idle (they hold no user-space state
// beyond their descriptor), and reports the growth of the process's resident set per
// session. Kernel socket buffers are not in the RSS; what is counted is the session
// object, its decoder, Asio's per-socket reactor state and the slab slot.
//
// With --lingering, resume is on (DESIGN.md §10) and the measured batch's connections are
// then reset: the sessions linger without a socket. What they still hold is counted in the
// heap: bytes in use with them lingering, less bytes in use once the game has closed them
// all (and they are reclaimed), per session. RSS cannot show it (the allocator and Asio's
// pools keep what the sockets and session objects gave back), so the heap is read with
// mallinfo2(), which sees one arena: with --lingering the process has only one
// (M_ARENA_MAX = 1, set before any thread starts).
//
//   lifeline_session_memory --sessions 5000 [--lingering]
#include <lifeline/frame_encoder.hpp>
#include <lifeline/server.hpp>

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

namespace {

long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// Heap bytes in use (with one arena, all of them: see the header).
std::size_t heap_in_use() {
  const auto info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

int open_idle_session(std::uint16_t port, std::span<const std::byte> hello) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
      ::send(fd, hello.data(), hello.size(), 0) != static_cast<ssize_t>(hello.size())) {
    ::close(fd);
    return -1;
  }
  char welcome[256];
  if (::recv(fd, welcome, sizeof welcome, 0) <= 0) {  // the welcome: the session is open
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"User-space memory per idle lifeline session (RSS growth over N sessions)"};
  std::size_t sessions = 5000;
  app.add_option("--sessions,-n", sessions, "idle sessions to open")->check(CLI::Range(100, 9000));
  bool lingering = false;
  app.add_flag("--lingering", lingering, "then reset their connections and measure them lingering (resume on)");
  CLI11_PARSE(app, argc, argv);

  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  const auto fd_room = static_cast<std::size_t>(files.rlim_cur > 200 ? (files.rlim_cur - 100) / 2 : 0);
  if (sessions > fd_room) {
    std::printf("clamping --sessions to %zu: each session needs two descriptors here and the limit is %llu\n", fd_room,
                static_cast<unsigned long long>(files.rlim_cur));
    sessions = fd_room;
  }

  if (lingering) ::mallopt(M_ARENA_MAX, 1);

  lifeline::server_config config;
  config.listen_address = "127.0.0.1";
  config.worker_threads = 1;
  config.liveness.heartbeat_interval = std::chrono::seconds{1};
  config.liveness.dead_after = std::chrono::seconds{120};  // the idle peers never answer
  if (lingering) config.liveness.resume.grace = std::chrono::minutes{10};
  std::atomic<std::size_t> opened{0}, lost{0}, closed{0};
  std::mutex lingering_mutex;
  std::vector<lifeline::session_id> lingering_ids;
  lifeline::server server(config, {.on_opened = [&](lifeline::session_id) { ++opened; },
                                   .on_message = {},
                                   .on_closed = [&](lifeline::session_id, lifeline::close_info) { ++closed; },
                                   .on_transport_lost =
                                       [&](lifeline::session_id id, lifeline::close_info) {
                                         std::lock_guard lock(lingering_mutex);
                                         lingering_ids.push_back(id);
                                         ++lost;
                                       }});
  server.start();

  lifeline::frame_encoder encoder;
  std::error_code ec;
  const auto hello_bytes = encoder.encode(lifeline::hello_frame{.heartbeat_interval = std::chrono::seconds{1},
                                                                .dead_after = std::chrono::seconds{120}},
                                          ec);
  const std::vector<std::byte> hello(hello_bytes.begin(), hello_bytes.end());

  // Warm up: a first batch brings the allocator, the slab and Asio's pools to their
  // steady state, so the measured batch counts sessions, not one-time set-up.
  std::vector<int> fds;
  const auto open_batch = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      if (const int fd = open_idle_session(server.port(), hello); fd >= 0) fds.push_back(fd);
  };
  open_batch(sessions / 10);
  fds.reserve(fds.size() + sessions);
  std::this_thread::sleep_for(std::chrono::milliseconds{1500});  // one heartbeat round
  const long before = resident_bytes();
  const auto before_count = fds.size();
  std::printf("opening %zu idle sessions...\n", sessions);
  open_batch(sessions);
  std::this_thread::sleep_for(std::chrono::milliseconds{2500});  // two heartbeat rounds: steady state
  const long after = resident_bytes();
  const auto measured = fds.size() - before_count;

  std::printf("sessions open: %zu (measured batch: %zu)\n", opened.load(), measured);
  std::printf("RSS growth: %ld KiB -> %.0f bytes per idle session\n", (after - before) / 1024,
              static_cast<double>(after - before) / static_cast<double>(measured));
  if (lingering) {
    // Reset the measured batch (no close frame: a transport death), and wait for them all
    // to linger.
    const auto lost_before = lost.load();
    for (std::size_t i = before_count; i < fds.size(); ++i) {
      const linger abortive{1, 0};
      ::setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
      ::close(fds[i]);
    }
    fds.resize(before_count);
    for (int waited = 0; lost.load() - lost_before < measured && waited < 100; ++waited)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    std::this_thread::sleep_for(std::chrono::milliseconds{1500});
    const long lingering_rss = resident_bytes();
    const auto heap_lingering = heap_in_use();
    std::printf("lingering: %zu of %zu; RSS over the state before they were opened: %ld KiB -> %.0f bytes per lingering "
                "session (an upper bound: pools keep what the sockets gave back)\n",
                lost.load() - lost_before, measured, (lingering_rss - before) / 1024,
                static_cast<double>(lingering_rss - before) / static_cast<double>(measured));
    // The game closes them all; once they are reclaimed, the heap they held is free again.
    const auto closed_before = closed.load();
    {
      std::lock_guard lock(lingering_mutex);
      for (const auto id : lingering_ids) (void)server.close(id);
    }
    for (int waited = 0; closed.load() - closed_before < measured && waited < 100; ++waited)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    for (int waited = 0; server.stats().total.sessions_open > fds.size() && waited < 100; ++waited)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});  // reclaimed
    const auto heap_after = heap_in_use();
    std::printf("heap held by the %zu lingering sessions (in use with them lingering, less in use once they were "
                "closed and reclaimed): %zu KiB -> %.0f bytes per lingering session\n",
                measured, (heap_lingering - heap_after) / 1024,
                (static_cast<double>(heap_lingering) - static_cast<double>(heap_after)) / static_cast<double>(measured));
  }
  server.stop();
  for (const int fd : fds) ::close(fd);
  return measured == sessions ? 0 : 1;
}
