#include <lifeline/close_reason.hpp>
#include <lifeline/session_error.hpp>

#include <string>

namespace lifeline {

std::string_view to_string(close_reason reason) noexcept {
  switch (reason) {
    case close_reason::peer_closed: return "peer_closed";
    case close_reason::heartbeat_timeout: return "heartbeat_timeout";
    case close_reason::keepalive_timeout: return "keepalive_timeout";
    case close_reason::user_timeout: return "user_timeout";
    case close_reason::peer_reset: return "peer_reset";
    case close_reason::unreachable: return "unreachable";
    case close_reason::write_stalled: return "write_stalled";
    case close_reason::protocol_error: return "protocol_error";
    case close_reason::handshake_timeout: return "handshake_timeout";
    case close_reason::server_full: return "server_full";
    case close_reason::closed_locally: return "closed_locally";
    case close_reason::shutdown: return "shutdown";
    case close_reason::connect_failed: return "connect_failed";
    case close_reason::socket_error: return "socket_error";
    case close_reason::handler_error: return "handler_error";
    case close_reason::peer_dropped: return "peer_dropped";
    case close_reason::peer_shutdown: return "peer_shutdown";
    case close_reason::slow_frame: return "slow_frame";
    case close_reason::rate_exceeded: return "rate_exceeded";
    case close_reason::memory_budget: return "memory_budget";
    case close_reason::admission_refused: return "admission_refused";
    case close_reason::resume_rejected: return "resume_rejected";
    case close_reason::name_not_resolved: return "name_not_resolved";
  }
  return "unknown";
}

std::string_view to_string(reconnect_plan plan) noexcept {
  switch (plan) {
    case reconnect_plan::none: return "none";
    case reconnect_plan::scheduled: return "scheduled";
    case reconnect_plan::given_up: return "given_up";
  }
  return "unknown";
}

namespace {

class close_reason_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline.close"; }
  std::string message(int value) const override { return std::string(to_string(static_cast<close_reason>(value))); }
};

class session_error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lifeline.session"; }
  std::string message(int value) const override {
    switch (static_cast<session_error>(value)) {
      case session_error::unknown_session: return "no such session (closed, or never issued)";
      case session_error::not_running: return "not running";
      case session_error::message_too_large: return "message larger than max_frame_size allows";
      case session_error::queue_full: return "write queue full: the peer is not reading fast enough";
      case session_error::wrong_thread:
        return "called from a thread that does not own the session (see the call's thread rule)";
    }
    return "unknown session error";
  }
};

}  // namespace

const std::error_category& close_category() noexcept {
  static const close_reason_category category;
  return category;
}

const std::error_category& session_error_category() noexcept {
  static const session_error_category_impl category;
  return category;
}

}  // namespace lifeline
