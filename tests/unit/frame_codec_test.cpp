// Round trips through lifeline::frame_encoder and lifeline::frame_decoder: every frame
// type, in one chunk, split at every byte boundary, and many frames in one read.
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace lifeline;

namespace {

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto view = std::as_bytes(std::span{text.data(), text.size()});
  return {view.begin(), view.end()};
}

std::vector<std::byte> encode(const frame& f) {
  frame_encoder encoder;
  std::error_code ec;
  const auto bytes = encoder.encode(f, ec);
  REQUIRE_FALSE(ec);
  return {bytes.begin(), bytes.end()};
}

// An owning copy of a decoded frame, since decoded views die with the decoder's next call.
struct decoded {
  std::size_t kind;
  std::vector<std::byte> payload;  // data_frame
  std::string detail;              // close_frame
  frame value;
};

decoded own(const frame& f) {
  decoded d{f.index(), {}, {}, f};
  if (const auto* data = std::get_if<data_frame>(&f)) d.payload.assign(data->payload.begin(), data->payload.end());
  if (const auto* close = std::get_if<close_frame>(&f)) d.detail = close->detail;
  return d;
}

// Feeds `stream` in chunks whose sizes come from `chunk_sizes` (cycled), collecting frames.
std::vector<decoded> decode_in_chunks(std::span<const std::byte> stream, std::vector<std::size_t> chunk_sizes) {
  frame_decoder decoder;
  std::vector<decoded> out;
  std::size_t offset = 0;
  for (std::size_t i = 0; offset < stream.size(); ++i) {
    const auto n = std::min(chunk_sizes[i % chunk_sizes.size()], stream.size() - offset);
    decoder.feed(stream.subspan(offset, n));
    offset += n;
    std::error_code ec;
    while (auto f = decoder.next(ec)) out.push_back(own(*f));
    REQUIRE_FALSE(ec);
  }
  CHECK_FALSE(decoder.finish());
  CHECK(decoder.buffered_bytes() == 0);
  return out;
}

const std::vector<std::byte> game_bytes = bytes_of("player 7 moved to (12, 40)");

std::vector<frame> one_of_each() {
  return {
      beat_frame{.sent_at = {123456}, .echo_of_peer = {4000000000u}, .held_for = 1500us},
      beat_frame{.sent_at = {99}, .echo_of_peer = {7}, .held_for = 20us, .urgent = true},
      data_frame{.payload = game_bytes},
      data_frame{.payload = {}},
      hello_frame{.heartbeat_interval = 1000ms, .dead_after = 3000ms},
      welcome_frame{.heartbeat_interval = 1000ms, .dead_after = 3000ms, .session_id = 0x0123456789abcdefULL},
      welcome_frame{.heartbeat_interval = 1000ms,
                    .dead_after = 3000ms,
                    .session_id = 42,
                    .server_heartbeat_interval = 5000ms,
                    .server_dead_after = 7000ms},
      welcome_frame{.heartbeat_interval = 1000ms,
                    .dead_after = 3000ms,
                    .session_id = 43,
                    .limits = {.frames_per_second = 1000, .bytes_per_second = 4u << 20, .burst = 1000ms, .beats_per_interval = 4}},
      close_frame{.code = close_code::heartbeat_timeout, .detail = "no frame for 3000 ms"},
      close_frame{.code = close_code::normal, .detail = {}},
      close_frame{.code = close_code::slow_frame, .detail = "slow_frame"},
  };
}

void check_same(const decoded& got, const frame& want) {
  REQUIRE(got.kind == want.index());
  std::visit(
      [&](const auto& w) {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, data_frame>) {
          CHECK(got.payload == std::vector<std::byte>(w.payload.begin(), w.payload.end()));
        } else if constexpr (std::is_same_v<T, close_frame>) {
          CHECK(std::get<close_frame>(got.value).code == w.code);
          CHECK(got.detail == w.detail);
        } else {
          CHECK(std::get<T>(got.value) == w);
        }
      },
      want);
}

}  // namespace

TEST_CASE("every frame type survives a round trip") {
  for (const auto& f : one_of_each()) {
    CAPTURE(f.index());
    const auto stream = encode(f);
    const auto frames = decode_in_chunks(stream, {stream.size()});
    REQUIRE(frames.size() == 1);
    check_same(frames[0], f);
  }
}

TEST_CASE("every frame survives being split at every byte boundary") {
  for (const auto& f : one_of_each()) {
    const auto stream = encode(f);
    for (std::size_t split = 1; split < stream.size(); ++split) {
      CAPTURE(f.index());
      CAPTURE(split);
      frame_decoder decoder;
      std::error_code ec;
      decoder.feed(std::span{stream}.first(split));
      CHECK_FALSE(decoder.next(ec).has_value());
      REQUIRE_FALSE(ec);
      CHECK(decoder.buffered_bytes() == split);
      CHECK(decoder.finish() == frame_error::truncated_frame);
      decoder.feed(std::span{stream}.subspan(split));
      const auto got = decoder.next(ec);
      REQUIRE(got.has_value());
      check_same(own(*got), f);
      CHECK_FALSE(decoder.next(ec).has_value());
      CHECK_FALSE(ec);
    }
  }
}

TEST_CASE("a stream of many frames decodes the same in one read, byte by byte, and in odd chunks") {
  std::vector<std::byte> stream;
  std::vector<frame> sent;
  for (int round = 0; round < 20; ++round)
    for (const auto& f : one_of_each()) {
      const auto bytes = encode(f);
      stream.insert(stream.end(), bytes.begin(), bytes.end());
      sent.push_back(f);
    }
  for (const auto& chunks : std::vector<std::vector<std::size_t>>{{stream.size()}, {1}, {7, 3, 61, 2}, {4096}}) {
    const auto frames = decode_in_chunks(stream, chunks);
    REQUIRE(frames.size() == sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) check_same(frames[i], sent[i]);
  }
}

TEST_CASE("a frame that is not 4-byte aligned in the read buffer is still decoded") {
  const auto frame_bytes = encode(welcome_frame{.heartbeat_interval = 1s, .dead_after = 3s, .session_id = 99});
  std::vector<std::byte> stream(1 + frame_bytes.size());
  std::copy(frame_bytes.begin(), frame_bytes.end(), stream.begin() + 1);
  frame_decoder decoder;
  decoder.feed(std::span{stream}.subspan(1));
  std::error_code ec;
  const auto got = decoder.next(ec);
  REQUIRE(got.has_value());
  CHECK(std::get<welcome_frame>(*got).session_id == 99);
}

TEST_CASE("a welcome costs its server_ fields only when the server beats at a rate of its own") {
  const auto symmetric = encode(welcome_frame{.heartbeat_interval = 1s, .dead_after = 3s, .session_id = 99});
  const auto asymmetric = encode(welcome_frame{.heartbeat_interval = 1s,
                                               .dead_after = 3s,
                                               .session_id = 99,
                                               .server_heartbeat_interval = 5s,
                                               .server_dead_after = 7s});
  const auto with_limits = encode(welcome_frame{.heartbeat_interval = 1s,
                                                .dead_after = 3s,
                                                .session_id = 99,
                                                .server_heartbeat_interval = 5s,
                                                .server_dead_after = 7s,
                                                .limits = {.frames_per_second = 1000,
                                                           .bytes_per_second = 4u << 20,
                                                           .burst = 1000ms,
                                                           .beats_per_interval = 4}});
  MESSAGE("welcome: " << symmetric.size() << " bytes, " << asymmetric.size() << " with the server's own rate, "
                      << with_limits.size() << " with inbound limits too");
  CHECK(symmetric.size() == 68);  // as before the fields existed: absent scalars are not written
  CHECK(asymmetric.size() > symmetric.size());
  // An old peer's welcome (no server_ fields) reads as "the server beats as you do".
  frame_decoder decoder;
  decoder.feed(symmetric);
  std::error_code ec;
  const auto got = decoder.next(ec);
  REQUIRE(got.has_value());
  CHECK(std::get<welcome_frame>(*got).server_heartbeat_interval == 0ms);
  CHECK(std::get<welcome_frame>(*got).server_dead_after == 0ms);
}

TEST_CASE("a heartbeat frame, length prefix included, is at most 32 bytes") {
  const auto stream = encode(beat_frame{.sent_at = {1}, .echo_of_peer = {2}, .held_for = 3us});
  MESSAGE("heartbeat frame: " << stream.size() << " bytes on the wire");
  CHECK(stream.size() <= 32);
}

TEST_CASE("an idle decoder holds no buffer, even after a split frame") {
  const auto stream = encode(data_frame{.payload = game_bytes});
  frame_decoder decoder;
  std::error_code ec;
  decoder.feed(std::span{stream}.first(10));
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(decoder.heap_bytes() > 0);
  decoder.feed(std::span{stream}.subspan(10));
  CHECK(decoder.next(ec).has_value());
  CHECK_FALSE(decoder.next(ec).has_value());
  CHECK(decoder.heap_bytes() == 0);
}

TEST_CASE("round-trip time comes from a beat's echo and hold time, across clock wrap") {
  const beat_frame beat{.sent_at = {10}, .echo_of_peer = {0xFFFFFF00u}, .held_for = 200us};
  // Our clock wrapped: 0xFFFFFF00 + 1256 us = 1000 (mod 2^32). RTT = 1256 - 200.
  CHECK(round_trip_time(beat, wire_timestamp{1000}) == 1056us);
  CHECK(round_trip_time(beat_frame{}, wire_timestamp{1000}) == 0us);
}

TEST_CASE("the encoder refuses a frame above the maximum size") {
  frame_encoder encoder(64);
  std::error_code ec;
  std::vector<std::byte> payload(48);
  CHECK(encoder.encode(data_frame{.payload = payload}, ec).empty());  // 48 + 24 bytes of framing > 64
  CHECK(ec == frame_error::frame_too_large);
  CHECK_FALSE(encoder.encode(data_frame{.payload = std::span{payload}.first(8)}, ec).empty());
  CHECK_FALSE(ec);
}

TEST_CASE("a maximum frame size outside [1, ceiling] is rejected at construction, naming the field") {
  CHECK_THROWS_WITH_AS(frame_decoder(0), doctest::Contains("max_frame_size"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(frame_encoder(max_frame_size_ceiling + 1), doctest::Contains("max_frame_size"),
                       std::invalid_argument);
}

TEST_CASE("an urgent beat costs a few bytes more, and an ordinary one stays 32") {
  const auto ordinary = encode(beat_frame{.sent_at = {1}, .echo_of_peer = {2}, .held_for = 3us});
  const auto urgent = encode(beat_frame{.sent_at = {1}, .echo_of_peer = {2}, .held_for = 3us, .urgent = true});
  CHECK(ordinary.size() == 32);
  CHECK(urgent.size() == 44);  // WIRE_FORMAT.md: the vtable reaches field 4
  MESSAGE("urgent beat: " << urgent.size() << " bytes on the wire");
}

TEST_CASE("a beat may carry a fresh resume token, and one without stays 32 bytes") {
  std::vector<std::byte> token(50);
  for (std::size_t i = 0; i < token.size(); ++i) token[i] = static_cast<std::byte>(i * 7);
  const beat_frame refreshing{.sent_at = {1}, .echo_of_peer = {2}, .held_for = 3us, .resume_token = token};
  const auto bytes = encode(refreshing);
  CHECK(encode(beat_frame{.sent_at = {1}, .echo_of_peer = {2}, .held_for = 3us}).size() == 32);
  CHECK(bytes.size() == 104);  // WIRE_FORMAT.md: the vtable reaches field 7, and the token's vector
  frame_decoder decoder;
  decoder.feed(bytes);
  std::error_code ec;
  const auto got = decoder.next(ec);
  REQUIRE(got);
  REQUIRE_FALSE(ec);
  const auto* beat = std::get_if<beat_frame>(&*got);
  REQUIRE(beat != nullptr);
  CHECK(*beat == refreshing);  // compared while the decoder's view is valid
  MESSAGE("beat with a token: " << bytes.size() << " bytes on the wire");
}

TEST_CASE("a close code is a std::error_code the game can compare and print") {
  const std::error_code said = close_code::heartbeat_timeout;
  CHECK(said == close_code::heartbeat_timeout);
  CHECK(std::string(said.category().name()) == "lifeline.close_code");
  CHECK_FALSE(said.message().empty());
  CHECK_FALSE(std::error_code(close_code::normal));  // a clean quit's detail tests false
  CHECK(to_string(close_code::slow_frame) == "slow_frame");
  CHECK(to_string(static_cast<close_code>(200)) == "other");
}

TEST_CASE("a caller that stops asking mid-chunk may keep the rest and take its frames later, after the chunk is gone") {
  std::vector<std::byte> stream;
  for (const auto& f : one_of_each()) {
    const auto bytes = encode(f);
    stream.insert(stream.end(), bytes.begin(), bytes.end());
  }
  frame_decoder decoder;
  auto chunk = std::make_unique<std::vector<std::byte>>(stream);  // the caller's buffer
  decoder.feed(*chunk);
  std::error_code ec;
  std::vector<decoded> got;
  got.push_back(own(*decoder.next(ec)));  // one frame this turn
  CHECK(decoder.unread_input() == stream.size() - encode(one_of_each()[0]).size());
  decoder.keep_unread_input();
  std::fill(chunk->begin(), chunk->end(), std::byte{0xEE});  // the caller reuses its buffer
  chunk.reset();
  CHECK(decoder.heap_bytes() >= decoder.unread_input());  // held, and counted
  while (auto f = decoder.next(ec)) got.push_back(own(*f));
  REQUIRE_FALSE(ec);
  const auto want = one_of_each();
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) check_same(got[i], want[i]);
  CHECK(decoder.unread_input() == 0);
  (void)decoder.next(ec);
  CHECK(decoder.heap_bytes() == 0);  // given back once consumed
}
