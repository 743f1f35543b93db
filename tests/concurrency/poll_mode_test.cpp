// Poll mode (session_event.hpp): a 4-shard server whose game takes every event on its own
// thread. Built and run under ThreadSanitizer too (preset tsan): the queues between the
// shards and the polling thread are lock-free, so a race there fails the run.
#include "../support/fast_config.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

std::string text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// What the polling thread saw of one session.
struct seen_session {
  std::vector<std::string> kinds;  // "opened", "message", "closed" (suspicion ignored)
  std::vector<int> numbers;        // the messages' numbers, as delivered
  int wrong_context = 0;           // events after opened whose context was not this record
  std::string remote;              // the opened event's remote address
};

}  // namespace

TEST_CASE("poll mode delivers every event once, in order per session, with its context, on the polling thread") {
  constexpr int sessions = 32;
  constexpr int messages_each = 100;
  auto config = fast_server(4);
  config.liveness.dead_after = 2s;  // sanitizers slow everything: no spurious deaths here
  config.liveness.heartbeat_interval = 200ms;
  server game(config, polled_events);
  game.start();

  // Each client sends its numbered messages as soon as it is open, then closes.
  std::function<void(session_id)> on_client_open;
  session_log client_log;
  auto client_handlers = client_log.handlers();
  client_handlers.on_opened = [&](session_id id) { on_client_open(id); };
  auto client_config = fast_connector();
  client_config.worker_threads = 2;
  client_config.liveness = config.liveness;
  connector client(client_config, client_handlers);
  on_client_open = [&](session_id id) {
    for (int i = 0; i < messages_each; ++i) (void)client.send(id, bytes_of(std::to_string(i)));
    (void)client.close(id);
  };
  client.start();
  for (int i = 0; i < sessions; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});

  std::map<std::uint64_t, seen_session> seen;
  std::map<std::uint64_t, std::unique_ptr<int>> contexts;
  const auto polling_thread = std::this_thread::get_id();
  int foreign_thread_calls = 0, closed = 0;
  const auto until = clock::now() + 30s;
  while (closed < sessions && clock::now() < until) {
    const auto taken = game.poll([&](const session_event& e) {
      if (std::this_thread::get_id() != polling_thread) ++foreign_thread_calls;
      auto& s = seen[e.id.value];
      switch (e.kind) {
        case event_kind::opened:
          s.kinds.push_back("opened");
          s.remote = e.addresses.remote.address_string();
          contexts[e.id.value] = std::make_unique<int>(0);
          CHECK(game.set_user_context(e.id, contexts[e.id.value].get()) == std::error_code{});
          CHECK(game.user_context(e.id) == contexts[e.id.value].get());
          return;
        case event_kind::message:
          s.kinds.push_back("message");
          s.numbers.push_back(std::stoi(text_of(e.message)));
          break;
        case event_kind::closed:
          s.kinds.push_back("closed");
          ++closed;
          break;
        default: return;  // suspected / recovered / writability: not what this test is about
      }
      const auto found = contexts.find(e.id.value);
      if (found == contexts.end() || e.context != found->second.get()) ++s.wrong_context;
    });
    if (taken == 0) std::this_thread::sleep_for(1ms);
  }
  REQUIRE(closed == sessions);
  CHECK(foreign_thread_calls == 0);
  CHECK(seen.size() == sessions);
  std::map<unsigned, int> per_shard;
  for (const auto& [id, s] : seen) {
    ++per_shard[session_id{id}.shard()];
    REQUIRE(s.kinds.size() == messages_each + 2);
    CHECK(s.kinds.front() == "opened");
    CHECK(s.kinds.back() == "closed");
    std::vector<int> expected(messages_each);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(s.numbers == expected);
    CHECK(s.wrong_context == 0);
    CHECK(s.remote == "127.0.0.1");
  }
  MESSAGE("sessions per shard: " << per_shard.size() << " shards used");
  // After its closed event a session's context is gone, and its id unknown.
  CHECK(game.user_context(session_id{seen.begin()->first}) == nullptr);
  CHECK(game.set_user_context(session_id{seen.begin()->first}, nullptr) == session_error::unknown_session);
  // Nothing is left waiting.
  CHECK(game.poll([](const session_event&) {}) == 0);
}

TEST_CASE("in poll mode the context belongs to the polling thread, poll() refuses a second consumer and callback mode") {
  server game(fast_server(1), polled_events);
  game.start();
  session_log client_log;
  connector client(fast_connector(), client_log.handlers());
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  session_id id;
  const auto until = clock::now() + 10s;
  while (!id && clock::now() < until)
    if (game.poll([&](const session_event& e) {
          if (e.kind == event_kind::opened) id = e.id;
        }) == 0)
      std::this_thread::sleep_for(1ms);
  REQUIRE(id);
  int context = 0;
  std::error_code from_another_thread;
  void* read_from_another_thread = &context;
  std::thread([&] {
    from_another_thread = game.set_user_context(id, &context);
    read_from_another_thread = game.user_context(id);
  }).join();
  CHECK(from_another_thread == session_error::wrong_thread);
  CHECK(read_from_another_thread == nullptr);
  CHECK(game.set_user_context(id, &context) == std::error_code{});
  CHECK(game.user_context(id) == &context);

  // poll() from inside its own handler: refused (each queue has one consumer).
  REQUIRE(client_log.wait_opened(1));
  (void)client.send(client_log.opened().front(), bytes_of("wake the poller"));
  bool handled = false, refused = false;
  while (!handled && clock::now() < until) {
    game.poll([&](const session_event&) {
      handled = true;
      try {
        game.poll([](const session_event&) {});
      } catch (const std::logic_error&) {
        refused = true;
      }
    });
    std::this_thread::sleep_for(1ms);
  }
  CHECK(handled);
  CHECK(refused);

  session_log log;
  server callbacks(fast_server(1), log.handlers());
  CHECK_THROWS_AS(callbacks.poll([](const session_event&) {}), std::logic_error);
}
