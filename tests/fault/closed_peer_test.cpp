// Fault kind "closed" (DESIGN.md §4): the peer closes its side normally, and the server's
// read path sees EOF at once; no deadline is involved. Its neighbours: a peer that aborts
// (RST) is a reset, not a close, and a peer that closes inside a frame is still a close,
// with the truncation as the detail.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/frame_error.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <sys/socket.h>

#include <array>
#include <cerrno>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// Waits for the one session a raw peer opened to be reported closed, and returns how
// long after `fault_at` that was.
clock::duration time_to_close(session_log& log, clock::time_point fault_at) {
  REQUIRE(log.wait_closed(1, 5s));
  return log.closed()[0].at - fault_at;
}

}  // namespace

TEST_CASE("a peer that closes its connection is reported as peer_closed at once, long before dead_after") {
  session_log log;
  server game(fast_server(), log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  const auto welcome = peer.handshake();
  REQUIRE(log.wait_opened(1));
  CHECK(log.closed().empty());

  // FIN without RST: shutdown(SHUT_WR) sends the FIN even if a server heartbeat sits unread
  // in our receive buffer (a plain close() would then send RST instead, a different fault).
  const auto fault_at = clock::now();
  REQUIRE(::shutdown(peer.fd(), SHUT_WR) == 0);
  const auto took = time_to_close(log, fault_at);

  const auto closed = log.closed()[0];
  CHECK(closed.id.value == welcome.session_id);
  CHECK(closed.why.reason == close_reason::peer_closed);
  CHECK(took < detection_slack);  // the read path, not a deadline: far below T = 300 ms
  CHECK(game.stats().total.closes(close_reason::peer_closed) == 1);
}

TEST_CASE("a connector that closes its session is reported as peer_closed on the server at once") {
  session_log server_log, client_log;
  server game(fast_server(), server_log.handlers());
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  REQUIRE(server_log.wait_opened(1));

  const auto fault_at = clock::now();
  REQUIRE_FALSE(client.close(client_log.opened()[0]));
  const auto took = time_to_close(server_log, fault_at);

  CHECK(server_log.closed()[0].why.reason == close_reason::peer_closed);
  CHECK(took < detection_slack);
  REQUIRE(client_log.wait_closed(1));
  CHECK(client_log.closed()[0].why.reason == close_reason::closed_locally);
}

TEST_CASE("a peer that closes in the middle of a frame is peer_closed with detail truncated_frame") {
  session_log log;
  server game(fast_server(), log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));

  // A length prefix announcing 64 bytes, then only 8 of them, then the end of the stream.
  const std::array<std::byte, 12> partial{std::byte{64}, std::byte{0}, std::byte{0}, std::byte{0}};
  peer.send_bytes(partial);
  const auto fault_at = clock::now();
  REQUIRE(::shutdown(peer.fd(), SHUT_WR) == 0);
  const auto took = time_to_close(log, fault_at);

  const auto why = log.closed()[0].why;
  CHECK(why.reason == close_reason::peer_closed);
  CHECK(why.detail == frame_error::truncated_frame);
  CHECK(took < detection_slack);
}

TEST_CASE("a peer that aborts its connection (RST) is reported as peer_reset at once") {
  session_log log;
  server game(fast_server(), log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  peer.handshake();
  REQUIRE(log.wait_opened(1));

  const linger abort_on_close{1, 0};
  REQUIRE(::setsockopt(peer.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0);
  const auto fault_at = clock::now();
  peer.close_now();
  const auto took = time_to_close(log, fault_at);

  CHECK(log.closed()[0].why.reason == close_reason::peer_reset);
  // The socket's errno (close_reason.hpp). Its category is Asio's "asio.system", which in
  // Asio 1.22 does not map to std::errc (asio#143), so compare the value.
  CHECK(log.closed()[0].why.detail.value() == ECONNRESET);
  CHECK(took < detection_slack);
}
