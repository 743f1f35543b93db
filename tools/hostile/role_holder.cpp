// The holder: sessions that each announce a frame of --frame-bytes and send only
// --send-bytes of it, then hold the socket open (unfinished-frames). Before ATTACK the
// sessions beat like any client, so nothing closes them for silence; after it, no beat
// can be sent (it would be read as more of the frame): whatever the server does with a
// frame left unfinished is what is measured. Each session the server ends is reported at
// once: `ENDED <ns> <how> <ms since its frame's first byte>`; when every frame's bytes
// have gone (or its session ended first), `SENT <attacked> <fully sent> <ATTACK ns> <last ns>`.
#include "worker_roles.hpp"

#include <cstring>

namespace lifeline::hostile {
namespace {

class holder_role final : public worker_role {
 public:
  using worker_role::worker_role;

  void on_settled(time_point) override { announce_ready(); }

  void on_second(time_point) override {
    pool_->emit("STATUS open=" + std::to_string(pool_->open_now()) + " pending=" + std::to_string(pool_->in_flight()) +
                " attacked=" + std::to_string(attacked_) + " sent=" + std::to_string(sent_));
  }

  void on_command(std::string_view line, time_point now) override {
    if (line != "ATTACK" || attacking_) return;
    attacking_ = true;
    // The length prefix (little-endian, body bytes), then as much of the body as we send.
    const auto length = static_cast<std::uint32_t>(options_.frame_bytes);
    block_.assign(4 + options_.send_bytes, std::byte{0});
    for (std::size_t i = 0; i < 4; ++i) block_[i] = static_cast<std::byte>((length >> (8 * i)) & 0xFFu);
    frame_started_.assign(pool_->sessions().size(), time_point{});
    all_sent_.assign(pool_->sessions().size(), false);
    attack_started_ = now;
    for (auto& s : pool_->sessions()) {
      if (s->state != raw_state::open) continue;
      ++attacked_;
      s->beating = false;
      frame_started_[s->index] = steady::now();
      pool_->start_stream(*s, {.block = block_, .offset = 0, .remaining = block_.size()}, steady::now());
    }
    launched_ = true;  // SENT waits for every stream started above, some done already
    note_progress(steady::now());
  }

  void on_stream_done(raw_session& s, time_point now) override {
    all_sent_[s.index] = true;
    ++sent_;
    note_progress(now);
  }

  void on_ended(raw_session& s, raw_state was, const std::string& how, time_point now) override {
    if (was != raw_state::open) return;
    ++ended_;
    const bool framed = attacking_ && frame_started_[s.index] != time_point{};
    const auto since_frame = framed ? std::chrono::duration_cast<milliseconds>(now - frame_started_[s.index]).count() : -1;
    pool_->emit("ENDED " + std::to_string(monotonic_ns(now)) + " " + how + " " + std::to_string(since_frame));
    if (framed && !all_sent_[s.index]) ++cut_short_;  // ended before its bytes were all sent
    if (attacking_) note_progress(now);
  }

  void finish() override {
    pool_->emit("SUMMARY attacked=" + std::to_string(attacked_) + " sent=" + std::to_string(sent_) +
                " ended_by_server=" + std::to_string(ended_) + " frames_dropped=" + std::to_string(pool_->frames_dropped()));
  }

 private:
  // SENT <attacked> <sessions whose bytes all went> <ns the attack began> <ns the last one went>.
  void note_progress(time_point now) {
    if (!launched_ || announced_ || sent_ + cut_short_ < attacked_) return;
    announced_ = true;
    pool_->emit("SENT " + std::to_string(attacked_) + " " + std::to_string(sent_) + " " + std::to_string(monotonic_ns(attack_started_)) + " " +
                std::to_string(monotonic_ns(now)));
  }

  std::vector<std::byte> block_;
  std::vector<time_point> frame_started_;
  std::vector<bool> all_sent_;
  time_point attack_started_{};
  bool attacking_ = false;
  bool launched_ = false;
  bool announced_ = false;
  std::size_t attacked_ = 0, sent_ = 0, ended_ = 0, cut_short_ = 0;
};

}  // namespace

void worker_role::announce_ready() const {
  std::size_t open = 0, failed = 0;
  for (const auto& s : pool_->sessions()) (s->state == raw_state::open ? open : failed) += 1;
  pool_->emit("READY " + std::to_string(open) + " " + std::to_string(failed) + pool_->failures_text());
}

std::unique_ptr<worker_role> make_holder_role(const worker_options& options) {
  return std::make_unique<holder_role>(options);
}

}  // namespace lifeline::hostile
