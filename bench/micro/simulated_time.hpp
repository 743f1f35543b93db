// Simulated time for the micro-benchmarks: every strategy sees the same clock, advanced
// by the benchmark, so a comparison measures data structures, not sleeps.
#pragma once

#include <chrono>

namespace lifeline::bench {

using time_point = std::chrono::steady_clock::time_point;
using namespace std::chrono_literals;

/// A Clock for asio::basic_waitable_timer whose now() is the benchmark's simulated time.
struct simulated_clock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<simulated_clock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept { return current; }
  static inline time_point current{};

  static void set(bench::time_point t) noexcept { current = time_point{t.time_since_epoch()}; }
};

/// Wait traits that tell Asio's reactor every timer may be due now, so each poll()
/// checks the timer queue against simulated time instead of sleeping on a timerfd for
/// a simulated duration. The queue, the handlers and their costs are Asio's own.
struct check_every_poll {
  static simulated_clock::duration to_wait_duration(const simulated_clock::duration&) { return {}; }
  static simulated_clock::duration to_wait_duration(const simulated_clock::time_point&) { return {}; }
};

}  // namespace lifeline::bench
