// A session that outlives a network outage (DESIGN.md §10): a connector on 127.0.0.2 and a
// server that keeps sessions for resume stream numbered messages both ways; the packet
// filter cuts 127.0.0.2 off, blackholed or unreachable (ICMP host-unreachable), for longer
// than dead_after, so both sides find the transport dead and the connector's attempts to
// dial again fail too; then the network comes back, the connector's next attempt resumes
// the session, and every message arrives exactly once and in order on both sides.
#include "../support/fast_config.hpp"
#include "../support/numbered_messages.hpp"
#include "../support/private_network.hpp"
#include "../support/session_log.hpp"
#include "netns_session.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <string>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

namespace {

void stream_through_an_outage(const std::string& rules) {
  private_network net;  // first: entered before any thread of the test exists
  if (!net) {
    MESSAGE("SKIPPED: " << net.why_not());
    return;
  }
  session_log server_log, client_log;
  auto config = fast_server(1);
  config.listen_address = server_address;
  config.liveness.resume.grace = 5s;
  server game(config, server_log.handlers());
  game.start();
  connector client(fast_connector(), client_log.handlers());
  client.start();
  client.connect({.address = server_address, .port = game.port(), .local_address = peer_address});
  REQUIRE(server_log.wait_opened(1));
  REQUIRE(client_log.wait_opened(1));
  const auto on_server = server_log.opened()[0];
  const auto on_client = client_log.opened()[0];

  // 600 messages each way, one every 4 ms; the outage from the 150th to the 450th (1.2 s,
  // four times dead_after), while both sides go on sending (kept for the replay).
  constexpr int count = 600;
  for (int i = 1; i <= count; ++i) {
    REQUIRE(game.send(on_server, bytes_of("s:" + std::to_string(i))) == std::error_code{});
    REQUIRE(client.send(on_client, bytes_of("c:" + std::to_string(i))) == std::error_code{});
    if (i == count / 4) net.nft(rules);
    if (i == count * 3 / 4) {
      CHECK(server_log.transports_lost().size() == 1);  // found dead during the outage
      net.nft("delete table inet lifeline_test\n");
    }
    std::this_thread::sleep_for(4ms);
  }
  CHECK(heard_at_least(server_log, count));
  CHECK(heard_at_least(client_log, count));
  CHECK(numbers_heard(server_log, "c:") == one_to(count));
  CHECK(numbers_heard(client_log, "s:") == one_to(count));
  CHECK(server_log.story_of(on_server) == "opened suspected transport_lost resumed");
  CHECK(client_log.closed().empty());
  CHECK(game.stats().total.resumed == 1);
  MESSAGE("connector: " << client_log.story_of(on_client) << "; frames replayed by the server: "
                        << game.stats().total.replayed_frames);
  client.stop();
  game.stop();
}

}  // namespace

TEST_CASE("a blackholed connector comes back after the outage and resumes, every message once and in order") {
  stream_through_an_outage(std::string(blackhole_rules));
}

TEST_CASE("an unreachable connector comes back after the outage and resumes, every message once and in order") {
  stream_through_an_outage(unreachable_rules());
}
