// tools/hostile/server_options.hpp — the flags every subcommand shares: the server under
// attack (threads, H, T, extra flags passed through to it) and the JSON output; and the
// descriptor limit every subcommand clamps to.
//
// --server-arg passes a flag through to lifeline_echo_server untouched
// (`--server-arg=--max-sessions=5000`), so budgets the library grows later can be set
// without changing this tool.
#pragma once

#include "echo_server_process.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace lifeline::hostile {

struct server_options {
  unsigned threads = 0;
  long heartbeat_ms = 1000;
  long dead_after_ms = 3000;
  std::vector<std::string> extra_args{};
  std::string json_path{};
};

/// Adds --server-threads (default `threads`), --heartbeat-ms, --dead-after-ms,
/// --server-arg (unless `in_process`) and --json to `command`.
void add_server_options(CLI::App& command, server_options& options, bool in_process = false);
/// The cross-flag rules (T > H); empty when they hold, else the message naming the flag.
[[nodiscard]] std::string check_server_options(const server_options& options);
[[nodiscard]] echo_server_settings echo_settings(const server_options& options);
[[nodiscard]] nlohmann::json to_json(const server_options& options);

/// RLIMIT_NOFILE's hard limit, after raising the soft limit to it (children inherit it).
[[nodiscard]] std::size_t raise_descriptor_limit();

/// Descriptors a process keeps for everything but its sessions (stdio, pipes, epoll, files).
inline constexpr std::size_t spare_descriptors = 200;

}  // namespace lifeline::hostile
