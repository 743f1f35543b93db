// The data frames a session has sent and its peer has not yet acknowledged (private to
// core/), kept so that a resume can send them again (DESIGN.md §10).
//
// Data frames are numbered by their order in the session: 1, 2, ... across every transport
// it has had. TCP delivers them in order, so the number is implicit: the receiver counts,
// acknowledges its count (on beats and data, cumulative), and on resume says how many it
// has; the sender replays from the next. The frames are kept as encoded, one after the
// other in one buffer (one copy per message sent, none per replay). An acknowledgement
// they carry may be stale by the time they are replayed: acks only ever move forward, so
// the receiver takes the larger.
//
// Bounded: past `limit` bytes the oldest frames are dropped, acknowledged or not. A resume
// that needs one of those resumes with state_lost.
//
//   replay.keep(++sent, encoded_frame);   // each data frame sent
//   replay.acknowledge(peer_ack);         // each ack heard
//   replay.for_each_after(peer_received, [&](auto bytes) { queue(bytes); });  // on resume
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lifeline::detail {

/// a comes after b, in sequence numbers that wrap at 2^32 (fewer than 2^31 apart).
[[nodiscard]] constexpr bool after(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) > 0;
}

class replay_buffer {
 public:
  explicit replay_buffer(std::size_t limit) noexcept : limit_(limit) {}

  /// Keeps data frame number `seq` (the next after the last kept), dropping the oldest
  /// past the limit.
  void keep(std::uint32_t seq, std::span<const std::byte> frame) {
    if (empty()) first_ = seq;
    bytes_.insert(bytes_.end(), frame.begin(), frame.end());
    sizes_.push_back(static_cast<std::uint32_t>(frame.size()));
    while (bytes_.size() - head_ > limit_ && !empty()) drop_oldest();
    next_ = seq + 1;
    compact();
  }

  /// The peer has received every frame up to and including `upto`.
  void acknowledge(std::uint32_t upto) {
    while (!empty() && !after(first_, upto)) drop_oldest();
    compact();
  }

  /// The oldest frame this buffer can still send again (the next one to be sent when it is empty).
  [[nodiscard]] std::uint32_t first() const noexcept { return empty() ? next_ : first_; }
  [[nodiscard]] bool empty() const noexcept { return size_head_ == sizes_.size(); }
  /// Whether every frame after `received` is still here (so a peer that has `received` loses nothing).
  [[nodiscard]] bool holds_all_after(std::uint32_t received) const noexcept { return !after(first(), received + 1); }

  /// Calls f(bytes) for each kept frame after `received`, oldest first; returns how many.
  template <class F>
  std::uint32_t for_each_after(std::uint32_t received, F&& f) const {
    std::uint32_t seq = first_;
    std::size_t at = head_;
    std::uint32_t sent = 0;
    for (std::size_t i = size_head_; i < sizes_.size(); ++i) {
      const auto size = sizes_[i];
      if (after(seq, received)) {
        f(std::span<const std::byte>(bytes_.data() + at, size));
        ++sent;
      }
      at += size;
      ++seq;
    }
    return sent;
  }

  /// Memory held (its share of the session's buffer_budget account).
  [[nodiscard]] std::size_t bytes_held() const noexcept { return bytes_.capacity() + sizes_.capacity() * sizeof(std::uint32_t); }

 private:
  void drop_oldest() {
    head_ += sizes_[size_head_++];
    ++first_;
  }
  // The acknowledged prefix is given back once it is half the buffer, and all of it when
  // nothing is left (an idle session holds nothing).
  void compact() {
    if (empty()) {
      std::vector<std::byte>().swap(bytes_);
      std::vector<std::uint32_t>().swap(sizes_);
      head_ = 0;
      size_head_ = 0;
    } else if (head_ > 0 && head_ >= bytes_.size() / 2) {
      bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
      sizes_.erase(sizes_.begin(), sizes_.begin() + static_cast<std::ptrdiff_t>(size_head_));
      head_ = 0;
      size_head_ = 0;
    }
  }

  std::size_t limit_;
  std::vector<std::byte> bytes_;   // [head_, size) the kept frames, oldest first
  std::size_t head_ = 0;
  std::vector<std::uint32_t> sizes_;  // [size_head_, size) the kept frames' sizes
  std::size_t size_head_ = 0;
  std::uint32_t first_ = 1;        // number of the oldest kept frame
  std::uint32_t next_ = 1;         // number the next frame kept will have
};

}  // namespace lifeline::detail
