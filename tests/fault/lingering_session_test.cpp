// A lingering server session is a record, not a session object (core/src/lingering_session.hpp):
// the object, with its socket, decoder and buffers, is freed when the transport dies, and
// what the game needs of the session stays. These tests hold the game to what it was
// promised while the session lingers: its context is kept, what it sends (from a handler or
// a game thread) reaches the client once the client is back, in order, and it may close the
// session, or stop the server, with the reason reaching on_closed.
#include "../support/cutting_proxy.hpp"
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/resumable_pair.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>
#include <lifeline/session_error.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>

using namespace lifeline;
using namespace lifeline::test;

namespace {

std::string text_of(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// What the server's handlers did for the test, on the shard's thread.
struct handler_findings {
  std::mutex mutex;
  std::error_code context_set{session_error::unknown_session};
  void* context_while_lingering = nullptr;
  std::error_code rtt_while_lingering{session_error::unknown_session};
  std::error_code sent_while_lingering{session_error::unknown_session};
  void* context_after_resume = nullptr;
  std::atomic<int> done{0};
};

}  // namespace

TEST_CASE("a lingering session keeps its context and what the game sends it, from a handler or a game thread") {
  int game_context = 0;
  handler_findings found;
  std::function<void(session_id, std::span<const std::byte>)> on_server_message;
  resumable_pair pair(resumable_server(3s, 1), fast_connector(), 1, {},
                      [&](session_id id, std::span<const std::byte> bytes) { on_server_message(id, bytes); });
  auto& [server_log, client_log, game, proxy, client, lingering, on_client] = pair;
  // A second session, straight to the server: its messages make the server's handler act
  // on the first one, on the shard's own thread, while the first one lingers.
  on_server_message = [&](session_id, std::span<const std::byte> bytes) {
    const auto command = text_of(bytes);
    std::lock_guard lock(found.mutex);
    if (command == "set context") {
      found.context_set = game.set_user_context(lingering, &game_context);
    } else if (command == "while lingering") {
      found.context_while_lingering = game.user_context(lingering);
      std::chrono::microseconds rtt{-1};
      found.rtt_while_lingering = game.round_trip_time(lingering, rtt);
      found.sent_while_lingering = game.send(lingering, bytes_of("2 from a handler"));
    } else if (command == "after resume") {
      found.context_after_resume = game.user_context(lingering);
    } else {
      return;
    }
    ++found.done;
  };
  raw_peer control("127.0.0.1", game.port());
  control.handshake();
  REQUIRE(server_log.wait_opened(2));
  const auto ask = [&](const std::string& command, int answers) {
    control.send_frame(data_frame{.payload = bytes_of(command)});
    return server_log.wait_until([&] { return found.done.load() >= answers; });
  };
  REQUIRE(ask("set context", 1));

  proxy.hold_new_connections(true);  // the connector cannot come back yet
  proxy.cut(cut_kind::reset);
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("transport_lost") == 1; }));
  CHECK(game.stats().total.sessions_lingering == 1);
  CHECK(game.send(lingering, bytes_of("1 from a game thread")) == std::error_code{});
  REQUIRE(ask("while lingering", 2));
  CHECK(game.send(lingering, bytes_of("3 from a game thread")) == std::error_code{});

  proxy.hold_new_connections(false);
  REQUIRE(client_log.wait_messages(3));
  std::vector<std::string> heard;
  for (const auto& [id, text] : client_log.messages()) heard.push_back(text);
  CHECK(heard == std::vector<std::string>{"1 from a game thread", "2 from a handler", "3 from a game thread"});
  // The replay may reach the client before the server's on_resumed has run.
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("resumed") == 1; }));
  CHECK(server_log.story_of(lingering) == "opened transport_lost resumed");
  REQUIRE(ask("after resume", 3));

  std::lock_guard lock(found.mutex);
  CHECK(found.context_set == std::error_code{});
  CHECK(found.context_while_lingering == &game_context);
  CHECK(found.rtt_while_lingering == std::error_code{});
  CHECK(found.sent_while_lingering == std::error_code{});
  CHECK(found.context_after_resume == &game_context);
  CHECK(game.stats().total.sessions_lingering == 0);
}

TEST_CASE("the game may close a lingering session, and stop() ends the others: each with its reason, lingered") {
  session_log log;
  server game(resumable_server(5s), log.handlers());
  game.start();
  raw_peer first("127.0.0.1", game.port()), second("127.0.0.1", game.port());
  first.handshake();
  second.handshake();
  REQUIRE(log.wait_opened(2));
  first.reset_now();
  second.reset_now();
  REQUIRE(log.wait_until([&] { return log.count_unlocked("transport_lost") == 2; }));
  const auto lingering = log.opened();

  CHECK(game.close(lingering[0], 7, "seat given away") == std::error_code{});
  REQUIRE(log.wait_closed(1));
  const auto kicked = log.closed()[0];
  CHECK(kicked.id == lingering[0]);
  CHECK(kicked.why.reason == close_reason::closed_locally);
  CHECK(kicked.why.lingered);
  CHECK(kicked.why.app_code == 7);
  CHECK(kicked.app_reason == "seat given away");
  CHECK(game.stats().total.sessions_lingering == 1);

  game.stop();
  REQUIRE(log.wait_closed(2));
  const auto stopped = log.closed()[1];
  CHECK(stopped.id == lingering[1]);
  CHECK(stopped.why.reason == close_reason::shutdown);
  CHECK(stopped.why.lingered);
  CHECK(stopped.why.last_heard != clock::time_point{});
}
