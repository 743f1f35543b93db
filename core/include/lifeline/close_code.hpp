// lifeline/close_code.hpp — why a peer says it ends a session, as carried in a close frame.
//
// A close frame is the peer's word, and lifeline treats it as such: after the handshake it
// never becomes one of lifeline's own "never opened" reasons. A session ended by the
// peer's close frame is reported as close_reason::peer_closed (or peer_shutdown), with
// the peer's code as the close_info detail, in category "lifeline.close_code", so a game
// can still read what the peer said (`why.detail == lifeline::close_code::heartbeat_timeout`:
// the server declared us dead). `normal` is value 0, so a clean quit's detail tests false.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <system_error>

namespace lifeline {

/// The longest reason a game's close() carries to its peer (longer ones are cut).
inline constexpr std::size_t max_app_reason_bytes = 256;

/// Values a newer peer sends that this build does not know decode as `other`.
enum class close_code : std::uint8_t {
  normal = 0,
  shutdown = 1,
  protocol_error = 2,
  unsupported_version = 3,
  server_full = 4,
  handshake_timeout = 5,
  heartbeat_timeout = 6,   ///< the sender heard nothing from us for its dead_after
  write_stalled = 7,
  slow_frame = 8,          ///< a frame of ours did not complete within the sender's frame_timeout
  rate_exceeded = 9,       ///< we sent more than the sender's inbound limits allow (its welcome said them)
  memory_budget = 10,      ///< the sender ran out of buffer memory and we held the most of it
  admission_refused = 11,  ///< the server refused the connection: its source address is over a cap
  superseded = 12,         ///< the session resumed on another connection; this one is over
  resume_rejected = 13,    ///< the server refused our resume; the close frame's detail says why
  application = 14,        ///< the peer's game ended the session (a kick): close_info::app_code and app_reason say why
  other = 255,
};

/// "heartbeat_timeout", ..., as the enumerator is spelled; "other" for a value this build
/// does not know. Any thread.
[[nodiscard]] std::string_view to_string(close_code code) noexcept;

/// The category of close_code values; name() is "lifeline.close_code". Any thread.
[[nodiscard]] const std::error_category& close_code_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(close_code c) noexcept {
  return {static_cast<int>(c), close_code_category()};
}

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::close_code> : std::true_type {};
