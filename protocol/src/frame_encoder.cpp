#include <lifeline/frame_encoder.hpp>

#include "lifeline/wire/frame_generated.h"

#include <lifeline/detail/overloaded.hpp>

#include <stdexcept>
#include <string>

namespace lifeline {
namespace {

std::uint32_t to_wire_ms(std::chrono::milliseconds d) {
  return static_cast<std::uint32_t>(d.count());
}

// A byte vector, or nothing at all when empty (an absent field costs no bytes).
flatbuffers::Offset<flatbuffers::Vector<std::uint8_t>> bytes_or_absent(flatbuffers::FlatBufferBuilder& fbb,
                                                                       std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  return fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

struct frame_encoder::state {
  flatbuffers::FlatBufferBuilder fbb{256};
};

frame_encoder::frame_encoder(std::size_t max_frame_size)
    : state_(std::make_unique<state>()), max_frame_size_(max_frame_size) {
  if (max_frame_size == 0 || max_frame_size > max_frame_size_ceiling)
    throw std::invalid_argument("max_frame_size: must be in [1, " +
                                std::to_string(max_frame_size_ceiling) + "], got " +
                                std::to_string(max_frame_size));
}

frame_encoder::~frame_encoder() = default;
frame_encoder::frame_encoder(frame_encoder&&) noexcept = default;
frame_encoder& frame_encoder::operator=(frame_encoder&&) noexcept = default;

std::size_t frame_encoder::max_frame_size() const noexcept { return max_frame_size_; }

std::span<const std::byte> frame_encoder::encode(const frame& f, std::error_code& ec) {
  ec.clear();
  if (const auto* data = std::get_if<data_frame>(&f); data && data->payload.size() > max_frame_size_) {
    ec = frame_error::frame_too_large;  // cheap early answer; the exact check is below
    return {};
  }

  auto& fbb = state_->fbb;
  fbb.Clear();
  const auto root = std::visit(
      detail::overloaded{
          [&](const beat_frame& b) {
            const wire::Beat beat(b.sent_at.microseconds_mod_2_32, b.echo_of_peer.microseconds_mod_2_32,
                                  static_cast<std::uint32_t>(b.held_for.count()));
            const auto token = bytes_or_absent(fbb, b.resume_token);  // before the table: FlatBuffers' rule
            wire::FrameBuilder builder(fbb);
            builder.add_beat(&beat);
            if (b.urgent) builder.add_urgent(true);
            if (b.ack != 0) builder.add_ack(b.ack);
            if (!token.IsNull()) builder.add_resume_token(token);
            return builder.Finish();
          },
          [&](const data_frame& d) {
            const auto payload = fbb.CreateVector(reinterpret_cast<const std::uint8_t*>(d.payload.data()),
                                                  d.payload.size());
            wire::FrameBuilder builder(fbb);
            const auto timing = d.timing ? wire::Beat(d.timing->sent_at.microseconds_mod_2_32,
                                                      d.timing->echo_of_peer.microseconds_mod_2_32,
                                                      static_cast<std::uint32_t>(d.timing->held_for.count()))
                                         : wire::Beat();
            builder.add_data(payload);
            if (d.ack != 0) builder.add_ack(d.ack);
            if (d.timing) builder.add_timing(&timing);
            return builder.Finish();
          },
          [&](const hello_frame& h) {
            const auto token = bytes_or_absent(fbb, h.resume_token);
            const auto hello = wire::CreateHello(fbb, h.version, to_wire_ms(h.heartbeat_interval),
                                                 to_wire_ms(h.dead_after), token, h.received, h.replay_from);
            return wire::CreateFrame(fbb, nullptr, 0, wire::Control::Hello, hello.Union());
          },
          [&](const welcome_frame& w) {
            const wire::U64 id(static_cast<std::uint32_t>(w.session_id),
                               static_cast<std::uint32_t>(w.session_id >> 32));
            const auto welcome = wire::CreateWelcome(
                fbb, w.version, to_wire_ms(w.heartbeat_interval), to_wire_ms(w.dead_after), &id,
                to_wire_ms(w.server_heartbeat_interval), to_wire_ms(w.server_dead_after), w.limits.frames_per_second,
                w.limits.bytes_per_second, to_wire_ms(w.limits.burst), w.limits.beats_per_interval,
                to_wire_ms(w.resume_grace), bytes_or_absent(fbb, w.resume_token), w.resumed, w.received, w.replay_from,
                w.state_lost);
            return wire::CreateFrame(fbb, nullptr, 0, wire::Control::Welcome, welcome.Union());
          },
          [&](const close_frame& c) {
            const auto detail = c.detail.empty()
                                    ? flatbuffers::Offset<flatbuffers::String>{}
                                    : fbb.CreateString(c.detail.data(), c.detail.size());
            const auto close = wire::CreateClose(fbb, static_cast<wire::CloseCode>(c.code), detail, c.app_code);
            return wire::CreateFrame(fbb, nullptr, 0, wire::Control::Close, close.Union());
          },
      },
      f);
  fbb.FinishSizePrefixed(root);

  if (fbb.GetSize() - frame_length_prefix_size > max_frame_size_) {
    ec = frame_error::frame_too_large;
    return {};
  }
  return std::as_bytes(std::span{fbb.GetBufferPointer(), fbb.GetSize()});
}

}  // namespace lifeline
