// lifeline/session_id.hpp — the name of one session, valid for that session's life only.
//
// 64 bits: shard (8) | generation (32) | slot (24). The slot locates the session in its
// shard's slab; the generation changes each time the slot is reused, so an id kept after
// its session closed is recognised as stale and never reaches the slot's next occupant.
// Id 0 is never issued.
//
// How long an id stays unique. A shard reuses its slots first-in-first-out and has 1,024
// more of them than sessions may live at once (session_slots::reserve), so a slot comes back
// into use only after about 1,024 other sessions of its shard have opened since it was
// freed (fewer only by those closed and not yet reclaimed, within a loop turn); each reuse
// advances its 32-bit generation. The same id can therefore be issued again only after
// 2^32 × 1,024 ≈ 4.4 × 10^12 sessions on one shard: 1.4 years at 100,000 new sessions a
// second on every shard, 91,000 years at the 1,533 a second one slot saw in a 300 s churn run with
// the old last-in-first-out reuse (whose 24-bit generation wrapped in about 3 hours). A
// stale id would also have to be kept that long and used at the one moment it matches.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace lifeline {

struct session_id {
  std::uint64_t value = 0;

  static constexpr std::uint32_t max_slot = 0xFFFFFFu;  ///< 2^24 − 1: slots per shard

  [[nodiscard]] static constexpr session_id make(std::uint32_t shard, std::uint32_t generation, std::uint32_t slot) noexcept {
    return {(std::uint64_t{shard & 0xFFu} << 56) | (std::uint64_t{generation} << 24) | (slot & max_slot)};
  }
  [[nodiscard]] constexpr std::uint32_t shard() const noexcept { return static_cast<std::uint32_t>(value >> 56); }
  [[nodiscard]] constexpr std::uint32_t generation() const noexcept {
    return static_cast<std::uint32_t>(value >> 24);
  }
  [[nodiscard]] constexpr std::uint32_t slot() const noexcept { return static_cast<std::uint32_t>(value) & max_slot; }
  [[nodiscard]] constexpr explicit operator bool() const noexcept { return value != 0; }
  friend constexpr auto operator<=>(session_id, session_id) = default;
};

}  // namespace lifeline

template <>
struct std::hash<lifeline::session_id> {
  std::size_t operator()(lifeline::session_id id) const noexcept { return std::hash<std::uint64_t>{}(id.value); }
};
