// One peer's inbound budget (core/src/inbound_budget.hpp): frames and bytes spend from one
// rate-limited account, beats from another; past the burst, a strike; out of strikes, or
// too far ahead to wait out, the end. Time is passed in: no clock, no sleep.
#include "inbound_budget.hpp"

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using lifeline::inbound_limits;
using lifeline::detail::inbound_budget;
using lifeline::detail::inbound_policy;
using time_point = inbound_policy::time_point;

namespace {
const time_point t0{std::chrono::hours{1}};
constexpr auto no_credit = inbound_policy::duration::zero();

inbound_limits limits(std::size_t fps, std::size_t bps) {
  inbound_limits l;
  l.frames_per_second = fps;
  l.bytes_per_second = bps;
  l.burst = 1s;
  l.beats_per_interval = 4;
  l.strikes = 3;
  l.strike_window = 10s;
  return l;
}
}  // namespace

TEST_CASE("a peer within its rate is never over, however long it keeps it up") {
  const inbound_policy policy(limits(100, 0));
  inbound_budget b;
  for (int i = 0; i < 10'000; ++i) CHECK_FALSE(policy.spend_frame(b, t0 + i * 10ms, false, 1s, no_credit));
}

TEST_CASE("a burst of up to one burst's worth at once is within, one frame more is over") {
  const inbound_policy policy(limits(100, 0));  // 10 ms a frame, 1 s burst: 100 at once
  inbound_budget b;
  for (int i = 0; i < 100; ++i) CHECK_FALSE(policy.spend_frame(b, t0, false, 1s, no_credit));
  CHECK(policy.spend_frame(b, t0, false, 1s, no_credit));
  CHECK(policy.within_at(b, no_credit) == t0 + 1010ms);  // once all it ran ahead is paid off
}

TEST_CASE("bytes and frames spend from the same account") {
  const inbound_policy policy(limits(1000, 1000));  // 1 ms a frame, 1 ms a byte
  inbound_budget b;
  CHECK_FALSE(policy.spend_bytes(b, 500, t0, no_credit));               // 500 ms
  CHECK_FALSE(policy.spend_frame(b, t0, false, 1s, no_credit));         // 501 ms
  CHECK(policy.spend_bytes(b, 500, t0, no_credit));                     // 1,001 ms: over
}

TEST_CASE("beats are counted apart: more than beats_per_interval in one interval is over") {
  const inbound_policy policy(limits(0, 0));
  inbound_budget b;
  for (int i = 0; i < 4; ++i) CHECK_FALSE(policy.spend_frame(b, t0, true, 1s, no_credit));
  CHECK(policy.spend_frame(b, t0, true, 1s, no_credit));
  CHECK_FALSE(policy.spend_frame(b, t0 + 10s, true, 1s, no_credit));  // paid off since
}

TEST_CASE("the shard's own stall is credit: what piled up meanwhile is not held against the peer") {
  const inbound_policy policy(limits(0, 0));
  inbound_budget b;
  // 25 beats read at once after a 2.5 s stall, from a peer beating every 100 ms.
  bool over = false;
  for (int i = 0; i < 25; ++i) over |= policy.spend_frame(b, t0, true, 100ms, 2500ms);
  CHECK_FALSE(over);
}

TEST_CASE("strikes count within their window, and are forgotten after it") {
  const inbound_policy policy(limits(100, 0));
  inbound_budget b;
  CHECK_FALSE(policy.strike(b, t0, no_credit));
  CHECK_FALSE(policy.strike(b, t0 + 1s, no_credit));
  CHECK(policy.strike(b, t0 + 2s, no_credit));  // the third within 10 s
  inbound_budget c;
  CHECK_FALSE(policy.strike(c, t0, no_credit));
  CHECK_FALSE(policy.strike(c, t0 + 1s, no_credit));
  CHECK_FALSE(policy.strike(c, t0 + 11s, no_credit));  // a new window
}

TEST_CASE("a peer so far ahead that no pause within the strike window covers it is ended at once") {
  const inbound_policy policy(limits(0, 0));
  inbound_budget b;
  for (int i = 0; i < 512; ++i) policy.spend_frame(b, t0, true, 100ms, no_credit);  // 512 beats in one read: 12.8 s ahead
  CHECK(policy.strike(b, t0, no_credit));
}

TEST_CASE("a rate of 0 is no limit") {
  const inbound_policy policy(limits(0, 0));
  inbound_budget b;
  for (int i = 0; i < 100'000; ++i) CHECK_FALSE(policy.spend_frame(b, t0, false, 1s, no_credit));
  CHECK_FALSE(policy.spend_bytes(b, std::size_t{1} << 40, t0, no_credit));
}
