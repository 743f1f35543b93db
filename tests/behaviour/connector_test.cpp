// What a game client needs of its connector (issue 11): host names looked up without
// blocking anyone, a connect() it can call off, a limit on reconnect attempts, counters of
// its own, the liveness its sessions actually run on, and a defined end of its life.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_listener.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

// A port on 127.0.0.1 where nothing listens (a socket bound there, never listening, keeps
// anyone else from taking it): a connect is answered at once with a reset.
class closed_port {
 public:
  closed_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("closed_port: cannot bind on 127.0.0.1");
    port_ = ntohs(address.sin_port);
  }
  ~closed_port() { ::close(fd_); }
  closed_port(const closed_port&) = delete;
  closed_port& operator=(const closed_port&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A listener whose accept queue is full (backlog 0, filled by connections nobody accepts):
// the kernel drops the next SYN, so a connect to it stays unanswered, connecting.
class full_listener {
 public:
  full_listener() {
    listening_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listening_ < 0 || ::bind(listening_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listening_, 0) != 0 || ::getsockname(listening_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      throw std::runtime_error("full_listener: cannot listen on 127.0.0.1");
    port_ = ntohs(address.sin_port);
    for (int i = 0; i < 4; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      (void)::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      fillers_.push_back(fd);
    }
  }
  ~full_listener() {
    for (const int fd : fillers_) ::close(fd);
    ::close(listening_);
  }
  full_listener(const full_listener&) = delete;
  full_listener& operator=(const full_listener&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  int listening_ = -1;
  std::vector<int> fillers_;
  std::uint16_t port_ = 0;
};

connector_config reconnecting(unsigned max_attempts) {
  auto config = fast_connector();
  config.reconnect = {.enabled = true, .initial_delay = 20ms, .max_delay = 40ms, .jitter = 0.2, .max_attempts = max_attempts};
  return config;
}

// A name under the reserved .invalid TLD (RFC 6761): it resolves nowhere, and a resolver
// needs no network to say so (glibc answers from its own rules or the first DNS reply).
constexpr auto unresolvable = "no-such-host.invalid";

}  // namespace

TEST_CASE("a connector reaches a server on 127.0.0.1 by the name localhost") {
  session_log server_log, client_log;
  server game(fast_server(1), server_log.handlers());  // listens on 127.0.0.1 only
  connector client(fast_connector(), client_log.handlers());
  game.start();
  client.start();
  const auto ticket = client.connect({.address = "localhost", .port = game.port()});
  CHECK(ticket);
  REQUIRE(client_log.wait_opened(1));
  REQUIRE(server_log.wait_opened(1));
  CHECK_FALSE(client.send(client_log.opened()[0], bytes_of("by name")));
  REQUIRE(server_log.wait_messages(1));
  const auto connects = client.stats().connects;
  CHECK(connects.attempts == 1);
  CHECK(connects.failures == 0);
  CHECK(connects.resolution_failures == 0);
}

TEST_CASE("a name that does not resolve ends the attempt with name_not_resolved, each reconnect looks it up again") {
  session_log log;
  SUBCASE("without reconnect: one attempt, reconnect_plan none") {
    connector client(fast_connector(), log.handlers());
    client.start();
    client.connect({.address = unresolvable, .port = 7777});
    REQUIRE(log.wait_closed(1, 30s));  // offline, glibc's resolver gives up at once; a slow DNS server within its timeout
    const auto closed = log.closed()[0];
    CHECK(closed.why.reason == close_reason::name_not_resolved);
    CHECK(closed.why.detail);  // the resolver's error
    CHECK(closed.why.reconnect == reconnect_plan::none);
    const auto connects = client.stats().connects;
    CHECK(connects.attempts == 1);
    CHECK(connects.failures == 1);
    CHECK(connects.resolution_failures == 1);
    CHECK(client.stats().total.closes(close_reason::name_not_resolved) == 1);
    CHECK(log.opened().empty());
  }
  SUBCASE("with reconnect and max_attempts 2: looked up twice, then given up") {
    connector client(reconnecting(2), log.handlers());
    client.start();
    client.connect({.address = unresolvable, .port = 7777});
    REQUIRE(log.wait_closed(2, 60s));
    const auto closed = log.closed();
    CHECK(closed[0].why.reason == close_reason::name_not_resolved);
    CHECK(closed[0].why.reconnect == reconnect_plan::scheduled);
    CHECK(closed[1].why.reason == close_reason::name_not_resolved);
    CHECK(closed[1].why.reconnect == reconnect_plan::given_up);
    CHECK(client.stats().connects.resolution_failures == 2);
  }
}

TEST_CASE("reconnect.max_attempts: against a closed port, exactly that many attempts, the last one's on_closed says given_up, then nothing") {
  const closed_port nowhere;
  session_log log;
  connector client(reconnecting(3), log.handlers());
  client.start();
  client.connect({.address = "127.0.0.1", .port = nowhere.port()});
  REQUIRE(log.wait_closed(3));
  // Backoffs of 20 to 40 ms: a fourth attempt, were there one, would come well within this.
  CHECK_FALSE(log.wait_closed(4, 500ms));
  const auto closed = log.closed();
  REQUIRE(closed.size() == 3);
  for (const auto& e : closed) CHECK(e.why.reason == close_reason::connect_failed);
  CHECK(closed[0].why.reconnect == reconnect_plan::scheduled);
  CHECK(closed[1].why.reconnect == reconnect_plan::scheduled);
  CHECK(closed[2].why.reconnect == reconnect_plan::given_up);
  CHECK(closed[0].id != closed[1].id);  // each attempt a session of its own
  const auto connects = client.stats().connects;
  CHECK(connects.attempts == 3);
  CHECK(connects.failures == 3);
  CHECK(connects.reconnects_scheduled == 2);
  CHECK(connects.given_up == 1);
  CHECK(connects.cancelled == 0);
}

TEST_CASE("cancel() of a pending connect ends it once with closed_locally, and no new attempt follows") {
  session_log log;
  connector client(reconnecting(0), log.handlers());  // would try again after 20 ms, were it a failure
  client.start();
  std::optional<full_listener> full;
  std::optional<raw_listener> silent;
  std::uint16_t port = 0;
  SUBCASE("while it connects (the server's accept queue is full: its SYN goes unanswered)") {
    full.emplace();
    port = full->port();
  }
  SUBCASE("while it waits for the welcome (connected, nobody answers)") {
    silent.emplace();
    port = silent->port();
  }
  const auto ticket = client.connect({.address = "127.0.0.1", .port = port});
  CHECK_FALSE(log.wait_closed(1, 200ms));  // pending: neither opened nor closed
  CHECK(log.opened().empty());
  CHECK_FALSE(client.cancel(ticket));
  REQUIRE(log.wait_closed(1, 2s));
  CHECK_FALSE(log.wait_closed(2, 300ms));  // nothing more: no reconnect
  const auto closed = log.closed();
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].why.reason == close_reason::closed_locally);
  CHECK(closed[0].why.reconnect == reconnect_plan::none);
  CHECK(log.opened().empty());
  const auto connects = client.stats().connects;
  CHECK(connects.attempts == 1);
  CHECK(connects.failures == 0);  // the game's doing, not a failure
  CHECK(connects.cancelled == 1);
  // Its chain is over: the ticket is stale, and harmless.
  CHECK(client.cancel(ticket) == session_error::unknown_session);
  CHECK(client.cancel(connect_ticket{}) == session_error::unknown_session);
  CHECK(client.cancel(connect_ticket{0x00FF'FFFF'FFFF'FFFFull}) == session_error::unknown_session);
}

TEST_CASE("cancel() while a connect waits to try again: the attempt that was due ends with closed_locally, and none follows") {
  const closed_port nowhere;
  session_log log;
  auto config = reconnecting(0);
  config.reconnect.initial_delay = 2s;  // a long wait to cancel in
  config.reconnect.max_delay = 2s;
  connector client(config, log.handlers());
  client.start();
  int marker = 0;
  const auto ticket = client.connect({.address = "127.0.0.1", .port = nowhere.port()}, &marker);
  REQUIRE(log.wait_closed(1));
  CHECK(log.closed()[0].why.reconnect == reconnect_plan::scheduled);
  CHECK_FALSE(client.cancel(ticket));
  REQUIRE(log.wait_closed(2, 1s));  // well before the 2 s wait was over
  const auto closed = log.closed();
  CHECK(closed[1].why.reason == close_reason::closed_locally);
  CHECK(closed[1].why.reconnect == reconnect_plan::none);
  CHECK_FALSE(log.wait_closed(3, 2500ms));  // past when the next attempt was due
  const auto connects = client.stats().connects;
  CHECK(connects.attempts == 1);
  CHECK(connects.cancelled == 1);
  CHECK(client.cancel(ticket) == session_error::unknown_session);
}

TEST_CASE("cancel() of a connect whose session is open closes it as close() would: closed_locally here, peer_closed there") {
  session_log server_log, client_log;
  server game(fast_server(1), server_log.handlers());
  connector client(reconnecting(0), client_log.handlers());
  game.start();
  client.start();
  const auto ticket = client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  CHECK_FALSE(client.cancel(ticket));
  REQUIRE(client_log.wait_closed(1));
  REQUIRE(server_log.wait_closed(1));
  CHECK(client_log.closed()[0].why.reason == close_reason::closed_locally);
  CHECK(client_log.closed()[0].why.reconnect == reconnect_plan::none);
  CHECK(server_log.closed()[0].why.reason == close_reason::peer_closed);
  CHECK_FALSE(client_log.wait_opened(2, 300ms));  // reconnect is on, yet nothing follows
  CHECK(client.cancel(ticket) == session_error::unknown_session);
}

TEST_CASE("connector_stats: sessions per worker, the session totals, and what the connect() calls did") {
  session_log server_log, client_log;
  server game(fast_server(1), server_log.handlers());
  auto config = fast_connector();
  config.worker_threads = 2;
  connector client(config, client_log.handlers());
  game.start();
  client.start();
  for (int i = 0; i < 4; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(4));
  const closed_port nowhere;
  client.connect({.address = "127.0.0.1", .port = nowhere.port()});
  REQUIRE(client_log.wait_closed(1));
  // A closed session counts as open until its shard reclaims it, just after on_closed.
  REQUIRE(poll_until([&] { return client.stats().total.sessions_open == 4; }, 2s));
  const auto stats = client.stats();
  CHECK(stats.complete);
  REQUIRE(stats.sessions_per_shard.size() == 2);
  CHECK(stats.sessions_per_shard[0] == 2);  // connect() takes the workers in turn
  CHECK(stats.sessions_per_shard[1] == 2);
  CHECK(stats.total.sessions_open == 4);
  CHECK(stats.total.sessions_opened == 4);
  CHECK(stats.total.closes(close_reason::connect_failed) == 1);
  CHECK(stats.connects.attempts == 5);
  CHECK(stats.connects.failures == 1);
  CHECK(stats.connects.reconnects_scheduled == 0);  // reconnect is off
  CHECK(stats.connects.given_up == 0);
  CHECK(client_log.closed()[0].why.reconnect == reconnect_plan::none);
}

TEST_CASE("liveness(): after the welcome a session runs on its server's settings, not the connector's own") {
  // The server: clients beat every 100 ms and are dead after 300 ms; it beats every 400 ms
  // itself, so its clients must wait 400 + (300 - 100) = 600 ms for it.
  auto server_config = fast_server(1);
  server_config.liveness.server_heartbeat_interval = 400ms;
  // The connector's own, validated and then replaced by the welcome.
  auto client_config = fast_connector();
  client_config.liveness.heartbeat_interval = 250ms;
  client_config.liveness.dead_after = 2000ms;
  session_log server_log, client_log;
  server game(server_config, server_log.handlers());
  connector* client_ptr = nullptr;
  std::atomic<bool> asked{false};
  effective_liveness seen;
  std::error_code answer;
  auto handlers = client_log.handlers();
  handlers.on_opened = [&, opened = handlers.on_opened](session_id id) {
    answer = client_ptr->liveness(id, seen);  // on the session's shard thread
    asked = true;
    opened(id);
  };
  connector client(client_config, handlers);
  client_ptr = &client;
  game.start();
  client.start();
  client.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(1));
  REQUIRE(asked);
  CHECK_FALSE(answer);
  CHECK(seen.from_welcome);
  CHECK(seen.heartbeat_interval == 100ms);
  CHECK(seen.dead_after == 600ms);
  CHECK(seen.peer_heartbeat_interval == 400ms);
  CHECK(seen.suspect_after > seen.peer_heartbeat_interval);
  CHECK(seen.suspect_after < seen.dead_after);
  effective_liveness elsewhere;  // from a game thread: one round trip to the session's shard
  CHECK(client.liveness(client_log.opened()[0], elsewhere) == std::error_code{});
  CHECK(elsewhere.dead_after == 600ms);
}

TEST_CASE("a connector starts once: start() twice, or after stop(), throws logic_error saying why") {
  session_log log;
  connector client(fast_connector(), log.handlers());
  client.start();
  try {
    client.start();
    FAIL("a second start() was accepted");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("already started") != std::string::npos);
  }
  client.stop();
  try {
    client.start();
    FAIL("start() after stop() was accepted");
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("cannot be restarted") != std::string::npos);
  }
  CHECK_FALSE(client.connect({.address = "127.0.0.1", .port = 7777}));  // stopped: an empty ticket, nothing attempted
  CHECK(log.closed().empty());
}

TEST_CASE("connect() refuses an empty or malformed address, port 0 and a local_address that is not numeric, naming the field") {
  session_log log;
  connector client(fast_connector(), log.handlers());
  client.start();
  const auto refusal = [&](const endpoint& where) -> std::string {
    try {
      client.connect(where);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  for (const auto* bad : {"", " ", "local host", "-leading.example", "trailing-.example", "a..b", "1.2.3", "256.1.1.1",
                          "host:7777", "exa$mple.com"}) {
    CAPTURE(bad);
    CHECK(refusal({.address = bad, .port = 7777}).rfind("address:", 0) == 0);
  }
  CHECK(refusal({.address = "127.0.0.1", .port = 0}).rfind("port:", 0) == 0);
  CHECK(refusal({.address = "127.0.0.1", .port = 7777, .local_address = "localhost"}).rfind("local_address:", 0) == 0);
  client.stop();
  for (const auto* good : {"localhost", "localhost.", "eu-1.play.example.com", "_srv.example", "::1", "10.0.0.1"}) {
    CAPTURE(good);
    CHECK(refusal({.address = good, .port = 7777}) == "accepted");
  }
  CHECK(log.closed().empty());  // stopped before any of those: nothing attempted
}
