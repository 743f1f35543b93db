// tools/loadgen/echo_probes.cpp — echo probes: one live session's round trip at a time (load_generator.hpp).
#include "load_generator.hpp"

namespace lifeline::loadgen {

// One live session per --echo-ms, round robin, sends a data frame holding its send time;
// the server echoes it and the round trip is one sample of a live session's latency.
void load_generator::probe_echo(time_point now) {
  next_echo_at_ += options_.echo_interval;
  if (next_echo_at_ <= now) next_echo_at_ = now + options_.echo_interval;  // after a stall, no burst
  const std::size_t live = sessions_.size() - options_.doomed;
  for (std::size_t tried = 0; tried < live; ++tried) {
    auto& s = *sessions_[options_.doomed + echo_cursor_];
    echo_cursor_ = (echo_cursor_ + 1) % live;
    if (s.state != session_state::open || !s.unsent.empty()) continue;
    const echo_probe probe{.sent_ns = monotonic_ns(now), .magic = echo_probe::tag};
    std::array<std::byte, sizeof probe> payload{};
    std::memcpy(payload.data(), &probe, sizeof probe);
    if (send_data(s, payload, now)) {
      ++echoes_sent_;
      echo_session_ = &s;
      echo_in_flight_ = true;
    }
    return;
  }
}

void load_generator::on_data(session& s, std::span<const std::byte> payload, time_point now) {
  if (on_stream_echo(s, payload)) return;
  echo_probe probe{};
  if (payload.size() != sizeof probe) return;
  std::memcpy(&probe, payload.data(), sizeof probe);
  if (probe.magic != echo_probe::tag) return;
  echoes_.push_back({probe.sent_ns, monotonic_ns(now) - probe.sent_ns});
  echo_in_flight_ = false;
}

}  // namespace lifeline::loadgen
