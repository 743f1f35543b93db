// lifeline/frame_decoder.hpp — streaming, verifying decoder of length-prefixed frames.
//
// Bytes arrive from TCP in arbitrary chunks: one byte at a time, or many frames in one
// read. The decoder yields a frame only once all of its bytes are there and
// flatbuffers::Verifier (depth and table limits set) has accepted them. Every byte the
// peer sends is hostile until then:
//   - the length prefix is checked against the maximum frame size before a single byte of
//     the body is buffered, so a peer cannot make us reserve memory by claiming a length;
//   - a frame wholly inside the caller's chunk is decoded in place (zero copy); only an
//     incomplete frame's bytes that have actually arrived are kept, so an idle session's
//     decoder holds no buffer at all; a large one waits in pages of its own, committed as
//     bytes arrive and returned to the system when it is done (detail/frame_body.hpp);
//   - errors are std::error_code values (lifeline/frame_error.hpp), sticky: after one, the
//     decoder yields nothing more and the session is to be closed.
//
//   decoder.feed(chunk);
//   std::error_code ec;
//   while (auto f = decoder.next(ec)) handle(*f);
//   if (ec) close_session(ec);
//
// One thread at a time. No exceptions after construction.
#pragma once

#include <lifeline/frame.hpp>
#include <lifeline/detail/frame_body.hpp>
#include <lifeline/frame_error.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

namespace lifeline {

class frame_decoder {
 public:
  /// Throws std::invalid_argument naming the field when `max_frame_size` is 0 or above
  /// max_frame_size_ceiling (start-up only).
  explicit frame_decoder(std::size_t max_frame_size = default_max_frame_size);

  /// Hands over the next chunk of the stream. The chunk must stay valid until next() has
  /// returned nullopt; next() consumes it, keeping only an incomplete frame's bytes.
  void feed(std::span<const std::byte> chunk) noexcept;

  /// The next complete, verified frame, or nullopt when more bytes are needed (`ec`
  /// clear) or the stream is bad (`ec` set, and set again on every later call).
  /// The frame's views stay valid until the next call to next() or feed().
  [[nodiscard]] std::optional<frame> next(std::error_code& ec);

  /// The stream has ended (EOF): the sticky error if there was one, else
  /// frame_error::truncated_frame if it ended inside a frame, else success.
  [[nodiscard]] std::error_code finish() const noexcept;

  /// Bytes fed that next() has not yet consumed: frames the caller has not asked for yet.
  [[nodiscard]] std::size_t unread_input() const noexcept { return input_.size(); }

  /// Copies what next() has not yet consumed of the fed chunk into the decoder's own
  /// storage, so that the chunk may go: a caller that stops asking for frames for now
  /// (fairness: a bounded number per turn) resumes later with next(), without feeding.
  void keep_unread_input();

  /// Bytes held for an incomplete frame (0 for an idle session, and after an error).
  [[nodiscard]] std::size_t buffered_bytes() const noexcept;
  /// Memory the decoder holds for an incomplete frame: its heap block, or for a large
  /// frame the pages its bytes have reached so far (detail/frame_body.hpp).
  [[nodiscard]] std::size_t heap_bytes() const noexcept { return body_.held_bytes() + kept_input_.capacity(); }
  [[nodiscard]] std::size_t max_frame_size() const noexcept { return max_frame_size_; }

 private:
  std::optional<frame> fail(frame_error e, std::error_code& ec);
  std::optional<frame> decode_body(std::span<const std::byte> body, std::error_code& ec);
  void release_completed_frame() noexcept;

  std::size_t max_frame_size_;
  std::span<const std::byte> input_;       // unconsumed part of the caller's chunk
  std::array<std::byte, frame_length_prefix_size> prefix_{};
  std::size_t prefix_filled_ = 0;          // bytes of prefix_ received for the pending frame
  std::size_t body_expected_ = 0;          // length of the pending frame's body, once known
  detail::frame_body body_;                // pending frame's body bytes received so far
  std::vector<std::byte> kept_input_;      // unconsumed input kept past its chunk (keep_unread_input)
  bool body_yielded_ = false;              // body_ holds a frame already handed out
  std::error_code error_;
};

}  // namespace lifeline
