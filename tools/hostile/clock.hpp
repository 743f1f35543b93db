// tools/hostile/clock.hpp — the one clock of the tool and its workers. libstdc++'s
// steady_clock reads CLOCK_MONOTONIC, which every process of the machine shares, so a
// worker's stamps (sent over a pipe as nanoseconds) compare directly with the tool's.
#pragma once

#include <chrono>
#include <cstdint>

namespace lifeline::hostile {

using steady = std::chrono::steady_clock;
using time_point = steady::time_point;
using std::chrono::milliseconds;

[[nodiscard]] inline std::int64_t monotonic_ns(time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace lifeline::hostile
