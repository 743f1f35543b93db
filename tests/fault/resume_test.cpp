// A dead transport is not a dead player (DESIGN.md §10): a session whose connection dies
// of a cause the player may come back from lingers for resume.grace; the connector comes
// back on a new connection with its token, and every message either side sent arrives
// exactly once and in order. Tokens that are forged, replayed or expired change nothing.
//
// The transports die in a cutting proxy between connector and server (tests/support/
// cutting_proxy.hpp): bytes it holds when it cuts are lost, as bytes in flight are.
#include "../support/cutting_proxy.hpp"
#include "../support/fast_config.hpp"
#include "../support/numbered_messages.hpp"
#include "../support/raw_peer.hpp"
#include "../support/resumable_pair.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/resume_error.hpp>
#include <lifeline/server.hpp>
#include <lifeline/session_error.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// Both sides stream `count` numbered messages, one each every `every`, from game threads;
// the proxy cuts the transport after a third of them. Returns when both have heard all.
// `noticed` is what the game hears before transport_lost: "" for a reset or an EOF (at
// once), " suspected" for a blackhole (the peer went silent first).
void stream_both_ways_through_a_cut(cut_kind kind, int count, std::chrono::milliseconds every, const std::string& noticed = "") {
  resumable_pair pair;
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  for (int i = 1; i <= count; ++i) {
    const auto to_client = "s:" + std::to_string(i);
    const auto to_server = "c:" + std::to_string(i);
    // A lingering session takes the game's messages as an open one does (kept for replay).
    REQUIRE(game.send(on_server, bytes_of(to_client)) == std::error_code{});
    REQUIRE(client.send(on_client, bytes_of(to_server)) == std::error_code{});
    if (i == count / 3) proxy.cut(kind);
    std::this_thread::sleep_for(every);
  }
  CHECK(heard_at_least(server_log, count));
  CHECK(heard_at_least(client_log, count));
  // Exactly once, in order, both ways (a duplicate would make a list longer than count).
  CHECK(numbers_heard(server_log, "c:") == one_to(count));
  CHECK(numbers_heard(client_log, "s:") == one_to(count));
  CHECK(proxy.connections() >= 2);

  // The connector's game heard the outage and the return; the server's too, unless the
  // resume reached it before it noticed the old connection die (then it was a takeover).
  CHECK(client_log.story_of(on_client) == "opened" + noticed + " transport_lost resumed");
  const auto server_story = server_log.story_of(on_server);
  CHECK((server_story == "opened" + noticed + " transport_lost resumed" || server_story == "opened" + noticed + " resumed"));
  CHECK(server_log.closed().empty());
  CHECK(client_log.closed().empty());
  for (const auto& [id, info] : server_log.resumed()) CHECK_FALSE(info.state_lost);
  for (const auto& [id, info] : client_log.resumed()) CHECK_FALSE(info.state_lost);
  const auto stats = game.stats().total;
  CHECK(stats.resumed == 1);
  CHECK(stats.sessions_lingering == 0);
  MESSAGE("server heard: " << server_story << "; frames replayed by the server: " << stats.replayed_frames);
}

}  // namespace

TEST_CASE("a reset mid-stream: the connector resumes, every message arrives once and in order, both ways") {
  stream_both_ways_through_a_cut(cut_kind::reset, 300, 2ms);
}

TEST_CASE("an EOF without a close frame mid-stream: resumed, every message once and in order, both ways") {
  stream_both_ways_through_a_cut(cut_kind::eof, 300, 2ms);
}

TEST_CASE("a blackholed transport mid-stream: both sides find it dead, resume, and lose nothing") {
  stream_both_ways_through_a_cut(cut_kind::blackhole, 600, 3ms, " suspected");
}

TEST_CASE("a lingering session ends when its grace runs out, not before, with the cause it lingered on") {
  const auto grace = 800ms;
  session_log log;
  server game(resumable_server(grace), log.handlers());
  game.start();
  raw_peer peer("127.0.0.1", game.port());
  const auto welcome = peer.handshake();
  CHECK(welcome.resume_grace == grace);
  CHECK_FALSE(welcome.resume_token.empty());
  REQUIRE(log.wait_opened(1));
  peer.reset_now();
  REQUIRE(log.wait_until([&] { return log.count_unlocked("transport_lost") == 1; }));
  const auto lost = log.transports_lost()[0];
  CHECK(lost.why.reason == close_reason::peer_reset);
  CHECK(game.stats().total.sessions_lingering == 1);

  REQUIRE(log.wait_closed(1, grace + 2s));
  const auto closed = log.closed()[0];
  CHECK(closed.why.reason == close_reason::peer_reset);
  CHECK(closed.why.lingered);
  CHECK(closed.at >= lost.at + grace);
  CHECK(closed.at <= lost.at + grace + detection_slack);
  CHECK(log.story_of(closed.id) == "opened transport_lost closed");
  CHECK(game.stats().total.sessions_lingering == 0);
}

TEST_CASE("a clean quit, a kick and a protocol error never linger") {
  session_log log;
  server game(resumable_server(), log.handlers());
  game.start();
  SUBCASE("the peer's close frame") {
    raw_peer peer("127.0.0.1", game.port());
    peer.handshake();
    REQUIRE(log.wait_opened(1));
    peer.send_frame(close_frame{});
    REQUIRE(log.wait_closed(1));
    CHECK(log.closed()[0].why.reason == close_reason::peer_closed);
  }
  SUBCASE("the game's close") {
    raw_peer peer("127.0.0.1", game.port());
    peer.handshake();
    REQUIRE(log.wait_opened(1));
    CHECK(game.close(log.opened()[0]) == std::error_code{});
    REQUIRE(log.wait_closed(1));
    CHECK(log.closed()[0].why.reason == close_reason::closed_locally);
  }
  SUBCASE("garbage") {
    raw_peer peer("127.0.0.1", game.port());
    peer.handshake();
    REQUIRE(log.wait_opened(1));
    const std::array<std::byte, 8> garbage{std::byte{0}, std::byte{0}, std::byte{0}, std::byte{0}};
    peer.send_bytes(garbage);
    REQUIRE(log.wait_closed(1));
    CHECK(log.closed()[0].why.reason == close_reason::protocol_error);
  }
  CHECK_FALSE(log.closed()[0].why.lingered);
  CHECK(log.transports_lost().empty());
}

TEST_CASE("more sent in the outage than the replay buffer holds: resumed with state_lost, what follows in order") {
  auto config = resumable_server();
  config.liveness.resume.replay_bytes = 2048;
  resumable_pair pair(config);
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  proxy.hold_new_connections(true);  // the client cannot get back until the messages are sent
  proxy.cut(cut_kind::reset);
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("transport_lost") == 1; }));
  // 100 messages of about 100 bytes while the client is away: 10 KB, five times the buffer.
  const std::string filler(96, 'x');
  for (int i = 1; i <= 100; ++i) {
    const auto text = "s:" + std::to_string(i) + ":" + filler;
    REQUIRE(game.send(on_server, bytes_of(text)) == std::error_code{});
  }
  CHECK(server_log.resumed().empty());
  proxy.hold_new_connections(false);
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("resumed") == 1; }));
  REQUIRE(client_log.wait_until([&] { return client_log.count_unlocked("resumed") == 1; }));
  CHECK(server_log.resumed()[0].second.state_lost);
  CHECK(client_log.resumed()[0].second.state_lost);
  // What was kept arrives, the newest included, in order and once.
  REQUIRE(client_log.wait_until([&] {
    return !client_log.messages_unlocked().empty() && client_log.messages_unlocked().back().second.starts_with("s:100:");
  }));
  std::vector<int> heard;
  for (const auto& [id, text] : client_log.messages()) heard.push_back(std::stoi(text.substr(2)));
  CHECK(heard.size() < 100u);
  for (std::size_t i = 1; i < heard.size(); ++i) CHECK(heard[i] == heard[i - 1] + 1);
  CHECK(game.stats().total.resumed_state_lost == 1);
}

TEST_CASE("a resume that lands on another shard is handed to the session's own shard") {
  // Four shards and 16 sessions: the kernel spreads the new connections over the shards
  // by their source ports, so most resumes land on a shard other than their session's.
  constexpr int sessions = 16;
  resumable_pair pair(resumable_server(3s, 4), fast_connector(), sessions);
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  proxy.cut(cut_kind::reset);
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("resumed") == sessions; }));
  REQUIRE(client_log.wait_until([&] { return client_log.count_unlocked("resumed") == sessions; }));
  // Each session still answers on its own id: a message each way, heard once.
  for (const auto id : server_log.opened()) CHECK(game.send(id, bytes_of("after")) == std::error_code{});
  for (const auto id : client_log.opened()) CHECK(client.send(id, bytes_of("after")) == std::error_code{});
  CHECK(server_log.wait_messages(sessions));
  CHECK(client_log.wait_messages(sessions));
  CHECK(server_log.closed().empty());
  CHECK(game.stats().total.resumed == static_cast<std::uint64_t>(sessions));
}

TEST_CASE("the largest message send() accepts fits in a frame with an acknowledgement on it") {
  resumable_pair pair;
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  // Something heard first, so the server's next data frame carries an ack.
  REQUIRE(client.send(on_client, bytes_of("hi")) == std::error_code{});
  REQUIRE(server_log.wait_messages(1));
  const auto largest = max_data_payload(fast_liveness().max_frame_size);
  CHECK(largest == fast_liveness().max_frame_size - 36);
  const std::vector<std::byte> message(largest, std::byte{0x5a});
  CHECK(game.send(on_server, message) == std::error_code{});
  REQUIRE(client_log.wait_messages(1));
  CHECK(client_log.messages()[0].second.size() == largest);
  const std::vector<std::byte> too_large(largest + 1);
  CHECK(game.send(on_server, too_large) == session_error::message_too_large);
  CHECK(client_log.closed().empty());
}

TEST_CASE("a connector hung beyond dead_after comes back to its session: convicted, lingering, resumed") {
  // The connector's handler blocks its only thread 4 x dead_after on "hang": it neither
  // reads nor beats meanwhile, as a hung process; then it runs again.
  resumable_pair pair(resumable_server(), fast_connector(), 1, [](session_id, std::span<const std::byte> bytes) {
    if (std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()) == "hang")
      std::this_thread::sleep_for(4 * fast_liveness().dead_after);
  });
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  REQUIRE(game.send(on_server, bytes_of("hang")) == std::error_code{});
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("transport_lost") == 1; }));
  CHECK(server_log.transports_lost()[0].why.reason == close_reason::heartbeat_timeout);
  // Sent while the player is away: it gets them after it comes back.
  REQUIRE(game.send(on_server, bytes_of("while you were away")) == std::error_code{});
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("resumed") == 1; }, 5s));
  REQUIRE(client_log.wait_messages(2));
  CHECK(client_log.messages()[1].second == "while you were away");
  CHECK(server_log.closed().empty());
  CHECK(client_log.closed().empty());
}
