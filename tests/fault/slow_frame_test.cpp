// A frame must finish (DESIGN.md §8): only complete frames prove a peer alive. A peer that
// announces a large frame and then drips its body a byte at a time must not stay open on
// the strength of those bytes; it is closed as slow_frame once the frame is still
// unfinished frame_timeout after its first byte (dead_after unless set). A large frame sent
// at a normal pace is not, even when it takes longer to arrive than the silence allowed.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <array>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// A 64 KiB length prefix: a frame of 65,536 body bytes is announced.
constexpr std::array<std::byte, 4> large_frame_prefix{std::byte{0x00}, std::byte{0x00}, std::byte{0x01}, std::byte{0x00}};

// Sends `frame_bytes` in `pieces` pieces spread over `over`, and returns when it finished.
void send_slowly(raw_peer& peer, std::span<const std::byte> frame_bytes, int pieces, std::chrono::milliseconds over) {
  const auto piece = (frame_bytes.size() + static_cast<std::size_t>(pieces) - 1) / static_cast<std::size_t>(pieces);
  for (std::size_t at = 0; at < frame_bytes.size(); at += piece) {
    peer.send_bytes(frame_bytes.subspan(at, std::min(piece, frame_bytes.size() - at)));
    std::this_thread::sleep_for(over / pieces);
  }
}

}  // namespace

TEST_CASE("a peer that drips a frame one byte at a time is closed as slow_frame at its first byte + frame_timeout") {
  const auto config = fast_server();
  const auto frame_timeout = config.liveness.dead_after;  // the default
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer dripper("127.0.0.1", game.port());
  raw_peer silent("127.0.0.1", game.port());  // the control: says nothing at all
  dripper.handshake();
  const auto silent_since = clock::now();
  const auto silent_id = silent.handshake().session_id;
  REQUIRE(log.wait_opened(2));

  const auto first_byte = clock::now();
  dripper.send_bytes(large_frame_prefix);
  std::atomic<bool> dripping{true};
  std::thread drip([&] {
    const std::array<std::byte, 1> one{std::byte{0x11}};
    while (dripping) {
      std::this_thread::sleep_for(50ms);  // twice per heartbeat interval: bytes keep coming
      try {
        dripper.send_bytes(one);
      } catch (const std::runtime_error&) {
        return;  // closed
      }
    }
  });

  REQUIRE(log.wait_closed(2, 10 * frame_timeout));
  dripping = false;
  drip.join();
  for (const auto& e : log.closed()) {
    if (e.id.value == silent_id) {
      CHECK(e.why.reason == close_reason::heartbeat_timeout);
      CHECK(e.at >= silent_since + config.liveness.dead_after);
    } else {
      CHECK(e.why.reason == close_reason::slow_frame);
      CHECK(e.at >= first_byte + frame_timeout);
      CHECK(e.at <= first_byte + frame_timeout + detection_slack);
      MESSAGE("closed " << std::chrono::duration_cast<std::chrono::milliseconds>(e.at - first_byte).count()
                        << " ms after the frame's first byte (frame_timeout " << frame_timeout.count() << " ms)");
    }
  }
  // The dripper was alive: it was told why.
  std::optional<frame> last;
  while (auto f = dripper.receive(1s)) last = f;
  REQUIRE(last.has_value());
  REQUIRE(std::holds_alternative<close_frame>(*last));
  CHECK(std::get<close_frame>(*last).code == close_code::slow_frame);
}

TEST_CASE("a configured frame_timeout shorter than dead_after closes a stalled frame sooner") {
  auto config = fast_server();
  config.liveness.frame_timeout = 150ms;
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));
  const auto first_byte = clock::now();
  peer.send_bytes(large_frame_prefix);
  REQUIRE(log.wait_closed(1, 5s));
  const auto e = log.closed()[0];
  CHECK(e.why.reason == close_reason::slow_frame);
  CHECK(e.at >= first_byte + 150ms);
  CHECK(e.at <= first_byte + 150ms + detection_slack);
}

TEST_CASE("a large frame sent at a normal pace is delivered, even when it takes longer than the silence allowed") {
  // Silent for 400 ms, then a 60,000-byte message arriving over about 400 ms: 800 ms
  // without a complete frame, more than dead_after (600 ms), yet the frame arrived within
  // frame_timeout (600 ms) of its first byte and the peer is alive.
  auto config = fast_server();
  config.liveness.dead_after = 600ms;
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));
  peer.send_beat();
  std::this_thread::sleep_for(400ms);

  const std::string payload(60'000, 'x');
  frame_encoder encoder(config.liveness.max_frame_size);
  std::error_code ec;
  const auto bytes = encoder.encode(data_frame{.payload = bytes_of(payload)}, ec);
  REQUIRE_FALSE(ec);
  send_slowly(peer, bytes, 5, 400ms);
  REQUIRE(log.wait_messages(1, 2s));
  CHECK(log.messages()[0].second.size() == payload.size());
  peer.send_beat();
  std::this_thread::sleep_for(150ms);
  CHECK(log.closed().empty());
}
