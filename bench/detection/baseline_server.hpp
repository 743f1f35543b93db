// bench/detection/baseline_server.hpp — the liveness code a game server would write
// without lifeline, for the detection benchmark to compare against.
//
// Everything but liveness is the same as lifeline::server, so that only liveness differs
// in the comparison: lifeline's wire protocol and codec (hello -> welcome, data echoed,
// beat frames), one io_context per worker thread with its own SO_REUSEPORT acceptor,
// sessions owned by their thread, readability waits with reads into one buffer per
// thread, non-blocking writes with a small queue. Three strategies:
//   - asio_timer: as in Asio's timeouts examples, two asio::steady_timer per session.
//     Every inbound frame calls expires_after(T) on the death timer and every send calls
//     expires_after(H) on the beat timer; that cancels the pending wait, whose handler
//     compares expiry() with now and waits again. The cost: a timer-queue operation and
//     a handler completion per frame each way.
//   - full_scan: no per-session timer; one periodic timer per thread visits all of that
//     thread's sessions: dead when now - last_heard >= T, a beat when now - last_sent >= H.
//     Cost grows with sessions × scan rate; lateness is at most one scan period.
//   - floor: no liveness at all (reads, welcome, echo; EOF and RST are still noticed).
//     What the I/O costs by itself, and what a server that never looks misses.
//
//   lifeline::bench::baseline_server server(config, [](unsigned, std::uint64_t id, lifeline::close_reason why,
//                                                       auto detected, auto last_heard) { ... });
//   server.start();
//   std::printf("%u\n", server.port());
//   server.stop();
#pragma once

#include <lifeline/close_reason.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace lifeline::bench {

enum class baseline_strategy { asio_timer, full_scan, floor };

struct baseline_config {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 0;                         ///< 0: any free port
  unsigned threads = 2;
  std::chrono::milliseconds heartbeat_interval{1000};  ///< H, asked of the clients
  std::chrono::milliseconds dead_after{3000};          ///< T
  /// The server's own beat and how long clients wait it out: the same as lifeline's
  /// (derive_server_beat), so that beats cost every strategy alike and the comparison is
  /// of liveness tracking.
  std::chrono::milliseconds server_heartbeat_interval{10'000};
  std::chrono::milliseconds server_dead_after{12'000};
  std::chrono::milliseconds scan_period{4};            ///< full_scan only
  baseline_strategy strategy = baseline_strategy::asio_timer;
};

/// Totals over all threads, read without stopping them (each counter is exact, the set
/// is not one instant).
struct baseline_counters {
  std::uint64_t sessions_open = 0;  ///< accepted and not yet reclaimed (handshaking ones too, as lifeline counts)
  std::uint64_t bytes_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t heartbeats_sent = 0;
};

/// Told once for every session that completed its handshake, on the thread that owned it
/// (`thread` is its index), when the server decided or learned that it ended. The
/// session id is the one its welcome carried, unique in the process.
using baseline_close_handler =
    std::function<void(unsigned thread, std::uint64_t session_id, close_reason reason,
                       std::chrono::steady_clock::time_point detected, std::chrono::steady_clock::time_point last_heard)>;

class baseline_server {
 public:
  baseline_server(baseline_config config, baseline_close_handler on_closed);
  /// stop(), then joins.
  ~baseline_server();
  baseline_server(const baseline_server&) = delete;
  baseline_server& operator=(const baseline_server&) = delete;

  /// Binds every thread's acceptor and starts the threads. Throws std::system_error if
  /// the address cannot be bound. Once.
  void start();
  /// Closes every session (reason shutdown), stops accepting, joins the threads. Any
  /// thread but a worker's. Idempotent.
  void stop();

  /// The bound port. After start().
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Any thread.
  [[nodiscard]] baseline_counters counters() const noexcept;

 private:
  class worker;  // one thread: its io_context, acceptor and sessions (baseline_server.cpp)

  baseline_config config_;
  baseline_close_handler on_closed_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
};

}  // namespace lifeline::bench
