#include <lifeline/frame_decoder.hpp>

#include "lifeline/wire/frame_generated.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lifeline {
namespace {

// The schema has no scalar wider than 4 bytes (WIRE_FORMAT.md, "Alignment"), so a body
// at a 4-aligned address can be read in place; anything else is copied first.
constexpr std::size_t wire_alignment = 4;

// Verifier limits. A valid frame nests at most Frame -> control table -> string/vector
// (depth 3) and holds at most 2 tables; the margins leave room for schema growth while
// capping the work a hostile frame can cause.
constexpr flatbuffers::uoffset_t verifier_max_depth = 8;
constexpr flatbuffers::uoffset_t verifier_max_tables = 16;

std::uint32_t read_length_prefix(const std::byte* p) noexcept {  // little-endian
  return std::to_integer<std::uint32_t>(p[0]) | std::to_integer<std::uint32_t>(p[1]) << 8 |
         std::to_integer<std::uint32_t>(p[2]) << 16 | std::to_integer<std::uint32_t>(p[3]) << 24;
}

bool is_wire_aligned(const std::byte* p) noexcept {
  return reinterpret_cast<std::uintptr_t>(p) % wire_alignment == 0;
}

close_code to_close_code(wire::CloseCode code) noexcept {
  return code <= wire::CloseCode::MAX ? static_cast<close_code>(code) : close_code::other;
}

std::chrono::milliseconds from_wire_ms(std::uint32_t ms) noexcept { return std::chrono::milliseconds{ms}; }

bool is_spoken(std::uint16_t version) noexcept {
  return version >= oldest_protocol_version && version <= protocol_version;
}

std::span<const std::byte> bytes_of(const flatbuffers::Vector<std::uint8_t>* v) noexcept {
  return v ? std::as_bytes(std::span{v->data(), v->size()}) : std::span<const std::byte>{};
}

}  // namespace

frame_decoder::frame_decoder(std::size_t max_frame_size) : max_frame_size_(max_frame_size) {
  if (max_frame_size == 0 || max_frame_size > max_frame_size_ceiling)
    throw std::invalid_argument("max_frame_size: must be in [1, " +
                                std::to_string(max_frame_size_ceiling) + "], got " +
                                std::to_string(max_frame_size));
}

void frame_decoder::feed(std::span<const std::byte> chunk) noexcept {
  release_completed_frame();
  std::vector<std::byte>().swap(kept_input_);  // a caller feeds only once it was all consumed
  input_ = chunk;
}

void frame_decoder::keep_unread_input() {
  if (input_.empty() || (!kept_input_.empty() && input_.data() >= kept_input_.data() &&
                         input_.data() < kept_input_.data() + kept_input_.size()))
    return;  // nothing, or already our own
  kept_input_.assign(input_.begin(), input_.end());
  input_ = kept_input_;
}

std::size_t frame_decoder::buffered_bytes() const noexcept {
  return body_yielded_ ? 0 : prefix_filled_ + body_.size();
}

std::error_code frame_decoder::finish() const noexcept {
  if (error_) return error_;
  if (buffered_bytes() != 0 || !input_.empty()) return frame_error::truncated_frame;
  return {};
}

void frame_decoder::release_completed_frame() noexcept {
  if (!body_yielded_) return;
  // Give the memory back: an idle session's decoder holds no buffer. Frames split across
  // reads are rare for small frames, so the reallocation this costs them is cheap.
  body_.release();
  prefix_filled_ = 0;
  body_expected_ = 0;
  body_yielded_ = false;
}

std::optional<frame> frame_decoder::fail(frame_error e, std::error_code& ec) {
  error_ = e;
  ec = error_;
  input_ = {};
  body_.release();  // a failed stream keeps no memory
  std::vector<std::byte>().swap(kept_input_);
  prefix_filled_ = body_expected_ = 0;
  body_yielded_ = false;
  return std::nullopt;
}

std::optional<frame> frame_decoder::next(std::error_code& ec) {
  ec = error_;
  if (error_) return std::nullopt;
  release_completed_frame();
  // Kept input all consumed: the views into it died with the previous call.
  if (input_.empty() && !kept_input_.empty()) std::vector<std::byte>().swap(kept_input_);

  // Fast path: a whole frame inside the caller's chunk is decoded where it lies.
  if (prefix_filled_ == 0 && input_.size() >= frame_length_prefix_size) {
    const std::uint32_t length = read_length_prefix(input_.data());
    if (length == 0) return fail(frame_error::malformed_frame, ec);
    if (length > max_frame_size_) return fail(frame_error::frame_too_large, ec);
    if (input_.size() - frame_length_prefix_size >= length) {
      const auto body = input_.subspan(frame_length_prefix_size, length);
      input_ = input_.subspan(frame_length_prefix_size + length);
      if (is_wire_aligned(body.data())) return decode_body(body, ec);
      // A peer that ignores alignment pays a copy.
      if (!body_.start(body.size())) return fail(frame_error::frame_too_large, ec);
      body_.append(body);
      body_yielded_ = true;
      return decode_body(body_.bytes(), ec);
    }
  }

  // Slow path: keep the bytes of an incomplete frame, and only those that have arrived.
  const auto take = [this](std::size_t wanted) {
    const auto n = std::min(wanted, input_.size());
    auto taken = input_.first(n);
    input_ = input_.subspan(n);
    return taken;
  };
  if (prefix_filled_ < frame_length_prefix_size) {
    const auto bytes = take(frame_length_prefix_size - prefix_filled_);
    std::copy(bytes.begin(), bytes.end(), prefix_.begin() + static_cast<std::ptrdiff_t>(prefix_filled_));
    prefix_filled_ += bytes.size();
    if (prefix_filled_ < frame_length_prefix_size) return std::nullopt;
    const std::uint32_t length = read_length_prefix(prefix_.data());
    if (length == 0) return fail(frame_error::malformed_frame, ec);
    if (length > max_frame_size_) return fail(frame_error::frame_too_large, ec);
    body_expected_ = length;
    if (!body_.start(length)) return fail(frame_error::frame_too_large, ec);  // no memory for it
  }
  const auto bytes = take(body_expected_ - body_.size());
  body_.append(bytes);
  if (body_.size() < body_expected_) return std::nullopt;
  body_yielded_ = true;
  return decode_body(body_.bytes(), ec);
}

std::optional<frame> frame_decoder::decode_body(std::span<const std::byte> body, std::error_code& ec) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(body.data());
  flatbuffers::Verifier::Options options;
  options.max_depth = verifier_max_depth;
  options.max_tables = verifier_max_tables;
  flatbuffers::Verifier verifier(bytes, body.size(), options);
  if (!verifier.VerifyBuffer<wire::Frame>(nullptr)) return fail(frame_error::malformed_frame, ec);

  const auto* root = wire::GetFrame(bytes);
  const auto* beat = root->beat();
  const auto* data = root->data();
  const auto control_type = root->control_type();
  const int kinds = (beat != nullptr) + (data != nullptr) + (control_type != wire::Control::NONE);
  // No known field: a frame type from a newer peer. More than one: not a frame we define.
  if (kinds == 0) return fail(frame_error::unknown_frame_type, ec);
  if (kinds > 1) return fail(frame_error::malformed_frame, ec);

  if (beat) {
    beat_frame b{.sent_at = {beat->sent_at_us()},
                 .echo_of_peer = {beat->echo_sent_at_us()},
                 .held_for = std::chrono::microseconds{beat->held_for_us()},
                 .urgent = root->urgent(),
                 .ack = root->ack()};
    if (const auto* token = root->resume_token()) b.resume_token = std::as_bytes(std::span{token->data(), token->size()});
    return b;
  }
  if (data) {
    data_frame d{.payload = std::as_bytes(std::span{data->data(), data->size()}), .ack = root->ack()};
    if (const auto* t = root->timing())
      d.timing = frame_timing{{t->sent_at_us()}, {t->echo_sent_at_us()}, std::chrono::microseconds{t->held_for_us()}};
    return d;
  }

  if (root->control() == nullptr) return fail(frame_error::malformed_frame, ec);
  switch (control_type) {
    case wire::Control::Hello: {
      const auto* hello = root->control_as_Hello();
      if (!is_spoken(hello->protocol_version())) return fail(frame_error::unsupported_protocol_version, ec);
      return hello_frame{.version = hello->protocol_version(),
                         .heartbeat_interval = from_wire_ms(hello->heartbeat_interval_ms()),
                         .dead_after = from_wire_ms(hello->dead_after_ms()),
                         .resume_token = bytes_of(hello->resume_token()),
                         .received = hello->received(),
                         .replay_from = hello->replay_from()};
    }
    case wire::Control::Welcome: {
      const auto* welcome = root->control_as_Welcome();
      if (!is_spoken(welcome->protocol_version())) return fail(frame_error::unsupported_protocol_version, ec);
      const auto* id = welcome->session_id();
      return welcome_frame{
          .version = welcome->protocol_version(),
          .heartbeat_interval = from_wire_ms(welcome->heartbeat_interval_ms()),
          .dead_after = from_wire_ms(welcome->dead_after_ms()),
          .session_id = id ? (std::uint64_t{id->high()} << 32) | id->low() : 0,
          .server_heartbeat_interval = from_wire_ms(welcome->server_heartbeat_interval_ms()),
          .server_dead_after = from_wire_ms(welcome->server_dead_after_ms()),
          .limits = {.frames_per_second = welcome->max_frames_per_second(),
                     .bytes_per_second = welcome->max_bytes_per_second(),
                     .burst = from_wire_ms(welcome->burst_ms()),
                     .beats_per_interval = welcome->max_beats_per_interval()},
          .resume_grace = from_wire_ms(welcome->resume_grace_ms()),
          .resume_token = bytes_of(welcome->resume_token()),
          .resumed = welcome->resumed(),
          .received = welcome->received(),
          .replay_from = welcome->replay_from(),
          .state_lost = welcome->state_lost()};
    }
    case wire::Control::Close: {
      const auto* close = root->control_as_Close();
      const auto* detail = close->detail();
      return close_frame{.code = to_close_code(close->code()),
                         .detail = detail ? std::string_view{detail->c_str(), detail->size()}
                                          : std::string_view{},
                         .app_code = close->app_code()};
    }
    default:
      return fail(frame_error::unknown_frame_type, ec);
  }
}

}  // namespace lifeline
