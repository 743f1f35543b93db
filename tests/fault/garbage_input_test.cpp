// Fault kind "garbage" (DESIGN.md §4): a peer sends bytes that are not a valid frame, an
// oversized length, or a valid frame its session's state does not allow. That session,
// and only that one, is closed with protocol_error carrying the decoder's frame_error,
// after the server tells the peer why in a close frame (code protocol_error). Every frame
// is hostile: an oversized length is refused as soon as its 4 bytes arrive, without
// waiting for (or buffering) the body it announces.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/raw_peer_reading.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/frame_error.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <array>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

std::vector<std::byte> length_prefix(std::uint32_t length) {
  return {std::byte(length & 0xFFu), std::byte((length >> 8) & 0xFFu), std::byte((length >> 16) & 0xFFu),
          std::byte((length >> 24) & 0xFFu)};
}

// An echo server, one well-behaved connector session on it, and room for raw peers.
struct server_with_a_good_session {
  session_log server_log, client_log;
  server game{fast_server(), server_log.handlers([this](session_id id, std::span<const std::byte> bytes) {
                game.send(id, bytes);
              })};
  connector client{fast_connector(), client_log.handlers()};
  session_id good_client_id;

  server_with_a_good_session() {
    game.start();
    client.start();
    client.connect({.address = "127.0.0.1", .port = game.port()});
    REQUIRE(client_log.wait_opened(1));
    REQUIRE(server_log.wait_opened(1));
    good_client_id = client_log.opened()[0];
  }

  // The good session still carries messages both ways and was never closed.
  void check_good_session_unharmed() {
    const auto before = client_log.messages().size();
    REQUIRE_FALSE(client.send(good_client_id, bytes_of("still fine?")));
    REQUIRE(client_log.wait_messages(before + 1));
    CHECK(client_log.messages().back().second == "still fine?");
    CHECK(client_log.closed().empty());
    for (const auto& e : server_log.closed()) CHECK(e.id != server_log.opened()[0]);
  }
};

}  // namespace

TEST_CASE("a frame that is not a valid FlatBuffer closes only its session, as protocol_error malformed_frame") {
  server_with_a_good_session s;
  raw_peer peer("127.0.0.1", s.game.port());
  const auto welcome = peer.handshake();
  REQUIRE(s.server_log.wait_opened(2));

  auto garbage = length_prefix(16);
  garbage.insert(garbage.end(), 16, std::byte{0xFF});
  const auto sent_at = clock::now();
  peer.send_bytes(garbage);

  REQUIRE(s.server_log.wait_closed(1, 5s));
  const auto closed = s.server_log.closed()[0];
  CHECK(closed.id.value == welcome.session_id);
  CHECK(closed.why.reason == close_reason::protocol_error);
  CHECK(closed.why.detail == frame_error::malformed_frame);
  CHECK(closed.at - sent_at < detection_slack);
  CHECK(await_close_frame(peer) == close_code::protocol_error);
  CHECK(await_end_of_stream(peer));
  s.check_good_session_unharmed();
  CHECK(s.game.stats().total.closes(close_reason::protocol_error) == 1);
}

TEST_CASE("an oversized length prefix is refused at once, as protocol_error frame_too_large, without waiting for its body") {
  server_with_a_good_session s;
  raw_peer peer("127.0.0.1", s.game.port());
  const auto welcome = peer.handshake();
  REQUIRE(s.server_log.wait_opened(2));

  // 2 GiB announced; not one byte of it follows. Waiting for it would mean no close until
  // dead_after (the peer is silent), so a close well before that is the refusal itself.
  const auto sent_at = clock::now();
  peer.send_bytes(length_prefix(0x7FFF'FFFF));

  REQUIRE(s.server_log.wait_closed(1, 5s));
  const auto closed = s.server_log.closed()[0];
  CHECK(closed.id.value == welcome.session_id);
  CHECK(closed.why.reason == close_reason::protocol_error);
  CHECK(closed.why.detail == frame_error::frame_too_large);
  CHECK(closed.at - sent_at < detection_slack);
  CHECK(await_close_frame(peer) == close_code::protocol_error);
  s.check_good_session_unharmed();
}

TEST_CASE("a length just above max_frame_size is refused, and one at max_frame_size is not") {
  server_with_a_good_session s;
  const auto limit = static_cast<std::uint32_t>(fast_liveness().max_frame_size);

  raw_peer at_limit("127.0.0.1", s.game.port());
  at_limit.handshake();
  raw_peer above("127.0.0.1", s.game.port());
  const auto above_welcome = above.handshake();
  REQUIRE(s.server_log.wait_opened(3));

  at_limit.send_bytes(length_prefix(limit));  // legal: the server waits for the body
  above.send_bytes(length_prefix(limit + 1));
  REQUIRE(s.server_log.wait_closed(1, 5s));
  const auto closed = s.server_log.closed()[0];
  CHECK(closed.id.value == above_welcome.session_id);
  CHECK(closed.why.detail == frame_error::frame_too_large);
  CHECK(s.server_log.closed().size() == 1);
  s.check_good_session_unharmed();
}

TEST_CASE("a zero length prefix is a protocol_error malformed_frame") {
  server_with_a_good_session s;
  raw_peer peer("127.0.0.1", s.game.port());
  peer.handshake();
  REQUIRE(s.server_log.wait_opened(2));

  peer.send_bytes(length_prefix(0));
  REQUIRE(s.server_log.wait_closed(1, 5s));
  CHECK(s.server_log.closed()[0].why.reason == close_reason::protocol_error);
  CHECK(s.server_log.closed()[0].why.detail == frame_error::malformed_frame);
  CHECK(await_close_frame(peer) == close_code::protocol_error);
  s.check_good_session_unharmed();
}

TEST_CASE("data before the hello is a protocol_error unexpected_frame, and the game never hears of that session") {
  server_with_a_good_session s;
  raw_peer peer("127.0.0.1", s.game.port());
  const std::array<std::byte, 3> payload{std::byte{1}, std::byte{2}, std::byte{3}};
  peer.send_frame(data_frame{.payload = payload});

  CHECK(await_close_frame(peer) == close_code::protocol_error);
  CHECK(await_end_of_stream(peer));
  const auto stats = s.game.stats().total;
  CHECK(stats.closes(close_reason::protocol_error) == 1);
  CHECK(s.server_log.opened().size() == 1);  // the good session only
  CHECK(s.server_log.closed().empty());      // on_closed only for sessions that were opened
  s.check_good_session_unharmed();
}

TEST_CASE("a second hello on an open session is a protocol_error unexpected_frame") {
  server_with_a_good_session s;
  raw_peer peer("127.0.0.1", s.game.port());
  const auto welcome = peer.handshake();
  REQUIRE(s.server_log.wait_opened(2));

  peer.send_frame(hello_frame{.heartbeat_interval = 100ms, .dead_after = 300ms});
  REQUIRE(s.server_log.wait_closed(1, 5s));
  const auto closed = s.server_log.closed()[0];
  CHECK(closed.id.value == welcome.session_id);
  CHECK(closed.why.reason == close_reason::protocol_error);
  CHECK(closed.why.detail == frame_error::unexpected_frame);
  CHECK(await_close_frame(peer) == close_code::protocol_error);
  s.check_good_session_unharmed();
}

TEST_CASE("a hello with another protocol version is refused with a close frame, and the game never hears of it") {
  server_with_a_good_session s;
  raw_peer peer("127.0.0.1", s.game.port());
  // Our encoder writes what it is given; the server's decoder must refuse it.
  peer.send_frame(hello_frame{.version = static_cast<std::uint16_t>(protocol_version + 1), .heartbeat_interval = 100ms, .dead_after = 300ms});

  // The wire has a dedicated close code, unsupported_version; the server may say that or
  // protocol_error (the session layer maps the close reason, not the frame_error).
  const auto code = await_close_frame(peer);
  CHECK((code == close_code::protocol_error || code == close_code::unsupported_version));
  CHECK(await_end_of_stream(peer));
  CHECK(s.game.stats().total.closes(close_reason::protocol_error) == 1);
  CHECK(s.server_log.closed().empty());
  s.check_good_session_unharmed();
  MESSAGE("close code for an unsupported version: " << (code ? static_cast<int>(*code) : -1));
}
