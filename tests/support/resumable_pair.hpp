// A server with resume on and connectors reaching it through a cutting proxy, sessions
// open: the starting point of the resume tests (DESIGN.md §10).
//
//   resumable_pair pair;                       // one session, grace 3 s
//   pair.proxy.cut(cut_kind::reset);           // its transport dies; the connector comes back
#pragma once

#include "cutting_proxy.hpp"
#include "fast_config.hpp"
#include "session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

namespace lifeline::test {

inline server_config resumable_server(std::chrono::milliseconds grace = 3s, unsigned threads = 2) {
  auto config = fast_server(threads);
  config.liveness.resume.grace = grace;
  return config;
}

struct resumable_pair {
  session_log server_log, client_log;
  server game;
  cutting_proxy proxy;
  connector client;
  session_id on_server{}, on_client{};  // the first session, as each side knows it

  /// `client_on_message` and `server_on_message` (optional) run on the connector's and the
  /// server's threads after the logs record the message.
  explicit resumable_pair(server_config config = resumable_server(), connector_config client_config = fast_connector(),
                          int sessions = 1,
                          std::function<void(session_id, std::span<const std::byte>)> client_on_message = {},
                          std::function<void(session_id, std::span<const std::byte>)> server_on_message = {})
      : game(std::move(config), server_log.handlers(std::move(server_on_message))),
        proxy(started(game)),
        client(client_config, client_log.handlers(std::move(client_on_message))) {
    client.start();
    for (int i = 0; i < sessions; ++i) client.connect({.address = "127.0.0.1", .port = proxy.port()});
    REQUIRE(server_log.wait_opened(static_cast<std::size_t>(sessions)));
    REQUIRE(client_log.wait_opened(static_cast<std::size_t>(sessions)));
    on_server = server_log.opened()[0];
    on_client = client_log.opened()[0];
  }
  ~resumable_pair() {
    client.stop();
    game.stop();
  }
  resumable_pair(const resumable_pair&) = delete;
  resumable_pair& operator=(const resumable_pair&) = delete;

 private:
  static std::uint16_t started(server& s) {
    s.start();
    return s.port();
  }
};

}  // namespace lifeline::test
