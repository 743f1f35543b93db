// lifeline/timer_wheel.hpp — per-session deadlines in a hierarchical timing wheel.
//
// Why a wheel. A game server holds 10^4..10^5 sessions, each with a deadline that moves
// every time the peer is heard from. A binary heap (what asio::steady_timer uses) costs
// O(log n) per move plus a handler per cancel; a wheel costs O(1) to schedule, cancel or
// move an entry, whatever the number of sessions (bench/RESULTS.md has the figures).
//
// The algorithm (Varghese & Lauck's scheme 7, as in Linux's timer wheel): time is cut
// into ticks; level 0 has 64 slots of one tick each, level 1 has 64 slots of 64 ticks,
// and so on for `levels` levels (2^36 ticks: 8.7 years at the default 4 ms tick). An
// entry sits in the lowest level whose slot span holds its deadline; when the wheel's
// tick crosses into a higher-level slot, that slot's entries are re-placed lower
// ("cascade"), so each entry moves at most `levels` times in its life. Deadlines beyond
// the horizon wait in the top level and are re-placed each time round, never overflow.
// A bitmap of occupied slots per level lets advance() skip empty ticks.
//
// Precision: a deadline fires on the first advance() whose `now` has reached the tick
// at or after the deadline, so never early and at most one tick late, plus however late
// advance() itself is called.
//
// Entries are intrusive: a timer_entry lives inside its owner (the session), so
// scheduling never allocates, and destroying a scheduled entry unlinks it. The wheel
// never reads a clock: time is passed in, so tests drive it by hand.
//
//   struct session {
//     void on_deadline(lifeline::timer_wheel::time_point now);
//     lifeline::timer_entry deadline_ = lifeline::timer_entry::calling<&session::on_deadline>(this);
//   };
//   wheel.schedule_at(s.deadline_, last_heard + timeout);   // O(1), no allocation
//   wheel.advance(now);                                        // fires what is due
//
// Thread safety: a wheel and its entries belong to one thread (the owning shard's).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace lifeline {

class timer_wheel;

namespace detail {
/// A node of a circular doubly-linked list; each wheel slot's head is one.
struct timer_link {
  timer_link* prev = this;
  timer_link* next = this;
};
}  // namespace detail

/// A deadline owned by whoever embeds it. Not copyable or movable: the wheel links to it.
class timer_entry : private detail::timer_link {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  /// Called when the deadline is due, with the `now` given to advance(). The entry is
  /// already unscheduled; the callback may reschedule it, schedule or cancel any other
  /// entry, or destroy its owner (and with it this entry).
  using callback = void (*)(void* owner, time_point now);

  timer_entry(void* owner, callback on_expiry) noexcept : on_expiry_(on_expiry), owner_(owner) {}

  /// An entry that calls `(owner->*Handler)(now)`.
  template <auto Handler, class Owner>
  [[nodiscard]] static timer_entry calling(Owner* owner) noexcept {
    return timer_entry(owner, [](void* o, time_point now) { (static_cast<Owner*>(o)->*Handler)(now); });
  }

  timer_entry(const timer_entry&) = delete;
  timer_entry& operator=(const timer_entry&) = delete;
  ~timer_entry();

  [[nodiscard]] bool is_scheduled() const noexcept { return wheel_ != nullptr; }

 private:
  friend class timer_wheel;
  timer_wheel* wheel_ = nullptr;  // the wheel this entry is linked into, if any
  std::uint64_t tick_ = 0;        // the tick at which it fires
  callback on_expiry_;
  void* owner_;
};

class timer_wheel {
 public:
  using clock = std::chrono::steady_clock;  // the type only: the wheel never reads a clock
  using time_point = clock::time_point;
  using duration = clock::duration;

  static constexpr duration default_tick = std::chrono::milliseconds{4};
  static constexpr unsigned bits_per_level = 6;
  static constexpr unsigned slots_per_level = 1u << bits_per_level;
  static constexpr unsigned levels = 6;
  static constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

  /// `origin` is tick 0; deadlines before it fire on the first tick. Throws
  /// std::invalid_argument naming `tick` when it is not positive (start-up only).
  explicit timer_wheel(time_point origin, duration tick = default_tick);
  /// Unschedules every entry still linked (they stay valid, merely unscheduled).
  ~timer_wheel();
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  /// Schedules `entry` to fire at `deadline`, moving it if it is already scheduled (on
  /// this wheel or another). A deadline at or before the current tick fires on the next
  /// tick. O(1), never allocates. Safe inside a callback.
  void schedule_at(timer_entry& entry, time_point deadline) noexcept;

  /// Unschedules `entry`; does nothing if it is not scheduled. O(1). Safe inside a callback.
  void cancel(timer_entry& entry) noexcept;

  struct advance_result {
    std::size_t fired = 0;  ///< callbacks run by this call
    bool finished = true;   ///< false: `max_fired` was reached with more due; call again
  };

  /// Fires, in tick order, every entry due at or before `now`, at most `max_fired` of
  /// them, so a mass expiry can be spread over several loop turns. A `now` earlier than
  /// a previous one does nothing. If a callback throws, the exception propagates and the
  /// wheel stays consistent: the next advance() goes on where this one stopped.
  advance_result advance(time_point now, std::size_t max_fired = unlimited);

  /// The earliest time at which advance() may have something to do: the next expiry
  /// when it is within the current 64-tick block, else the next cascade (a lower bound);
  /// time_point::max() when nothing is scheduled. A shard sleeps until then.
  [[nodiscard]] time_point next_wakeup() const noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] duration tick() const noexcept { return tick_; }
  /// The start of the last tick advance() has reached.
  [[nodiscard]] time_point current_time() const noexcept { return time_of(current_tick_); }

 private:
  using slot_list = detail::timer_link;

  [[nodiscard]] std::uint64_t tick_at_or_after(time_point t) const noexcept;
  [[nodiscard]] std::uint64_t tick_at_or_before(time_point t) const noexcept;
  [[nodiscard]] time_point time_of(std::uint64_t tick) const noexcept { return origin_ + tick_ * static_cast<duration::rep>(tick); }
  void link(timer_entry& entry) noexcept;
  void unlink(timer_entry& entry) noexcept;
  void cascade(std::uint64_t tick) noexcept;
  [[nodiscard]] std::uint64_t next_busy_tick() const noexcept;
  bool fire_slot(unsigned slot, time_point now, std::size_t& fired, std::size_t max_fired);

  time_point origin_;
  duration tick_;
  std::uint64_t current_tick_ = 0;  // the last tick advance() has reached
  std::size_t size_ = 0;
  // A set bit means "this slot may hold entries"; bits are cleared lazily when a slot is
  // found empty, so cancel() stays a plain unlink.
  std::array<std::uint64_t, levels> occupied_{};
  std::array<std::array<slot_list, slots_per_level>, levels> slots_;
};

}  // namespace lifeline
