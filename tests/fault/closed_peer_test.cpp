// Fault kind "closed" (DESIGN.md §4): the peer's connection ends, and the server's read
// path sees it at once; no deadline is involved. A peer that says goodbye with a close
// frame quit (peer_closed); a connection that ends with a bare FIN (EOF, no close frame)
// is a process that died (peer_dropped), and one that ends inside a frame is that too,
// with the truncation as the detail. A peer that aborts (RST) is a reset.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/frame_error.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <thread>

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

TEST_CASE("a peer whose connection ends without a close frame (kill -9: FIN only) is peer_dropped at once") {
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
  CHECK(closed.why.reason == close_reason::peer_dropped);
  CHECK(took < detection_slack);  // the read path, not a deadline: far below T = 300 ms
  CHECK(game.stats().total.closes(close_reason::peer_dropped) == 1);
  CHECK(game.stats().total.closes(close_reason::peer_closed) == 0);
}

TEST_CASE("a connector that closes its session (a clean quit) is peer_closed on the server at once, detail normal") {
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
  CHECK(server_log.closed()[0].why.detail == close_code::normal);
  CHECK(took < detection_slack);
  REQUIRE(client_log.wait_closed(1));
  CHECK(client_log.closed()[0].why.reason == close_reason::closed_locally);
}

TEST_CASE("a peer whose connection ends in the middle of a frame is peer_dropped with detail truncated_frame") {
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
  CHECK(why.reason == close_reason::peer_dropped);
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

TEST_CASE("an opened peer's close frame is its word: peer_closed with its code as the detail, never a never-opened reason") {
  // server_full and handshake_timeout name sessions that never opened; a peer that says
  // them after its session opened must not make the game think so (it would never free
  // the seat).
  for (const auto code : {close_code::server_full, close_code::handshake_timeout, close_code::protocol_error,
                          close_code::heartbeat_timeout, close_code::other}) {
    CAPTURE(to_string(code));
    session_log log;
    server game(fast_server(), log.handlers());
    game.start();
    raw_peer peer("127.0.0.1", game.port());
    peer.handshake();
    REQUIRE(log.wait_opened(1));
    peer.send_frame(close_frame{.code = code, .detail = "spoofed"});
    REQUIRE(log.wait_closed(1, 2s));
    const auto why = log.closed()[0].why;
    CHECK(why.reason == close_reason::peer_closed);
    CHECK(why.detail == make_error_code(code));
  }
}

TEST_CASE("a peer process killed with kill -9 (its kernel sends FIN, no close frame) is peer_dropped, not peer_closed") {
  // The child is forked before the server starts any thread. It connects, completes the
  // handshake, tells the parent, and reads until it is killed, so nothing unread turns
  // its kernel's FIN into an RST.
  int to_child[2], to_parent[2];
  REQUIRE(::pipe(to_child) == 0);
  REQUIRE(::pipe(to_parent) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::uint16_t port = 0;
    if (::read(to_child[0], &port, sizeof port) != sizeof port) ::_exit(1);
    raw_peer peer("127.0.0.1", port);
    peer.handshake();
    const char ready = 'r';
    if (::write(to_parent[1], &ready, 1) != 1) ::_exit(1);
    char sink[4096];
    for (;;)
      if (::recv(peer.fd(), sink, sizeof sink, 0) <= 0) ::_exit(0);
  }
  session_log log;
  server game(fast_server(), log.handlers());
  game.start();
  const std::uint16_t port = game.port();
  REQUIRE(::write(to_child[1], &port, sizeof port) == sizeof port);
  char ready = 0;
  REQUIRE(::read(to_parent[0], &ready, 1) == 1);
  REQUIRE(log.wait_opened(1));

  const auto fault_at = clock::now();
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  const auto took = time_to_close(log, fault_at);
  for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) ::close(fd);

  CHECK(log.closed()[0].why.reason == close_reason::peer_dropped);
  CHECK(took < detection_slack);
}

TEST_CASE("a handler's send to a session whose peer has just reset leaves the frames being handled intact") {
  // One shard. While a handler holds it, peer A sends two messages in one segment, then
  // peer B sends a close frame and resets. When the shard runs again it reads A first; A's
  // first message makes the game send to B, whose write fails. B's unread close frame must
  // be read without touching the shard's read buffer, where A's second message still lies.
  session_log log;
  std::atomic<std::uint64_t> b_id{0};
  server* game_ptr = nullptr;
  server game(fast_server(1), log.handlers([&](session_id, std::span<const std::byte> bytes) {
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text == "hold") std::this_thread::sleep_for(200ms);
    if (text == "first") (void)game_ptr->send(session_id{b_id}, bytes_of("to B"));
  }));
  game_ptr = &game;
  game.start();
  raw_peer a("127.0.0.1", game.port());
  raw_peer b("127.0.0.1", game.port());
  a.handshake();
  b_id = b.handshake().session_id;
  REQUIRE(log.wait_opened(2));

  a.send_frame(data_frame{.payload = bytes_of("hold")});
  REQUIRE(log.wait_messages(1));
  frame_encoder encoder;
  std::error_code ec;
  auto both = std::vector<std::byte>{};
  for (const auto* text : {"first", "second"}) {
    const auto bytes = encoder.encode(data_frame{.payload = bytes_of(text)}, ec);
    both.insert(both.end(), bytes.begin(), bytes.end());
  }
  a.send_bytes(both);
  std::this_thread::sleep_for(20ms);
  b.send_frame(close_frame{.code = close_code::normal});
  const linger abort_on_close{1, 0};
  REQUIRE(::setsockopt(b.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close) == 0);
  b.close_now();

  REQUIRE(log.wait_messages(3, 2s));
  const auto messages = log.messages();
  CHECK(messages[1].second == "first");
  CHECK(messages[2].second == "second");
  REQUIRE(log.wait_closed(1, 2s));
  const auto closed = log.closed()[0];
  CHECK(closed.id.value == b_id);
  CHECK(closed.why.reason == close_reason::peer_closed);  // its word, read after the failed write
  a.send_beat();
  CHECK(log.closed().size() == 1);  // A untouched
}
