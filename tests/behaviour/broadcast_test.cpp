// Game-thread messages keep their order: one message to many sessions (broadcast.hpp)
// reaches each live member exactly once, in order with what the same thread sent it
// singly (stale ids are skipped and counted), and a close comes after what was sent first.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// The messages each client session received, in order.
struct inboxes {
  std::mutex mutex;
  std::map<std::uint64_t, std::vector<std::string>> of;
  std::size_t total = 0;
  void add(session_id id, std::span<const std::byte> bytes) {
    std::lock_guard lock(mutex);
    of[id.value].emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    ++total;
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return total;
  }
};

}  // namespace

TEST_CASE("a broadcast reaches every live member once, in order with single sends, and skips stale ids") {
  constexpr int clients = 24;
  constexpr std::size_t rounds = 10;
  session_log server_log, client_log;
  std::function<void(session_id, std::span<const std::byte>)> on_server_message = [](auto, auto) {};
  server game(fast_server(2), server_log.handlers([&](session_id id, std::span<const std::byte> b) { on_server_message(id, b); }));
  game.start();
  inboxes received;
  auto client_config = fast_connector();
  client_config.worker_threads = 2;
  connector client(client_config, client_log.handlers([&](session_id id, std::span<const std::byte> b) { received.add(id, b); }));
  client.start();
  for (int i = 0; i < clients; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(server_log.wait_opened(clients));
  REQUIRE(client_log.wait_opened(clients));
  auto members = server_log.opened();
  const auto first = members.front();
  std::map<unsigned, int> per_shard;
  for (const auto id : members) ++per_shard[id.shard()];
  CHECK(per_shard.size() == 2);  // the test covers both paths: one inbox item per shard
  members.push_back(session_id::make(0, 999, 7));  // never issued
  members.push_back(session_id::make(1, 999, 8));

  for (std::size_t round = 0; round < rounds; ++round) {
    REQUIRE(game.send(first, bytes_of("single " + std::to_string(round))) == std::error_code{});
    const auto result = game.broadcast(members, bytes_of("state " + std::to_string(round)));
    CHECK(result.error == std::error_code{});
    CHECK(result.queued == clients);
    CHECK(result.unknown == 2);
    CHECK(result.queue_full == 0);
  }
  REQUIRE(poll_until([&] { return received.count() >= clients * rounds + rounds; }, 10s));
  std::lock_guard lock(received.mutex);
  CHECK(received.of.size() == clients);
  for (const auto& [id, messages] : received.of) {
    std::vector<std::string> states;
    for (const auto& m : messages)
      if (m.starts_with("state ")) states.push_back(m);
    REQUIRE(states.size() == rounds);
    for (std::size_t round = 0; round < rounds; ++round) CHECK(states[round] == "state " + std::to_string(round));
    if (messages.size() == 2 * rounds) {  // the session that also got the single sends
      for (std::size_t round = 0; round < rounds; ++round) {
        CHECK(messages[2 * round] == "single " + std::to_string(round));
        CHECK(messages[2 * round + 1] == "state " + std::to_string(round));
      }
    } else {
      CHECK(messages.size() == rounds);
    }
  }
  CHECK(received.total == clients * rounds + rounds);
}

TEST_CASE("a broadcast from a handler reaches its own shard's sessions and the other shard's") {
  constexpr int clients = 16;
  session_log server_log, client_log;
  server* serving = nullptr;
  std::vector<session_id> everyone;
  std::mutex mutex;
  broadcast_result from_handler;
  server game(fast_server(2), server_log.handlers([&](session_id, std::span<const std::byte>) {
    std::lock_guard lock(mutex);
    from_handler = serving->broadcast(everyone, bytes_of("from a handler"));
  }));
  serving = &game;
  game.start();
  inboxes received;
  connector client(fast_connector(), client_log.handlers([&](session_id id, std::span<const std::byte> b) { received.add(id, b); }));
  client.start();
  for (int i = 0; i < clients; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(server_log.wait_opened(clients));
  REQUIRE(client_log.wait_opened(clients));
  {
    std::lock_guard lock(mutex);
    everyone = server_log.opened();
  }
  REQUIRE(client.send(client_log.opened().front(), bytes_of("go")) == std::error_code{});
  REQUIRE(poll_until([&] { return received.count() >= clients; }, 10s));
  std::lock_guard lock(mutex);
  CHECK(from_handler.queued == clients);
  CHECK(received.of.size() == clients);
  CHECK(received.count() == clients);
}

TEST_CASE("a broadcast before start() or of a message too large queues nothing and says why") {
  session_log log;
  server game(fast_server(1), log.handlers());
  const std::vector<session_id> nobody{session_id::make(0, 1, 1)};
  CHECK(game.broadcast(nobody, bytes_of("x")).error == session_error::not_running);
  game.start();
  const std::string huge(70 * 1024, 'h');
  const auto result = game.broadcast(nobody, bytes_of(huge));
  CHECK(result.error == session_error::message_too_large);
  CHECK(result.queued == 0);
}

TEST_CASE("a game thread that sends and then closes delivers every message before the close") {
  // Four sessions, twenty rounds: each round a game thread sends 50 messages to each and
  // closes it at once. Every message must reach the peer before its session ends (a close
  // posted on its own used to overtake the sends still waiting for the shard).
  session_log server_log, client_log;
  server game(fast_server(2), server_log.handlers());
  game.start();
  auto client_config = fast_connector();
  client_config.worker_threads = 2;
  connector client(client_config, client_log.handlers());
  client.start();
  constexpr int rounds = 20, sessions = 4, messages = 50;
  for (int round = 0; round < rounds; ++round) {
    const auto opened_before = server_log.opened().size();
    for (int i = 0; i < sessions; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
    REQUIRE(server_log.wait_opened(opened_before + sessions));
    const auto all = server_log.opened();
    for (auto it = all.begin() + static_cast<std::ptrdiff_t>(opened_before); it != all.end(); ++it) {
      for (int m = 0; m < messages; ++m) REQUIRE(game.send(*it, bytes_of("m" + std::to_string(m))) == std::error_code{});
      REQUIRE(game.close(*it) == std::error_code{});
    }
  }
  REQUIRE(client_log.wait_closed(rounds * sessions));
  CHECK(client_log.messages().size() == static_cast<std::size_t>(rounds * sessions * messages));
}
