// Game threads calling into a 4-shard server at once: sends and closes from several
// threads, to live, closing and stale ids, while stats() is read. Built and run under
// ThreadSanitizer (preset tsan), which fails the test on any data race; the assertions
// check that every session is reported closed exactly once and no message is corrupted.
#include "../support/fast_config.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

TEST_CASE("concurrent sends and closes from game threads are safe and lose no close") {
  constexpr int sessions = 64;
  constexpr int game_threads = 4;
  session_log server_log, client_log;
  std::atomic<int> corrupted{0};
  const std::string payload = "0123456789abcdef0123456789abcdef";

  auto config = fast_server(4);
  config.liveness.dead_after = 2s;  // sanitizers slow everything: no spurious deaths here
  config.liveness.heartbeat_interval = 200ms;
  server game(config, server_log.handlers());
  auto client_config = fast_connector();
  client_config.worker_threads = 2;
  client_config.liveness = config.liveness;
  connector client(client_config, client_log.handlers([&](session_id, std::span<const std::byte> bytes) {
    if (std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()) != payload) ++corrupted;
  }));
  game.start();
  client.start();
  for (int i = 0; i < sessions; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(server_log.wait_opened(sessions, 20s));
  const auto ids = server_log.opened();

  std::atomic<bool> go{false};
  std::atomic<int> sent{0}, refused{0}, unexpected_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < game_threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      while (!go) std::this_thread::yield();
      for (int i = 0; i < 5000; ++i) {
        const auto id = ids[random() % ids.size()];
        std::error_code ec;
        if (i % 97 == 0) ec = game.close(id);
        else ec = game.send(id, bytes_of(payload));
        if (!ec) ++sent;
        else if (ec == session_error::unknown_session) ++refused;
        else ++unexpected_errors;
        if (i % 500 == 0) (void)game.stats();
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();

  CHECK(unexpected_errors == 0);
  CHECK(sent > 0);
  CHECK(refused > 0);  // closes happened, and later calls on those ids were refused
  game.stop();
  client.stop();

  CHECK(corrupted == 0);
  // Every opened session closed exactly once, on each side.
  const auto closed = server_log.closed();
  std::set<session_id> unique;
  for (const auto& e : closed) unique.insert(e.id);
  CHECK(closed.size() == sessions);
  CHECK(unique.size() == sessions);
  CHECK(client_log.closed().size() == sessions);
  CHECK(server_log.closed_count(close_reason::closed_locally) + server_log.closed_count(close_reason::shutdown) == sessions);
}
