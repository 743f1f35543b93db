// lifeline/frame_error.hpp — why bytes from a peer are not a frame.
//
// Every error is final for the session it came from: the decoder stops, the session
// closes with reason protocol_error carrying this code, and no other session is touched.
// Errors are std::error_code values (category "lifeline.frame"), never exceptions.
#pragma once

#include <system_error>

namespace lifeline {

enum class frame_error {
  frame_too_large = 1,           ///< length prefix above the configured maximum frame size
  malformed_frame = 2,           ///< zero length, or the FlatBuffers Verifier rejected it
  unknown_frame_type = 3,        ///< verified, but of a type this build does not know
  unsupported_protocol_version = 4,  ///< hello/welcome with a version this build cannot speak
  truncated_frame = 5,           ///< the stream ended inside a frame (see frame_decoder::finish)
  unexpected_frame = 6,          ///< a valid frame the session's state does not allow (e.g. data before hello)
};

/// The category of frame_error codes; name() is "lifeline.frame".
[[nodiscard]] const std::error_category& frame_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(frame_error e) noexcept {
  return {static_cast<int>(e), frame_category()};
}

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::frame_error> : std::true_type {};
