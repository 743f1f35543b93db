#include <lifeline/config.hpp>
#include <lifeline/frame.hpp>
#include <lifeline/session_id.hpp>

#include <asio/ip/address.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace lifeline {
namespace {

[[noreturn]] void reject(const std::string& field, const std::string& why) {
  throw std::invalid_argument(field + ": " + why);
}

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

void validate(const liveness_config& c, const std::string& prefix) {
  if (c.heartbeat_interval <= std::chrono::milliseconds::zero())
    reject(prefix + "heartbeat_interval", "must be positive, got " + ms(c.heartbeat_interval));
  if (c.dead_after <= c.heartbeat_interval)
    reject(prefix + "dead_after",
           "must be greater than heartbeat_interval (" + ms(c.heartbeat_interval) + "), got " + ms(c.dead_after));
  if (c.dead_after > std::chrono::hours{24}) reject(prefix + "dead_after", "must be at most 24 h, got " + ms(c.dead_after));
  if (c.handshake_timeout <= std::chrono::milliseconds::zero())
    reject(prefix + "handshake_timeout", "must be positive, got " + ms(c.handshake_timeout));
  if (c.keepalive.idle && c.keepalive.idle->count() < 1) reject(prefix + "keepalive.idle", "must be at least 1 s");
  if (c.keepalive.interval && c.keepalive.interval->count() < 1) reject(prefix + "keepalive.interval", "must be at least 1 s");
  if (c.keepalive.count && (*c.keepalive.count < 1 || *c.keepalive.count > 127))
    reject(prefix + "keepalive.count", "must be in [1, 127], got " + std::to_string(*c.keepalive.count));
  if (c.user_timeout && c.user_timeout->count() < 1) reject(prefix + "user_timeout", "must be positive");
  if (c.max_frame_size < 64 || c.max_frame_size > max_frame_size_ceiling)
    reject(prefix + "max_frame_size", "must be in [64, " + std::to_string(max_frame_size_ceiling) + "], got " +
                                          std::to_string(c.max_frame_size));
  if (c.write_queue_limit < c.max_frame_size + frame_length_prefix_size)
    reject(prefix + "write_queue_limit", "must hold at least one frame of max_frame_size (" +
                                             std::to_string(c.max_frame_size + frame_length_prefix_size) +
                                             " bytes), got " + std::to_string(c.write_queue_limit));
  if (c.watermarks.high && *c.watermarks.high > c.write_queue_limit)
    reject(prefix + "watermarks.high", "must be at most write_queue_limit (" + std::to_string(c.write_queue_limit) +
                                           " bytes), got " + std::to_string(*c.watermarks.high));
  if (const auto applied = derive_watermarks(c); c.watermarks.low && applied.high != 0 && *c.watermarks.low >= applied.high)
    reject(prefix + "watermarks.low", "must be below watermarks.high (" + std::to_string(applied.high) +
                                          " bytes), got " + std::to_string(*c.watermarks.low));
  if (c.write_stall_timeout <= std::chrono::milliseconds::zero())
    reject(prefix + "write_stall_timeout", "must be positive, got " + ms(c.write_stall_timeout));
  if (c.wheel_tick <= std::chrono::milliseconds::zero() || c.wheel_tick > c.heartbeat_interval)
    reject(prefix + "wheel_tick", "must be positive and at most heartbeat_interval, got " + ms(c.wheel_tick));
  if (c.max_expiries_per_turn == 0) reject(prefix + "max_expiries_per_turn", "must be at least 1");
  if (c.suspect_after && (*c.suspect_after <= c.heartbeat_interval || *c.suspect_after >= c.dead_after))
    reject(prefix + "suspect_after", "must lie between heartbeat_interval (" + ms(c.heartbeat_interval) +
                                         ") and dead_after (" + ms(c.dead_after) + "), got " + ms(*c.suspect_after));
  if (c.frame_timeout && (*c.frame_timeout <= std::chrono::milliseconds::zero() || *c.frame_timeout > std::chrono::hours{24}))
    reject(prefix + "frame_timeout", "must be positive and at most 24 h, got " + ms(*c.frame_timeout));
  if (c.stall_threshold && *c.stall_threshold <= std::chrono::milliseconds::zero())
    reject(prefix + "stall_threshold", "must be positive, got " + ms(*c.stall_threshold));
  if (c.stall_release_rate == 0) reject(prefix + "stall_release_rate", "must be at least 1 per second");
  if (c.inbound.burst <= std::chrono::milliseconds::zero() || c.inbound.burst > std::chrono::minutes{1})
    reject(prefix + "inbound.burst", "must be in (0, 60 s], got " + ms(c.inbound.burst));
  if (c.inbound.frames_per_second > 10'000'000)
    reject(prefix + "inbound.frames_per_second", "must be at most 10,000,000 (0: no limit), got " +
                                                     std::to_string(c.inbound.frames_per_second));
  if (c.inbound.strikes == 0) reject(prefix + "inbound.strikes", "must be at least 1");
  if (c.inbound.strike_window < c.inbound.burst)
    reject(prefix + "inbound.strike_window", "must be at least inbound.burst (" + ms(c.inbound.burst) + "), got " +
                                                 ms(c.inbound.strike_window));
  if (c.inbound.beats_per_interval > 1000)
    reject(prefix + "inbound.beats_per_interval", "must be at most 1000, got " + std::to_string(c.inbound.beats_per_interval));
  if (c.event_backlog_limit < c.max_frame_size)
    reject(prefix + "event_backlog_limit", "must hold at least one frame of max_frame_size (" +
                                               std::to_string(c.max_frame_size) + " bytes), got " +
                                               std::to_string(c.event_backlog_limit));
  if (c.buffer_budget < c.max_frame_size + c.write_queue_limit)
    reject(prefix + "buffer_budget", "must hold at least one session's frame and queue (max_frame_size + write_queue_limit = " +
                                         std::to_string(c.max_frame_size + c.write_queue_limit) + "), got " +
                                         std::to_string(c.buffer_budget));
  if (c.frames_per_turn == 0 || c.frames_per_turn > 65536)
    reject(prefix + "frames_per_turn", "must be in [1, 65536], got " + std::to_string(c.frames_per_turn));
  if (c.read_budget_per_turn < 1024 || c.read_budget_per_turn > 64 * 1024)
    reject(prefix + "read_budget_per_turn", "must be in [1024, 65536], got " + std::to_string(c.read_budget_per_turn));
  if (c.resume.grace < std::chrono::milliseconds::zero() || c.resume.grace > std::chrono::hours{24})
    reject(prefix + "resume.grace", "must be in [0, 24 h], got " + ms(c.resume.grace));
  if (c.resume.replay_bytes > std::size_t{1} << 30)
    reject(prefix + "resume.replay_bytes", "must be at most 1 GiB, got " + std::to_string(c.resume.replay_bytes));
  if (c.resume.token_lifetime < std::chrono::seconds{1} || c.resume.token_lifetime > std::chrono::days{365})
    reject(prefix + "resume.token_lifetime", "must be in [1 s, 365 days], got " + std::to_string(c.resume.token_lifetime.count()) + " s");
  if (c.resume.grace > std::chrono::milliseconds::zero() && c.resume.token_lifetime < c.resume.grace)
    reject(prefix + "resume.token_lifetime", "must be at least resume.grace (" + ms(c.resume.grace) + ")");
  if (c.resume.keys.size() > 2) reject(prefix + "resume.keys", "at most 2 keys (the signing one and the one before), got " + std::to_string(c.resume.keys.size()));
  if (c.resume.keys.size() == 2 && c.resume.keys[0].id == c.resume.keys[1].id)
    reject(prefix + "resume.keys", "the two keys need distinct ids, both are " + std::to_string(c.resume.keys[0].id));
  for (const auto cause : c.resume.linger_on) {
    switch (cause) {
      case close_reason::heartbeat_timeout: case close_reason::keepalive_timeout: case close_reason::user_timeout:
      case close_reason::peer_reset: case close_reason::unreachable: case close_reason::peer_dropped:
      case close_reason::write_stalled: case close_reason::slow_frame: case close_reason::socket_error:
        break;
      default:
        reject(prefix + "resume.linger_on", std::string("only a transport's death may linger, not ") + std::string(to_string(cause)));
    }
  }
  if (c.server_heartbeat_interval &&
      (*c.server_heartbeat_interval < c.wheel_tick || *c.server_heartbeat_interval > std::chrono::hours{1}))
    reject(prefix + "server_heartbeat_interval",
           "must be in [wheel_tick (" + ms(c.wheel_tick) + "), 1 h], got " + ms(*c.server_heartbeat_interval));
}

// A shard addresses at most 2^24 slots (session_id.hpp), 1,024 of them always kept free.
void check_max_sessions(std::size_t max_sessions) {
  constexpr std::size_t most = std::size_t{session_id::max_slot} + 1 - 1024;
  if (max_sessions == 0 || max_sessions > most)
    reject("max_sessions", "must be in [1, " + std::to_string(most) + "], got " + std::to_string(max_sessions));
}

}  // namespace

std::vector<close_reason> resume_config::transport_deaths() {
  return {close_reason::heartbeat_timeout, close_reason::keepalive_timeout, close_reason::user_timeout,
          close_reason::peer_reset,        close_reason::unreachable,       close_reason::peer_dropped,
          close_reason::write_stalled};
}

void server_config::validate() const {
  std::error_code ec;
  asio::ip::make_address(listen_address, ec);
  if (ec) reject("listen_address", "not a numeric IP address: '" + listen_address + "'");
  if (worker_threads > 256) reject("worker_threads", "must be at most 256, got " + std::to_string(worker_threads));
  check_max_sessions(max_sessions);
  lifeline::validate(liveness, "liveness.");
  if (!(admission.handshaking_share > 0 && admission.handshaking_share <= 1))
    reject("admission.handshaking_share", "must be in (0, 1], got " + std::to_string(admission.handshaking_share));
  if (admission.max_handshakes_per_address > 0 && admission.max_sessions_per_address > 0 &&
      admission.max_handshakes_per_address > admission.max_sessions_per_address)
    reject("admission.max_handshakes_per_address", "must be at most max_sessions_per_address (" +
                                                       std::to_string(admission.max_sessions_per_address) + "), got " +
                                                       std::to_string(admission.max_handshakes_per_address));
}

void connector_config::validate() const {
  if (worker_threads == 0 || worker_threads > 256)
    reject("worker_threads", "must be in [1, 256], got " + std::to_string(worker_threads));
  check_max_sessions(max_sessions);
  if (connect_timeout <= std::chrono::milliseconds::zero())
    reject("connect_timeout", "must be positive, got " + ms(connect_timeout));
  if (reconnect.initial_delay <= std::chrono::milliseconds::zero())
    reject("reconnect.initial_delay", "must be positive, got " + ms(reconnect.initial_delay));
  if (reconnect.max_delay < reconnect.initial_delay)
    reject("reconnect.max_delay", "must be at least initial_delay, got " + ms(reconnect.max_delay));
  if (reconnect.jitter < 0 || reconnect.jitter >= 1)
    reject("reconnect.jitter", "must be in [0, 1), got " + std::to_string(reconnect.jitter));
  if (reconnect.max_attempts != 0 && !reconnect.enabled)
    reject("reconnect.max_attempts", "is " + std::to_string(reconnect.max_attempts) +
                                         ", but reconnect.enabled is false: each connect() makes one attempt");
  lifeline::validate(liveness, "liveness.");
  if (liveness.server_heartbeat_interval)
    reject("liveness.server_heartbeat_interval", "a server setting: a connector beats as its server's welcome says");
}

server_beat derive_server_beat(const liveness_config& c) noexcept {
  const auto interval = c.server_heartbeat_interval.value_or(10 * c.heartbeat_interval);
  return {.interval = interval, .clients_wait = interval + (c.dead_after - c.heartbeat_interval)};
}

kernel_backstop derive_kernel_backstop(const liveness_config& c) noexcept {
  using std::chrono::seconds;
  const auto ceil_seconds = [](std::chrono::milliseconds d) {
    return std::max(seconds{1}, std::chrono::ceil<seconds>(d));
  };
  kernel_backstop b;
  b.keepalive = c.keepalive.enabled;
  b.keepalive_idle = c.keepalive.idle.value_or(ceil_seconds(c.dead_after));
  b.keepalive_interval = c.keepalive.interval.value_or(ceil_seconds(c.dead_after / 3));
  b.keepalive_count = c.keepalive.count.value_or(3);
  b.user_timeout_enabled = c.user_timeout_enabled;
  b.user_timeout = c.user_timeout.value_or(2 * c.dead_after);
  return b;
}

evidence_rules derive_evidence_rules(const liveness_config& c) noexcept {
  return {.suspect_after = c.suspect_after.value_or((c.heartbeat_interval + c.dead_after) / 2),
          .frame_timeout = c.frame_timeout.value_or(c.dead_after),
          .stall_threshold = c.stall_threshold.value_or(std::max(milliseconds{1}, (c.dead_after - c.heartbeat_interval) / 4))};
}

applied_watermarks derive_watermarks(const liveness_config& config) noexcept {
  applied_watermarks out;
  out.high = config.watermarks.high.value_or(std::min<std::size_t>(64 * 1024, config.write_queue_limit / 4));
  out.low = out.high == 0 ? 0 : config.watermarks.low.value_or(out.high / 4);
  return out;
}

}  // namespace lifeline
