// Connection churn: sessions that come and go by the hundred must leave nothing behind.
// Every closed session's socket is closed and its slot reclaimed, so the process's file
// descriptors return to what a running server and connector hold with no session, and to
// what the process held before either existed once both are stopped and destroyed.
//
// Descriptors are counted in /proc/self/fd: before anything exists, once the server and
// connector run with no session (their loops, timers and listening sockets), after the
// churn, and after both are stopped and destroyed.
#include "../support/fast_config.hpp"
#include "../support/open_fds.hpp"
#include "../support/poll_until.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

constexpr std::size_t cycles = 300;
constexpr std::size_t batch = 30;

enum class closing_side { client, server };

// A server and a connector in one process, churned from either side.
struct churn {
  session_log server_log, client_log;
  server game{fast_server(2), server_log.handlers()};
  connector client{fast_connector(), client_log.handlers()};

  churn() {
    game.start();
    client.start();
  }

  // Opens `n` sessions at once, then closes all of them from `side`, and waits until
  // both ends have reported every one closed.
  void cycle(std::size_t n, closing_side side) {
    const auto opened_before = client_log.opened().size();
    const auto closed_before = client_log.closed().size();
    for (std::size_t i = 0; i < n; ++i) client.connect({.address = "127.0.0.1", .port = game.port()});
    REQUIRE(client_log.wait_opened(opened_before + n));
    REQUIRE(server_log.wait_opened(opened_before + n));
    if (side == closing_side::client) {
      const auto ids = client_log.opened();
      for (std::size_t i = opened_before; i < ids.size(); ++i) REQUIRE_FALSE(client.close(ids[i]));
    } else {
      const auto ids = server_log.opened();
      for (std::size_t i = opened_before; i < ids.size(); ++i) REQUIRE_FALSE(game.close(ids[i]));
    }
    REQUIRE(client_log.wait_closed(closed_before + n));
    REQUIRE(server_log.wait_closed(closed_before + n));
  }

  // Every session slot is free again on both ends.
  bool all_reclaimed() {
    return poll_until(
        [&] { return game.stats().total.sessions_open == 0 && client.stats().total.sessions_open == 0; }, 5s);
  }
};

void churn_leaves_no_descriptor_behind(closing_side side, close_reason client_sees, close_reason server_sees) {
  const auto before_everything = open_fd_count();
  {
    churn c;
    const auto running = open_fd_count();

    for (std::size_t done = 0; done < cycles; done += batch) c.cycle(batch, side);
    REQUIRE(c.all_reclaimed());
    CHECK(open_fd_count() == running);

    CHECK(c.client_log.closed_count(client_sees) == cycles);
    CHECK(c.server_log.closed_count(server_sees) == cycles);
    const auto stats = c.game.stats().total;
    CHECK(stats.sessions_opened == cycles);
    CHECK(stats.sessions_open == 0);
    CHECK(stats.closes(server_sees) == cycles);
    MESSAGE("descriptors: " << before_everything << " before, " << running << " while running with no session");
    c.client.stop();
    c.game.stop();
  }
  CHECK(open_fd_count() == before_everything);
}

}  // namespace

TEST_CASE("300 sessions opened and closed by the client leave no file descriptor behind") {
  churn_leaves_no_descriptor_behind(closing_side::client, close_reason::closed_locally, close_reason::peer_closed);
}

TEST_CASE("300 sessions opened and closed by the server leave no file descriptor behind") {
  churn_leaves_no_descriptor_behind(closing_side::server, close_reason::peer_closed, close_reason::closed_locally);
}
