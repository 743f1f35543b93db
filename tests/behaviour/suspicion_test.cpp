// Suspect before dead (DESIGN.md §8): a peer silent for suspect_after (halfway between its
// beat interval and dead_after by default) is suspect. It is sent one urgent beat, which a
// live peer answers at once, and the game hears on_suspected; when the peer is heard again,
// on_recovered, and the session goes on. A peer that never answers is closed at dead_after
// as before. All of it rides on the session's one wheel entry.
#include "../support/fast_config.hpp"
#include "../support/raw_listener.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <thread>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// The next beat from `peer` within `timeout`, skipping other frames.
std::optional<beat_frame> next_beat(raw_peer& peer, std::chrono::milliseconds timeout) {
  const auto until = clock::now() + timeout;
  while (clock::now() < until) {
    auto f = peer.receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now()));
    if (!f) return std::nullopt;
    if (auto* b = std::get_if<beat_frame>(&*f)) return *b;
  }
  return std::nullopt;
}

std::vector<std::string> events_of(const session_log& log, session_id id) {
  std::vector<std::string> out;
  for (const auto& e : log.journal_of(id)) out.push_back(e.event);
  return out;
}

}  // namespace

TEST_CASE("a peer silent past suspect_after is sent an urgent beat and reported suspect, answering makes it recovered") {
  auto config = fast_server();
  config.liveness.dead_after = 1000ms;  // suspect at 550 ms: 450 ms to answer on a loaded machine
  const auto suspect_after = (config.liveness.heartbeat_interval + config.liveness.dead_after) / 2;  // the default
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  const auto hello_sent = clock::now();
  const session_id id{peer.handshake().session_id};
  REQUIRE(log.wait_opened(1));

  // The server's own beats come every 10 × H (1 s here): the first beat it sends is the urgent one.
  const auto urgent = next_beat(peer, 2s);
  const auto urgent_at = clock::now();
  REQUIRE(urgent.has_value());
  CHECK(urgent->urgent);
  CHECK(urgent_at >= hello_sent + suspect_after);
  CHECK(urgent_at <= hello_sent + suspect_after + detection_slack);
  peer.send_beat();  // the answer
  REQUIRE(log.wait_until([&] { return log.count_unlocked("recovered") == 1; }, 1s));
  CHECK(log.closed().empty());
  const auto stats = game.stats().total;
  CHECK(stats.sessions_suspect == 0);
  CHECK(stats.suspected == 1);
  CHECK(stats.recovered == 1);

  // Silent again, for good this time: suspect again, then dead at its last beat + T.
  REQUIRE(log.wait_until([&] { return log.count_unlocked("suspected") == 2; }, 2s));
  CHECK(game.stats().total.sessions_suspect == 1);
  REQUIRE(log.wait_closed(1, 3s));
  CHECK(log.closed()[0].why.reason == close_reason::heartbeat_timeout);
  CHECK(events_of(log, id) == std::vector<std::string>{"opened", "suspected", "recovered", "suspected", "closed"});
  CHECK(game.stats().total.sessions_suspect == 0);
}

TEST_CASE("a peer that keeps beating is never suspect") {
  const auto config = fast_server();
  session_log log, client_log;
  server game(config, log.handlers());
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(log.wait_opened(1));
  std::this_thread::sleep_for(5 * config.liveness.dead_after);
  CHECK(game.stats().total.suspected == 0);
  CHECK(log.closed().empty());
}

TEST_CASE("a connector answers its server's urgent beat at once, not at its next interval") {
  const raw_listener listener;
  session_log log;
  connector client(fast_connector(), log.handlers());
  client.start();
  client.connect({.address = "127.0.0.1", .port = listener.port()});
  raw_peer server_side(listener.accept());
  REQUIRE(server_side.receive().has_value());  // the hello
  // Beat only every 5 s, dead after 15 s: any beat sooner is an answer.
  server_side.send_frame(welcome_frame{.heartbeat_interval = 5s, .dead_after = 15s, .session_id = 7});
  REQUIRE(log.wait_opened(1));

  server_side.send_frame(beat_frame{.sent_at = to_wire_timestamp(clock::now())});
  CHECK_FALSE(next_beat(server_side, 500ms).has_value());  // an ordinary beat asks for nothing

  const auto asked = clock::now();
  server_side.send_frame(beat_frame{.sent_at = to_wire_timestamp(asked), .urgent = true});
  const auto answer = next_beat(server_side, 1s);
  REQUIRE(answer.has_value());
  CHECK_FALSE(answer->urgent);
  CHECK(clock::now() - asked < 1s);  // at once: well before its 5 s interval
  CHECK(answer->echo_of_peer == to_wire_timestamp(asked));  // and it carries what an RTT needs
}
