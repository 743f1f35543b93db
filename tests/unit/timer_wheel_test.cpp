// Behaviour of lifeline::timer_wheel, driven by hand: no clock is read, nothing sleeps.
#include <lifeline/timer_wheel.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <vector>

using namespace std::chrono_literals;
using lifeline::timer_entry;
using lifeline::timer_wheel;
using time_point = timer_wheel::time_point;

namespace {

const time_point origin{std::chrono::hours{1}};
constexpr auto tick = 4ms;

// A deadline that records when it fired and runs an optional action, for re-entrancy.
struct probe {
  std::vector<time_point> fired_at;
  std::function<void(time_point)> action;
  void on_expiry(time_point now) {
    fired_at.push_back(now);
    if (action) action(now);
  }
  timer_entry entry = timer_entry::calling<&probe::on_expiry>(this);
};

time_point at_tick(std::uint64_t n) { return origin + tick * static_cast<long>(n); }

}  // namespace

TEST_CASE("a deadline fires at its tick, not one tick before, at every level boundary") {
  // Ticks just below, at and just above each level's span (64^k), including the far
  // horizon where entries first wait in the top level.
  std::vector<std::uint64_t> deadlines;
  for (std::uint64_t span = 64; span <= (std::uint64_t{1} << 36); span *= 64)
    for (std::int64_t delta : {-1, 0, 1}) deadlines.push_back(span + static_cast<std::uint64_t>(delta));
  deadlines.push_back(std::uint64_t{1} << 40);  // beyond the horizon
  deadlines.push_back(3 * (std::uint64_t{1} << 36) + 12345);

  for (const auto deadline_tick : deadlines) {
    CAPTURE(deadline_tick);
    timer_wheel wheel(origin, tick);
    probe p;
    wheel.schedule_at(p.entry, at_tick(deadline_tick));
    wheel.advance(at_tick(deadline_tick - 1));
    CHECK(p.fired_at.empty());
    CHECK(p.entry.is_scheduled());
    wheel.advance(at_tick(deadline_tick));
    REQUIRE(p.fired_at.size() == 1);
    CHECK(p.fired_at[0] == at_tick(deadline_tick));
    CHECK_FALSE(p.entry.is_scheduled());
    CHECK(wheel.empty());
  }
}

TEST_CASE("a deadline fires when stepping tick by tick across cascades, exactly once") {
  timer_wheel wheel(origin, tick);
  probe near, mid, far;
  wheel.schedule_at(near.entry, at_tick(63));
  wheel.schedule_at(mid.entry, at_tick(64 * 3 + 5));
  wheel.schedule_at(far.entry, at_tick(4096 + 64 + 1));
  for (std::uint64_t t = 1; t <= 4096 + 64 + 1; ++t) {
    wheel.advance(at_tick(t));
    CHECK(near.fired_at.size() == (t >= 63 ? 1u : 0u));
    CHECK(mid.fired_at.size() == (t >= 64 * 3 + 5 ? 1u : 0u));
    CHECK(far.fired_at.size() == (t >= 4096 + 64 + 1 ? 1u : 0u));
  }
}

TEST_CASE("a deadline between ticks fires at the next tick, never early") {
  timer_wheel wheel(origin, tick);
  probe p;
  wheel.schedule_at(p.entry, at_tick(10) + 1ms);
  wheel.advance(at_tick(10) + 3ms);  // still tick 10: the deadline's tick is 11
  CHECK(p.fired_at.empty());
  wheel.advance(at_tick(11));
  CHECK(p.fired_at.size() == 1);
}

TEST_CASE("a deadline in the past fires on the next tick") {
  timer_wheel wheel(origin, tick);
  wheel.advance(at_tick(100));
  probe p;
  wheel.schedule_at(p.entry, at_tick(3));
  wheel.advance(at_tick(100));
  CHECK(p.fired_at.empty());
  wheel.advance(at_tick(101));
  CHECK(p.fired_at.size() == 1);
}

TEST_CASE("advancing to an earlier time does nothing") {
  timer_wheel wheel(origin, tick);
  probe p;
  wheel.schedule_at(p.entry, at_tick(20));
  wheel.advance(at_tick(10));
  wheel.advance(at_tick(5));
  CHECK(p.fired_at.empty());
  CHECK(wheel.current_time() == at_tick(10));
}

TEST_CASE("cancel before and after a cascade keeps the entry from firing") {
  for (const std::uint64_t cancel_at : {std::uint64_t{10}, std::uint64_t{4096}, std::uint64_t{4096 + 64}}) {
    CAPTURE(cancel_at);
    timer_wheel wheel(origin, tick);
    probe p, witness;
    wheel.schedule_at(p.entry, at_tick(4096 + 100));  // level 2 at first, cascades at 4096 and 4160
    wheel.schedule_at(witness.entry, at_tick(4096 + 101));
    wheel.advance(at_tick(cancel_at));
    wheel.cancel(p.entry);
    CHECK_FALSE(p.entry.is_scheduled());
    CHECK(wheel.size() == 1);
    wheel.advance(at_tick(5000));
    CHECK(p.fired_at.empty());
    CHECK(witness.fired_at.size() == 1);
  }
}

TEST_CASE("rescheduling moves a deadline earlier or later") {
  timer_wheel wheel(origin, tick);
  probe p;
  wheel.schedule_at(p.entry, at_tick(1000));
  wheel.schedule_at(p.entry, at_tick(50));
  CHECK(wheel.size() == 1);
  wheel.advance(at_tick(49));
  CHECK(p.fired_at.empty());
  wheel.advance(at_tick(50));
  CHECK(p.fired_at.size() == 1);

  wheel.schedule_at(p.entry, at_tick(60));
  wheel.schedule_at(p.entry, at_tick(70000));
  wheel.advance(at_tick(69999));
  CHECK(p.fired_at.size() == 1);
  wheel.advance(at_tick(70000));
  CHECK(p.fired_at.size() == 2);
}

TEST_CASE("cancelling an unscheduled entry does nothing") {
  timer_wheel wheel(origin, tick);
  probe p;
  wheel.cancel(p.entry);
  wheel.cancel(p.entry);
  CHECK(wheel.empty());
}

TEST_CASE("destroying a scheduled entry unlinks it") {
  timer_wheel wheel(origin, tick);
  probe kept;
  auto doomed = std::make_unique<probe>();
  wheel.schedule_at(doomed->entry, at_tick(5));
  wheel.schedule_at(kept.entry, at_tick(5));
  doomed.reset();
  CHECK(wheel.size() == 1);
  wheel.advance(at_tick(5));
  CHECK(kept.fired_at.size() == 1);
}

TEST_CASE("destroying the wheel leaves its entries valid and unscheduled") {
  probe p;
  {
    timer_wheel wheel(origin, tick);
    wheel.schedule_at(p.entry, at_tick(1u << 20));
  }
  CHECK_FALSE(p.entry.is_scheduled());
}

TEST_CASE("an entry can move from one wheel to another") {
  timer_wheel first(origin, tick), second(origin, tick);
  probe p;
  first.schedule_at(p.entry, at_tick(5));
  second.schedule_at(p.entry, at_tick(7));
  CHECK(first.empty());
  CHECK(second.size() == 1);
  first.advance(at_tick(10));
  CHECK(p.fired_at.empty());
  second.advance(at_tick(10));
  CHECK(p.fired_at.size() == 1);
}

TEST_SUITE("re-entrancy") {
  TEST_CASE("a callback may reschedule its own entry") {
    timer_wheel wheel(origin, tick);
    probe p;
    p.action = [&](time_point now) {
      if (p.fired_at.size() < 3) wheel.schedule_at(p.entry, now + 10 * tick);
    };
    wheel.schedule_at(p.entry, at_tick(10));
    wheel.advance(at_tick(100));
    // Rescheduled from inside advance(at_tick(100)) for tick 110, so it fires once here.
    CHECK(p.fired_at.size() == 1);
    wheel.advance(at_tick(110));
    CHECK(p.fired_at.size() == 2);
    wheel.advance(at_tick(120));
    CHECK(p.fired_at.size() == 3);
    CHECK(wheel.empty());
  }

  TEST_CASE("a callback may cancel another entry due in the same tick") {
    timer_wheel wheel(origin, tick);
    probe first, second;
    first.action = [&](time_point) { wheel.cancel(second.entry); };
    second.action = [&](time_point) { wheel.cancel(first.entry); };
    wheel.schedule_at(first.entry, at_tick(5));
    wheel.schedule_at(second.entry, at_tick(5));
    wheel.advance(at_tick(5));
    CHECK(first.fired_at.size() + second.fired_at.size() == 1);
    CHECK(wheel.empty());
  }

  TEST_CASE("a callback may destroy another entry's owner, and its own") {
    timer_wheel wheel(origin, tick);
    auto first = std::make_unique<probe>();
    auto second = std::make_unique<probe>();
    int calls = 0;
    first->action = [&](time_point) {
      ++calls;
      second.reset();
      first.reset();  // destroys the running callback's owner: the wheel must not touch it again
    };
    second->action = [&](time_point) { ++calls; };
    wheel.schedule_at(first->entry, at_tick(5));
    wheel.schedule_at(second->entry, at_tick(5));
    wheel.advance(at_tick(5));
    CHECK(calls == 1);
    CHECK(wheel.empty());
  }

  TEST_CASE("a callback may schedule new entries, near and far") {
    timer_wheel wheel(origin, tick);
    probe trigger, near, far;
    trigger.action = [&](time_point now) {
      wheel.schedule_at(near.entry, now);              // due now: next tick
      wheel.schedule_at(far.entry, now + 5000 * tick); // higher level
    };
    wheel.schedule_at(trigger.entry, at_tick(64));
    wheel.advance(at_tick(64));
    CHECK(near.fired_at.empty());
    wheel.advance(at_tick(65));
    CHECK(near.fired_at.size() == 1);
    wheel.advance(at_tick(64 + 4999));
    CHECK(far.fired_at.empty());
    wheel.advance(at_tick(64 + 5000));
    CHECK(far.fired_at.size() == 1);
  }
}

TEST_CASE("advance does bounded work and reports whether it finished") {
  timer_wheel wheel(origin, tick);
  std::vector<std::unique_ptr<probe>> probes;
  for (int i = 0; i < 10; ++i) {
    probes.push_back(std::make_unique<probe>());
    wheel.schedule_at(probes.back()->entry, at_tick(i < 6 ? 3 : 4));  // 6 due at tick 3, 4 at tick 4
  }
  auto result = wheel.advance(at_tick(10), 4);
  CHECK(result.fired == 4);
  CHECK_FALSE(result.finished);
  result = wheel.advance(at_tick(10), 4);
  CHECK(result.fired == 4);
  CHECK_FALSE(result.finished);
  // Tick order holds across calls: all six of tick 3 fired before any of tick 4.
  for (int i = 0; i < 6; ++i) CHECK(probes[static_cast<std::size_t>(i)]->fired_at.size() == 1);
  result = wheel.advance(at_tick(10), 4);
  CHECK(result.fired == 2);
  CHECK(result.finished);
  CHECK(wheel.empty());
}

TEST_CASE("next_wakeup is exact within level 0 and a lower bound beyond it") {
  timer_wheel wheel(origin, tick);
  CHECK(wheel.next_wakeup() == time_point::max());
  probe soon, later;
  wheel.schedule_at(later.entry, at_tick(1000));
  CHECK(wheel.next_wakeup() <= at_tick(1000));
  CHECK(wheel.next_wakeup() > at_tick(0));
  wheel.schedule_at(soon.entry, at_tick(17));
  CHECK(wheel.next_wakeup() == at_tick(17));
  wheel.advance(at_tick(17));
  // Following next_wakeup() from wakeup to wakeup reaches the far deadline exactly.
  while (later.fired_at.empty()) {
    const auto wake = wheel.next_wakeup();
    REQUIRE(wake <= at_tick(1000));
    wheel.advance(wake);
  }
  CHECK(later.fired_at[0] == at_tick(1000));
}

TEST_CASE("a tick that is not positive is rejected, naming the field") {
  CHECK_THROWS_WITH_AS(timer_wheel(origin, 0ms), "tick: must be positive", std::invalid_argument);
}
