// A server and a connector on loopback: the handshake, messages both ways, heartbeats
// and RTT on an idle session, closing from either side, stop(), and ids that went stale.
#include "../support/fast_config.hpp"
#include "../support/raw_listener.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

using namespace lifeline;
using namespace lifeline::test;

namespace {

struct echo_pair {
  session_log server_log, client_log;
  server game;
  connector client{fast_connector(), client_log.handlers()};

  explicit echo_pair(server_config config = fast_server())
      : game(std::move(config), server_log.handlers([this](session_id id, std::span<const std::byte> bytes) {
               game.send(id, bytes);
             })) {
    game.start();
    client.start();
  }
  session_id connect_one() {
    const auto before = client_log.opened().size();
    client.connect({.address = "127.0.0.1", .port = game.port()});
    REQUIRE(client_log.wait_opened(before + 1));
    REQUIRE(server_log.wait_opened(before + 1));
    return client_log.opened().back();
  }
};

}  // namespace

TEST_CASE("a connector opens a session and messages are echoed both ways") {
  echo_pair pair;
  const auto id = pair.connect_one();
  CHECK_FALSE(pair.client.send(id, bytes_of("hello, world")));
  REQUIRE(pair.client_log.wait_messages(1));
  CHECK(pair.client_log.messages()[0].second == "hello, world");
  CHECK(pair.server_log.messages()[0].second == "hello, world");
}

TEST_CASE("an idle session stays open past dead_after: the client beats every interval, the server ten times less") {
  echo_pair pair;
  pair.connect_one();
  // > 4 × dead_after of silence from the game, and past the client's wait for the
  // server's first beat (10 × 100 ms + the 200 ms slack).
  std::this_thread::sleep_for(1500ms);
  CHECK(pair.server_log.closed().empty());
  CHECK(pair.client_log.closed().empty());
  const auto stats = pair.game.stats().total;
  CHECK(stats.heartbeats_received >= 10);  // the client's, ~ one per 100 ms
  CHECK(stats.heartbeats_sent >= 1);       // the server's, one per second
  CHECK(stats.heartbeats_sent <= 2);
  CHECK(stats.sessions_open == 1);
}

TEST_CASE("a server with a slower beat of its own beats less, and its clients wait it out") {
  // Clients beat every 100 ms and die after 300 ms of silence; the server beats every
  // 400 ms, so its clients must wait 400 + (300 - 100) = 600 ms before calling it dead.
  auto config = fast_server(1);
  config.liveness.server_heartbeat_interval = 400ms;
  echo_pair pair(config);
  pair.connect_one();
  auto& [server_log, client_log, game, client] = pair;
  const auto before_server = game.stats().total;
  const auto before_client = client.stats().total;
  std::this_thread::sleep_for(1200ms);  // 3 server beats, 12 client beats
  CHECK(server_log.closed().empty());
  CHECK(client_log.closed().empty());   // a client still at 300 ms would have closed
  const auto server_beats = game.stats().total.heartbeats_sent - before_server.heartbeats_sent;
  const auto client_beats = client.stats().total.heartbeats_sent - before_client.heartbeats_sent;
  MESSAGE("in 1.2 s: server beats " << server_beats << ", client beats " << client_beats);
  CHECK(server_beats >= 2);
  CHECK(server_beats <= 4);
  CHECK(client_beats >= 8);
}

TEST_CASE("heartbeats measure the round-trip time on both sides") {
  session_log server_log, client_log;
  std::atomic<long> server_rtt_us{-1};
  server game(fast_server(1), server_log.handlers([&](session_id id, std::span<const std::byte>) {
    std::chrono::microseconds rtt{};
    if (!game.round_trip_time(id, rtt)) server_rtt_us = rtt.count();
    tcp_kernel_info info;
    CHECK_FALSE(game.kernel_info(id, info));
    // A peer that reads: its window is open (kernels since 5.4 report it).
    if (info.peer_window) CHECK(*info.peer_window > 0u);
  }));
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  // The server's RTT needs a client beat echoing a server beat, and the server beats
  // every 10 × 100 ms by default: ask (the handler reads it) until it has one, with a
  // deadline a loaded machine cannot miss. Asks 300 ms apart leave the client quiet for
  // longer than its 100 ms beat, so its beats go on.
  for (const auto until = clock::now() + 5s; server_rtt_us <= 0 && clock::now() < until;) {
    CHECK_FALSE(client.send(client_log.opened()[0], bytes_of("rtt?")));
    std::this_thread::sleep_for(300ms);
  }
  REQUIRE(server_log.wait_messages(1));
  CHECK(server_rtt_us > 0);
  CHECK(server_rtt_us < 100'000);  // loopback: far below 100 ms
}

TEST_CASE("closing on one side is reported as closed_locally there and peer_closed on the other") {
  echo_pair pair;
  const auto client_id = pair.connect_one();
  CHECK_FALSE(pair.client.close(client_id));
  REQUIRE(pair.client_log.wait_closed(1));
  REQUIRE(pair.server_log.wait_closed(1));
  CHECK(pair.client_log.closed()[0].why.reason == close_reason::closed_locally);
  CHECK(pair.server_log.closed()[0].why.reason == close_reason::peer_closed);
}

TEST_CASE("a stale or unknown id is refused and touches no other session") {
  echo_pair pair;
  const auto first = pair.connect_one();
  CHECK_FALSE(pair.client.close(first));
  REQUIRE(pair.client_log.wait_closed(1));
  const auto second = pair.connect_one();
  // Were the second session to reuse the first one's slot, the generation would tell them apart.
  CHECK(pair.client.send(first, bytes_of("to a ghost")) == session_error::unknown_session);
  CHECK(pair.client.close(first) == session_error::unknown_session);
  CHECK(pair.client.send(session_id{}, bytes_of("x")) == session_error::unknown_session);
  CHECK(pair.client.send(session_id::make(200, 1, 0), bytes_of("x")) == session_error::unknown_session);
  CHECK(pair.client.send(session_id::make(0, 1, session_id::max_slot), bytes_of("x")) == session_error::unknown_session);
  CHECK_FALSE(pair.client.send(second, bytes_of("still here")));
  REQUIRE(pair.client_log.wait_messages(1));
  CHECK(pair.client_log.messages().size() == 1);
  CHECK(pair.client_log.closed().size() == 1);
}

TEST_CASE("a message larger than max_frame_size is refused at send") {
  echo_pair pair;
  const auto id = pair.connect_one();
  const std::vector<std::byte> huge(fast_liveness().max_frame_size + 1);
  CHECK(pair.client.send(id, huge) == session_error::message_too_large);
}

TEST_CASE("a session may be closed from inside its own message handler") {
  session_log server_log, client_log;
  server game(fast_server(), server_log.handlers([&](session_id id, std::span<const std::byte>) { game.close(id); }));
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  client.send(client_log.opened()[0], bytes_of("close me"));
  REQUIRE(server_log.wait_closed(1));
  CHECK(server_log.closed()[0].why.reason == close_reason::closed_locally);
  REQUIRE(client_log.wait_closed(1));
  CHECK(client_log.closed()[0].why.reason == close_reason::peer_closed);
}

TEST_CASE("a handler that throws costs only its own session") {
  session_log server_log, client_log;
  server game(fast_server(1), server_log.handlers([&](session_id, std::span<const std::byte> bytes) {
    if (bytes.size() == 5) throw std::runtime_error("game bug");
  }));
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  for (int i = 0; i < 2; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(2));
  const auto ids = client_log.opened();
  client.send(ids[0], bytes_of("boom!"));
  REQUIRE(server_log.wait_closed(1));
  CHECK(server_log.closed()[0].why.reason == close_reason::handler_error);
  client.send(ids[1], bytes_of("fine"));
  REQUIRE(server_log.wait_messages(2));
  CHECK(server_log.closed().size() == 1);
}

TEST_CASE("stop() closes every session with reason shutdown, and the connectors hear it as peer_shutdown") {
  session_log server_log, client_log;
  server game(fast_server(), server_log.handlers());
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  for (int i = 0; i < 10; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(server_log.wait_opened(10));
  game.stop();
  CHECK(server_log.closed().size() == 10);
  CHECK(server_log.closed_count(close_reason::shutdown) == 10);
  REQUIRE(client_log.wait_closed(10));
  CHECK(client_log.closed_count(close_reason::peer_shutdown) == 10);
  for (const auto& e : client_log.closed()) CHECK(e.why.detail == close_code::shutdown);
  CHECK(game.send(server_log.opened()[0], bytes_of("x")) == session_error::not_running);
  game.stop();  // idempotent
}

TEST_CASE("stop() may be called from inside a handler") {
  session_log server_log, client_log;
  server game(fast_server(), server_log.handlers([&](session_id, std::span<const std::byte>) { game.stop(); }));
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  client.send(client_log.opened()[0], bytes_of("stop"));
  REQUIRE(server_log.wait_closed(1));
  CHECK(server_log.closed()[0].why.reason == close_reason::shutdown);
}  // the destructor joins the threads

TEST_CASE("a connector's failed connection attempt is reported as connect_failed") {
  session_log log;
  connector client(fast_connector(), log.handlers());
  client.start();
  int marker = 0;
  client.connect({.address = "127.0.0.1", .port = 1}, &marker);  // nothing listens on port 1
  REQUIRE(log.wait_closed(1));
  CHECK(log.closed()[0].why.reason == close_reason::connect_failed);
}

TEST_CASE("a connector with reconnect enabled comes back after the server restarts") {
  session_log server_log, client_log;
  auto config = fast_connector();
  config.reconnect = {.enabled = true, .initial_delay = 20ms, .max_delay = 200ms, .jitter = 0.2};
  connector client(config, client_log.handlers());
  client.start();
  std::uint16_t port = 0;
  {
    server game(fast_server(1), server_log.handlers());
    game.start();
    port = game.port();
    client.connect({.address = "127.0.0.1", .port = port});
    REQUIRE(client_log.wait_opened(1));
  }  // the server goes away: the client hears a close (shutdown frame), then retries
  REQUIRE(client_log.wait_closed(1));
  auto config2 = fast_server(1);
  config2.port = port;
  server again(config2, server_log.handlers());
  again.start();
  CHECK(client_log.wait_opened(2, 5s));
}

TEST_CASE("a connector declares a server that falls silent dead after the silence its welcome allows, not before") {
  // The welcome either holds the client to the same rule as the server (dead_after), or
  // says the server beats at its own, slower rate and how long to wait it out.
  auto welcome_frame_sent = welcome_frame{.heartbeat_interval = 100ms, .dead_after = 300ms, .session_id = 7};
  auto allowed_silence = 300ms;
  SUBCASE("a server that beats as its clients do: dead_after") {}
  SUBCASE("a server that beats at its own rate: server_dead_after") {
    welcome_frame_sent.server_heartbeat_interval = 400ms;
    welcome_frame_sent.server_dead_after = 600ms;
    allowed_silence = 600ms;
  }
  CAPTURE(allowed_silence.count());

  // A hand-made server: it answers the hello with a welcome, then says nothing more
  // while its kernel keeps acknowledging (a hung process).
  const raw_listener listener;

  session_log log;
  connector client(fast_connector(), log.handlers());
  client.start();
  client.connect({.address = "127.0.0.1", .port = listener.port()});
  const int peer = listener.accept();
  REQUIRE(peer >= 0);
  std::array<char, 256> hello{};
  REQUIRE(::recv(peer, hello.data(), hello.size(), 0) > 0);
  frame_encoder encoder;
  std::error_code ec;
  const auto welcome = encoder.encode(welcome_frame_sent, ec);
  // The client's thread may read the welcome before send() returns here, so its arrival
  // is only known to lie between these two instants.
  const auto sent_from = clock::now();
  REQUIRE(::send(peer, welcome.data(), welcome.size(), 0) == static_cast<ssize_t>(welcome.size()));
  const auto sent_by = clock::now();
  REQUIRE(log.wait_opened(1));

  REQUIRE(log.wait_closed(1, 2s));
  const auto closed = log.closed()[0];
  CHECK(closed.why.reason == close_reason::heartbeat_timeout);
  CHECK(closed.at >= sent_from + allowed_silence);
  CHECK(closed.at <= sent_by + allowed_silence + detection_slack);
  // The game is told when the server was last heard from: the welcome's arrival.
  CHECK(closed.why.last_heard >= sent_from);
  CHECK(closed.at - closed.why.last_heard >= allowed_silence);
  ::close(peer);
}

TEST_CASE("a connector whose server never answers the hello gives up at handshake_timeout, not connect_timeout") {
  const raw_listener listener;  // the kernel completes the connection; nobody answers

  session_log log;
  auto config = fast_connector();
  config.connect_timeout = 5s;
  config.liveness.handshake_timeout = 300ms;
  connector client(config, log.handlers());
  client.start();
  const auto started = clock::now();
  client.connect({.address = "127.0.0.1", .port = listener.port()});
  REQUIRE(log.wait_closed(1, 3s));
  const auto closed = log.closed()[0];
  CHECK(closed.why.reason == close_reason::handshake_timeout);
  CHECK(closed.at >= started + 300ms);
  CHECK(closed.at <= started + 300ms + detection_slack);
}

TEST_CASE("a full server refuses a session and the connector hears server_full") {
  session_log server_log, client_log;
  auto config = fast_server(1);
  config.max_sessions = 1;
  server game(config, server_log.handlers());
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_closed(1));
  CHECK(client_log.closed()[0].why.reason == close_reason::server_full);
  CHECK(game.stats().total.closes(close_reason::server_full) == 1);
  CHECK(server_log.closed().empty());  // the game never saw the refused one
}

TEST_CASE("start() after stop() is refused") {
  session_log log;
  server game(fast_server(1), log.handlers());
  game.start();
  game.stop();
  CHECK_THROWS_AS(game.start(), std::logic_error);
}

TEST_CASE("a second server on a port in use fails to start, unless it shares the port on purpose") {
  session_log log;
  server first(fast_server(2), log.handlers());
  first.start();
  auto same_port = fast_server(2);
  same_port.port = first.port();
  server second(same_port, log.handlers());
  try {
    second.start();
    FAIL("the second server started on a port the first listens on");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::address_in_use);
    CHECK(std::string(e.what()).find("share_port") != std::string::npos);
  }
  same_port.share_port = true;
  server sharing(same_port, log.handlers());
  CHECK_NOTHROW(sharing.start());
  CHECK(sharing.port() == first.port());
}

TEST_CASE("connections spread over the shards and each session keeps its user context") {
  session_log client_log;
  std::atomic<int> context_mismatches{0};
  std::vector<int> contexts(40);
  std::atomic<int> next_context{0};
  server* game_ptr = nullptr;
  session_log server_log;
  auto handlers = server_log.handlers([&](session_id id, std::span<const std::byte>) {
    if (game_ptr->user_context(id) == nullptr) ++context_mismatches;
  });
  auto opened = handlers.on_opened;
  handlers.on_opened = [&, opened](session_id id) {
    game_ptr->set_user_context(id, &contexts[static_cast<std::size_t>(next_context++ % 40)]);
    opened(id);
  };
  server game(fast_server(2), handlers);
  game_ptr = &game;
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  for (int i = 0; i < 40; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(server_log.wait_opened(40));
  REQUIRE(client_log.wait_opened(40));
  for (const auto id : client_log.opened()) client.send(id, bytes_of("ping"));
  REQUIRE(server_log.wait_messages(40));
  CHECK(context_mismatches == 0);
  CHECK(game.user_context(server_log.opened()[0]) == nullptr);  // not from a game thread: no access
  const auto stats = game.stats();
  REQUIRE(stats.sessions_per_shard.size() == 2);
  CHECK(stats.sessions_per_shard[0] > 0);
  CHECK(stats.sessions_per_shard[1] > 0);
  CHECK(stats.total.sessions_open == 40);
}
