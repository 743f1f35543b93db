// Hostile and broken input to lifeline::frame_decoder: each case yields its specific
// error, holds no memory the peer merely claimed, and stays failed afterwards.
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include "lifeline/wire/frame_generated.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace std::chrono_literals;
using namespace lifeline;

namespace {

std::vector<std::byte> with_length_prefix(std::span<const std::byte> body, std::uint32_t length) {
  std::vector<std::byte> out(4 + body.size());
  std::memcpy(out.data(), &length, 4);  // little-endian host (x86_64, aarch64)
  std::copy(body.begin(), body.end(), out.begin() + 4);
  return out;
}

std::vector<std::byte> finished(flatbuffers::FlatBufferBuilder& fbb, flatbuffers::Offset<wire::Frame> root) {
  fbb.FinishSizePrefixed(root);
  const auto bytes = std::as_bytes(std::span{fbb.GetBufferPointer(), fbb.GetSize()});
  return {bytes.begin(), bytes.end()};
}

std::error_code decode_error_of(std::span<const std::byte> stream, std::size_t max_frame_size = default_max_frame_size) {
  frame_decoder decoder(max_frame_size);
  decoder.feed(stream);
  std::error_code ec;
  while (decoder.next(ec)) {
  }
  return ec;
}

}  // namespace

TEST_CASE("a length above the maximum is refused from the prefix alone, before any body byte is kept") {
  const std::uint32_t claimed = 1 << 20;
  const auto prefix = with_length_prefix({}, claimed);
  frame_decoder decoder(64 * 1024);
  std::error_code ec;
  decoder.feed(prefix);
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(ec == frame_error::frame_too_large);
  CHECK(decoder.heap_bytes() == 0);
}

TEST_CASE("a length prefix arriving byte by byte is checked as soon as it is complete") {
  const auto prefix = with_length_prefix({}, 100'000);
  frame_decoder decoder(1000);
  std::error_code ec;
  for (std::size_t i = 0; i < 3; ++i) {
    decoder.feed(std::span{prefix}.subspan(i, 1));
    CHECK_FALSE(decoder.next(ec).has_value());
    CHECK_FALSE(ec);
  }
  decoder.feed(std::span{prefix}.subspan(3, 1));
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(ec == frame_error::frame_too_large);
}

TEST_CASE("a frame of exactly the maximum size is accepted, one byte more is not") {
  frame_encoder encoder;
  std::error_code ec;
  const std::vector<std::byte> payload(100);
  const auto stream = encoder.encode(data_frame{.payload = payload}, ec);
  const auto body_size = stream.size() - frame_length_prefix_size;
  CHECK_FALSE(decode_error_of(stream, body_size));
  CHECK(decode_error_of(stream, body_size - 1) == frame_error::frame_too_large);
}

TEST_CASE("a zero length is malformed") {
  CHECK(decode_error_of(with_length_prefix({}, 0)) == frame_error::malformed_frame);
}

TEST_CASE("garbage bytes are malformed") {
  const std::vector<std::byte> garbage(16, std::byte{0xFF});
  CHECK(decode_error_of(with_length_prefix(garbage, 16)) == frame_error::malformed_frame);
  const std::vector<std::byte> zeros(16, std::byte{0});
  CHECK(decode_error_of(with_length_prefix(zeros, 16)) == frame_error::malformed_frame);
}

TEST_CASE("a FlatBuffer cut short inside a frame of consistent length is malformed") {
  frame_encoder encoder;
  std::error_code ec;
  const std::vector<std::byte> payload(40, std::byte{7});
  const auto whole = encoder.encode(data_frame{.payload = payload}, ec);
  const auto body = whole.subspan(frame_length_prefix_size);
  for (std::size_t cut = 1; cut < body.size(); ++cut) {
    CAPTURE(cut);
    const auto shortened = body.first(body.size() - cut);
    CHECK(decode_error_of(with_length_prefix(shortened, static_cast<std::uint32_t>(shortened.size()))) ==
          frame_error::malformed_frame);
  }
}

TEST_CASE("a stream that ends inside a frame reports a truncated frame at EOF") {
  frame_encoder encoder;
  std::error_code ec;
  const auto whole = encoder.encode(hello_frame{.heartbeat_interval = 1s, .dead_after = 3s}, ec);
  frame_decoder decoder;
  decoder.feed(whole.first(whole.size() - 1));
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK_FALSE(ec);
  CHECK(decoder.finish() == frame_error::truncated_frame);
}

TEST_CASE("a control frame of a type this build does not know is an unknown frame type") {
  flatbuffers::FlatBufferBuilder fbb;
  const auto some_table = wire::CreateClose(fbb, wire::CloseCode::normal);
  const auto root = wire::CreateFrame(fbb, nullptr, 0, static_cast<wire::Control>(42), some_table.Union());
  CHECK(decode_error_of(finished(fbb, root)) == frame_error::unknown_frame_type);
}

TEST_CASE("a frame with none of the known fields (a newer frame type) is an unknown frame type") {
  flatbuffers::FlatBufferBuilder fbb;
  wire::FrameBuilder empty(fbb);
  CHECK(decode_error_of(finished(fbb, empty.Finish())) == frame_error::unknown_frame_type);
}

TEST_CASE("a frame carrying two types at once is malformed") {
  flatbuffers::FlatBufferBuilder fbb;
  const std::uint8_t byte = 1;
  const auto data = fbb.CreateVector(&byte, 1);
  const wire::Beat beat(1, 2, 3);
  const auto root = wire::CreateFrame(fbb, &beat, data);
  CHECK(decode_error_of(finished(fbb, root)) == frame_error::malformed_frame);
}

TEST_CASE("a control type without its table is malformed") {
  flatbuffers::FlatBufferBuilder fbb;
  const auto root = wire::CreateFrame(fbb, nullptr, 0, wire::Control::Hello, 0);
  CHECK(decode_error_of(finished(fbb, root)) == frame_error::malformed_frame);
}

TEST_CASE("hello and welcome with a protocol version outside [oldest, current] are unsupported") {
  for (const std::uint16_t version : {std::uint16_t{0}, std::uint16_t{protocol_version + 1}, std::uint16_t{65535}}) {
    CAPTURE(version);
    frame_encoder encoder;
    std::error_code ec;
    const auto hello = encoder.encode(hello_frame{.version = version, .heartbeat_interval = 1s, .dead_after = 3s}, ec);
    CHECK(decode_error_of(hello) == frame_error::unsupported_protocol_version);
    const auto welcome = encoder.encode(welcome_frame{.version = version, .heartbeat_interval = 1s, .dead_after = 3s}, ec);
    CHECK(decode_error_of(welcome) == frame_error::unsupported_protocol_version);
  }
}

TEST_CASE("a close code from a newer peer decodes as other") {
  flatbuffers::FlatBufferBuilder fbb;
  const auto close = wire::CreateClose(fbb, static_cast<wire::CloseCode>(200));
  const auto stream = finished(fbb, wire::CreateFrame(fbb, nullptr, 0, wire::Control::Close, close.Union()));
  frame_decoder decoder;
  decoder.feed(stream);
  std::error_code ec;
  const auto got = decoder.next(ec);
  REQUIRE(got.has_value());
  CHECK(std::get<close_frame>(*got).code == close_code::other);
}

TEST_CASE("after an error the decoder yields nothing more, even for valid frames") {
  frame_encoder encoder;
  std::error_code ec;
  const auto valid = encoder.encode(beat_frame{}, ec);
  std::vector<std::byte> stream(valid.begin(), valid.end());
  const auto bad = with_length_prefix({}, 0);
  stream.insert(stream.end(), bad.begin(), bad.end());
  stream.insert(stream.end(), valid.begin(), valid.end());

  frame_decoder decoder;
  decoder.feed(stream);
  CHECK(decoder.next(ec).has_value());
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(ec == frame_error::malformed_frame);
  decoder.feed(valid);
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(ec == frame_error::malformed_frame);
  CHECK(decoder.finish() == frame_error::malformed_frame);
}

TEST_CASE("frame errors have a category and messages for logs") {
  const std::error_code ec = frame_error::frame_too_large;
  CHECK(std::string(ec.category().name()) == "lifeline.frame");
  CHECK(ec.message() == "frame length above the maximum frame size");
}

TEST_CASE("a frame that fails verification after arriving in pieces leaves no buffer behind") {
  const std::vector<std::byte> garbage(4000, std::byte{0xEE});
  const auto stream = with_length_prefix(garbage, 4000);
  frame_decoder decoder;
  std::error_code ec;
  decoder.feed(std::span{stream}.first(1000));
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(decoder.heap_bytes() > 0);
  decoder.feed(std::span{stream}.subspan(1000));
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(ec == frame_error::malformed_frame);
  CHECK(decoder.heap_bytes() == 0);
  CHECK(decoder.buffered_bytes() == 0);
}
