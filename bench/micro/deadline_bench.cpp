// Deadline structures under a game server's workload, at 10^3..10^6 sessions, all on one
// simulated clock (the strategies are in deadline_strategies.hpp):
//   schedule_cancel   a session opens and closes at once, beside N pending deadlines
//   touch_and_expire  every session is heard once per second (H = 1 s) and dies after
//                     T = 3 s of silence; 0.1% of touches make their session go silent
//                     instead, and a dead session is replaced by a fresh one. Time
//                     advances in 4 ms loop turns. Reported per touch, all upkeep included.
//   touch_and_expire_30hz  the same with every session heard 30 times a second, as an
//                     active player's game messages would be (at 10^4 and 10^5 only)
//   expire            N deadlines spread over T; each turn fires the ~N*4ms/T now due and
//                     re-arms them (a steady churn of expiries). Reported per expiry.
#include "deadline_strategies.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace lifeline::bench {
namespace {

constexpr duration timeout = 3s;
constexpr duration heartbeat_interval = 1s;  // an idle session is heard once per interval
constexpr duration loop_turn = 4ms;
constexpr std::size_t spare_sessions = 64;  // sessions opened and closed by schedule_cancel
const time_point start{std::chrono::hours{1}};

std::size_t sessions_of(const benchmark::State& state) { return static_cast<std::size_t>(state.range(0)); }

// Arms sessions [0, n) with last-heard times spread evenly over `spread` before `now`.
template <class Strategy>
void arm_spread(Strategy& strategy, std::size_t n, time_point now, duration spread) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto heard_at = now - spread + spread * static_cast<duration::rep>(i) / static_cast<duration::rep>(n);
    simulated_clock::set(heard_at);
    strategy.arm(i, heard_at);
  }
}

template <class Strategy>
void schedule_cancel(benchmark::State& state) {
  const auto n = sessions_of(state);
  Strategy strategy(n + spare_sessions, timeout, start - timeout);
  arm_spread(strategy, n, start, timeout);
  dead_list dead;
  auto now = start;
  std::size_t spare = 0;
  for (auto _ : state) {
    const auto i = n + spare;
    strategy.arm(i, now);
    strategy.cancel(i);
    if (++spare == spare_sessions) {
      spare = 0;
      now += 1us;
      strategy.advance(now, dead);  // lets Asio run the cancelled waits' handlers
    }
  }
  benchmark::DoNotOptimize(dead.data());
  state.SetItemsProcessed(state.iterations());
}

template <class Strategy>
void touch_and_expire(benchmark::State& state, duration heard_every) {
  const auto n = sessions_of(state);
  Strategy strategy(n, timeout, start - heard_every);
  arm_spread(strategy, n, start, heard_every);
  std::vector<bool> silent(n, false);
  const auto touches_per_turn = std::max<std::size_t>(1, n * static_cast<std::size_t>(loop_turn / 1us) /
                                                               static_cast<std::size_t>(heard_every / 1us));
  dead_list dead;
  auto now = start;
  std::size_t next = 0, touches = 0, deaths = 0, expiries = 0;
  const auto turn = [&] {
    now += loop_turn;
    for (std::size_t k = 0; k < touches_per_turn; ++k) {
      const auto i = next;
      next = next + 1 == n ? 0 : next + 1;
      if (silent[i]) continue;
      if (++touches % 1000 == 0) {
        silent[i] = true;  // this peer vanished
        continue;
      }
      strategy.heard(i, now);
    }
    dead.clear();
    expiries += strategy.advance(now, dead);
    for (const auto i : dead) {  // a new player takes the slot
      silent[i] = false;
      strategy.arm(i, now);
    }
    deaths += dead.size();
  };
  // Warm up for one timeout and one heartbeat interval of simulated time, untimed, so
  // every strategy is measured in its steady state (deadlines re-armed, deaths flowing).
  for (auto t = start; now < t + timeout + heard_every;) turn();
  touches = deaths = expiries = 0;
  for (auto _ : state) turn();
  state.SetItemsProcessed(static_cast<std::int64_t>(touches));
  state.counters["deaths"] = static_cast<double>(deaths);
  state.counters["expiries_per_touch"] = touches ? static_cast<double>(expiries) / static_cast<double>(touches) : 0;
}

template <class Strategy>
void expire(benchmark::State& state) {
  const auto n = sessions_of(state);
  Strategy strategy(n, timeout, start - timeout);
  arm_spread(strategy, n, start, timeout);
  dead_list dead;
  auto now = start;
  std::size_t expired = 0;
  const auto turn = [&] {
    now += loop_turn;
    dead.clear();
    strategy.advance(now, dead);
    for (const auto i : dead) strategy.arm(i, now);
    expired += dead.size();
  };
  for (auto t = start; now < t + timeout;) turn();  // untimed warm-up: one full churn
  expired = 0;
  for (auto _ : state) turn();
  state.SetItemsProcessed(static_cast<std::int64_t>(expired));
}

// What one loop turn costs Asio's reactor when a timer is due: the floor under every
// asio_timer figure per turn, paid as well by a shard that wakes to advance its wheel.
void asio_reactor_turn(benchmark::State& state) {
  asio_timer strategy(1, timeout, start);
  dead_list dead;
  auto now = start;
  strategy.arm(0, now);
  for (auto _ : state) {
    now += timeout;
    dead.clear();
    strategy.advance(now, dead);
    strategy.arm(0, now);
  }
  state.SetItemsProcessed(state.iterations());
}

template <class Strategy>
void register_strategy() {
  const std::string name = Strategy::name;
  const auto sizes = [](benchmark::internal::Benchmark* b) {
    for (std::int64_t n : {1'000, 10'000, 100'000, 1'000'000}) b->Arg(n);
    b->Unit(benchmark::kNanosecond);
  };
  sizes(benchmark::RegisterBenchmark(("schedule_cancel/" + name).c_str(), schedule_cancel<Strategy>));
  sizes(benchmark::RegisterBenchmark(("touch_and_expire/" + name).c_str(), touch_and_expire<Strategy>, heartbeat_interval));
  benchmark::RegisterBenchmark(("touch_and_expire_30hz/" + name).c_str(), touch_and_expire<Strategy>, heartbeat_interval / 30)
      ->Arg(10'000)
      ->Arg(100'000);
  sizes(benchmark::RegisterBenchmark(("expire/" + name).c_str(), expire<Strategy>));
}

}  // namespace

void register_deadline_benchmarks() {
  benchmark::RegisterBenchmark("reactor_turn/asio_poll", asio_reactor_turn);
  register_strategy<wheel_lazy>();
  register_strategy<wheel_eager>();
  register_strategy<heap>();
  register_strategy<asio_timer>();
  register_strategy<list>();
}

}  // namespace lifeline::bench
