// lifeline/frame_encoder.hpp — turns frames into length-prefixed FlatBuffers bytes.
//
// One encoder per shard (or per connector), reused for every frame it sends: its builder
// keeps its buffer between calls, so encoding a heartbeat allocates nothing after the
// first. The bytes returned stay valid until the next encode() on the same encoder.
//
//   lifeline::frame_encoder encoder;
//   std::error_code ec;
//   auto bytes = encoder.encode(lifeline::data_frame{payload}, ec);
//   if (!ec) socket_write(bytes);
#pragma once

#include <lifeline/frame.hpp>
#include <lifeline/frame_error.hpp>

#include <cstddef>
#include <memory>
#include <span>
#include <system_error>

namespace lifeline {

class frame_encoder {
 public:
  /// `max_frame_size` bounds what encode() produces (length prefix excluded), so a peer
  /// with the same limit never rejects our frames. Throws std::invalid_argument naming the
  /// field when it is 0 or above max_frame_size_ceiling (start-up only).
  explicit frame_encoder(std::size_t max_frame_size = default_max_frame_size);
  ~frame_encoder();
  frame_encoder(frame_encoder&&) noexcept;
  frame_encoder& operator=(frame_encoder&&) noexcept;
  frame_encoder(const frame_encoder&) = delete;
  frame_encoder& operator=(const frame_encoder&) = delete;

  /// The length-prefixed bytes of `f`, valid until the next call. On failure (the frame
  /// would exceed the maximum: frame_error::frame_too_large) returns an empty span and
  /// sets `ec`. One thread at a time.
  [[nodiscard]] std::span<const std::byte> encode(const frame& f, std::error_code& ec);

  [[nodiscard]] std::size_t max_frame_size() const noexcept;

 private:
  struct state;  // the FlatBuffers builder, kept out of this header
  std::unique_ptr<state> state_;
  std::size_t max_frame_size_;
};

}  // namespace lifeline
