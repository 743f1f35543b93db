// A game's own close with an application code (a kick, a ban): the peer's game hears the
// code and the reason, and a connector does not fight it by reconnecting.
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

TEST_CASE("a kick with an application code: the connector's game hears the code and reason, and it does not come back") {
  auto config = fast_connector();
  config.reconnect.enabled = true;
  config.reconnect.initial_delay = 50ms;
  resumable_pair pair(resumable_server(), config);  // the proxy counts the connections made
  auto& [server_log, client_log, game, proxy, client, on_server, on_client] = pair;
  CHECK(game.close(on_server, 4003, "banned: cheating") == std::error_code{});
  REQUIRE(client_log.wait_closed(1));
  const auto kicked = client_log.closed()[0];
  CHECK(kicked.why.reason == close_reason::peer_closed);
  CHECK(kicked.why.detail == close_code::application);
  CHECK(kicked.why.app_code == 4003);
  CHECK(kicked.app_reason == "banned: cheating");
  CHECK_FALSE(kicked.why.lingered);
  CHECK(server_log.closed()[0].why.reason == close_reason::closed_locally);
  // Several reconnect delays later, still one connection: the kick is final.
  std::this_thread::sleep_for(500ms);
  CHECK(proxy.connections() == 1);
  CHECK(client_log.opened().size() == 1);
  CHECK(client_log.transports_lost().empty());
}

TEST_CASE("a kick's reason is cut to max_app_reason_bytes") {
  resumable_pair pair;
  CHECK(pair.game.close(pair.on_server, 1, std::string(1000, 'r')) == std::error_code{});
  REQUIRE(pair.client_log.wait_closed(1));
  CHECK(pair.client_log.closed()[0].app_reason == std::string(max_app_reason_bytes, 'r'));
  CHECK(pair.client_log.closed()[0].why.app_code == 1);
}
