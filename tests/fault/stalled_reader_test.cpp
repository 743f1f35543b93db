// Fault kind "stalled" (DESIGN.md §4): the peer is alive (it keeps beating) but has
// stopped reading. Its receive window closes, the server's socket buffer fills, and the
// game's messages pile up in the session's write queue. The server gives up on such a
// peer in one of three ways, all reported as write_stalled:
//   - the queue would grow past write_queue_limit: at once, detail no_buffer_space;
//   - queued bytes have made no progress for write_stall_timeout: detail empty;
//   - the window stayed shut, the peer still heard from, until TCP_USER_TIMEOUT ended
//     the kernel's zero-window probes: detail ETIMEDOUT.
//
// What the kernel does here (measured on loopback): the raw peer shrinks SO_RCVBUF after
// the connection is up (stop_reading), and its kernel then takes only what fits in the
// window it already advertised (one 32 KiB message here) and nothing after; the server's
// send buffer takes up to tcp_wmem's maximum on top. So a test that wants a backlog that
// the sockets cannot absorb sends more than twice that maximum.
#include "../support/fast_config.hpp"
#include "../support/poll_until.hpp"
#include "../support/raw_peer.hpp"
#include "../support/raw_peer_reading.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <sys/utsname.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

using namespace lifeline;
using namespace lifeline::test;

namespace {

constexpr std::size_t message_size = 32 * 1024;

// Beats for the peer every 50 ms from a thread, so that the server never sees it as dead:
// whatever it ends with, it is not a heartbeat timeout.
class keep_beating {
 public:
  explicit keep_beating(raw_peer& peer)
      : thread_([this, &peer] {
          while (!stop_) {
            try {
              peer.send_beat();
            } catch (const std::exception&) {
              return;  // the server hung up
            }
            std::this_thread::sleep_for(50ms);
          }
        }) {}
  ~keep_beating() {
    stop_ = true;
    thread_.join();
  }
  keep_beating(const keep_beating&) = delete;
  keep_beating& operator=(const keep_beating&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The most a TCP send buffer may grow to (the third field of net.ipv4.tcp_wmem).
std::size_t max_send_buffer() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t min = 0, initial = 0, max = 0;
  in >> min >> initial >> max;
  return max > 0 ? max : std::size_t{4} << 20;
}

std::uint16_t start_and_get_port(server& game) {
  game.start();
  return game.port();
}

// A server with one session, whose raw peer has handshaken and then stopped reading.
struct stalled_session {
  session_log log;
  server game;
  raw_peer peer;
  session_id id;

  explicit stalled_session(const server_config& config)
      : game(config, log.handlers()), peer("127.0.0.1", start_and_get_port(game)) {
    id = session_id{peer.handshake().session_id};
    REQUIRE(log.wait_opened(1));
    peer.stop_reading();
  }
};

}  // namespace

TEST_CASE("a handler that sends more than its peer reads closes it as write_stalled as soon as the queue would pass its limit") {
  // Game threads are held back before that (send() answers queue_full: backpressure_test);
  // a handler on the session's own shard queues at once, so there the limit acts.
  auto config = fast_server(1);
  config.liveness.write_queue_limit = 512 * 1024;
  config.liveness.write_stall_timeout = 5s;  // far away: only the limit can act here
  std::atomic<std::size_t> accepted{0};
  std::atomic<int> refused_with{0};
  std::atomic<bool> handler_done{false};
  clock::time_point started, stopped;  // written by the handler, read once handler_done
  const std::vector<std::byte> message(message_size, std::byte{0x5A});
  session_log log;
  server* game_ptr = nullptr;
  server game(config, log.handlers([&](session_id id, std::span<const std::byte>) {
    started = clock::now();
    for (std::size_t sent = 0; sent < 64 * 1024 * 1024; sent += message.size()) {
      if (const auto ec = game_ptr->send(id, message)) {
        refused_with = ec.value();
        break;
      }
      accepted += message.size();
    }
    stopped = clock::now();
    handler_done = true;
  }));
  game_ptr = &game;
  game.start();
  raw_peer peer("127.0.0.1", game.port(), {}, 1);  // a window of the kernel's minimum; it never reads
  peer.handshake();
  REQUIRE(log.wait_opened(1));
  keep_beating beats(peer);
  peer.send_frame(data_frame{.payload = bytes_of("send me everything")});

  REQUIRE(log.wait_closed(1, 5s));
  REQUIRE(poll_until([&] { return handler_done.load(); }, 5s));
  const auto closed = log.closed()[0];
  CHECK(closed.why.reason == close_reason::write_stalled);
  CHECK(closed.why.detail == std::errc::no_buffer_space);
  CHECK(refused_with == static_cast<int>(session_error::queue_full));  // send() said so, after on_closed
  CHECK(accepted > config.liveness.write_queue_limit);  // the kernel's buffers took some first
  CHECK(closed.at >= started);
  CHECK(closed.at <= stopped);  // inside the handler's send(): the limit, not a timer
  MESSAGE("closed after " << accepted.load() / 1024 << " KiB were accepted by send(), "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(closed.at - started).count()
                          << " ms after sending began");
}

TEST_CASE("a peer that stops reading is closed as write_stalled after write_stall_timeout without progress, not before") {
  // A backlog the sockets cannot absorb (more than twice the largest send buffer) that
  // stays well under the queue limit: only the no-progress timer can close this session.
  const std::size_t backlog = 2 * max_send_buffer() + 64 * 1024;
  auto config = fast_server(1);
  config.liveness.write_queue_limit = 2 * backlog;
  config.liveness.write_stall_timeout = 400ms;
  SUBCASE("with heartbeats on") { config.liveness.heartbeats = true; }
  SUBCASE("with heartbeats off, so no heartbeat deadline keeps the session's entry armed") {
    config.liveness.heartbeats = false;
  }
  stalled_session s(config);
  keep_beating beats(s.peer);
  const std::vector<std::byte> message(message_size, std::byte{0x5A});

  const auto started = clock::now();  // the queue cannot have made progress before this
  for (std::size_t sent = 0; sent < backlog; sent += message_size) REQUIRE_FALSE(s.game.send(s.id, message));
  const auto all_sent = clock::now();

  // Watch the peer's kernel take bytes until the server gives up: the last time it took
  // any is (within a poll) the last time the server's queue could have moved.
  auto last_growth = started;
  std::size_t unread = unread_bytes(s.peer);
  bool closed_in_time = false;
  for (const auto until = clock::now() + 5s; !closed_in_time && clock::now() < until;) {
    closed_in_time = s.log.wait_closed(1, 5ms);
    if (const auto now_unread = unread_bytes(s.peer); now_unread != unread) {
      unread = now_unread;
      last_growth = clock::now();
    }
  }
  REQUIRE(closed_in_time);

  const auto closed = s.log.closed()[0];
  const auto last_progress_bound = std::max(all_sent, last_growth);
  CHECK(closed.why.reason == close_reason::write_stalled);
  CHECK_FALSE(closed.why.detail);  // the timer, not the limit
  CHECK(closed.at >= started + config.liveness.write_stall_timeout);
  CHECK(closed.at <= last_progress_bound + config.liveness.write_stall_timeout + detection_slack);
  CHECK(s.game.stats().total.closes(close_reason::heartbeat_timeout) == 0);
  MESSAGE("the peer's kernel took " << unread << " bytes; closed "
                                    << std::chrono::duration_cast<std::chrono::milliseconds>(closed.at - last_progress_bound).count()
                                    << " ms after the last possible progress (write_stall_timeout "
                                    << config.liveness.write_stall_timeout.count() << " ms)");
}

namespace {

// A peer whose small receive buffer was set before connecting (so its window is small from
// the start and its kernel keeps acknowledging), fed a game's stream of 200 B updates, each
// its own segment, until its window is exactly zero. (One large write would not do it: a
// segment larger than what is left of a small window waits for the window, and here the
// window was not probed and the session stayed open.) Far less than the server's send
// buffer takes, so nothing backs up into lifeline's queue and no write-stall timer runs:
// the kernel probes the shut window until TCP_USER_TIMEOUT (Linux 5.11 on) gives up.
struct shut_window_session {
  static constexpr int smallest_receive_buffer = 1;  // the kernel rounds it up to its minimum
  session_log log;
  server game;
  raw_peer peer;
  session_id id;

  explicit shut_window_session(const server_config& config)
      : game(config, log.handlers()), peer("127.0.0.1", start_and_get_port(game), {}, smallest_receive_buffer) {
    id = session_id{peer.handshake().session_id};
    REQUIRE(log.wait_opened(1));
  }
  /// Streams updates until the window shuts, then waits for the server to give up.
  closed_event closed_after_the_updates(clock::time_point& updates_began) {
    const std::vector<std::byte> update(200, std::byte{0x5A});
    updates_began = clock::now();
    for (int i = 0; i < 60; ++i) {
      REQUIRE_FALSE(game.send(id, update));
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(log.wait_closed(1, 8s));
    const auto closed = log.closed()[0];
    MESSAGE(to_string(closed.why.reason) << " (" << closed.why.detail.message() << ") "
                                         << std::chrono::duration_cast<std::chrono::milliseconds>(closed.at - updates_began).count()
                                         << " ms after the updates began");
    return closed;
  }
};

// TCP_USER_TIMEOUT ends answered zero-window probes only from Linux 5.11 on: says so when
// this kernel is older.
bool skipped_before_linux_5_11() {
  utsname name{};
  int major = 0, minor = 0;
  if (::uname(&name) == 0 && std::sscanf(name.release, "%d.%d", &major, &minor) == 2 &&
      (major > 5 || (major == 5 && minor >= 11)))
    return false;
  MESSAGE("skipped: TCP_USER_TIMEOUT ends answered zero-window probes only from Linux 5.11 on");
  return true;
}

}  // namespace

TEST_CASE("a peer that keeps beating behind a window it keeps shut is closed as write_stalled when TCP_USER_TIMEOUT gives up on it, not as a peer that timed out") {
  if (skipped_before_linux_5_11()) return;
  auto config = fast_server(1);
  config.liveness.user_timeout = 1s;
  config.liveness.write_stall_timeout = 30s;  // far away: only the kernel can act here
  shut_window_session s(config);
  keep_beating beats(s.peer);
  clock::time_point updates_began;
  const auto closed = s.closed_after_the_updates(updates_began);

  CHECK(closed.why.reason == close_reason::write_stalled);
  CHECK(closed.why.detail.value() == ETIMEDOUT);
  CHECK(closed.at >= updates_began + config.liveness.user_timeout.value());
  // The fault as meant: the peer's beats (one per 50 ms) kept arriving behind its shut window.
  const auto heard_for = std::chrono::duration_cast<std::chrono::milliseconds>(closed.at - updates_began);
  CHECK(s.game.stats().total.heartbeats_received >= static_cast<std::uint64_t>(heard_for / 100ms));
}

TEST_CASE("a hung peer behind a shut window, whose kernel still answers, is closed as user_timeout, not write_stalled") {
  if (skipped_before_linux_5_11()) return;
  // dead_after longer than the user timeout, as on a connector that waits out a slow server
  // beat: the kernel gives up first, while the peer is silent but its kernel answers.
  auto config = fast_server(1);
  config.liveness.heartbeat_interval = 1s;
  config.liveness.dead_after = 5s;
  config.liveness.user_timeout = 1s;
  config.liveness.write_stall_timeout = 30s;
  shut_window_session s(config);  // hung from the handshake on: no beats, no reads
  clock::time_point updates_began;
  const auto closed = s.closed_after_the_updates(updates_began);

  CHECK(closed.why.reason == close_reason::user_timeout);
  CHECK(closed.why.detail.value() == ETIMEDOUT);
  CHECK(closed.at < updates_began + config.liveness.dead_after);  // the kernel, not the heartbeat
}
