// What a shard knows of its own stalls, so that its peers are not blamed for them
// (private to core/; DESIGN.md §8).
//
// A shard that does not run cannot hear: a debugger, a page-fault storm, a game handler
// that blocks the thread, a VM paused for migration. Its peers keep beating into their
// socket buffers meanwhile, or, if the whole host froze, into the void until their TCP
// retransmits. When the loop runs again it must not convict them for the silence it could
// not watch, and the order in which the loop then handles its deadline timer and its
// sockets' reads must not matter.
//
// stall_record keeps the last few stalls, each noticed when the deadline timer finally
// runs: its lateness (how long after it was due: the part of a stall before the timer
// fell due held no deadline and needs no excuse), plus the time the host was frozen
// (CLOCK_BOOTTIME gaining on CLOCK_MONOTONIC, which stops while the host is suspended),
// when that exceeds the threshold. A session last heard at `since` is excused every
// stall that ended after `since`: its conviction moves later by that much. The frozen
// time is added although CLOCK_MONOTONIC never counted it as silence: it is deliberate
// grace, for the peers' TCP retransmission backoff, which kept their beats away for as
// long. A dead peer is still found within dead_after plus the stalls plus a tick (plus,
// after a mass stall, its place in the paced release). Asking costs one comparison when
// no stall ended since (the common case).
//
// release_pacer spreads the convictions a stall deferred: at most `per_second`, with a
// burst of 10 ms worth, so the game never gets thousands of closes in one tick.
//
//   if (stalls.note_wakeup(due, now, frozen)) ++stats.loop_stalls;
//   const auto deadline = last_heard + dead_after + stalls.excused_since(last_heard);
//   const auto when = pacer.reserve(now);   // now, or the first free slot after it
//
// Owning shard's thread only; time is passed in, never read here.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>

namespace lifeline::detail {

class stall_record {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;

  explicit stall_record(duration threshold) noexcept : threshold_(threshold) {}

  /// The deadline timer, due at `due`, runs at `now`; the host was frozen for `frozen`
  /// since the previous call. True when that makes a stall (longer than the threshold),
  /// which is then recorded as ending at `now`.
  bool note_wakeup(time_point due, time_point now, duration frozen) noexcept {
    const auto length = std::max(now - due, duration::zero()) + std::max(frozen, duration::zero());
    if (length <= threshold_) return false;
    recent_[next_] = {now, length};
    next_ = (next_ + 1) % recent_.size();
    last_ended_ = now;
    longest_ = std::max(longest_, length);
    return true;
  }

  /// The stalled time not to hold against a peer last heard at `since`: the length of
  /// every recorded stall that ended after it.
  [[nodiscard]] duration excused_since(time_point since) const noexcept {
    if (last_ended_ <= since) return duration::zero();
    duration excused{0};
    for (const auto& s : recent_)
      if (s.ended > since) excused += s.length;
    return excused;
  }

  [[nodiscard]] duration longest() const noexcept { return longest_; }

 private:
  struct stall {
    time_point ended = time_point::min();
    duration length{0};
  };
  duration threshold_;
  std::array<stall, 8> recent_{};  // older stalls fall out; evidence in the socket still guards
  std::size_t next_ = 0;
  time_point last_ended_ = time_point::min();
  duration longest_{0};
};

class release_pacer {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;

  explicit release_pacer(std::size_t per_second) noexcept
      : interval_(std::chrono::duration_cast<duration>(std::chrono::seconds{1}) / static_cast<long>(per_second)),
        early_(std::max<duration>(std::chrono::milliseconds{10}, interval_) - interval_) {}

  /// When a release asked for at `now` may happen: `now` while within the rate, else the
  /// first free slot, which is then the caller's. Slots are `interval` apart and may be
  /// used up to `early_` before their time, which lets 10 ms worth go at once.
  [[nodiscard]] time_point reserve(time_point now) noexcept {
    const auto slot = std::max(next_slot_, now);  // an idle schedule starts again at now
    next_slot_ = slot + interval_;
    return std::max(now, slot - early_);
  }

 private:
  duration interval_;
  duration early_;
  time_point next_slot_ = time_point::min();
};

}  // namespace lifeline::detail
