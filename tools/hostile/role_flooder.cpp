// The flooder: one session that, at FLOOD, writes heartbeats (--flood beats) or tiny data
// frames (--flood echo) as fast as its socket takes them, from a 64 KiB block of whole
// frames sent over and over. It keeps reading (and decoding) what comes back, so an echo
// flood is not cut short by the server's write-queue limit but by whatever the server
// chooses to do about the flood. It reports its end at once, `FLOOD_END <ns> <how>`, and at
// STOP `FLOODED <bytes taken by send() since FLOOD> <FLOOD ns> <STOP or end ns> <echoes read>`.
#include "worker_roles.hpp"

namespace lifeline::hostile {
namespace {

class flooder_role final : public worker_role {
 public:
  using worker_role::worker_role;

  void on_settled(time_point) override { announce_ready(); }

  void on_command(std::string_view line, time_point now) override {
    if (line != "FLOOD" || flooding_) return;
    auto& s = *pool_->sessions().front();
    if (s.state != raw_state::open) return pool_->emit("FLOOD_END " + std::to_string(monotonic_ns(now)) + " not_open");
    lifeline::frame_encoder encoder;
    std::error_code ec;
    const std::vector<std::byte> payload(options_.payload_bytes, std::byte{0x5a});
    const lifeline::frame one = options_.flood == "echo" ? lifeline::frame{lifeline::data_frame{.payload = payload}}
                                                         : lifeline::frame{lifeline::beat_frame{}};
    const auto bytes = encoder.encode(one, ec);
    while (!ec && block_.size() + bytes.size() <= 64 * 1024) block_.insert(block_.end(), bytes.begin(), bytes.end());
    if (block_.empty()) return pool_->emit("FLOOD_END " + std::to_string(monotonic_ns(now)) + " encode_failed");
    flooding_ = true;
    started_ = now;
    bytes_before_ = s.bytes_sent;
    s.beating = false;
    pool_->start_stream(s, {.block = block_, .offset = 0, .remaining = outbound_stream::endless}, now);
  }

  void on_data(raw_session&, std::span<const std::byte>, time_point) override { ++echoes_; }

  void on_ended(raw_session& s, raw_state was, const std::string& how, time_point now) override {
    if (was != raw_state::open) return;
    ended_at_ = now;
    bytes_at_end_ = s.bytes_sent;
    pool_->emit("FLOOD_END " + std::to_string(monotonic_ns(now)) + " " + how);
  }

  void on_second(time_point) override {
    const auto& s = *pool_->sessions().front();
    pool_->emit("STATUS open=" + std::to_string(pool_->open_now()) +
                " flooded=" + std::to_string(flooding_ ? s.bytes_sent - bytes_before_ : 0));
  }

  void finish() override {
    const auto& s = *pool_->sessions().front();
    const auto end = ended_at_ ? *ended_at_ : steady::now();
    const auto bytes = (ended_at_ ? bytes_at_end_ : s.bytes_sent) - bytes_before_;
    pool_->emit("FLOODED " + std::to_string(flooding_ ? bytes : 0) + " " + std::to_string(monotonic_ns(started_)) + " " +
                std::to_string(monotonic_ns(end)) + " " + std::to_string(echoes_));
  }

 private:
  std::vector<std::byte> block_;
  bool flooding_ = false;
  time_point started_{};
  std::optional<time_point> ended_at_;
  std::uint64_t bytes_before_ = 0, bytes_at_end_ = 0, echoes_ = 0;
};

}  // namespace

std::unique_ptr<worker_role> make_flooder_role(const worker_options& options) {
  return std::make_unique<flooder_role>(options);
}

}  // namespace lifeline::hostile
