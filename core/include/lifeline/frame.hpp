// lifeline/frame.hpp — the frames two lifeline peers exchange, as plain C++ values.
//
// A session is a stream of length-prefixed FlatBuffers frames (protocol/WIRE_FORMAT.md
// documents every byte). These types are lifeline's own view of those frames, so game
// code and the session layer never see generated FlatBuffers code: the schema can evolve
// without touching a game server's headers.
//
// Views, not copies: a decoded data_frame's payload and a close_frame's detail point into
// the decoder's input or buffer, valid until the decoder's next call. Copy what you keep.
//
//   lifeline::frame_encoder encoder;
//   auto bytes = encoder.encode(lifeline::beat_frame{.sent_at = lifeline::to_wire_timestamp(now)}, ec);
//   // ... bytes go to the socket; the peer's frame_decoder yields the same beat_frame.
#pragma once

#include <lifeline/close_code.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

namespace lifeline {

/// The protocol version this build speaks, and the oldest it still accepts. Version 2
/// adds session resume (tokens, acknowledgements, replay); a server answers a version-1
/// hello with a version-1 welcome and that session works as before, without resume.
/// Hello/Welcome frames carrying a version outside [oldest, current] are rejected with
/// frame_error::unsupported_protocol_version.
inline constexpr std::uint16_t protocol_version = 2;
inline constexpr std::uint16_t oldest_protocol_version = 1;

/// Every frame starts with a 4-byte little-endian length of the FlatBuffer that follows.
inline constexpr std::size_t frame_length_prefix_size = 4;

/// Default and hard ceiling for the configurable maximum frame size (length prefix
/// excluded). The ceiling keeps a misconfiguration from turning into unbounded buffering.
inline constexpr std::size_t default_max_frame_size = 64 * 1024;
inline constexpr std::size_t max_frame_size_ceiling = 16 * 1024 * 1024;

/// A data frame takes at most this many bytes on the wire besides its payload: the length
/// prefix, the FlatBuffers table (with an ack, version 2), the vector header, and padding
/// to 4 (WIRE_FORMAT.md: 40 plus the payload rounded up to 4).
inline constexpr std::size_t max_data_frame_overhead = 44;

/// The largest payload a data frame carries within `max_frame_size` body bytes, ack
/// included (65,500 for the default 64 KiB).
[[nodiscard]] constexpr std::size_t max_data_payload(std::size_t max_frame_size) noexcept {
  return max_frame_size < 36 ? 0 : (max_frame_size - 36) & ~std::size_t{3};
}

/// A 32-bit microsecond stamp of one side's monotonic clock, modulo 2^32 (it wraps every
/// 71.6 minutes). Only the difference between two stamps of the same clock means anything.
struct wire_timestamp {
  std::uint32_t microseconds_mod_2_32 = 0;
  friend bool operator==(wire_timestamp, wire_timestamp) = default;
};

/// The stamp of a monotonic time point.
[[nodiscard]] constexpr wire_timestamp to_wire_timestamp(std::chrono::steady_clock::time_point t) noexcept {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return {static_cast<std::uint32_t>(static_cast<std::uint64_t>(us))};
}

/// Time from `earlier` to `later`, both stamps of the same clock less than 71 minutes apart.
[[nodiscard]] constexpr std::chrono::microseconds elapsed_between(wire_timestamp earlier,
                                                                  wire_timestamp later) noexcept {
  return std::chrono::microseconds{
      static_cast<std::uint32_t>(later.microseconds_mod_2_32 - earlier.microseconds_mod_2_32)};
}

namespace detail {
/// Compares two byte views by content (for the frames' operator==).
[[nodiscard]] inline bool bytes_equal(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  return std::ranges::equal(a, b);
}
}  // namespace detail

/// Heartbeat. Sent only after an interval with nothing else sent, or at once when asked
/// by an urgent one. The receiver's round-trip time is now - echo_of_peer - held_for (see
/// round_trip_time()).
struct beat_frame {
  wire_timestamp sent_at{};                 ///< sender's clock when this beat left
  wire_timestamp echo_of_peer{};            ///< last sent_at received from the peer; 0: none yet
  std::chrono::microseconds held_for{0};    ///< how long the sender held that echo (≤ 71 min)
  /// The sender has not heard from us for a while (its session is suspect) and asks for a
  /// beat back at once, whatever our quiet timer says. A peer that does not know the flag
  /// reads a plain beat.
  bool urgent = false;
  /// Version 2, resume negotiated: the data frames the sender has received in this session
  /// so far, cumulative (so the peer may drop what it keeps for replay). 0: no news.
  std::uint32_t ack = 0;
  /// Version 2, server to client: a fresh resume token for the same session and epoch (the
  /// one the client holds is past half its lifetime). Empty: none.
  std::span<const std::byte> resume_token{};
  friend bool operator==(const beat_frame& a, const beat_frame& b) noexcept {
    return a.sent_at == b.sent_at && a.echo_of_peer == b.echo_of_peer && a.held_for == b.held_for &&
           a.urgent == b.urgent && a.ack == b.ack && detail::bytes_equal(a.resume_token, b.resume_token);
  }
};

/// A beat's clock stamps, carried by a data frame (version 2): on a busy session data
/// keeps beats away, and these keep round-trip time measured.
struct frame_timing {
  wire_timestamp sent_at{};
  wire_timestamp echo_of_peer{};
  std::chrono::microseconds held_for{0};
  friend bool operator==(const frame_timing&, const frame_timing&) = default;
};

/// Opaque game bytes. Data frames are numbered by their order in the session, 1, 2, ...
/// across every transport it has had: TCP keeps them in order, so the number is implicit
/// and never on the wire; acks and the resume handshake speak in these numbers.
struct data_frame {
  std::span<const std::byte> payload{};
  std::uint32_t ack = 0;  ///< as beat_frame::ack
  std::optional<frame_timing> timing{};  ///< version 2: once an interval on a busy session
};

/// Client -> server, the first frame of a session.
struct hello_frame {
  std::uint16_t version = protocol_version;
  std::chrono::milliseconds heartbeat_interval{0};
  std::chrono::milliseconds dead_after{0};
  /// Version 2, present only to resume a session: the token its last welcome gave, the
  /// data frames received in it so far, and the oldest of its own the client still has.
  std::span<const std::byte> resume_token{};
  std::uint32_t received = 0;
  std::uint32_t replay_from = 0;
  friend bool operator==(const hello_frame& a, const hello_frame& b) noexcept {
    return a.version == b.version && a.heartbeat_interval == b.heartbeat_interval && a.dead_after == b.dead_after &&
           detail::bytes_equal(a.resume_token, b.resume_token) && a.received == b.received && a.replay_from == b.replay_from;
  }
};

/// Server -> client, the answer to hello: the settings both sides now use. The client
/// beats every heartbeat_interval and is dead after dead_after of silence; the server
/// beats every server_heartbeat_interval and the client gives it server_dead_after.
/// A zero server_ field (absent on the wire) means the same as the client's.
/// What a server accepts from its clients, as its welcome tells them (0: no limit).
/// Past these a client's reading is paused, and if it keeps on, it is closed.
struct rate_limits {
  std::uint32_t frames_per_second = 0;
  std::uint32_t bytes_per_second = 0;
  std::chrono::milliseconds burst{0};     ///< how far ahead of the rates a client may run
  std::uint16_t beats_per_interval = 0;   ///< beats per heartbeat_interval
  friend bool operator==(const rate_limits&, const rate_limits&) = default;
};

struct welcome_frame {
  std::uint16_t version = protocol_version;
  std::chrono::milliseconds heartbeat_interval{0};
  std::chrono::milliseconds dead_after{0};
  std::uint64_t session_id = 0;
  std::chrono::milliseconds server_heartbeat_interval{0};
  std::chrono::milliseconds server_dead_after{0};
  rate_limits limits{};
  /// Version 2. How long the server keeps this session after its transport dies (0: it
  /// does not), and the token to present to resume it (opaque to the client).
  std::chrono::milliseconds resume_grace{0};
  std::span<const std::byte> resume_token{};
  /// An answer to a resume: the same session, the data frames the server received in it,
  /// the oldest it can send again (it replays from the client's `received` + 1 next), and
  /// whether messages were lost in the outage, one way or both.
  bool resumed = false;
  std::uint32_t received = 0;
  std::uint32_t replay_from = 0;
  bool state_lost = false;
  friend bool operator==(const welcome_frame& a, const welcome_frame& b) noexcept {
    return a.version == b.version && a.heartbeat_interval == b.heartbeat_interval && a.dead_after == b.dead_after &&
           a.session_id == b.session_id && a.server_heartbeat_interval == b.server_heartbeat_interval &&
           a.server_dead_after == b.server_dead_after && a.limits == b.limits && a.resume_grace == b.resume_grace &&
           detail::bytes_equal(a.resume_token, b.resume_token) && a.resumed == b.resumed && a.received == b.received &&
           a.replay_from == b.replay_from && a.state_lost == b.state_lost;
  }
};

/// Either side, the last frame it sends.
struct close_frame {
  close_code code = close_code::normal;
  std::string_view detail{}; ///< for logs; may be empty; with code application, the game's reason
  std::uint16_t app_code = 0;  ///< version 2, with code application: the game's own code
};

/// One decoded frame; the alternative held is the frame's type.
using frame = std::variant<beat_frame, data_frame, hello_frame, welcome_frame, close_frame>;

/// Round-trip time from a beat just received at `now`, or nullopt-like zero when the beat
/// echoes nothing yet. Wrap-safe for RTTs under 71 minutes.
[[nodiscard]] constexpr std::chrono::microseconds round_trip_time(const frame_timing& stamps,
                                                                  wire_timestamp now) noexcept {
  if (stamps.echo_of_peer == wire_timestamp{}) return std::chrono::microseconds{0};
  return elapsed_between(stamps.echo_of_peer, now) - stamps.held_for;
}
[[nodiscard]] constexpr std::chrono::microseconds round_trip_time(const beat_frame& beat,
                                                                  wire_timestamp now) noexcept {
  return round_trip_time(frame_timing{beat.sent_at, beat.echo_of_peer, beat.held_for}, now);
}

}  // namespace lifeline
