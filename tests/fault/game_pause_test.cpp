// A game in poll mode that stops polling (a long frame, a debugger, a GC pause in a
// scripting layer) is a stall of ours, not of the peers: lifeline must neither grow its
// memory without bound nor convict the live peers whose frames it stopped reading, and a
// dead peer must still be found on time (session_event.hpp).
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/connector.hpp>
#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

TEST_CASE("a game that stops polling holds reading at event_backlog_limit, convicts no live peer, and still finds a dead one") {
  constexpr std::size_t backlog_limit = 256 * 1024;
  auto config = fast_server(1);
  config.liveness.event_backlog_limit = backlog_limit;
  config.liveness.inbound.frames_per_second = 0;  // the streams run flat out: no rate limit here
  config.liveness.inbound.bytes_per_second = 0;
  server game(config, polled_events);
  game.start();

  // Four clients streaming 1 KiB messages as fast as they are taken, from a game thread.
  session_log client_log;
  auto client_config = fast_connector();
  client_config.liveness.inbound = config.liveness.inbound;
  // Their writes back up while the game pauses, as TCP pushes back: their own rules would
  // give up on a server whose window stays shut for write_stall_timeout, and their kernel
  // after TCP_USER_TIMEOUT (2 × dead_after by default). Longer pauses than those end
  // streaming clients from their side (session_event.hpp says so); this test is about ours.
  client_config.liveness.write_stall_timeout = 10s;
  client_config.liveness.user_timeout = 10s;
  connector clients(client_config, client_log.handlers());
  clients.start();
  for (int i = 0; i < 4; ++i) clients.connect({.address = "127.0.0.1", .port = game.port()});
  REQUIRE(client_log.wait_opened(4));
  std::atomic<bool> streaming{true};
  std::thread streamer([&] {
    const std::string message(1024, 's');
    const auto ids = client_log.opened();
    while (streaming)
      for (const auto id : ids)
        if (clients.send(id, bytes_of(message)) == session_error::queue_full) std::this_thread::sleep_for(1ms);
  });
  // And one peer that says hello and is never heard again.
  raw_peer hung("127.0.0.1", game.port());
  const session_id hung_id{hung.handshake().session_id};

  // The game does not poll for about seven dead_afters.
  const auto pause = 7 * config.liveness.dead_after;
  const auto paused_until = clock::now() + pause;
  std::uint64_t backlog_peak = 0;
  while (clock::now() < paused_until) {
    backlog_peak = std::max(backlog_peak, game.stats().total.event_backlog_bytes);
    std::this_thread::sleep_for(20ms);
  }
  const auto during = game.stats().total;
  MESSAGE("backlog peak " << backlog_peak / 1024 << " KiB (limit " << backlog_limit / 1024 << " KiB); reads held "
                          << during.reads_held << " times; averted " << during.convictions_averted);
  CHECK(during.reads_held > 0);
  // One turn of each session may land past the limit: 16 KiB of frames read per turn.
  CHECK(backlog_peak <= backlog_limit + 5 * config.liveness.read_budget_per_turn + 64 * 1024);

  // Polling again: the dead peer's close is there, nobody else's; the streams flow on.
  std::vector<session_event> closes;
  std::size_t messages = 0;
  const auto drain = [&](std::chrono::milliseconds for_how_long) {
    const auto until = clock::now() + for_how_long;
    while (clock::now() < until)
      if (game.poll([&](const session_event& e) {
            if (e.kind == event_kind::message) ++messages;
            if (e.kind == event_kind::closed) closes.push_back(e);
          }) == 0)
        std::this_thread::sleep_for(1ms);
  };
  drain(300ms);
  const auto after_pause = messages;
  drain(500ms);
  streaming = false;
  streamer.join();
  MESSAGE(after_pause << " messages waiting after the pause, " << messages - after_pause << " more in the next 500 ms");
  for (const auto& e : closes) MESSAGE("closed: " << to_string(e.why.reason));
  REQUIRE(closes.size() == 1);
  CHECK(closes.front().id == hung_id);
  CHECK(closes.front().why.reason == close_reason::heartbeat_timeout);
  CHECK(messages > after_pause);  // reading resumed
  CHECK(client_log.closed().empty());
}
