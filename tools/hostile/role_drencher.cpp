// The drencher: sessions that, at FLOOD, stop reading for good and write data frames of
// --payload-bytes without end (send-backlog). The server's writes to them back up in its
// queues; its reads of them keep its shards busy. How each ends is only seen as a reset or
// an error on our writes (nothing is read any more, close frames included).
#include "worker_roles.hpp"

#include <map>

namespace lifeline::hostile {
namespace {

class drencher_role final : public worker_role {
 public:
  using worker_role::worker_role;

  void on_settled(time_point) override { announce_ready(); }

  void on_command(std::string_view line, time_point now) override {
    if (line != "FLOOD" || flooding_) return;
    flooding_ = true;
    lifeline::frame_encoder encoder;
    std::error_code ec;
    const std::vector<std::byte> payload(options_.payload_bytes, std::byte{0x5a});
    const auto bytes = encoder.encode(lifeline::data_frame{.payload = payload}, ec);
    while (!ec && block_.size() + bytes.size() <= 64 * 1024) block_.insert(block_.end(), bytes.begin(), bytes.end());
    if (block_.empty()) return;
    for (auto& s : pool_->sessions()) {
      if (s->state != raw_state::open) continue;
      s->beating = false;  // data frames prove life; a beat would cut into the stream
      pool_->stop_reading(*s);
      pool_->start_stream(*s, {.block = block_, .offset = 0, .remaining = outbound_stream::endless}, now);
    }
  }

  void on_ended(raw_session&, raw_state was, const std::string& how, time_point) override {
    if (was != raw_state::open) return;
    ++ended_;
    ++ended_by_[how];
  }

  void on_second(time_point) override {
    std::uint64_t bytes = 0;
    for (const auto& s : pool_->sessions()) bytes += s->bytes_sent;
    pool_->emit("STATUS open=" + std::to_string(pool_->open_now()) + " pending=" + std::to_string(pool_->in_flight()) +
                " bytes=" + std::to_string(bytes) + " ended=" + std::to_string(ended_));
  }

  void finish() override {
    std::uint64_t bytes = 0;
    for (const auto& s : pool_->sessions()) bytes += s->bytes_sent;
    std::string text = "SUMMARY bytes=" + std::to_string(bytes);
    for (const auto& [how, count] : ended_by_) text += " ended:" + how + "=" + std::to_string(count);
    pool_->emit(text);
  }

 private:
  std::vector<std::byte> block_;
  bool flooding_ = false;
  std::uint64_t ended_ = 0;
  std::map<std::string, std::uint64_t> ended_by_;
};

}  // namespace

std::unique_ptr<worker_role> make_drencher_role(const worker_options& options) {
  return std::make_unique<drencher_role>(options);
}

}  // namespace lifeline::hostile
