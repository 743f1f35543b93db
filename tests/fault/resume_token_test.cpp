// Resume tokens on the wire (DESIGN.md §10): forged, cross-session, replayed and expired
// tokens are refused with a reason and change nothing; a welcome lost with its connection
// does not burn the client's token; a session older than a token's lifetime resumes on
// the fresh one its server sent; a resume while the old connection is open takes over.
// Raw peers play the client, so every byte of the hello is the test's.
#include "../support/cutting_proxy.hpp"
#include "../support/fast_config.hpp"
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

// A raw peer's resume hello with `token`; returns the server's answer (welcome or close).
std::optional<frame> resume_with(std::span<const std::byte> token, raw_peer& peer, std::uint32_t received = 0,
                                 std::uint32_t replay_from = 1) {
  peer.send_frame(hello_frame{.heartbeat_interval = 100ms, .dead_after = 300ms, .resume_token = token,
                              .received = received, .replay_from = replay_from});
  return peer.receive(2s);
}

std::string refusal_of(const std::optional<frame>& answer) {
  if (!answer) return "no answer";
  const auto* close = std::get_if<close_frame>(&*answer);
  if (!close) return "not refused";
  if (close->code != close_code::resume_rejected) return "closed with " + std::string(to_string(close->code));
  return std::string(close->detail);
}

}  // namespace

TEST_CASE("forged, cross-session, replayed and expired tokens are refused, and the session is untouched") {
  auto config = resumable_server(5s);
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer a("127.0.0.1", game.port());
  const auto welcome_a = a.handshake();
  const std::vector<std::byte> token_a(welcome_a.resume_token.begin(), welcome_a.resume_token.end());
  raw_peer b("127.0.0.1", game.port());
  const auto welcome_b = b.handshake();
  const std::vector<std::byte> token_b(welcome_b.resume_token.begin(), welcome_b.resume_token.end());
  REQUIRE(log.wait_opened(2));
  a.reset_now();
  REQUIRE(log.wait_until([&] { return log.count_unlocked("transport_lost") == 1; }));

  SUBCASE("forged: one bit of the MAC flipped") {
    auto forged = token_a;
    forged.back() ^= std::byte{1};
    raw_peer thief("127.0.0.1", game.port());
    CHECK(refusal_of(resume_with(forged, thief)) == "forged_token");
  }
  SUBCASE("cross-session: b's token with a's session id spliced in") {
    auto spliced = token_b;
    std::copy(token_a.begin() + 2, token_a.begin() + 10, spliced.begin() + 2);  // the session id field
    raw_peer thief("127.0.0.1", game.port());
    CHECK(refusal_of(resume_with(spliced, thief)) == "forged_token");
  }
  SUBCASE("not a token at all") {
    const std::vector<std::byte> junk(50, std::byte{0x42});
    raw_peer thief("127.0.0.1", game.port());
    CHECK(refusal_of(resume_with(junk, thief)) == "malformed_token");
  }
  SUBCASE("replayed: a's token after a has resumed with it") {
    raw_peer back("127.0.0.1", game.port());
    const auto answer = resume_with(token_a, back);
    REQUIRE(answer);
    const auto* resumed = std::get_if<welcome_frame>(&*answer);
    REQUIRE(resumed);
    CHECK(resumed->resumed);
    CHECK(resumed->session_id == welcome_a.session_id);
    CHECK_FALSE(std::ranges::equal(resumed->resume_token, token_a));  // a new token each resume
    REQUIRE(log.wait_until([&] { return log.count_unlocked("resumed") == 1; }));
    // Its first frame on the new connection shows it has the new token: the old one dies.
    back.send_frame(data_frame{.payload = bytes_of("still mine")});
    REQUIRE(log.wait_messages(1));
    CHECK(log.messages()[0].second == "still mine");
    raw_peer thief("127.0.0.1", game.port());
    CHECK(refusal_of(resume_with(token_a, thief)) == "replayed_token");
    CHECK(log.story_of(session_id{welcome_a.session_id}) == "opened transport_lost resumed");
  }
  // Whatever was tried, a's session is still there and b's is untouched.
  CHECK(log.closed().empty());
  CHECK(log.story_of(session_id{welcome_b.session_id}) == "opened");
  CHECK(game.stats().total.resumes_refused == 1);  // each case tried one bad token
}

TEST_CASE("a resume whose welcome is lost with its connection does not burn the client's token") {
  session_log log;
  server game(resumable_server(), log.handlers());
  game.start();
  raw_peer a("127.0.0.1", game.port());
  const auto welcome = a.handshake();
  const std::vector<std::byte> token(welcome.resume_token.begin(), welcome.resume_token.end());
  REQUIRE(log.wait_opened(1));
  a.reset_now();
  REQUIRE(log.wait_until([&] { return log.count_unlocked("transport_lost") == 1; }));
  {
    // The server resumes and sends its welcome, but the connection dies before the
    // client hears a word of it (a client that gave up on a slow attempt).
    raw_peer attempt("127.0.0.1", game.port());
    attempt.send_frame(hello_frame{.heartbeat_interval = 100ms, .dead_after = 300ms, .resume_token = token, .replay_from = 1});
    REQUIRE(log.wait_until([&] { return log.count_unlocked("resumed") == 1; }));
    attempt.reset_now();
  }
  REQUIRE(log.wait_until([&] { return log.count_unlocked("transport_lost") == 2; }));
  // The client still holds only the token it had: it must still work.
  raw_peer again("127.0.0.1", game.port());
  const auto answer = resume_with(token, again);
  REQUIRE(answer);
  REQUIRE(std::holds_alternative<welcome_frame>(*answer));
  CHECK(std::get<welcome_frame>(*answer).resumed);
  // The welcome goes out before the game hears on_resumed: wait for it.
  REQUIRE(log.wait_until([&] { return log.count_unlocked("resumed") == 2; }));
  CHECK(log.story_of(session_id{welcome.session_id}) == "opened transport_lost resumed transport_lost resumed");
}

TEST_CASE("an expired token is refused") {
  auto config = resumable_server(1s);
  config.liveness.resume.token_lifetime = 1s;
  config.liveness.heartbeat_interval = 1s;  // the raw peer does not beat: long enough for the wait below
  config.liveness.dead_after = 5s;
  session_log log;
  server game(config, log.handlers());
  game.start();
  raw_peer a("127.0.0.1", game.port());
  const auto welcome = a.handshake();
  const std::vector<std::byte> token(welcome.resume_token.begin(), welcome.resume_token.end());
  REQUIRE(log.wait_opened(1));
  // Expiry is in whole seconds: past 2 s the token (issued for 1 s) has expired for sure.
  std::this_thread::sleep_for(2100ms);
  raw_peer late("127.0.0.1", game.port());
  CHECK(refusal_of(resume_with(token, late)) == "expired_token");
  CHECK(log.story_of(session_id{welcome.session_id}) == "opened");  // the open session untouched
}

TEST_CASE("a session older than its token's lifetime still resumes: its server sent a fresh token in time") {
  auto config = resumable_server(1s);
  config.liveness.resume.token_lifetime = 2s;
  resumable_pair pair(config);
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  // Three lifetimes of an idle session: the welcome's token is long expired by the end.
  std::this_thread::sleep_for(6s);
  proxy.cut(cut_kind::reset);
  REQUIRE(server_log.wait_until([&] { return server_log.count_unlocked("resumed") == 1; }, 5s));
  REQUIRE(client_log.wait_until([&] { return client_log.count_unlocked("resumed") == 1; }, 5s));
  CHECK(server_log.story_of(on_server) == "opened transport_lost resumed");
  CHECK(client_log.story_of(on_client) == "opened transport_lost resumed");
  CHECK(game.stats().total.resumes_refused == 0);
}

TEST_CASE("a resume while the old transport still looks open takes the session over at once") {
  session_log log;
  server game(resumable_server(), log.handlers());
  game.start();
  raw_peer old_transport("127.0.0.1", game.port());
  const auto welcome = old_transport.handshake();
  const std::vector<std::byte> token(welcome.resume_token.begin(), welcome.resume_token.end());
  REQUIRE(log.wait_opened(1));
  raw_peer roamed("127.0.0.1", game.port());
  const auto asked = clock::now();
  const auto answer = resume_with(token, roamed);
  REQUIRE(answer);
  REQUIRE(std::holds_alternative<welcome_frame>(*answer));
  CHECK(std::get<welcome_frame>(*answer).resumed);
  // The old connection hears why, at once.
  const auto last = old_transport.receive(1s);
  REQUIRE(last);
  REQUIRE(std::holds_alternative<close_frame>(*last));
  CHECK(std::get<close_frame>(*last).code == close_code::superseded);
  CHECK(clock::now() - asked < 500ms);
  REQUIRE(log.wait_until([&] { return log.count_unlocked("resumed") == 1; }));
  CHECK(log.story_of(session_id{welcome.session_id}) == "opened resumed");
  CHECK(log.resumed()[0].second.takeover);
  CHECK(game.stats().total.takeovers == 1);
}
