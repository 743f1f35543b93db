// Short intervals so the suite stays fast: H = 100 ms, T = 300 ms, 2 ms wheel tick.
#pragma once

#include <lifeline/config.hpp>

namespace lifeline::test {

using namespace std::chrono_literals;

inline liveness_config fast_liveness() {
  liveness_config l;
  l.heartbeat_interval = 100ms;
  l.dead_after = 300ms;
  l.handshake_timeout = 500ms;
  l.wheel_tick = 2ms;
  l.write_stall_timeout = 500ms;
  return l;
}

inline server_config fast_server(unsigned threads = 2) {
  server_config c;
  c.listen_address = "127.0.0.1";
  c.port = 0;
  c.worker_threads = threads;
  c.liveness = fast_liveness();
  return c;
}

inline connector_config fast_connector() {
  connector_config c;
  c.liveness = fast_liveness();
  c.connect_timeout = 1s;
  return c;
}

// How late a detection may be after its deadline and still pass: a wheel tick, the
// shard's wake-up, and a loaded 2-core CI machine (sanitizers on).
inline constexpr auto detection_slack = 150ms;

}  // namespace lifeline::test
