// Which slot, and which generation, a shard's next session gets (private to core/).
//
// A stale session id must never reach a later session. The id names a slot and the
// slot's generation at the time (session_id.hpp); what makes a reissue practically
// impossible is how slots come back: first-in-first-out, from `reserve` more slots than
// sessions may live at once, so a freed slot waits behind about `reserve` others before it
// is used again (fewer only by the sessions closed and not yet reclaimed, within a loop
// turn), and its 32-bit generation advances by one per use. (Last-in-first-out reuse, as before,
// handed one slot back for every close under churn: 459,834 generations in 300 s.)
//
//   session_slots slots(/*shard*/ 0, /*usable*/ 10'000);
//   if (auto id = slots.acquire()) { ... sessions_[id->slot()] ... }
//   slots.release(id);   // when the session is reclaimed
//
// Owning shard's thread only. Sized once: capacity() slots, never more.
#pragma once

#include <lifeline/session_id.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lifeline::detail {

class session_slots {
 public:
  static constexpr std::size_t reserve = 1024;  ///< slots always free, so reuse waits behind them

  /// `usable`: sessions this shard may hold at once (1 .. 2^24 − reserve).
  session_slots(unsigned shard, std::size_t usable)
      : shard_(shard), usable_(usable), generations_(usable + reserve, 1), free_(usable + reserve) {
    if (usable == 0 || usable + reserve > std::size_t{session_id::max_slot} + 1)
      throw std::invalid_argument("max_sessions: at most " + std::to_string(session_id::max_slot + 1 - reserve) +
                                  " per worker thread");
    for (std::size_t i = 0; i < free_.size(); ++i) free_[i] = static_cast<std::uint32_t>(i);
    free_count_ = free_.size();
  }

  [[nodiscard]] std::size_t capacity() const noexcept { return free_.size(); }
  /// Slots not free: live sessions and closed ones not yet reclaimed.
  [[nodiscard]] std::size_t in_use() const noexcept { return free_.size() - free_count_; }

  /// The id for a new session, or nullopt when `usable` live sessions are already held.
  [[nodiscard]] std::optional<session_id> acquire() noexcept {
    if (live_ >= usable_ || free_count_ == 0) return std::nullopt;
    const auto slot = free_[head_];
    head_ = (head_ + 1) % free_.size();
    --free_count_;
    ++live_;
    return session_id::make(shard_, generations_[slot], slot);
  }

  /// The session named `id` has closed: it no longer counts against `usable`, though its
  /// slot stays taken until release() (its handlers may still hold it).
  void retire(session_id) noexcept {
    if (live_ > 0) --live_;
  }

  /// The session named `id` is gone: its slot goes to the back of the queue, with the
  /// generation its next occupant will carry.
  void release(session_id id) noexcept {
    const auto slot = id.slot();
    auto& generation = generations_[slot];
    generation = generation == UINT32_MAX ? 1 : generation + 1;  // never 0, so no id is 0
    free_[(head_ + free_count_) % free_.size()] = slot;
    ++free_count_;
  }

 private:
  unsigned shard_;
  std::size_t usable_;
  std::vector<std::uint32_t> generations_;  // of each slot's current or next occupant
  std::vector<std::uint32_t> free_;         // a ring: free_count_ slots from head_
  std::size_t head_ = 0;
  std::size_t free_count_ = 0;
  std::size_t live_ = 0;  // acquired and not retired
};

}  // namespace lifeline::detail
