// bench/detection/proc_readings.hpp — what the driver reads of the machine and of its
// server processes: the shared monotonic clock, and /proc (CPU time, resident memory,
// run-queue wait, the hypervisor's steal).
//
// Every process of the machine shares CLOCK_MONOTONIC, so the driver's fault stamps, the
// load generators' kill stamps and the servers' close stamps compare directly (DESIGN.md §4).
// The /proc readers are read before and after a phase and the difference taken.
//
//   const double cpu0 = cpu_seconds(pid);
//   ...
//   const double cpu_pct = 100 * (cpu_seconds(pid) - cpu0) / elapsed_seconds;
#pragma once

#include <sys/types.h>

namespace lifeline::bench {

using ns_t = long long;

/// Now, CLOCK_MONOTONIC nanoseconds.
ns_t monotonic_ns();

// CPU time (user + system) of a process, in seconds.
double cpu_seconds(pid_t pid);

/// Resident memory of a process, bytes.
long rss_bytes(pid_t pid);

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
machine_time machine_time_now();

run_queue_wait run_queue_wait_of(pid_t pid);

/// True when every thread of the process is stopped by a signal (state T in
/// /proc/<pid>/task/*/stat): a SIGSTOP has taken effect.
bool is_stopped(pid_t pid);

}  // namespace lifeline::bench
