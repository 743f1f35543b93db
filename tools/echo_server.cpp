// lifeline_echo_server: a small game server on lifeline's public API only. It echoes
// every message back to its sender and logs each session's end with its reason, the way
// a game server would map reasons to actions (keep the player's seat for a while after a
// network death, free it at once after a clean quit, alert on protocol errors).
//
//   lifeline_echo_server --port 7777 --heartbeat-ms 1000 --dead-after-ms 3000
#include <lifeline/server.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

namespace {

std::atomic<bool> interrupted{false};
void on_signal(int) { interrupted = true; }

// What a game does when a session ends, by reason.
const char* game_action(const lifeline::close_info& why) {
  using lifeline::close_reason;
  if (why.lingered) return "not back within the grace (or its resume refused): free the seat";
  switch (why.reason) {
    case close_reason::peer_closed:
    case close_reason::closed_locally:
    case close_reason::shutdown:
      return "player left: free the seat";
    case close_reason::peer_dropped:
    case close_reason::heartbeat_timeout:
    case close_reason::keepalive_timeout:
    case close_reason::user_timeout:
    case close_reason::peer_reset:
    case close_reason::unreachable:
    case close_reason::slow_frame:
      return "crash or network death: keep the seat for a reconnect";
    case close_reason::write_stalled:
      return "client not reading: drop it, it cannot keep up";
    case close_reason::protocol_error:
    case close_reason::handler_error:
    case close_reason::rate_exceeded:
    case close_reason::memory_budget:
      return "bad client or bug: log and alert";
    default:
      return "never opened: nothing to free";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lifeline demo: an echo game server that reports why each session ended"};
  lifeline::server_config config;
  config.listen_address = "127.0.0.1";
  config.port = 7777;
  long heartbeat_ms = 1000, dead_after_ms = 3000;
  app.add_option("--address", config.listen_address, "address to listen on")->capture_default_str();
  app.add_option("--port", config.port, "port to listen on (0: any)")->capture_default_str();
  app.add_option("--threads", config.worker_threads, "worker threads (0: one per hardware thread)")->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval H")->capture_default_str();
  app.add_option("--dead-after-ms", dead_after_ms, "dead-after timeout T (> H)")->capture_default_str();
  app.add_option("--max-sessions", config.max_sessions, "sessions accepted at most")->capture_default_str();
  auto& limits = config.liveness.inbound;
  app.add_option("--inbound-frames-per-second", limits.frames_per_second, "frames a client may send a second (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--inbound-bytes-per-second", limits.bytes_per_second, "bytes a client may send a second (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  std::size_t buffer_budget_mib = config.liveness.buffer_budget >> 20;
  app.add_option("--buffer-budget-mib", buffer_budget_mib, "memory the sessions may hold in buffers (partial frames, queues)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  long resume_grace_ms = 0;
  app.add_option("--resume-grace-ms", resume_grace_ms,
                 "keep a session whose connection died this long, for its client to resume (0: off)")
      ->capture_default_str()->check(CLI::Range(0L, 86'400'000L));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // a bad flag: rejected before any work, as every lifeline tool does
  }
  config.liveness.buffer_budget = buffer_budget_mib << 20;
  config.liveness.heartbeat_interval = std::chrono::milliseconds{heartbeat_ms};
  config.liveness.dead_after = std::chrono::milliseconds{dead_after_ms};
  config.liveness.resume.grace = std::chrono::milliseconds{resume_grace_ms};

  std::mutex log;  // handlers run on several shard threads
  std::unique_ptr<lifeline::server> server;
  try {
    server = std::make_unique<lifeline::server>(
        config, lifeline::session_handlers{
                    .on_opened =
                        [&](lifeline::session_id id) {
                          std::lock_guard lock(log);
                          std::printf("session %016llx opened\n", static_cast<unsigned long long>(id.value));
                        },
                    .on_message = [&](lifeline::session_id id, std::span<const std::byte> bytes) { server->send(id, bytes); },
                    .on_closed =
                        [&](lifeline::session_id id, lifeline::close_info why) {
                          std::lock_guard lock(log);
                          std::printf("session %016llx closed: %s%s%s -> %s\n", static_cast<unsigned long long>(id.value),
                                      std::string(lifeline::to_string(why.reason)).c_str(), why.detail ? ", " : "",
                                      why.detail ? why.detail.message().c_str() : "", game_action(why));
                        },
                    .on_suspected =
                        [&](lifeline::session_id id) {
                          std::lock_guard lock(log);
                          std::printf("session %016llx suspect: silent a while, sent an urgent beat (connection unstable)\n",
                                      static_cast<unsigned long long>(id.value));
                        },
                    .on_recovered =
                        [&](lifeline::session_id id) {
                          std::lock_guard lock(log);
                          std::printf("session %016llx recovered: heard again\n", static_cast<unsigned long long>(id.value));
                        },
                    .on_transport_lost =
                        [&](lifeline::session_id id, lifeline::close_info cause) {
                          std::lock_guard lock(log);
                          std::printf("session %016llx transport lost: %s; kept %ld ms for the player to come back\n",
                                      static_cast<unsigned long long>(id.value),
                                      std::string(lifeline::to_string(cause.reason)).c_str(), resume_grace_ms);
                        },
                    .on_resumed =
                        [&](lifeline::session_id id, lifeline::resumed_info info) {
                          std::lock_guard lock(log);
                          std::printf("session %016llx resumed%s%s, %u messages sent again\n",
                                      static_cast<unsigned long long>(id.value), info.takeover ? " (took over an open connection)" : "",
                                      info.state_lost ? ", messages lost: send a snapshot" : "", info.replayed);
                        },
                });
    server->start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lifeline_echo_server: %s\n", e.what());
    return 2;
  }
  std::printf("listening on %s:%u (H = %ld ms, T = %ld ms); Ctrl-C stops\n", config.listen_address.c_str(),
              server->port(), heartbeat_ms, dead_after_ms);
  std::fflush(stdout);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  while (!interrupted) std::this_thread::sleep_for(std::chrono::milliseconds{100});
  server->stop();
  const auto stats = server->stats().total;
  std::printf("stopped: %llu sessions opened, %llu heartbeats sent, %llu received\n",
              static_cast<unsigned long long>(stats.sessions_opened), static_cast<unsigned long long>(stats.heartbeats_sent),
              static_cast<unsigned long long>(stats.heartbeats_received));
  return 0;
}
