// Writes the seed corpus of frame_decoder_fuzzer: one file per case, each the fuzzer's four
// control bytes (maximum frame size, chunking pattern) followed by a byte stream made with
// lifeline::frame_encoder or, for hostile cases, with the generated FlatBuffers code.
//
//   frame_seed_corpus_writer <dir>     (the committed seeds live in tests/fuzz/corpus)
#include <lifeline/frame_encoder.hpp>

#include "lifeline/wire/frame_generated.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <system_error>
#include <vector>

using namespace std::chrono_literals;
using namespace lifeline;

namespace {

using bytes = std::vector<std::byte>;

// Body bytes of a data frame around its payload (WIRE_FORMAT.md: 24 + padding), so a
// payload of default_max_frame_size - 24 makes a body of exactly the default limit.
constexpr std::size_t data_frame_overhead = 24;

// The fuzzer's control bytes (see frame_decoder_fuzzer.cpp).
enum class max_size : std::uint16_t { default_size = 0, small = 1u << 14, medium = 2u << 14, ceiling = 3u << 14 };
namespace chunk {
enum : std::uint8_t { whole = 0, byte_by_byte = 1, fixed = 2, tiny_random = 3, random = 4, alternating = 5,
                      scaled_random = 6, head_then_rest = 7 };
}

bytes control(max_size mode, std::size_t max_minus_one, std::uint8_t pattern, std::uint8_t param,
              std::uint8_t misalignment = 0, bool vary_misalignment = false) {
  const auto v = static_cast<std::uint16_t>(static_cast<std::uint16_t>(mode) | max_minus_one);
  const auto b2 = static_cast<std::uint8_t>(pattern | misalignment << 3 | (vary_misalignment ? 0x20 : 0));
  return {std::byte(v & 0xFF), std::byte(v >> 8), std::byte{b2}, std::byte{param}};
}

void append(bytes& out, std::span<const std::byte> more) { out.insert(out.end(), more.begin(), more.end()); }

bytes encoded(const frame& f) {
  frame_encoder encoder;
  std::error_code ec;
  const auto b = encoder.encode(f, ec);
  if (ec) throw std::system_error(ec);
  return {b.begin(), b.end()};
}

bytes finished(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<wire::Frame> root) {
  fbb.FinishSizePrefixed(root);
  const auto b = std::as_bytes(std::span{fbb.GetBufferPointer(), fbb.GetSize()});
  return {b.begin(), b.end()};
}

bytes length_prefix(std::uint32_t length) {
  return {std::byte(length & 0xFF), std::byte(length >> 8 & 0xFF), std::byte(length >> 16 & 0xFF),
          std::byte(length >> 24)};
}

bytes seed(bytes control_bytes, std::initializer_list<bytes> parts) {
  for (const auto& p : parts) append(control_bytes, p);
  return control_bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  const std::string game_bytes_text = "game bytes";
  bytes game_bytes(reinterpret_cast<const std::byte*>(game_bytes_text.data()),
                   reinterpret_cast<const std::byte*>(game_bytes_text.data() + game_bytes_text.size()));
  append(game_bytes, std::array{std::byte{0}, std::byte{1}, std::byte{0xFF}});

  const auto beat = encoded(beat_frame{.sent_at = {123456}, .echo_of_peer = {120000}, .held_for = 2500us});
  const auto data = encoded(data_frame{.payload = game_bytes});
  const auto hello = encoded(hello_frame{.heartbeat_interval = 1000ms, .dead_after = 5000ms});
  const auto welcome =
      encoded(welcome_frame{.heartbeat_interval = 1000ms, .dead_after = 5000ms, .session_id = 0x0123456789ABCDEF});
  const auto close = encoded(close_frame{.code = close_code::heartbeat_timeout, .detail = "no beat for 5 s"});
  const auto close_bare = encoded(close_frame{.code = close_code::shutdown});

  std::vector<std::pair<std::string, bytes>> seeds;
  const auto add = [&](std::string name, bytes b) { seeds.emplace_back(std::move(name), std::move(b)); };
  const auto dflt = max_size::default_size;

  // One per frame type, each under a different chunking.
  add("beat", seed(control(dflt, 0, chunk::whole, 0), {beat}));
  add("data_byte_by_byte", seed(control(dflt, 0, chunk::byte_by_byte, 0), {data}));
  add("hello_4_byte_chunks", seed(control(dflt, 0, chunk::fixed, 3), {hello}));
  add("welcome_unaligned", seed(control(dflt, 0, chunk::whole, 0, 1), {welcome}));  // decoded from a copy
  add("close_with_detail", seed(control(dflt, 0, chunk::alternating, 6), {close}));
  add("close_without_detail", seed(control(dflt, 0, chunk::whole, 0), {close_bare}));
  {
    flatbuffers::FlatBufferBuilder fbb;
    const auto c = wire::CreateClose(fbb, static_cast<wire::CloseCode>(200));
    add("close_unknown_code", seed(control(dflt, 0, chunk::whole, 0),
                                   {finished(fbb, wire::CreateFrame(fbb, nullptr, 0, wire::Control::Close, c.Union()))}));
  }

  // A session's worth of frames in one stream, under several chunkings.
  const auto session = seed({}, {hello, welcome, beat, data, beat, data, close});
  add("stream_random_chunks", seed(control(dflt, 0, chunk::random, 0x5A, 0, true), {session}));
  add("stream_tiny_chunks", seed(control(dflt, 0, chunk::tiny_random, 0x17, 2), {session}));
  add("stream_head_then_rest", seed(control(dflt, 0, chunk::head_then_rest, 0x33, 3, true), {session}));
  add("stream_scaled_random_small_max", seed(control(max_size::small, 255, chunk::scaled_random, 9), {session}));

  // Limits and broken streams.
  add("truncated_data", seed(control(dflt, 0, chunk::byte_by_byte, 0),
                             {beat, bytes(data.begin(), data.end() - 3)}));
  add("truncated_prefix", seed(control(dflt, 0, chunk::whole, 0), {beat, bytes(data.begin(), data.begin() + 2)}));
  add("oversized_length_prefix", seed(control(max_size::small, 63, chunk::fixed, 1), {beat, length_prefix(1u << 20), beat}));
  add("length_prefix_all_ones", seed(control(max_size::ceiling, 0, chunk::whole, 0), {length_prefix(0xFFFFFFFF), beat}));
  const auto body_size = data.size() - 4;
  add("data_exactly_max", seed(control(max_size::medium, body_size - 1, chunk::scaled_random, 2), {data, beat}));
  add("data_one_above_max", seed(control(max_size::medium, body_size - 2, chunk::whole, 0), {data}));
  add("zero_length", seed(control(dflt, 0, chunk::whole, 0), {beat, length_prefix(0), beat}));

  // At the default limit itself (65,536 body bytes), so that the fuzzer starts from inputs
  // as long as the largest frame a session accepts (its -max_len leaves room for them).
  const auto max_data = encoded(data_frame{.payload = bytes(default_max_frame_size - data_frame_overhead, std::byte{0x5A})});
  add("data_default_max_exactly", seed(control(dflt, 0, chunk::random, 0x21, 1, true), {beat, max_data, beat}));
  add("data_default_max_head_then_rest", seed(control(dflt, 0, chunk::head_then_rest, 0x42), {max_data}));
  bytes one_over = length_prefix(default_max_frame_size + 1);
  append(one_over, std::span{max_data}.subspan(frame_length_prefix_size));
  one_over.push_back(std::byte{0});
  add("data_default_max_plus_one", seed(control(dflt, 0, chunk::whole, 0), {beat, one_over, beat}));
  add("default_max_prefix_truncated_body",
      seed(control(dflt, 0, chunk::fixed, 127), {beat, bytes(max_data.begin(), max_data.begin() + 4096)}));
  {
    frame_encoder ceiling(max_frame_size_ceiling);  // the default encoder refuses what it must not send
    std::error_code ec;
    const auto over = ceiling.encode(
        data_frame{.payload = bytes(default_max_frame_size + 4 - data_frame_overhead, std::byte{0xA5})}, ec);
    if (ec) throw std::system_error(ec);
    add("data_above_default_under_ceiling", seed(control(max_size::ceiling, 0, chunk::random, 7), {bytes(over.begin(), over.end())}));
  }
  add("garbage_body", seed(control(dflt, 0, chunk::fixed, 4), {length_prefix(16), bytes(16, std::byte{0xFF})}));

  // Verified FlatBuffers that are not frames we accept.
  {
    flatbuffers::FlatBufferBuilder fbb;
    wire::FrameBuilder empty(fbb);
    add("unknown_frame_type", seed(control(dflt, 0, chunk::whole, 0), {finished(fbb, empty.Finish())}));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    const auto some_table = wire::CreateClose(fbb, wire::CloseCode::normal);
    add("unknown_control_type",
        seed(control(dflt, 0, chunk::whole, 0),
             {finished(fbb, wire::CreateFrame(fbb, nullptr, 0, static_cast<wire::Control>(42), some_table.Union()))}));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    const std::uint8_t one = 1;
    const auto v = fbb.CreateVector(&one, 1);
    const wire::Beat b(1, 2, 3);
    add("beat_and_data", seed(control(dflt, 0, chunk::whole, 0), {finished(fbb, wire::CreateFrame(fbb, &b, v))}));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    add("control_type_without_table",
        seed(control(dflt, 0, chunk::whole, 0), {finished(fbb, wire::CreateFrame(fbb, nullptr, 0, wire::Control::Hello, 0))}));
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    const auto w = wire::CreateWelcome(fbb, 1, 1000, 5000, nullptr);
    add("welcome_without_session_id",
        seed(control(dflt, 0, chunk::whole, 0), {finished(fbb, wire::CreateFrame(fbb, nullptr, 0, wire::Control::Welcome, w.Union()))}));
  }
  add("hello_version_3", seed(control(dflt, 0, chunk::whole, 0),
                              {encoded(hello_frame{.version = 3, .heartbeat_interval = 1s, .dead_after = 3s})}));
  add("hello_version_1", seed(control(dflt, 0, chunk::whole, 0),
                              {encoded(hello_frame{.version = 1, .heartbeat_interval = 1s, .dead_after = 3s})}));

  // Version 2, resume: a token in the hello, the welcome and a refreshing beat, acks on beats
  // and data, a refusal and a game's close with an application code.
  {
    bytes token(50, std::byte{0xA5});
    const auto resume_hello = encoded(hello_frame{.heartbeat_interval = 1s, .dead_after = 3s, .resume_token = token,
                                                  .received = 17, .replay_from = 9});
    const auto offer = encoded(welcome_frame{.heartbeat_interval = 1s, .dead_after = 3s, .session_id = 0x0100000002000003,
                                             .resume_grace = 30s, .resume_token = token});
    const auto resumed = encoded(welcome_frame{.heartbeat_interval = 1s, .dead_after = 3s, .session_id = 0x0100000002000003,
                                               .resume_grace = 30s, .resume_token = token, .resumed = true,
                                               .received = 12, .replay_from = 4, .state_lost = true});
    const auto acked_beat = encoded(beat_frame{.sent_at = {5}, .ack = 12});
    const auto refreshing_beat = encoded(beat_frame{.sent_at = {6}, .ack = 12, .resume_token = token});
    const auto acked_data = encoded(data_frame{.payload = game_bytes, .ack = 13});
    const auto timed_data = encoded(data_frame{.payload = game_bytes, .ack = 14,
                                               .timing = frame_timing{{77}, {66}, std::chrono::microseconds{55}}});
    const auto refused = encoded(close_frame{.code = close_code::resume_rejected, .detail = "forged_token"});
    const auto kicked = encoded(close_frame{.code = close_code::application, .detail = "banned", .app_code = 4003});
    add("resume_hello", seed(control(dflt, 0, chunk::whole, 0), {resume_hello}));
    add("resume_welcome_offer", seed(control(dflt, 0, chunk::fixed, 7), {offer}));
    add("resume_stream", seed(control(dflt, 0, chunk::random, 0x2B, 0, true),
                              {resume_hello, resumed, acked_data, acked_beat, timed_data, acked_data, refused}));
    add("data_with_timing", seed(control(dflt, 0, chunk::byte_by_byte, 0), {timed_data}));
    add("beat_with_fresh_token", seed(control(dflt, 0, chunk::fixed, 5), {acked_beat, refreshing_beat}));
    add("close_application", seed(control(dflt, 0, chunk::whole, 0), {kicked}));
  }

  for (const auto& [name, content] : seeds) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
