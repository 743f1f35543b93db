// What a game may ask about a session, and from which thread (server.hpp's thread rules):
// addresses of both ends, round-trip time, queued bytes and user context. A call that only
// works on the session's own thread answers wrong_thread elsewhere, never unknown_session
// for a session that is alive.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <mutex>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

namespace {

std::uint16_t local_port_of(int fd) {
  sockaddr_in local{};
  socklen_t size = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size);
  return ntohs(local.sin_port);
}

}  // namespace

TEST_CASE("a session's addresses are its peer's and ours, from a handler and from a game thread") {
  session_log log;
  std::mutex mutex;
  session_addresses in_handler;
  std::error_code handler_asked{session_error::unknown_session};
  server* serving = nullptr;
  auto handlers = log.handlers();
  const auto record_opened = handlers.on_opened;
  handlers.on_opened = [&](session_id id) {
    {
      std::lock_guard lock(mutex);
      handler_asked = serving->addresses(id, in_handler);
    }
    record_opened(id);
  };
  server game(fast_server(1), handlers);
  serving = &game;
  game.start();
  raw_peer peer("127.0.0.1", game.port(), "127.0.0.2");
  const session_id id{peer.handshake().session_id};
  REQUIRE(log.wait_opened(1));

  session_addresses from_game_thread;
  REQUIRE(game.addresses(id, from_game_thread) == std::error_code{});
  CHECK(from_game_thread.remote.family == socket_address::family_type::ipv4);
  CHECK(from_game_thread.remote.address_string() == "127.0.0.2");
  CHECK(from_game_thread.remote.port == local_port_of(peer.fd()));
  CHECK(from_game_thread.local.to_string() == "127.0.0.1:" + std::to_string(game.port()));
  std::lock_guard lock(mutex);
  CHECK(handler_asked == std::error_code{});
  CHECK(in_handler == from_game_thread);
  CHECK(game.addresses(session_id{id.value + 1}, from_game_thread) == session_error::unknown_session);
}

TEST_CASE("IPv6 sessions report IPv6 addresses") {
  auto config = fast_server(1);
  config.listen_address = "::1";
  session_log server_log, client_log;
  server game(config, server_log.handlers());
  try {
    game.start();
  } catch (const std::system_error& e) {
    MESSAGE("skipped: no IPv6 loopback here (" << e.what() << ")");
    return;
  }
  connector client(fast_connector(), client_log.handlers());
  client.start();
  client.connect({.address = "::1", .port = game.port()});
  REQUIRE(server_log.wait_opened(1));
  REQUIRE(client_log.wait_opened(1));
  session_addresses at_server, at_client;
  REQUIRE(game.addresses(server_log.opened().front(), at_server) == std::error_code{});
  REQUIRE(client.addresses(client_log.opened().front(), at_client) == std::error_code{});
  CHECK(at_server.remote.family == socket_address::family_type::ipv6);
  CHECK(at_server.local.to_string() == "[::1]:" + std::to_string(game.port()));
  CHECK(at_server.remote == at_client.local);
  CHECK(at_server.local == at_client.remote);
}

TEST_CASE("owning-thread calls answer wrong_thread from a game thread, any-thread calls answer there") {
  session_log log;
  server game(fast_server(1), log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  const session_id id{peer.handshake().session_id};
  REQUIRE(log.wait_opened(1));
  int context = 0;
  CHECK(game.set_user_context(id, &context) == session_error::wrong_thread);
  CHECK(game.user_context(id) == nullptr);
  std::chrono::microseconds rtt{-1};
  CHECK(game.round_trip_time(id, rtt) == std::error_code{});
  CHECK(rtt.count() >= 0);
  std::size_t queued = 1;
  CHECK(game.queued_bytes(id, queued) == std::error_code{});
  CHECK(queued == 0);
  tcp_kernel_info info;
  CHECK(game.kernel_info(id, info) == std::error_code{});
  // A stale id is unknown, whatever the thread.
  peer.close_now();
  REQUIRE(log.wait_closed(1));
  CHECK(game.set_user_context(id, &context) == session_error::unknown_session);
  CHECK(game.round_trip_time(id, rtt) == session_error::unknown_session);
  CHECK(game.queued_bytes(id, queued) == session_error::unknown_session);
  CHECK(game.kernel_info(id, info) == session_error::unknown_session);
}

TEST_CASE("a handler asking about another shard's session gets wrong_thread, never a wait on that shard") {
  session_log log;
  std::mutex mutex;
  std::optional<session_id> other;
  std::error_code asked_across;
  std::atomic<bool> answered{false};
  server* serving = nullptr;
  server game(fast_server(2), log.handlers([&](session_id, std::span<const std::byte>) {
    std::lock_guard lock(mutex);
    session_addresses where;
    asked_across = serving->addresses(*other, where);
    answered = true;
  }));
  serving = &game;
  game.start();
  // Peers until two sessions live on different shards (the kernel spreads them).
  std::vector<std::unique_ptr<raw_peer>> peers;
  std::vector<session_id> ids;
  while (peers.size() < 64) {
    peers.push_back(std::make_unique<raw_peer>("127.0.0.1", game.port()));
    ids.emplace_back(peers.back()->handshake().session_id);
    if (ids.back().shard() != ids.front().shard()) break;
  }
  REQUIRE(ids.back().shard() != ids.front().shard());
  {
    std::lock_guard lock(mutex);
    other = ids.back();
  }
  peers.front()->send_frame(data_frame{.payload = bytes_of("ask")});
  REQUIRE(poll_until([&] { return answered.load(); }, 10s));
  std::lock_guard lock(mutex);
  CHECK(asked_across == session_error::wrong_thread);
}
