// Writes the seed corpus of session_script_fuzzer: one script per case (session_script.hpp),
// each a session the state machine must handle, so that the fuzzer starts from every state
// and deadline rather than having to find a hello first.
//
//   session_seed_corpus_writer <dir>     (the committed seeds live in tests/fuzz/session_corpus)
#include "session_script.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace lifeline::fuzz;

namespace {

constexpr auto own = game_target::own;
constexpr std::uint8_t action(payload_action a) { return static_cast<std::uint8_t>(a); }

// Opens a session on `peer` and reads its welcome.
script_writer opened(unsigned peer = 0, bool tiny_receive_buffer = false) {
  script_writer w;
  w.connect(peer, tiny_receive_buffer).hello(peer).read(peer, 7);
  return w;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, script_writer>> seeds;
  const auto add = [&](std::string name, script_writer w) { seeds.emplace_back(std::move(name), std::move(w)); };

  // Sessions that end on the peer's word.
  add("normal_session", opened().data(0, 100).beat(0).data(0, 5, action(payload_action::echo)).read(0, 5)
                            .close(0, 0).read(0, 5).hang_up(0));
  add("close_after_open_shutdown_code", opened().close(0, 1, 12).read(0, 5));
  add("close_unknown_code_with_detail", opened().data(0, 3).close(0, 200, 40).read(0, 5));
  add("fin_after_data", opened().data(0, 64).data(0, 0).hang_up(0));
  add("half_close_then_read", opened().data(0, 10).half_close(0).read(0, 7).read(0, 7));
  add("reset_mid_frame", opened().hold(0, 20).data(0, 300).reset(0));

  // The game's side: sends, closes, stale and never-issued ids, handlers that act.
  add("game_send_and_close", opened().game_send(0, own, 1000).read(0, 3).game_close(0, own).read(0, 7));
  add("game_stale_ids", opened().hang_up(0).wait(2).game_send(0, game_target::latest_closed, 10)
                            .game_close(0, game_target::latest_closed).game_send(0, game_target::never_issued, 10)
                            .game_send(0, own, 65535));
  add("handler_closes_own", opened().data(0, 4, action(payload_action::close_own)).data(0, 4).read(0, 7));
  add("handler_throws", opened().data(0, 4, action(payload_action::throw_error)).read(0, 7));
  {
    auto w = opened(0);
    w.connect(1).hello(1).read(1, 7).data(0, 50, action(payload_action::send_other)).read(1, 5)
        .data(0, 8, action(payload_action::close_other)).read(1, 7).data(0, 9, action(payload_action::echo)).read(0, 5);
    add("handlers_act_on_another_session", w);
  }

  // Hostile bytes and the frame size limit.
  add("garbage_before_hello", script_writer{}.connect(0).raw(0, std::vector<std::uint8_t>(16, 0xFF)).read(0, 5));
  add("garbage_after_open", opened().raw(0, {0x08, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}).read(0, 5));
  add("prefix_one_over_the_limit", opened().length_prefix(0, 5).read(0, 5));
  add("prefix_zero", opened().length_prefix(0, 0).read(0, 5));
  add("data_at_the_limit_then_over", opened().data(0, 65512, 0).data(0, 65513, 0).read(0, 7));
  add("hello_twice", opened().hello(0).read(0, 5));
  add("hello_version_2", script_writer{}.connect(0).hello(0, 0xF2).read(0, 7));
  add("data_before_hello", script_writer{}.connect(0).data(0, 10).read(0, 7));
  add("urgent_beat", opened().beat(0, true).read(0, 7).beat(0).read(0, 3));

  // Deadlines: the drip, silence, no hello, a reader that falls behind.
  {
    auto w = opened();
    w.hold(0, 60000).data(0, 65000);
    for (int i = 0; i < 4; ++i) w.drip(0, 15).wait(12);
    add("drip_until_slow_frame", w.read(0, 7));
  }
  {
    auto w = opened();
    for (int i = 0; i < 3; ++i) w.wait(15);
    add("silent_until_suspect_and_dead", w.read(0, 7).read(0, 7));
  }
  {
    auto w = opened();
    w.wait(15).wait(7).read(0, 1).beat(0).read(0, 3);  // suspect after 20 ms, recovered by the beat
    add("suspect_then_recovered", w);
  }
  {
    script_writer w;
    w.connect(0);
    for (int i = 0; i < 4; ++i) w.wait(15);
    add("no_hello_until_handshake_timeout", w.read(0, 7));
  }
  {
    // It beats but reads nothing: the server's kernel buffer fills (some 2 MB here), then
    // its write queue (128 KiB).
    auto w = opened(0, /*tiny_receive_buffer=*/true);
    for (int i = 0; i < 36; ++i) {
      w.game_send(0, own, 65000).beat(0);
      if (i % 9 == 8) w.wait(5);
    }
    add("reader_falls_behind_until_write_stalled", w);
  }

  // More peers than the server has room for.
  {
    script_writer w;
    for (unsigned p = 0; p < peer_slots; ++p) w.connect(p).hello(p);
    for (unsigned p = 0; p < peer_slots; ++p) w.read(p, 5);
    add("server_full", w);
  }

  for (const auto& [name, script] : seeds) {
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(script.bytes().data()), static_cast<std::streamsize>(script.bytes().size()));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
