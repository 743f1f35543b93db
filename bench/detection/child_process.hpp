// A child process of the detection benchmark (the server or a load generator), with its
// stdin and stdout as pipes: lines in, lines out, a deadline on every wait.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace lifeline::bench {

class child_process {
 public:
  /// Starts argv[0] with arguments; stderr is inherited (children report problems there).
  /// `niceness` is added to the child's scheduling niceness (setpriority) before it runs.
  explicit child_process(const std::vector<std::string>& argv, int niceness = 0);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  void write_line(const std::string& line);
  /// The next line of stdout, or nullopt at EOF or when `timeout` passes.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// The next line of any of `children` (its index in the span, and the line), or nullopt
  /// when `timeout` passes or every one is at EOF: several servers, one wait.
  static std::optional<std::pair<std::size_t, std::string>> read_line_of_any(std::span<child_process* const> children,
                                                                             std::chrono::milliseconds timeout);
  /// Reads lines until one starts with `prefix`; the others go to `on_other`.
  template <class F>
  std::optional<std::string> read_until(const std::string& prefix, std::chrono::milliseconds timeout, F&& on_other) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto line = read_line(left);
      if (!line) return std::nullopt;
      if (line->rfind(prefix, 0) == 0) return line;
      on_other(*line);
    }
  }
  void close_stdin();
  void terminate();  ///< SIGTERM
  /// Waits for exit; SIGKILL after `grace`. Returns the exit status (or -signal).
  int wait(std::chrono::milliseconds grace);

 private:
  std::optional<std::string> take_buffered_line();
  void read_what_is_there();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace lifeline::bench
