// Round-trip time under game traffic (issue 10, item 6). A session whose data keeps beats
// away (each side sends long before its heartbeat interval) used to measure no RTT at all:
// samples came only from beats. Data frames now carry a beat's clock stamps once an
// interval, to a peer that speaks version 2, and never to a version-1 peer.
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

TEST_CASE("round-trip time is measured on a session whose data keeps every beat away") {
  std::atomic<long long> server_rtt_us{0}, client_rtt_us{0};
  std::unique_ptr<server> game;
  std::unique_ptr<connector> client;
  session_log server_log, client_log;
  // Each side reads its RTT where it may (the session's own shard thread): in on_message.
  game = std::make_unique<server>(fast_server(1), server_log.handlers([&](session_id id, std::span<const std::byte> bytes) {
    game->send(id, bytes);  // echo: the server sends as often as the client
    std::chrono::microseconds rtt{0};
    if (!game->round_trip_time(id, rtt)) server_rtt_us = rtt.count();
  }));
  client = std::make_unique<connector>(fast_connector(), client_log.handlers([&](session_id id, std::span<const std::byte>) {
    std::chrono::microseconds rtt{0};
    if (!client->round_trip_time(id, rtt)) client_rtt_us = rtt.count();
  }));
  game->start();
  client->start();
  client->connect({.address = "127.0.0.1", .port = game->port()});
  REQUIRE(client_log.wait_opened(1));
  const auto id = client_log.opened()[0];
  // A message every 10 ms for 1.2 s: ten times more often than the 100 ms interval, so
  // neither side is ever quiet long enough to beat.
  for (int i = 0; i < 120; ++i) {
    REQUIRE(client->send(id, bytes_of("state")) == std::error_code{});
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(client_log.wait_messages(120));
  const auto stats = game->stats().total;
  CHECK(stats.heartbeats_received == 0);  // no beat came: samples came from data frames
  CHECK(server_rtt_us.load() > 0);
  CHECK(client_rtt_us.load() > 0);
  CHECK(server_rtt_us.load() < 100'000);  // loopback: far under an interval
  CHECK(client_rtt_us.load() < 100'000);
  MESSAGE("RTT from data frames: server " << server_rtt_us.load() << " us, connector " << client_rtt_us.load() << " us");
  client->stop();
  game->stop();
}

TEST_CASE("a version-1 peer gets a version-1 welcome and data frames without version-2 fields") {
  session_log log;
  std::unique_ptr<server> game;
  game = std::make_unique<server>(fast_server(1), log.handlers([&](session_id id, std::span<const std::byte> bytes) {
    game->send(id, bytes);
  }));
  game->start();
  raw_peer old_peer("127.0.0.1", game->port());
  old_peer.send_frame(hello_frame{.version = 1, .heartbeat_interval = 100ms, .dead_after = 300ms});
  const auto welcome = old_peer.receive();
  REQUIRE(welcome);
  REQUIRE(std::holds_alternative<welcome_frame>(*welcome));
  CHECK(std::get<welcome_frame>(*welcome).version == 1);
  CHECK(std::get<welcome_frame>(*welcome).resume_token.empty());
  for (int i = 0; i < 30; ++i) {
    old_peer.send_frame(data_frame{.payload = bytes_of("ping")});
    std::this_thread::sleep_for(10ms);
  }
  int echoes = 0;
  while (auto f = old_peer.receive(300ms)) {
    if (const auto* d = std::get_if<data_frame>(&*f)) {
      ++echoes;
      CHECK_FALSE(d->timing.has_value());
      CHECK(d->ack == 0);
    }
  }
  CHECK(echoes == 30);
}
