// tools/hostile/subcommands.hpp — the four measurements of issue 9, one file each.
//
// Each subcommand: add_<name>() declares its flags (with --help text and range checks),
// check_<name>() applies the rules between flags before any work (the message names the
// flag; the tool exits 2), run_<name>() measures and reports (report.hpp), returning 0
// when the chain worked, 1 when it did not, 130 when interrupted.
#pragma once

#include "server_options.hpp"

#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

namespace lifeline::hostile {

/// Memory pinned by frames left unfinished: RSS before, at the peak, and after each wave.
struct unfinished_frames_options {
  server_options server;
  std::size_t sessions = 16'000;
  std::size_t frame_bytes = 65'536;
  std::size_t send_bytes = 65'000;
  unsigned waves = 2;
  long hold_ms = 5'000;
  long settle_ms = 5'000;
  std::size_t per_process = 9'000;
  double connect_rate = 4'000;
  double budget_mib = 0;  ///< the server's configured memory budget, to report the peak against (0: none)
};
CLI::App* add_unfinished_frames(CLI::App& app, unfinished_frames_options& options);
std::string check_unfinished_frames(const unfinished_frames_options& options);
int run_unfinished_frames(const unfinished_frames_options& options, const std::string& command);

/// One flooding client's cost to the others: their echo round trip without and with it.
struct flood_options {
  server_options server{.threads = 1};
  std::size_t normal_sessions = 1'000;
  long echo_interval_ms = 100;
  std::string flood = "beats";
  std::size_t payload_bytes = 1;
  long window_ms = 5'000;
  std::size_t per_process = 9'000;
  int flooder_nice = 15;  // the attacker is another machine: its CPU is not the server's
};
CLI::App* add_flood(CLI::App& app, flood_options& options);
std::string check_flood(const flood_options& options);
int run_flood(const flood_options& options, const std::string& command);

/// Legitimate clients' handshakes while others hold sockets open without a hello.
struct never_hello_options {
  server_options server;
  std::size_t max_sessions = 0;  ///< 0: the library's default
  unsigned processes = 2;
  std::size_t sockets = 21'000;
  std::size_t legit = 30;
  long legit_interval_ms = 500;
  long legit_timeout_ms = 5'000;
  double connect_rate = 0;       ///< total, per second; 0: as fast as the attackers can
  long ramp_ms = 10'000;
  std::string attack_address = "127.0.0.2";
  unsigned attack_sources = 1;
  std::string legit_address = "127.0.0.1";
};
CLI::App* add_never_hello(CLI::App& app, never_hello_options& options);
std::string check_never_hello(const never_hello_options& options);
int run_never_hello(const never_hello_options& options, const std::string& command);

/// stop() under a backlog of cross-thread sends to clients that flood and never read.
struct send_backlog_options {
  server_options server{.threads = 2};
  std::size_t clients = 2'000;
  unsigned game_threads = 2;
  std::size_t message_bytes = 256;
  std::size_t payload_bytes = 64;
  long seconds = 5;
  long flush_deadline_ms = 1'000;
  std::size_t per_process = 9'000;
  bool inbound_limits = false;  // the library's defaults close the flooding clients first
};
CLI::App* add_send_backlog(CLI::App& app, send_backlog_options& options);
std::string check_send_backlog(const send_backlog_options& options);
int run_send_backlog(const send_backlog_options& options, const std::string& command);

}  // namespace lifeline::hostile
