// libFuzzer target: a lifeline server's session state machine, driven by a byte script
// (session_script.hpp) that loopback peers and the game's thread play against it.
//
// Set up once per process: one lifeline::server on 127.0.0.1, one worker thread, short
// deadlines (H = 10 ms, T = 30 ms, so suspect after 20 ms and a frame due within 30 ms;
// handshake 50 ms; write stall 25 ms; a 1 ms wheel tick), the server beating at the
// clients' rate, and room for 3 sessions while a script has 4 peer slots, so that
// server_full is reachable too. Resume is on with a 20 ms grace (DESIGN.md §10): a
// session whose connection dies of a transport cause lingers, takes the game's sends and
// closes, and ends with its original reason when the grace runs out. Per input: at
// most 96 steps with at most 64 ms of waiting in all, enough to reach every deadline
// above; an execution without waits takes 2-3 ms. Then each peer reads what is left and
// hangs up, and the server must settle within 5 s.
//
// Properties, besides the handlers' (session_ledger.hpp) and the peers' (scripted_peer.hpp):
//   - the server settles: every connection of the input ends in exactly one close reason
//     (its stats' closes), sessions_open returns to 0, every session on_opened reported got
//     its on_closed, none is left suspect, and sessions_opened grew by the on_opened calls;
//   - the game's calls answer per their contract: message_too_large above the frame limit,
//     unknown_session for a session already closed or an id never issued, and otherwise
//     success, queue_full or unknown_session (it may have closed meanwhile);
//   - each session whose welcome its peer read did with the peer's bytes what
//     expected_session says: its messages are a prefix of the data frames the peer wrote
//     after its hello; all of them, and the reason and detail that match the stream's end,
//     when it ended on the stream's word (peer_closed or peer_shutdown: the peer's close
//     frame and code; protocol_error: the frame or error the stream ends with; peer_dropped:
//     a FIN after everything, detail truncated_frame exactly when a frame was cut short).
// Coverage comes from the harness and from lifeline::core and ::protocol, built with
// -fsanitize=fuzzer-no-link in the fuzz preset. The shard thread's timing varies between
// runs, so a rerun of one input may take other paths; every property holds on all of them.
#include "expected_session.hpp"
#include "fuzz_check.hpp"
#include "fuzz_trace.hpp"
#include "scripted_peer.hpp"
#include "session_ledger.hpp"
#include "session_script.hpp"

#include <lifeline/server.hpp>
#include <lifeline/session_error.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using namespace lifeline;
using namespace lifeline::fuzz;

namespace {

constexpr welcome_terms terms{.heartbeat_interval = 10ms, .dead_after = 30ms};
constexpr int max_steps = 96;
constexpr std::size_t max_connections = 8;
constexpr auto wait_budget = 64ms;
constexpr auto settle_timeout = 5s;

server_config fuzz_server_config() {
  server_config config;
  config.listen_address = "127.0.0.1";
  config.worker_threads = 1;
  config.max_sessions = 3;
  auto& l = config.liveness;
  l.heartbeat_interval = terms.heartbeat_interval;
  l.dead_after = terms.dead_after;
  l.server_heartbeat_interval = terms.heartbeat_interval;
  l.handshake_timeout = 50ms;
  l.write_stall_timeout = 25ms;
  l.write_queue_limit = 128 * 1024;
  l.wheel_tick = 1ms;
  l.resume.grace = 20ms;
  l.resume.token_lifetime = 1s;
  return config;
}

// The server, started once per process. The ledger is declared first, so that it outlives
// the server's shutdown at exit.
struct fixture {
  session_ledger ledger;
  lifeline::server server{fuzz_server_config(), ledger.handlers()};
  fixture() {
    ledger.attach(server);
    server.start();
  }
};

fixture& the_fixture() {
  static fixture f;
  return f;
}

std::uint64_t closes_counted(const session_stats& s) {
  return std::accumulate(s.closes_by_reason.begin(), s.closes_by_reason.end(), std::uint64_t{0});
}

// What the server did with one peer's bytes, against expected_session (see the top).
void check_session_of(const scripted_peer& peer, const session_ledger& ledger) {
  if (!peer.session()) return;  // it never read its welcome: no telling which session was its
  const auto record = ledger.find(*peer.session());
  FUZZ_CHECK(record.has_value());  // welcomed, yet the game never heard it open
  FUZZ_CHECK(record->closed);
  const auto expected = expected_session::of(peer.written());
  FUZZ_CHECK(expected.end != expected_session::ending::not_opened);  // welcomed without a hello
  FUZZ_CHECK(record->messages.size() <= expected.messages.size());
  for (std::size_t i = 0; i < record->messages.size(); ++i)
    FUZZ_CHECK(same_bytes(record->messages[i], expected.messages[i]));
  const bool all_delivered = record->messages.size() == expected.messages.size();
  switch (record->why.reason) {
    case close_reason::peer_closed:
    case close_reason::peer_shutdown:
      FUZZ_CHECK(expected.end == expected_session::ending::close_frame);
      FUZZ_CHECK((record->why.reason == close_reason::peer_shutdown) == (expected.close == close_code::shutdown));
      FUZZ_CHECK(record->why.detail == make_error_code(expected.close));
      FUZZ_CHECK(all_delivered);
      break;
    case close_reason::protocol_error:
      FUZZ_CHECK(expected.end == expected_session::ending::unexpected_frame ||
                 expected.end == expected_session::ending::undecodable);
      FUZZ_CHECK(record->why.detail == (expected.end == expected_session::ending::undecodable
                                            ? expected.decode_error
                                            : make_error_code(frame_error::unexpected_frame)));
      FUZZ_CHECK(all_delivered);
      break;
    case close_reason::peer_dropped:  // a FIN: the server read every byte written before it
      FUZZ_CHECK(expected.end == expected_session::ending::open);
      FUZZ_CHECK(all_delivered);
      FUZZ_CHECK((record->why.detail == frame_error::truncated_frame) == expected.ends_mid_frame);
      break;
    default:
      break;  // timeouts, resets, the game's closes: the stream's end does not decide them
  }
}

// One input's run: the peers, the waiting left, the counters to compare at the end.
class script_run {
 public:
  script_run(fixture& f, std::span<const std::uint8_t> input) : f_(f), script_(input) {}

  void play() {
    before_ = f_.server.stats().total;
    FUZZ_CHECK(before_.sessions_open == 0);  // the previous input settled
    for (int steps = 0; steps < max_steps && !script_.done(); ++steps) {
      const std::uint8_t opcode = script_.u8();
      const auto s = static_cast<step>(opcode % 32 % step_count);
      const unsigned slot = (opcode >> 5) % peer_slots;
      FUZZ_TRACE("step %s, peer %u%s", to_string(s), slot, slots_[slot] != nullptr ? "" : " (no connection)");
      do_step(s, slots_[slot]);
    }
  }

  void settle_and_check() {
    for (auto& p : peers_) {
      p->read(0ms, f_.ledger);
      p->hang_up();
    }
    const auto deadline = std::chrono::steady_clock::now() + settle_timeout;
    session_stats now;
    for (;;) {
      now = f_.server.stats().total;
      const auto closes = closes_counted(now) - closes_counted(before_);
      FUZZ_CHECK(closes <= peers_.size());  // a connection closed twice
      if (now.sessions_open == 0 && closes == peers_.size()) break;
      FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);  // a session or a connection was lost
      std::this_thread::sleep_for(250us);
    }
    FUZZ_TRACE("settled: %zu connections, %zu sessions opened", peers_.size(), f_.ledger.opened_since_forget());
    FUZZ_CHECK(f_.ledger.open_sessions() == 0);  // every session opened got its on_closed
    FUZZ_CHECK(now.sessions_suspect == 0);
    FUZZ_CHECK(now.sessions_opened - before_.sessions_opened == f_.ledger.opened_since_forget());
    for (const auto& p : peers_) check_session_of(*p, f_.ledger);
    f_.ledger.forget_closed();
  }

 private:
  void do_step(step s, scripted_peer*& peer) {
    if (s == step::connect) return connect(peer, (script_.u8() & 1) != 0);
    if (s == step::wait) return sleep(std::chrono::milliseconds{script_.u8() % 16});
    if (s == step::game_send || s == step::game_close) return game_call(s, peer);
    // A step for an empty slot still reads its operands, then does nothing.
    switch (s) {
      case step::hello: {
        const std::uint8_t v = script_.u8();
        const auto version = static_cast<std::uint16_t>(v >= 0xF0 ? v - 0xF0 : protocol_version);
        const std::chrono::milliseconds interval{script_.u16()};
        const std::chrono::milliseconds dead_after{script_.u16()};
        if (peer) peer->send_frame(hello_frame{.version = version, .heartbeat_interval = interval, .dead_after = dead_after});
        break;
      }
      case step::beat: {
        const bool urgent = (script_.u8() & 1) != 0;
        const wire_timestamp sent_at{script_.u16()};
        const wire_timestamp echo{script_.u16()};
        const std::chrono::microseconds held{script_.u16()};
        if (peer) peer->send_frame(beat_frame{.sent_at = sent_at, .echo_of_peer = echo, .held_for = held, .urgent = urgent});
        break;
      }
      case step::data: {
        const std::size_t size = script_.u16();
        const auto action = static_cast<std::byte>(script_.u8());
        std::vector<std::byte> payload(size, static_cast<std::byte>(script_.u8()));
        if (!payload.empty()) payload.front() = action;
        if (peer) peer->send_frame(data_frame{.payload = payload});
        break;
      }
      case step::close: {
        const auto code = static_cast<close_code>(script_.u8());
        const std::string detail(script_.u8(), 'x');
        if (peer) peer->send_frame(close_frame{.code = code, .detail = detail});
        break;
      }
      case step::raw: {
        const auto bytes = script_.bytes(script_.u8());
        if (peer) peer->send_bytes(std::as_bytes(bytes));
        break;
      }
      case step::length_prefix: {
        const std::uint32_t length = length_prefix_choices[script_.u8() % 8];
        const std::array prefix{std::byte(length & 0xFF), std::byte(length >> 8 & 0xFF), std::byte(length >> 16 & 0xFF),
                                std::byte(length >> 24)};
        if (peer) peer->send_bytes(prefix);
        break;
      }
      case step::hold: {
        const std::size_t n = std::size_t{script_.u16()} + 1;
        if (peer) peer->hold_next(n);
        break;
      }
      case step::drip: {
        const std::size_t n = 1 + script_.u8() % 16u;
        if (peer) peer->drip(n);
        break;
      }
      case step::flush:
        if (peer) peer->flush();
        break;
      case step::half_close:
        if (peer) peer->half_close();
        break;
      case step::reset:
        if (peer) peer->reset();
        peer = nullptr;  // the slot is free for a new connection
        break;
      case step::hang_up:
        if (peer) peer->hang_up();
        peer = nullptr;
        break;
      case step::read: {
        const std::chrono::milliseconds wait{script_.u8() % 8};
        if (peer) peer->read(take_from_budget(wait), f_.ledger);
        break;
      }
      default: break;
    }
  }

  void connect(scripted_peer*& peer, bool tiny_receive_buffer) {
    if (peer != nullptr || peers_.size() >= max_connections) return;
    auto fresh = std::make_unique<scripted_peer>(terms);
    if (!fresh->connect(f_.server.port(), tiny_receive_buffer)) return;  // the kernel said no: not the server's fault
    peer = fresh.get();
    peers_.push_back(std::move(fresh));
  }

  std::chrono::milliseconds take_from_budget(std::chrono::milliseconds want) {
    const auto granted = std::min(want, budget_left_);
    budget_left_ -= granted;
    return granted;
  }

  void sleep(std::chrono::milliseconds want) {
    if (const auto t = take_from_budget(want); t.count() > 0) std::this_thread::sleep_for(t);
  }

  // The game's thread (this one) calls send or close; checks what the call answers.
  void game_call(step s, scripted_peer* peer) {
    const std::uint8_t which = script_.u8();
    const std::size_t size = s == step::game_send ? script_.u16() : 0;
    session_id id{};
    switch (static_cast<game_target>(which % 4)) {
      case game_target::own: id = peer != nullptr && peer->session() ? *peer->session() : session_id{}; break;
      case game_target::latest_closed: id = f_.ledger.latest_closed(); break;
      case game_target::latest_opened: id = f_.ledger.latest_opened(); break;
      case game_target::never_issued:  // a shard that does not exist, or a slot and generation never reached
        id = session_id::make((which & 4) != 0 ? 7 : 0, 0xFFFFFF00u | which, 0xFF0000u | which);
        break;
    }
    if (!id) return;
    const bool known_gone = which % 4 == static_cast<unsigned>(game_target::never_issued) || f_.ledger.is_closed(id);
    if (s == step::game_close) {
      f_.ledger.note_close_requested(id);
      const auto ec = f_.server.close(id);
      FUZZ_TRACE("  close(%llx): %s", static_cast<unsigned long long>(id.value), ec.message().c_str());
      FUZZ_CHECK(known_gone ? ec == session_error::unknown_session : (!ec || ec == session_error::unknown_session));
      return;
    }
    const std::vector<std::byte> message(size, static_cast<std::byte>(which));
    f_.ledger.expect_payload(id, message);  // before the call: the bytes may arrive before it returns
    const auto ec = f_.server.send(id, message);
    FUZZ_TRACE("  send(%llx, %zu bytes): %s", static_cast<unsigned long long>(id.value), size, ec.message().c_str());
    if (size > max_data_payload(default_max_frame_size)) FUZZ_CHECK(ec == session_error::message_too_large);
    else if (known_gone) FUZZ_CHECK(ec == session_error::unknown_session);
    else FUZZ_CHECK(!ec || ec == session_error::unknown_session || ec == session_error::queue_full);
    if (ec) f_.ledger.unexpect_payload(id, message);
  }

  fixture& f_;
  script_reader script_;
  std::vector<std::unique_ptr<scripted_peer>> peers_;  // every connection made, kept for the final checks
  std::array<scripted_peer*, peer_slots> slots_{};
  std::chrono::milliseconds budget_left_ = wait_budget;
  session_stats before_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  script_run run(the_fixture(), std::span<const std::uint8_t>(data, size));
  run.play();
  run.settle_and_check();
  return 0;
}
