// lifeline/session_id.hpp — the name of one session, valid for that session's life only.
//
// 64 bits: shard (8) | generation (24) | slot (32). The slot locates the session in its
// shard's slab; the generation changes each time the slot is reused, so an id kept after
// its session closed is recognised as stale and never reaches the slot's next occupant.
// Id 0 is never issued.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace lifeline {

struct session_id {
  std::uint64_t value = 0;

  [[nodiscard]] static constexpr session_id make(std::uint32_t shard, std::uint32_t generation, std::uint32_t slot) noexcept {
    return {(std::uint64_t{shard & 0xFFu} << 56) | (std::uint64_t{generation & 0xFFFFFFu} << 32) | slot};
  }
  [[nodiscard]] constexpr std::uint32_t shard() const noexcept { return static_cast<std::uint32_t>(value >> 56); }
  [[nodiscard]] constexpr std::uint32_t generation() const noexcept {
    return static_cast<std::uint32_t>(value >> 32) & 0xFFFFFFu;
  }
  [[nodiscard]] constexpr std::uint32_t slot() const noexcept { return static_cast<std::uint32_t>(value); }
  [[nodiscard]] constexpr explicit operator bool() const noexcept { return value != 0; }
  friend constexpr auto operator<=>(session_id, session_id) = default;
};

}  // namespace lifeline

template <>
struct std::hash<lifeline::session_id> {
  std::size_t operator()(lifeline::session_id id) const noexcept { return std::hash<std::uint64_t>{}(id.value); }
};
