// tools/hostile/child_process.hpp — a child process with its stdin and stdout as pipes:
// lines in, lines out, a deadline on every wait, and never left behind.
//
// The same shape as the detection benchmark's (bench/detection/child_process.hpp), plus
// what a tool that is killed or interrupted needs: the child asks the kernel for SIGKILL
// when the thread that forked it dies (PR_SET_PDEATHSIG; so fork from the main thread),
// and the destructor kills and reaps a child still running. Children inherit stderr, so
// their own warnings reach the user.
//
//   child_process server({"/path/lifeline_echo_server", "--port", "0"});
//   auto line = server.read_line(std::chrono::seconds{10});
//   server.signal(SIGTERM);
//   server.wait(std::chrono::seconds{5});   // SIGKILL after the grace, then reaped
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace lifeline::hostile {

class child_process {
 public:
  /// Starts argv[0] (a path) with arguments. Throws std::runtime_error if it cannot fork;
  /// a failed exec shows as exit status 127.
  explicit child_process(const std::vector<std::string>& argv);
  /// Kills (SIGKILL) and reaps the child if it is still running.
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  /// Writes one line to the child's stdin; false if the pipe is closed.
  bool write_line(const std::string& line);
  void close_stdin();
  /// The next line of stdout, or nullopt at EOF or when `timeout` passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// The next line of any of `children` (its index in the span, and the line), or nullopt
  /// when `timeout` passes or every one is at EOF.
  static std::optional<std::pair<std::size_t, std::string>> read_line_of_any(std::span<child_process* const> children,
                                                                             std::chrono::milliseconds timeout);
  /// Stdout is closed and every line of it has been taken.
  [[nodiscard]] bool at_eof() const noexcept { return stdout_fd_ < 0 && buffered_.empty(); }

  void signal(int signal_number);
  /// Waits for exit; SIGKILL after `grace`. Returns the exit status, or -signal.
  int wait(std::chrono::milliseconds grace);
  /// Reaps the child if it has exited; true if it has.
  bool has_exited();

 private:
  std::optional<std::string> take_buffered_line();
  void read_what_is_there();
  static int status_of(int raw) noexcept;

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace lifeline::hostile
