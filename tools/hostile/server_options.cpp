#include "server_options.hpp"

#include <sys/resource.h>

namespace lifeline::hostile {

void add_server_options(CLI::App& command, server_options& o, bool in_process) {
  command.add_option("--server-threads", o.threads, "the server's worker threads (shards); 0: one per hardware thread")
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  command.add_option("--heartbeat-ms", o.heartbeat_ms, "heartbeat interval H")
      ->capture_default_str()
      ->check(CLI::Range(1L, 3'600'000L));
  command.add_option("--dead-after-ms", o.dead_after_ms, "dead-after timeout T (> H)")
      ->capture_default_str()
      ->check(CLI::Range(2L, 3'600'000L));
  if (!in_process)
    command.add_option("--server-arg", o.extra_args,
                       "a flag passed through to lifeline_echo_server, e.g. --server-arg=--max-sessions=5000 (repeatable)")
        ->allow_extra_args(false);
  command.add_option("--json", o.json_path, "also write the figures to this file (JSON)");
}

std::string check_server_options(const server_options& o) {
  if (o.dead_after_ms <= o.heartbeat_ms)
    return "--dead-after-ms: must be greater than --heartbeat-ms (" + std::to_string(o.heartbeat_ms) + "), got " +
           std::to_string(o.dead_after_ms);
  return {};
}

echo_server_settings echo_settings(const server_options& o) {
  return {.threads = o.threads,
          .heartbeat = std::chrono::milliseconds{o.heartbeat_ms},
          .dead_after = std::chrono::milliseconds{o.dead_after_ms},
          .max_sessions = std::nullopt,
          .extra_args = o.extra_args};
}

nlohmann::json to_json(const server_options& o) {
  return {{"server_threads", o.threads},
          {"heartbeat_ms", o.heartbeat_ms},
          {"dead_after_ms", o.dead_after_ms},
          {"server_args", o.extra_args}};
}

std::size_t raise_descriptor_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

}  // namespace lifeline::hostile
