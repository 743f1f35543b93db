// tools/hostile/proc_sampler.hpp — what the tool reads of a process in /proc: resident
// memory (VmRSS), its high-water mark (VmHWM, which the kernel keeps between our samples),
// CPU time, and time spent waiting for a core; and a thread sampling VmRSS every 100 ms.
//
// Why both a sampler and VmHWM. A sampled peak can miss a spike shorter than the period;
// VmHWM cannot, but it covers the process's whole life unless reset (writing 5 to
// /proc/<pid>/clear_refs, which needs the right to ptrace the process: root, or the same
// user without Yama's restrictions). The reports give the sampled peak and, when the reset
// worked, the kernel's.
//
//   rss_sampler memory(server_pid, std::chrono::milliseconds{100});
//   const auto t0 = steady_clock::now(); ... ;
//   const auto peak = memory.peak_between(t0, steady_clock::now());
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace lifeline::hostile {

/// Bytes from /proc/<pid>/status (VmRSS, VmHWM); -1 when the process is gone.
[[nodiscard]] std::int64_t resident_bytes(pid_t pid);
[[nodiscard]] std::int64_t peak_resident_bytes(pid_t pid);
/// Resets VmHWM to the current RSS; false when not permitted or the process is gone.
bool reset_peak_resident(pid_t pid);
/// User + system CPU time of the whole process, seconds (/proc/<pid>/stat).
[[nodiscard]] double cpu_seconds(pid_t pid);
/// Time the process's threads spent runnable but waiting for a core, seconds
/// (/proc/<pid>/task/*/schedstat): client-side starvation, told apart from the server's work.
[[nodiscard]] double run_queue_wait_seconds(pid_t pid);

class rss_sampler {
 public:
  using clock = std::chrono::steady_clock;
  struct sample {
    clock::time_point at;
    std::int64_t bytes;
  };
  /// Starts sampling at once (one sample before returning). Any thread.
  rss_sampler(pid_t pid, std::chrono::milliseconds period);
  ~rss_sampler();
  rss_sampler(const rss_sampler&) = delete;
  rss_sampler& operator=(const rss_sampler&) = delete;

  /// The largest sample taken in [from, to]; the latest before `from` if none was. Any thread.
  [[nodiscard]] std::int64_t peak_between(clock::time_point from, clock::time_point to) const;
  /// Samples now (and records it). Any thread.
  std::int64_t sample_now();
  [[nodiscard]] std::vector<sample> samples() const;

 private:
  void run();

  pid_t pid_;
  std::chrono::milliseconds period_;
  mutable std::mutex mutex_;
  std::vector<sample> samples_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lifeline::hostile
