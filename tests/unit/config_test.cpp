// Configuration is checked at start: each invalid field is rejected with a message that
// starts with its name; unset kernel backstop values are derived from dead_after.
#include <lifeline/close_reason.hpp>
#include <lifeline/config.hpp>

#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>

using namespace std::chrono_literals;
using namespace lifeline;

namespace {

std::string rejection_of(const server_config& config) {
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

std::string rejection_of(const connector_config& config) {
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("the default configurations are valid") {
  CHECK(rejection_of(server_config{}) == "accepted");
  CHECK(rejection_of(connector_config{}) == "accepted");
  connector_config limited;
  limited.reconnect.enabled = true;
  limited.reconnect.max_attempts = 3;
  CHECK(rejection_of(limited) == "accepted");
}

TEST_CASE("each invalid server field is rejected with a message naming it") {
  const std::vector<std::pair<std::string, std::function<void(server_config&)>>> cases = {
      {"listen_address:", [](server_config& c) { c.listen_address = "localhost"; }},
      {"worker_threads:", [](server_config& c) { c.worker_threads = 1000; }},
      {"max_sessions:", [](server_config& c) { c.max_sessions = 0; }},
      {"liveness.heartbeat_interval:", [](server_config& c) { c.liveness.heartbeat_interval = 0ms; }},
      {"liveness.dead_after:", [](server_config& c) { c.liveness.dead_after = c.liveness.heartbeat_interval; }},
      {"liveness.handshake_timeout:", [](server_config& c) { c.liveness.handshake_timeout = -1ms; }},
      {"liveness.keepalive.idle:", [](server_config& c) { c.liveness.keepalive.idle = 0s; }},
      {"liveness.keepalive.interval:", [](server_config& c) { c.liveness.keepalive.interval = 0s; }},
      {"liveness.keepalive.count:", [](server_config& c) { c.liveness.keepalive.count = 0; }},
      {"liveness.user_timeout:", [](server_config& c) { c.liveness.user_timeout = 0ms; }},
      {"liveness.max_frame_size:", [](server_config& c) { c.liveness.max_frame_size = 32; }},
      {"liveness.write_queue_limit:", [](server_config& c) { c.liveness.write_queue_limit = 1000; }},
      {"liveness.write_stall_timeout:", [](server_config& c) { c.liveness.write_stall_timeout = 0ms; }},
      {"liveness.wheel_tick:", [](server_config& c) { c.liveness.wheel_tick = 2s; }},
      {"liveness.max_expiries_per_turn:", [](server_config& c) { c.liveness.max_expiries_per_turn = 0; }},
      {"liveness.server_heartbeat_interval:", [](server_config& c) { c.liveness.server_heartbeat_interval = 1ms; }},
      {"liveness.server_heartbeat_interval:", [](server_config& c) { c.liveness.server_heartbeat_interval = 2h; }},
      {"liveness.suspect_after:", [](server_config& c) { c.liveness.suspect_after = c.liveness.heartbeat_interval; }},
      {"liveness.suspect_after:", [](server_config& c) { c.liveness.suspect_after = c.liveness.dead_after; }},
      {"liveness.frame_timeout:", [](server_config& c) { c.liveness.frame_timeout = 0ms; }},
      {"liveness.frame_timeout:", [](server_config& c) { c.liveness.frame_timeout = 25h; }},
      {"liveness.stall_threshold:", [](server_config& c) { c.liveness.stall_threshold = 0ms; }},
      {"liveness.stall_release_rate:", [](server_config& c) { c.liveness.stall_release_rate = 0; }},
      {"liveness.inbound.burst:", [](server_config& c) { c.liveness.inbound.burst = 0ms; }},
      {"liveness.inbound.frames_per_second:", [](server_config& c) { c.liveness.inbound.frames_per_second = 20'000'000; }},
      {"liveness.inbound.strikes:", [](server_config& c) { c.liveness.inbound.strikes = 0; }},
      {"liveness.inbound.strike_window:", [](server_config& c) { c.liveness.inbound.strike_window = 10ms; }},
      {"liveness.inbound.beats_per_interval:", [](server_config& c) { c.liveness.inbound.beats_per_interval = 5000; }},
      {"liveness.read_budget_per_turn:", [](server_config& c) { c.liveness.read_budget_per_turn = 100; }},
      {"liveness.read_budget_per_turn:", [](server_config& c) { c.liveness.read_budget_per_turn = 1 << 20; }},
      {"liveness.buffer_budget:", [](server_config& c) { c.liveness.buffer_budget = 1000; }},
      {"admission.handshaking_share:", [](server_config& c) { c.admission.handshaking_share = 0; }},
      {"admission.handshaking_share:", [](server_config& c) { c.admission.handshaking_share = 1.5; }},
      {"admission.max_handshakes_per_address:", [](server_config& c) {
         c.admission.max_sessions_per_address = 2;
         c.admission.max_handshakes_per_address = 3;
       }},
      {"liveness.resume.grace:", [](server_config& c) { c.liveness.resume.grace = -1ms; }},
      {"liveness.resume.grace:", [](server_config& c) { c.liveness.resume.grace = 25h; }},
      {"liveness.resume.replay_bytes:", [](server_config& c) { c.liveness.resume.replay_bytes = std::size_t{2} << 30; }},
      {"liveness.resume.token_lifetime:", [](server_config& c) { c.liveness.resume.token_lifetime = 0s; }},
      {"liveness.resume.token_lifetime:", [](server_config& c) {
         c.liveness.resume.grace = 60s;
         c.liveness.resume.token_lifetime = 30s;
       }},
      {"liveness.resume.keys:", [](server_config& c) { c.liveness.resume.keys.resize(3); }},
      {"liveness.resume.keys:", [](server_config& c) { c.liveness.resume.keys.resize(2); }},  // both id 0
      {"liveness.resume.linger_on:", [](server_config& c) { c.liveness.resume.linger_on = {close_reason::peer_closed}; }},
      {"liveness.resume.linger_on:", [](server_config& c) { c.liveness.resume.linger_on = {close_reason::protocol_error}; }},
      {"liveness.resume.linger_on:", [](server_config& c) { c.liveness.resume.linger_on = {close_reason::shutdown}; }},
      // 2^24 slots a shard, 1,024 of them always free (session_id.hpp)
      {"max_sessions:", [](server_config& c) { c.max_sessions = 16'776'193; }},
  };
  for (const auto& [field, spoil] : cases) {
    CAPTURE(field);
    server_config config;
    spoil(config);
    const auto message = rejection_of(config);
    CHECK(message.rfind(field, 0) == 0);
  }
}

TEST_CASE("each invalid connector field is rejected with a message naming it") {
  const std::vector<std::pair<std::string, std::function<void(connector_config&)>>> cases = {
      {"worker_threads:", [](connector_config& c) { c.worker_threads = 0; }},
      {"connect_timeout:", [](connector_config& c) { c.connect_timeout = 0ms; }},
      {"reconnect.initial_delay:", [](connector_config& c) { c.reconnect.initial_delay = 0ms; }},
      {"reconnect.max_delay:", [](connector_config& c) { c.reconnect.max_delay = 1ms; }},
      {"reconnect.jitter:", [](connector_config& c) { c.reconnect.jitter = 1.5; }},
      // A limit on attempts that never follow would be silently ignored.
      {"reconnect.max_attempts:", [](connector_config& c) { c.reconnect.max_attempts = 3; }},
      {"liveness.dead_after:", [](connector_config& c) { c.liveness.dead_after = 10ms; }},
      // The server decides how often it beats; a connector setting it would be ignored.
      {"liveness.server_heartbeat_interval:", [](connector_config& c) { c.liveness.server_heartbeat_interval = 5s; }},
  };
  for (const auto& [field, spoil] : cases) {
    CAPTURE(field);
    connector_config config;
    spoil(config);
    CHECK(rejection_of(config).rfind(field, 0) == 0);
  }
}

TEST_CASE("a server beats ten times slower than its clients unless told, and clients wait it out with their own slack") {
  liveness_config config;
  config.heartbeat_interval = 1000ms;
  config.dead_after = 3000ms;
  auto beat = derive_server_beat(config);
  CHECK(beat.interval == 10'000ms);
  CHECK(beat.clients_wait == 12'000ms);  // 10 s + (3 s - 1 s)
  config.server_heartbeat_interval = 1000ms;  // symmetric
  beat = derive_server_beat(config);
  CHECK(beat.interval == 1000ms);
  CHECK(beat.clients_wait == 3000ms);
}

TEST_CASE("the kernel backstop is derived from dead_after unless given") {
  liveness_config config;
  config.dead_after = 3000ms;
  auto backstop = derive_kernel_backstop(config);
  CHECK(backstop.keepalive);
  CHECK(backstop.keepalive_idle == 3s);
  CHECK(backstop.keepalive_interval == 1s);
  CHECK(backstop.keepalive_count == 3);
  CHECK(backstop.user_timeout_enabled);
  CHECK(backstop.user_timeout == 6000ms);  // never before lifeline's own deadline

  config.dead_after = 400ms;  // sub-second: the kernel's unit is seconds, at least 1
  backstop = derive_kernel_backstop(config);
  CHECK(backstop.keepalive_idle == 1s);
  CHECK(backstop.keepalive_interval == 1s);

  config.keepalive = {.enabled = true, .idle = 7s, .interval = 2s, .count = 5};
  config.user_timeout = 9000ms;
  backstop = derive_kernel_backstop(config);
  CHECK(backstop.keepalive_idle == 7s);
  CHECK(backstop.keepalive_interval == 2s);
  CHECK(backstop.keepalive_count == 5);
  CHECK(backstop.user_timeout == 9000ms);
}

TEST_CASE("every close reason has a stable, distinct name") {
  std::set<std::string_view> names;
  for (int value = 1; value <= 15; ++value) {
    const auto name = to_string(static_cast<close_reason>(value));
    CHECK(name != "unknown");
    names.insert(name);
  }
  CHECK(names.size() == 15);
  CHECK(to_string(close_reason::heartbeat_timeout) == "heartbeat_timeout");
  CHECK(to_string(close_reason::name_not_resolved) == "name_not_resolved");
  CHECK(static_cast<std::size_t>(close_reason::name_not_resolved) < close_reason_count);
  CHECK(to_string(reconnect_plan::given_up) == "given_up");
  CHECK(make_error_code(close_reason::peer_reset).message() == "peer_reset");
}

TEST_CASE("unset evidence rules are derived: suspect halfway between H and T, frames allowed T, stalls over (T - H) / 4") {
  liveness_config config;
  config.heartbeat_interval = 1000ms;
  config.dead_after = 3000ms;
  auto rules = derive_evidence_rules(config);
  CHECK(rules.suspect_after == 2000ms);
  CHECK(rules.frame_timeout == 3000ms);
  CHECK(rules.stall_threshold == 500ms);
  config.suspect_after = 1500ms;
  config.frame_timeout = 10s;
  config.stall_threshold = 50ms;
  rules = derive_evidence_rules(config);
  CHECK(rules.suspect_after == 1500ms);
  CHECK(rules.frame_timeout == 10s);
  CHECK(rules.stall_threshold == 50ms);
  server_config largest;
  largest.max_sessions = 16'776'192;
  CHECK(rejection_of(largest) == "accepted");
}
