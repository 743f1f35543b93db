// The echo role: well-behaved sessions, the ones a flood must not hurt. Each beats after H
// of quiet (so, sending probes every 100 ms, it rarely needs to) and sends one small data
// frame per --echo-interval-ms holding its send time; the echo server sends it back and
// the round trip is one sample. Probes are staggered over the interval so the server sees
// a steady rate, not bursts. At the end every sample goes to --samples
// (`<sent ns> <round trip ns>` per line): the subcommand cuts them into its windows.
// A session the server ends is reported at once: `LOST <index> <ns> <how>`.
#include "worker_roles.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lifeline::hostile {
namespace {

struct echo_probe {
  static constexpr std::uint64_t tag = 0x686f7374696c6531;  // "hostile1"
  std::uint64_t magic;
  std::int64_t sent_ns;
};

class echo_role final : public worker_role {
 public:
  using worker_role::worker_role;

  void on_opened(raw_session& s, time_point now) override {
    const auto interval = milliseconds{options_.echo_interval_ms};
    const auto n = std::max<std::size_t>(1, pool_->sessions().size());
    pool_->schedule(s, now + interval * static_cast<long>(s.index % n) / static_cast<long>(n));
  }

  void on_timer(raw_session& s, time_point now) override {
    if (s.state != raw_state::open || quiet_) return;
    if (s.unsent.empty()) {
      const echo_probe probe{.magic = echo_probe::tag, .sent_ns = monotonic_ns(now)};
      std::array<std::byte, sizeof probe> payload{};
      std::memcpy(payload.data(), &probe, sizeof probe);
      if (pool_->send_frame(s, lifeline::data_frame{.payload = payload}, now)) ++sent_;
      if (s.fd < 0) return;
    } else {
      ++skipped_;  // the socket is backed up: a probe now would only measure our own queue
    }
    pool_->schedule(s, now + milliseconds{options_.echo_interval_ms});
  }

  void on_data(raw_session&, std::span<const std::byte> payload, time_point now) override {
    echo_probe probe{};
    if (payload.size() != sizeof probe) return;
    std::memcpy(&probe, payload.data(), sizeof probe);
    if (probe.magic != echo_probe::tag) return;
    samples_.push_back({probe.sent_ns, monotonic_ns(now) - probe.sent_ns});
  }

  void on_ended(raw_session& s, raw_state was, const std::string& how, time_point now) override {
    if (was != raw_state::open) return;
    ++lost_;
    pool_->emit("LOST " + std::to_string(s.index) + " " + std::to_string(monotonic_ns(now)) + " " + how);
  }

  void on_settled(time_point) override { announce_ready(); }

  void on_second(time_point) override {
    pool_->emit("STATUS open=" + std::to_string(pool_->open_now()) + " pending=" + std::to_string(pool_->in_flight()) +
                " probes=" + std::to_string(sent_) + " echoes=" + std::to_string(samples_.size()));
  }

  void on_command(std::string_view line, time_point) override {
    if (line == "QUIET") quiet_ = true;  // no new probes: the ones in flight may come home
  }

  void finish() override {
    bool written = true;
    if (!options_.samples.empty()) {
      std::FILE* out = std::fopen(options_.samples.c_str(), "w");
      if (out == nullptr) {
        std::fprintf(stderr, "lifeline_hostile worker: cannot write %s: %s\n", options_.samples.c_str(), std::strerror(errno));
        written = false;
      } else {
        for (const auto& [sent, round_trip] : samples_)
          std::fprintf(out, "%lld %lld\n", static_cast<long long>(sent), static_cast<long long>(round_trip));
        written = std::fclose(out) == 0;
      }
    }
    pool_->emit("SUMMARY probes=" + std::to_string(sent_) + " echoes=" + std::to_string(samples_.size()) +
                " skipped=" + std::to_string(skipped_) + " lost=" + std::to_string(lost_) +
                " samples_written=" + (written ? "1" : "0"));
  }

 private:
  std::vector<std::pair<std::int64_t, std::int64_t>> samples_;
  std::size_t sent_ = 0, skipped_ = 0, lost_ = 0;
  bool quiet_ = false;
};

}  // namespace

std::unique_ptr<worker_role> make_echo_role(const worker_options& options) { return std::make_unique<echo_role>(options); }

}  // namespace lifeline::hostile
