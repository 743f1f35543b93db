#include <lifeline/stats.hpp>

#include <algorithm>

namespace lifeline {

void lateness_histogram::record(std::chrono::nanoseconds lateness) noexcept {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(lateness).count();
  const auto bucket = static_cast<std::size_t>(std::clamp<long long>(ms, 0, buckets - 1));
  ++count[bucket];
}

std::uint64_t lateness_histogram::total() const noexcept {
  std::uint64_t sum = 0;
  for (const auto c : count) sum += c;
  return sum;
}

std::chrono::milliseconds lateness_histogram::quantile(double q) const noexcept {
  const auto n = total();
  if (n == 0) return std::chrono::milliseconds{0};
  const auto wanted = static_cast<std::uint64_t>(q * static_cast<double>(n) + 0.999999);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets; ++i) {
    seen += count[i];
    if (seen >= std::max<std::uint64_t>(wanted, 1)) return std::chrono::milliseconds{static_cast<long>(i)};
  }
  return std::chrono::milliseconds{static_cast<long>(buckets - 1)};
}

lateness_histogram& lateness_histogram::operator+=(const lateness_histogram& other) noexcept {
  for (std::size_t i = 0; i < buckets; ++i) count[i] += other.count[i];
  return *this;
}

session_stats& session_stats::operator+=(const session_stats& o) noexcept {
  sessions_open += o.sessions_open;
  sessions_opened += o.sessions_opened;
  heartbeats_sent += o.heartbeats_sent;
  heartbeats_received += o.heartbeats_received;
  frames_sent += o.frames_sent;
  frames_received += o.frames_received;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  for (std::size_t i = 0; i < closes_by_reason.size(); ++i) closes_by_reason[i] += o.closes_by_reason[i];
  sessions_suspect += o.sessions_suspect;
  sessions_lingering += o.sessions_lingering;
  transports_lost += o.transports_lost;
  resumed += o.resumed;
  resumed_state_lost += o.resumed_state_lost;
  takeovers += o.takeovers;
  resumes_refused += o.resumes_refused;
  replayed_frames += o.replayed_frames;
  suspected += o.suspected;
  recovered += o.recovered;
  convictions_averted += o.convictions_averted;
  convictions_deferred += o.convictions_deferred;
  loop_stalls += o.loop_stalls;
  host_freezes += o.host_freezes;
  longest_loop_stall = std::max(longest_loop_stall, o.longest_loop_stall);
  rate_strikes += o.rate_strikes;
  buffer_bytes += o.buffer_bytes;
  reads_held += o.reads_held;
  event_backlog_bytes += o.event_backlog_bytes;
  heartbeat_timeout_lateness += o.heartbeat_timeout_lateness;
  deadline_timer_lateness += o.deadline_timer_lateness;
  return *this;
}

connect_stats& connect_stats::operator+=(const connect_stats& o) noexcept {
  attempts += o.attempts;
  failures += o.failures;
  resolution_failures += o.resolution_failures;
  reconnects_scheduled += o.reconnects_scheduled;
  given_up += o.given_up;
  cancelled += o.cancelled;
  return *this;
}

}  // namespace lifeline
