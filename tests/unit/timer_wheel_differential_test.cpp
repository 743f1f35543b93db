// lifeline::timer_wheel against a reference model (a std::multimap ordered by tick) over
// a million random operations: schedules near, far and beyond the horizon, reschedules,
// cancels, and advances by small and huge steps, some with a firing budget. After every
// advance the wheel must have fired exactly what the model says is due, in tick order.
#include <lifeline/timer_wheel.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <vector>

using namespace std::chrono_literals;
using lifeline::timer_entry;
using lifeline::timer_wheel;

namespace {

struct item {
  int id = 0;
  std::vector<int>* fired = nullptr;
  void on_expiry(timer_wheel::time_point) { fired->push_back(id); }
  timer_entry entry = timer_entry::calling<&item::on_expiry>(this);
};

class reference_model {
 public:
  void schedule(int id, std::uint64_t tick) {
    cancel(id);
    where_[id] = due_.emplace(tick, id);
  }
  void cancel(int id) {
    if (auto it = where_.find(id); it != where_.end()) {
      due_.erase(it->second);
      where_.erase(it);
    }
  }
  // Removes and returns the tick of `id`, which the wheel just fired.
  std::uint64_t take(int id) {
    auto it = where_.find(id);
    REQUIRE(it != where_.end());
    const auto tick = it->second->first;
    due_.erase(it->second);
    where_.erase(it);
    return tick;
  }
  [[nodiscard]] std::size_t size() const { return due_.size(); }
  [[nodiscard]] bool any_due_by(std::uint64_t tick) const { return !due_.empty() && due_.begin()->first <= tick; }
  [[nodiscard]] std::uint64_t earliest() const { return due_.begin()->first; }

 private:
  std::multimap<std::uint64_t, int> due_;
  std::map<int, std::multimap<std::uint64_t, int>::iterator> where_;
};

}  // namespace

TEST_CASE("the wheel fires exactly what a reference model says, over a million random operations") {
  constexpr auto tick = 1ms;
  constexpr int pool_size = 2000;
  constexpr int operations = 1'000'000;
  const timer_wheel::time_point origin{};
  std::mt19937_64 random(20261122);  // fixed seed: a failure reproduces

  timer_wheel wheel(origin, tick);
  reference_model model;
  std::vector<int> fired;
  std::vector<std::unique_ptr<item>> items;
  for (int id = 0; id < pool_size; ++id) {
    items.push_back(std::make_unique<item>());
    items.back()->id = id;
    items.back()->fired = &fired;
  }

  std::uint64_t current = 0;  // the model's idea of the wheel's current tick
  auto now = origin;
  const auto pick = [&] { return static_cast<int>(random() % pool_size); };
  const auto uniform = [&](std::uint64_t bound) { return random() % bound; };

  std::size_t total_fired = 0;
  for (int op = 0; op < operations; ++op) {
    const auto dice = uniform(100);
    if (dice < 45) {
      // Schedule or reschedule: mostly near (a session's timeout), some far, a few in the
      // past or beyond the wheel's 2^36-tick horizon.
      const auto kind = uniform(100);
      std::int64_t offset_ns;
      if (kind < 60) offset_ns = static_cast<std::int64_t>(uniform(5'000'000'000));             // < 5 s
      else if (kind < 85) offset_ns = static_cast<std::int64_t>(uniform(600'000'000'000));      // < 10 min
      else if (kind < 95) offset_ns = -static_cast<std::int64_t>(uniform(1'000'000'000));       // past
      else offset_ns = static_cast<std::int64_t>(uniform(std::uint64_t{1} << 57));              // > horizon too
      const auto deadline = now + std::chrono::nanoseconds{offset_ns};
      const auto id = pick();
      wheel.schedule_at(items[static_cast<std::size_t>(id)]->entry, deadline);
      const auto since = deadline - origin;
      std::uint64_t deadline_tick = since <= 0ns ? 0 : static_cast<std::uint64_t>((since + tick - 1ns) / tick);
      model.schedule(id, std::max(deadline_tick, current + 1));
    } else if (dice < 60) {
      const auto id = pick();
      wheel.cancel(items[static_cast<std::size_t>(id)]->entry);
      model.cancel(id);
    } else {
      const auto kind = uniform(1000);
      std::uint64_t step_ns;
      if (kind < 900) step_ns = uniform(10'000'000);             // < 10 ticks
      else if (kind < 995) step_ns = uniform(5'000'000'000);     // < 5000 ticks
      else step_ns = uniform(std::uint64_t{1} << 50);            // up to 13 days
      now += std::chrono::nanoseconds{step_ns};
      const auto target = static_cast<std::uint64_t>((now - origin) / tick);
      const std::size_t budget = uniform(10) == 0 ? 1 + uniform(5) : timer_wheel::unlimited;

      std::uint64_t last_fired_tick = 0;
      for (;;) {
        fired.clear();
        const auto result = wheel.advance(now, budget);
        REQUIRE(result.fired == fired.size());
        for (const int id : fired) {
          const auto fired_tick = model.take(id);
          REQUIRE(fired_tick <= target);           // never early
          REQUIRE(fired_tick >= last_fired_tick);  // tick order, also across budgeted calls
          last_fired_tick = fired_tick;
        }
        total_fired += fired.size();
        if (result.finished) break;
        REQUIRE(fired.size() == budget);
      }
      if (model.any_due_by(target)) FAIL("op " << op << " target " << target << " earliest " << model.earliest() << " current " << current << " step " << step_ns);  // nothing due was left behind
      current = std::max(current, target);
    }
    REQUIRE(wheel.size() == model.size());
  }
  CHECK(total_fired > 100'000);  // the run exercised firing, not only scheduling
}
