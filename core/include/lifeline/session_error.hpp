// lifeline/session_error.hpp — why a call naming a session was refused.
//
// server::send() / close() and their connector twins answer with these instead of
// throwing: a game server calls them from any thread, with ids that may have died a
// moment ago, and a stale id must cost an error code, never another session's data.
#pragma once

#include <system_error>

namespace lifeline {

enum class session_error {
  unknown_session = 1,   ///< no such session now: never issued, closed, or its slot reused
  not_running = 2,       ///< the server or connector is not started, or is stopping
  message_too_large = 3, ///< the message would not fit in max_frame_size
  queue_full = 4,        ///< write_queue_limit bytes are already on their way to this session
  /// The call works only on a thread that owns the session's state: its shard's thread (a
  /// handler), or in poll mode the thread that polls. The session may well be alive.
  wrong_thread = 5,
};

[[nodiscard]] const std::error_category& session_error_category() noexcept;
[[nodiscard]] inline std::error_code make_error_code(session_error e) noexcept {
  return {static_cast<int>(e), session_error_category()};
}

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::session_error> : std::true_type {};
