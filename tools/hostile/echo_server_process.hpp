// tools/hostile/echo_server_process.hpp — the server under attack: lifeline_echo_server,
// started beside this tool's own binary as a child process on an ephemeral loopback port.
//
// The echo server prints a line per session opened and closed (with the close reason);
// a thread drains its stdout all the time (a full pipe would block the server's handlers)
// and tallies them. Its stdout is block-buffered, so the tally is exact only after stop();
// the times of closes are therefore measured on the client side, never from these lines.
//
//   echo_server_process server({.threads = 1, .heartbeat = 1000ms, .dead_after = 3000ms});
//   connect to 127.0.0.1:server.port() ...
//   const auto tally = server.stop();   // SIGTERM, reaped; tally.closed["slow_frame"] ...
#pragma once

#include "child_process.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace lifeline::hostile {

/// The directory holding this tool's binary (where lifeline_echo_server is built too).
[[nodiscard]] std::string own_directory();

struct echo_server_settings {
  unsigned threads = 0;                      ///< 0: the echo server's default (one per hardware thread)
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds dead_after{3000};
  std::optional<std::size_t> max_sessions;   ///< unset: the library's default
  std::vector<std::string> extra_args{};     ///< passed as they are (--server-arg)
};

class echo_server_process {
 public:
  struct tally {
    std::uint64_t opened = 0;
    std::map<std::string, std::uint64_t> closed;  ///< by "reason" or "reason, detail"
    std::string stopped_line;                     ///< its last words ("stopped: ..."), if any
  };

  /// Starts the server and waits (10 s at most) for its "listening on" line. Throws
  /// std::runtime_error when it cannot start (missing binary, a flag it refuses).
  explicit echo_server_process(const echo_server_settings& settings);
  ~echo_server_process();
  echo_server_process(const echo_server_process&) = delete;
  echo_server_process& operator=(const echo_server_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return child_.pid(); }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::vector<std::string>& command() const noexcept { return argv_; }
  /// SIGTERM (the server calls its own stop()), reaped, output drained. Idempotent.
  tally stop();
  /// Still running (not exited on its own).
  [[nodiscard]] bool running();

 private:
  void drain();
  void note(const std::string& line);

  std::vector<std::string> argv_;
  child_process child_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  tally tally_;
  std::thread reader_;
  bool stopped_ = false;
};

}  // namespace lifeline::hostile
