#include <lifeline/timer_wheel.hpp>

#include <bit>
#include <cassert>
#include <stdexcept>

namespace lifeline {
namespace {

constexpr std::uint64_t slot_mask = timer_wheel::slots_per_level - 1;

constexpr unsigned slot_of(std::uint64_t tick, unsigned level) noexcept {
  return static_cast<unsigned>((tick >> (level * timer_wheel::bits_per_level)) & slot_mask);
}

// Moves every entry of `from` onto the empty list `to`, leaving `from` empty.
void splice_all(detail::timer_link& from, detail::timer_link& to) noexcept {
  if (from.next == &from) return;
  to.next = from.next;
  to.prev = from.prev;
  to.next->prev = &to;
  to.prev->next = &to;
  from.next = from.prev = &from;
}

}  // namespace

timer_entry::~timer_entry() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

timer_wheel::timer_wheel(time_point origin, duration tick) : origin_(origin), tick_(tick) {
  if (tick <= duration::zero()) throw std::invalid_argument("tick: must be positive");
}

timer_wheel::~timer_wheel() {
  for (auto& level : slots_) {
    for (auto& head : level) {
      for (auto* node = head.next; node != &head;) {
        auto* next = node->next;
        auto& entry = static_cast<timer_entry&>(*node);
        entry.wheel_ = nullptr;
        entry.prev = entry.next = &entry;
        node = next;
      }
    }
  }
}

std::uint64_t timer_wheel::tick_at_or_after(time_point t) const noexcept {
  if (t <= origin_) return 0;
  const auto since = t - origin_;
  return static_cast<std::uint64_t>((since + tick_ - duration{1}) / tick_);
}

std::uint64_t timer_wheel::tick_at_or_before(time_point t) const noexcept {
  if (t <= origin_) return 0;
  return static_cast<std::uint64_t>((t - origin_) / tick_);
}

void timer_wheel::schedule_at(timer_entry& entry, time_point deadline) noexcept {
  if (entry.wheel_ != nullptr) entry.wheel_->unlink(entry);
  const auto tick = tick_at_or_after(deadline);
  entry.tick_ = tick > current_tick_ ? tick : current_tick_ + 1;
  link(entry);
}

void timer_wheel::cancel(timer_entry& entry) noexcept {
  if (entry.wheel_ == nullptr) return;
  assert(entry.wheel_ == this && "cancel() on a wheel the entry is not scheduled on");
  entry.wheel_->unlink(entry);
}

// Places an entry due at entry.tick_ >= current_tick_ in the lowest level whose current
// span holds it: the level of the highest bit in which its tick and the current tick
// differ. Within that level its slot is reached no earlier than its tick.
void timer_wheel::link(timer_entry& entry) noexcept {
  constexpr unsigned top = levels - 1;
  constexpr unsigned top_shift = top * bits_per_level;
  const std::uint64_t differing = entry.tick_ ^ current_tick_;
  unsigned level = differing == 0 ? 0 : static_cast<unsigned>(std::bit_width(differing) - 1) / bits_per_level;
  unsigned slot;
  if (level < levels) {
    slot = slot_of(entry.tick_, level);
  } else {
    // The top level is a ring: a tick less than one revolution of top-level slots ahead
    // takes its own slot, reached after the ring wraps. One further ahead waits in the
    // current slot, reached again after a whole revolution, and is re-placed from there.
    level = top;
    const bool within_one_revolution = (entry.tick_ >> top_shift) - (current_tick_ >> top_shift) < slots_per_level;
    slot = slot_of(within_one_revolution ? entry.tick_ : current_tick_, top);
  }
  auto& head = slots_[level][slot];
  entry.prev = head.prev;
  entry.next = &head;
  head.prev->next = &entry;
  head.prev = &entry;
  occupied_[level] |= std::uint64_t{1} << slot;
  entry.wheel_ = this;
  ++size_;
}

void timer_wheel::unlink(timer_entry& entry) noexcept {
  entry.prev->next = entry.next;
  entry.next->prev = entry.prev;
  entry.prev = entry.next = &entry;
  entry.wheel_ = nullptr;
  --size_;
}

// At a tick whose low digits are zero, the wheel enters new slots of the higher levels:
// re-place their entries, highest level first, so an entry can fall through several
// levels in one tick.
void timer_wheel::cascade(std::uint64_t tick) noexcept {
  unsigned top = 0;
  while (top + 1 < levels && slot_of(tick, top) == 0) ++top;
  for (unsigned level = top; level >= 1; --level) {
    const unsigned slot = slot_of(tick, level);
    if ((occupied_[level] >> slot & 1u) == 0) continue;
    occupied_[level] &= ~(std::uint64_t{1} << slot);
    slot_list moving;
    splice_all(slots_[level][slot], moving);
    while (moving.next != &moving) {
      auto& entry = static_cast<timer_entry&>(*moving.next);
      unlink(entry);
      link(entry);
    }
  }
}

// Fires the entries of a level-0 slot, all due at current_tick_. Each is unlinked before
// its callback runs, so the callback may do anything to any entry.
bool timer_wheel::fire_slot(unsigned slot, time_point now, std::size_t& fired, std::size_t max_fired) {
  auto& head = slots_[0][slot];
  while (head.next != &head) {
    if (fired >= max_fired) return false;
    auto& entry = static_cast<timer_entry&>(*head.next);
    unlink(entry);
    ++fired;
    entry.on_expiry_(entry.owner_, now);
  }
  occupied_[0] &= ~(std::uint64_t{1} << slot);
  return true;
}

// The first tick after current_tick_ at which advance() has work: the next occupied
// level-0 slot of this block, else the first tick at which an occupied higher-level slot
// cascades, else the next top-level slot (entries beyond the horizon wait there).
std::uint64_t timer_wheel::next_busy_tick() const noexcept {
  for (unsigned level = 0; level < levels; ++level) {
    const unsigned position = slot_of(current_tick_, level);
    const std::uint64_t ahead = position == slot_mask ? 0 : occupied_[level] >> (position + 1) << (position + 1);
    if (ahead != 0) {
      const unsigned shift = level * bits_per_level;
      const std::uint64_t block = current_tick_ >> (shift + bits_per_level) << (shift + bits_per_level);
      return block | (static_cast<std::uint64_t>(std::countr_zero(ahead)) << shift);
    }
  }
  constexpr unsigned top_shift = (levels - 1) * bits_per_level;
  return ((current_tick_ >> top_shift) + 1) << top_shift;
}

timer_wheel::advance_result timer_wheel::advance(time_point now, std::size_t max_fired) {
  advance_result result;
  const std::uint64_t target = tick_at_or_before(now);
  // Entries left in the current tick's slot by an earlier call that hit max_fired.
  if (!fire_slot(slot_of(current_tick_, 0), now, result.fired, max_fired)) {
    result.finished = false;
    return result;
  }
  while (current_tick_ < target) {
    const std::uint64_t next = size_ == 0 ? target + 1 : next_busy_tick();
    if (next > target) {
      current_tick_ = target;  // nothing happens in between: skip the empty ticks
      break;
    }
    current_tick_ = next;
    if (slot_of(next, 0) == 0) cascade(next);
    if (!fire_slot(slot_of(next, 0), now, result.fired, max_fired)) {
      result.finished = false;
      return result;
    }
  }
  return result;
}

timer_wheel::time_point timer_wheel::next_wakeup() const noexcept {
  if (size_ == 0) return time_point::max();
  const auto& current_slot = slots_[0][slot_of(current_tick_, 0)];
  if (current_slot.next != &current_slot) return time_of(current_tick_);
  return time_of(next_busy_tick());
}

}  // namespace lifeline
