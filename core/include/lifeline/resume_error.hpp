// lifeline/resume_error.hpp — why a resume was refused, or what it cost (DESIGN.md §10).
//
// A client that lost its connection comes back with its resume token; the server answers
// with one of these (category "lifeline.resume") instead of throwing: a resume attempt is
// a frame from an unauthenticated peer, so every refusal is an ordinary, cheap outcome.
// The first four are about the token itself, in the order they are checked (a forged
// token is reported as forged, never as merely expired, so an attacker learns nothing
// from the expiry check); the next three about the session it names. state_lost is not a
// refusal: the session was resumed, but some messages did not survive the gap. The values
// are stable (logs and dashboards key on them): new ones are appended, none is renumbered.
#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>

namespace lifeline {

enum class resume_error : std::uint8_t {
  malformed_token = 1,  ///< not a token: wrong size, or a format version this build does not know
  unknown_key = 2,      ///< signed with a key id this server does not hold (dropped after rotation,
                        ///< or another fleet's)
  forged_token = 3,     ///< its MAC does not match: altered, or never signed by us
  expired_token = 4,    ///< genuine, but its expiry has passed
  unknown_session = 5,  ///< genuine, but no such session is lingering or open here (e.g. its
                        ///< grace ran out, or it lives on another server)
  replayed_token = 6,   ///< genuine, but its epoch is not the session's current one: the token
                        ///< was already used for a resume (each resume issues a new one)
  not_resumable = 7,    ///< the session did not negotiate resume in its handshake
  state_lost = 8,       ///< informational: resumed, but messages were lost on the way (more
                        ///< than the unacknowledged buffer held)
};

/// "forged_token", ..., as the enumerator is spelled; "unknown" for any other value.
/// Any thread.
[[nodiscard]] std::string_view to_string(resume_error error) noexcept;

/// The category of resume_error codes; name() is "lifeline.resume". Any thread.
[[nodiscard]] const std::error_category& resume_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(resume_error e) noexcept {
  return {static_cast<int>(e), resume_category()};
}

}  // namespace lifeline

template <>
struct std::is_error_code_enum<lifeline::resume_error> : std::true_type {};
