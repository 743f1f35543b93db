#include <lifeline/frame_error.hpp>

#include <string>

namespace lifeline {
namespace {

class frame_error_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline.frame"; }
  std::string message(int value) const override {
    switch (static_cast<frame_error>(value)) {
      case frame_error::frame_too_large: return "frame length above the maximum frame size";
      case frame_error::malformed_frame: return "malformed frame (rejected by the verifier)";
      case frame_error::unknown_frame_type: return "frame of an unknown type";
      case frame_error::unsupported_protocol_version: return "unsupported protocol version";
      case frame_error::truncated_frame: return "stream ended inside a frame";
      case frame_error::unexpected_frame: return "frame not allowed in the session's state";
    }
    return "unknown frame error";
  }
};

}  // namespace

const std::error_category& frame_category() noexcept {
  static const frame_error_category category;
  return category;
}

}  // namespace lifeline
