#include <lifeline/close_code.hpp>

#include <string>

namespace lifeline {

std::string_view to_string(close_code code) noexcept {
  switch (code) {
    case close_code::normal: return "normal";
    case close_code::shutdown: return "shutdown";
    case close_code::protocol_error: return "protocol_error";
    case close_code::unsupported_version: return "unsupported_version";
    case close_code::server_full: return "server_full";
    case close_code::handshake_timeout: return "handshake_timeout";
    case close_code::heartbeat_timeout: return "heartbeat_timeout";
    case close_code::write_stalled: return "write_stalled";
    case close_code::slow_frame: return "slow_frame";
    case close_code::rate_exceeded: return "rate_exceeded";
    case close_code::memory_budget: return "memory_budget";
    case close_code::admission_refused: return "admission_refused";
    case close_code::superseded: return "superseded";
    case close_code::resume_rejected: return "resume_rejected";
    case close_code::application: return "application";
    case close_code::other: return "other";
  }
  return "other";
}

namespace {

class close_code_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline.close_code"; }
  std::string message(int value) const override {
    switch (static_cast<close_code>(value)) {
      case close_code::normal: return "the peer closed normally";
      case close_code::shutdown: return "the peer is shutting down";
      case close_code::protocol_error: return "the peer received bytes from us that are not a valid frame";
      case close_code::unsupported_version: return "the peer does not speak our protocol version";
      case close_code::server_full: return "the server is full";
      case close_code::handshake_timeout: return "the peer waited too long for our handshake";
      case close_code::heartbeat_timeout: return "the peer heard nothing from us for its dead_after";
      case close_code::write_stalled: return "the peer found us not reading";
      case close_code::slow_frame: return "a frame of ours did not complete in time";
      case close_code::rate_exceeded: return "we sent more than the peer's inbound limits allow";
      case close_code::memory_budget: return "the peer ran out of buffer memory and we held the most";
      case close_code::admission_refused: return "the server refused the connection (too many from our address)";
      case close_code::superseded: return "the session resumed on another connection";
      case close_code::resume_rejected: return "the server refused to resume the session";
      case close_code::application: return "the peer's game ended the session";
      case close_code::other: return "a close code this build does not know";
    }
    return "a close code this build does not know";
  }
};

}  // namespace

const std::error_category& close_code_category() noexcept {
  static const close_code_category_impl category;
  return category;
}

}  // namespace lifeline
