// A shard's record of its own stalls, and the pace at which the convictions a stall
// deferred are released (core/src/own_stalls.hpp). Time is passed in: no clock, no sleep.
#include "own_stalls.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lifeline::detail::release_pacer;
using lifeline::detail::stall_record;
using time_point = stall_record::time_point;

namespace {
const time_point t0{std::chrono::hours{1}};
}

TEST_CASE("a wake-up later than the threshold is a stall, one within it is not") {
  stall_record stalls(100ms);
  CHECK_FALSE(stalls.note_wakeup(t0, t0 + 100ms, 0ms));
  CHECK(stalls.note_wakeup(t0 + 1s, t0 + 1s + 101ms, 0ms));
  CHECK(stalls.longest() == 101ms);
}

TEST_CASE("a host frozen longer than the threshold is a stall, even when the timer woke on time") {
  stall_record stalls(100ms);
  CHECK(stalls.note_wakeup(t0, t0 + 1ms, 5s));  // CLOCK_BOOTTIME gained 5 s on CLOCK_MONOTONIC
  CHECK(stalls.excused_since(t0 - 1s) == 5s + 1ms);
}

TEST_CASE("a peer is excused every stall that ended after it was last heard, and nothing else") {
  stall_record stalls(50ms);
  REQUIRE(stalls.note_wakeup(t0, t0 + 2500ms, 0ms));        // ended at t0 + 2.5 s, 2.5 s long
  REQUIRE(stalls.note_wakeup(t0 + 4s, t0 + 4s + 300ms, 0ms));  // ended at t0 + 4.3 s
  CHECK(stalls.excused_since(t0 - 1s) == 2800ms);  // heard before both
  CHECK(stalls.excused_since(t0 + 3s) == 300ms);   // heard between them
  CHECK(stalls.excused_since(t0 + 5s) == 0ms);     // heard after both: nothing to excuse
}

TEST_CASE("only the last eight stalls are kept") {
  stall_record stalls(1ms);
  for (int i = 0; i < 10; ++i) REQUIRE(stalls.note_wakeup(t0 + i * 1s, t0 + i * 1s + 10ms, 0ms));
  CHECK(stalls.excused_since(t0 - 1s) == 80ms);
}

TEST_CASE("releases within the rate happen at once, in a burst of up to 10 ms worth, then one per interval") {
  release_pacer pacer(1000);  // 1 ms apart, 10 at once
  for (int i = 0; i < 10; ++i) CHECK(pacer.reserve(t0) == t0);
  CHECK(pacer.reserve(t0) == t0 + 1ms);
  CHECK(pacer.reserve(t0) == t0 + 2ms);
  // After a quiet second the burst is available again.
  for (int i = 0; i < 10; ++i) CHECK(pacer.reserve(t0 + 1s) == t0 + 1s);
}

TEST_CASE("a slow rate still releases the first at once") {
  release_pacer pacer(10);  // 100 ms apart, longer than the burst
  CHECK(pacer.reserve(t0) == t0);
  CHECK(pacer.reserve(t0) == t0 + 100ms);
  CHECK(pacer.reserve(t0 + 50ms) == t0 + 200ms);
}
