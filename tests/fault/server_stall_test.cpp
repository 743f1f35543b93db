// Our own stall (DESIGN.md §8): the server's shard cannot run for longer than dead_after
// (a debugger, a page-fault storm, a VM paused, a game handler that blocks its shard)
// while its peers keep beating into their socket buffers. When the loop runs again it
// must convict none of them, whatever it handles first, and still find the peers that
// really went silent, within T + stall + H of their last beat.
//
// The bad order is made to happen, not hoped for. One shard holds every session. A game
// handler blocks the shard just before some hung peers' deadline, so the shard's deadline
// timer becomes due early in the stall, ahead of most live peers' next beats. After the
// stall, Asio's epoll reactor takes at most 128 ready descriptors per wait, running the
// timer after that batch's reads: the live sessions beyond the batch are still unread
// when their deadlines fire. Without pause tolerance, two hundred-odd of them were closed
// as heartbeat_timeout on every run.
#include "../support/beating_crowd.hpp"
#include "../support/fast_config.hpp"
#include "../support/raw_peer.hpp"
#include "../support/session_log.hpp"

#include <lifeline/server.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

using namespace lifeline;
using namespace lifeline::test;

namespace {

constexpr std::size_t live_peers = 300;  // well over the reactor's 128 events per wait
constexpr std::size_t hung_peers = 20;

struct stall_outcome {
  std::size_t live_closed = 0;
  std::vector<closed_event> hung_closed;
  std::vector<clock::time_point> hung_last_beat;
  clock::time_point stall_began, stall_ended;
  session_stats stats;
};

// Live and hung peers on a one-shard server; the shard is blocked for `stall` by a game
// handler T/2 before the hung peers' deadline (the wheel is due within a tick anyway: 320
// sessions' deadlines are spread over every interval). Returns once every hung peer is closed
// and the live ones have been watched for a while after.
stall_outcome stall_the_shard(std::chrono::milliseconds stall, liveness_config liveness) {
  auto config = fast_server(1);
  config.liveness = liveness;
  const auto dead_after = liveness.dead_after;

  std::atomic<std::uint64_t> blocker_id{0};
  std::atomic<clock::rep> began{0}, ended{0};
  session_log log;
  server game(config, log.handlers([&](session_id id, std::span<const std::byte>) {
    if (id.value != blocker_id) return;
    began = clock::now().time_since_epoch().count();
    std::this_thread::sleep_for(stall);  // the game's handler holds the shard
    ended = clock::now().time_since_epoch().count();
  }));
  game.start();

  beating_crowd crowd(game.port(), live_peers + hung_peers, liveness.heartbeat_interval);
  blocker_id = crowd.id(0).value;  // a live peer whose message the game handles slowly
  REQUIRE(log.wait_opened(crowd.size()));
  std::this_thread::sleep_for(2 * dead_after);  // steady beats first: nobody closes
  for (const auto& e : log.closed()) MESSAGE("closed before the stall: " << to_string(e.why.reason));
  REQUIRE(log.closed().empty());

  stall_outcome out;
  for (std::size_t i = live_peers; i < crowd.size(); ++i) out.hung_last_beat.push_back(crowd.silence(i));
  std::this_thread::sleep_until(out.hung_last_beat.back() + dead_after / 2);
  crowd.send(0, data_frame{.payload = bytes_of("block the shard")});

  const auto hung_dead = [&] {
    std::size_t n = 0;
    for (const auto& e : log.closed_unlocked())
      for (std::size_t i = live_peers; i < crowd.size(); ++i) n += e.id == crowd.id(i);
    return n == hung_peers;
  };
  CHECK(log.wait_until(hung_dead, dead_after + stall + 10s));
  std::this_thread::sleep_for(2 * dead_after);  // any late false kill shows up here
  crowd.stop();

  std::set<std::uint64_t> hung_ids;
  for (std::size_t i = live_peers; i < crowd.size(); ++i) hung_ids.insert(crowd.id(i).value);
  for (const auto& e : log.closed()) {
    if (hung_ids.count(e.id.value)) {
      out.hung_closed.push_back(e);
    } else if (++out.live_closed == 1) {
      MESSAGE("a live peer closed: " << to_string(e.why.reason));
    }
  }
  out.stall_began = clock::time_point{clock::duration{began.load()}};
  out.stall_ended = clock::time_point{clock::duration{ended.load()}};
  out.stats = game.stats().total;
  return out;
}

enum class stall_rule { excused, evidence_only };

// Every hung peer heartbeat_timeout, not before its last beat + T, and within T + the
// stall + H of it. Where the stall is excused, not before T + the stall either: the time
// the shard could not watch was given back to every peer, the hung ones included.
void check_hung_peers_found(const stall_outcome& out, const liveness_config& liveness, stall_rule rule) {
  const auto stall = out.stall_ended - out.stall_began;
  REQUIRE(out.hung_closed.size() == hung_peers);
  const auto last_beat = *std::max_element(out.hung_last_beat.begin(), out.hung_last_beat.end());
  const auto first_beat = *std::min_element(out.hung_last_beat.begin(), out.hung_last_beat.end());
  auto earliest = out.hung_closed.front().at, latest = earliest;
  for (const auto& e : out.hung_closed) {
    CAPTURE(e.why.detail.message());
    // The kernel backstop knows nothing of our stall: over a long one, its keepalive
    // (whose probes TCP_USER_TIMEOUT bounds) may end a hung peer first. Dead either way.
    const bool by_heartbeat = e.why.reason == close_reason::heartbeat_timeout;
    CHECK((by_heartbeat || e.why.reason == close_reason::user_timeout || e.why.reason == close_reason::keepalive_timeout));
    CHECK(e.at >= first_beat + liveness.dead_after);
    CHECK(e.at <= last_beat + liveness.dead_after + stall + liveness.heartbeat_interval + detection_slack);
    if (rule == stall_rule::excused && by_heartbeat) CHECK(e.at >= first_beat + liveness.dead_after + stall - 50ms);
    earliest = std::min(earliest, e.at);
    latest = std::max(latest, e.at);
  }
  const auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  MESSAGE("stall " << ms(stall) << " ms: hung peers closed " << ms(earliest - last_beat) << "-" << ms(latest - first_beat)
                   << " ms after their last beat (bound T + stall + H = "
                   << ms(liveness.dead_after + stall + liveness.heartbeat_interval) << " ms)");
}

}  // namespace

TEST_CASE("a shard stalled for 2.5 s convicts none of its live peers, and finds the hung ones within T + stall + H") {
  const auto liveness = fast_liveness();
  const auto out = stall_the_shard(2500ms, liveness);
  MESSAGE("deferred " << out.stats.convictions_deferred << ", averted " << out.stats.convictions_averted
                       << ", loop stalls " << out.stats.loop_stalls);
  CHECK(out.live_closed == 0);
  check_hung_peers_found(out, liveness, stall_rule::excused);
  CHECK(out.stats.loop_stalls >= 1);
  CHECK(out.stats.longest_loop_stall >= 2000ms);
}

TEST_CASE("a shard stalled for 10 s convicts none of its live peers, and finds the hung ones within T + stall + H") {
  const auto liveness = fast_liveness();
  const auto out = stall_the_shard(10s, liveness);
  CHECK(out.live_closed == 0);
  check_hung_peers_found(out, liveness, stall_rule::excused);
  CHECK(out.stats.longest_loop_stall >= 9s);
}

TEST_CASE("a beat sitting unread in the socket at the deadline never convicts, even with stall deferral off") {
  // A threshold no stall reaches: nothing is excused, so only the evidence in each socket
  // (read before convicting) stands between the live peers and a conviction.
  auto liveness = fast_liveness();
  liveness.stall_threshold = std::chrono::hours{1};
  const auto out = stall_the_shard(1500ms, liveness);
  MESSAGE("averted " << out.stats.convictions_averted << " convictions by reading the waiting beats");
  CHECK(out.live_closed == 0);
  CHECK(out.stats.loop_stalls == 0);
  CHECK(out.stats.convictions_averted > 0);
  check_hung_peers_found(out, liveness, stall_rule::evidence_only);
}

TEST_CASE("convictions released after a stall are paced at stall_release_rate") {
  // 20 hung peers released at 10 a second: their closes are spread over about 2 s
  // instead of arriving in one tick.
  auto liveness = fast_liveness();
  liveness.stall_release_rate = 10;
  const auto out = stall_the_shard(1s, liveness);
  CHECK(out.live_closed == 0);
  REQUIRE(out.hung_closed.size() == hung_peers);
  auto first = out.hung_closed.front().at, last = first;
  for (const auto& e : out.hung_closed) {
    CAPTURE(e.why.detail.message());
    CHECK(e.why.reason == close_reason::heartbeat_timeout);
    first = std::min(first, e.at);
    last = std::max(last, e.at);
  }
  // 100 ms apart after a burst of at most 10 ms worth (one): at least 19 × 100 ms.
  CHECK(last - first >= 1800ms);
  MESSAGE("20 releases spread over " << std::chrono::duration_cast<std::chrono::milliseconds>(last - first).count() << " ms");
}
