// tools/hostile/worker_fleet.hpp — the worker processes of one role, driven as one.
//
// Splits `total` sessions over as few workers as keep each within `per_process` (so no
// process nears the 20,000-descriptor limit), starts them, and speaks to them together:
// a command to all, lines from any. Each worker's latest `STATUS k=v ...` line is kept,
// so a subcommand can show progress (`status_sum("open")`) without parsing it itself.
// Every wait is sliced and gives up when the tool is interrupted.
//
//   worker_fleet holders(options, 16'000, 9'000);        // two workers of 8,000
//   auto ready = holders.wait_all("READY", 60s, on_line);
//   holders.broadcast("ATTACK");
//   holders.stop(10s, on_line);                           // STOP, lines until DONE, reaped
#pragma once

#include "child_process.hpp"
#include "worker.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lifeline::hostile {

class worker_fleet {
 public:
  using line_handler = std::function<void(std::size_t worker, const std::string& line)>;

  /// Starts the workers (`base` with its sessions replaced by each one's share; a
  /// `samples` path gets ".<worker>" appended). Throws std::runtime_error if one cannot start.
  worker_fleet(const worker_options& base, std::size_t total, std::size_t per_process);
  ~worker_fleet();
  worker_fleet(const worker_fleet&) = delete;
  worker_fleet& operator=(const worker_fleet&) = delete;

  [[nodiscard]] std::size_t size() const noexcept { return workers_.size(); }
  [[nodiscard]] const worker_options& options_of(std::size_t worker) const { return options_[worker]; }
  [[nodiscard]] pid_t pid_of(std::size_t worker) const { return workers_[worker]->pid(); }

  void broadcast(const std::string& command);
  /// Lines for `timeout` (STATUS lines are kept, the others go to `on_line`). False when
  /// interrupted or every worker's output has ended.
  bool pump(std::chrono::milliseconds timeout, const line_handler& on_line);
  /// Until every worker has printed a line starting with `prefix` (those lines, by worker);
  /// nullopt on timeout, interruption, or a worker gone.
  std::optional<std::vector<std::string>> wait_all(const std::string& prefix, std::chrono::milliseconds timeout,
                                                   const line_handler& on_line);
  /// The sum over workers of `key` in their latest STATUS line.
  [[nodiscard]] std::uint64_t status_sum(const std::string& key) const;
  /// STOP (and EOF) to every worker; their lines until DONE go to `on_line`; then reaped.
  /// False if one did not finish in time (it is killed).
  bool stop(std::chrono::milliseconds timeout, const line_handler& on_line);

 private:
  void take(std::size_t worker, const std::string& line, const line_handler& on_line);

  std::vector<worker_options> options_;
  std::vector<std::unique_ptr<child_process>> workers_;
  std::vector<std::map<std::string, std::uint64_t>> status_;
  std::vector<bool> done_;
  bool stopped_ = false;
};

/// How many workers `total` sessions need at `per_process` each (at least one).
[[nodiscard]] std::size_t workers_needed(std::size_t total, std::size_t per_process) noexcept;

}  // namespace lifeline::hostile
