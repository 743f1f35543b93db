// tools/hostile/worker.hpp — the attacking (and measuring) client processes.
//
// A subcommand never attacks from its own process: it starts workers, which are this same
// binary run with the hidden `worker` subcommand, each carrying at most a share of the
// sockets (a process may hold 20,000 descriptors here, and the server needs its own), and
// each running one raw_pool (raw_sessions.hpp) with one role:
//
//   holder    sessions that each leave a frame unfinished (unfinished-frames)
//   echo      well-behaved sessions measuring their echo round trip (flood)
//   flooder   one session writing beats or tiny data frames as fast as the socket takes them
//   lurker    sockets that connect and never say hello, re-opened as they close (never-hello)
//   drencher  sessions writing data frames without end and never reading (send-backlog)
//
// Over stdin/stdout, one line each (worker_fleet.hpp drives them): the worker prints
// `STATUS k=v ...` once a second and `READY <open> <failed> [how=count ...]` when its
// sessions have settled; it takes role commands (ATTACK, FLOOD, QUIET), prints its
// results, and at STOP (or EOF) resets every socket, prints its summary and `DONE`.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lifeline::hostile {

struct worker_options {
  std::string role{};
  std::uint16_t port = 0;
  std::string sources = "127.0.0.1";  ///< comma-separated source addresses, round robin
  std::size_t sessions = 0;
  long heartbeat_ms = 1000;
  long dead_after_ms = 3000;
  double connect_rate = 0;             ///< per second; 0: as fast as allowed
  std::size_t in_flight = 1000;        ///< connects (and handshakes) in flight at most
  long open_timeout_ms = 10'000;
  std::size_t frame_bytes = 65'536;    ///< holder: body length announced
  std::size_t send_bytes = 65'000;     ///< holder: body bytes sent
  long echo_interval_ms = 100;         ///< echo: one probe per session per interval
  std::string samples{};               ///< echo: where the round trips are written
  std::string flood = "beats";         ///< flooder: beats | echo
  std::size_t payload_bytes = 1;       ///< flooder (echo) and drencher: data frame payload
  int receive_buffer = 0;              ///< SO_RCVBUF before connecting; 0: default
  int nice = 0;                        ///< niceness added to the worker process

  /// The command line that starts a worker with these options (argv[0] is this binary).
  [[nodiscard]] std::vector<std::string> command_line() const;
};

/// The hidden `worker` subcommand.
CLI::App* add_worker_command(CLI::App& app, worker_options& options);
int run_worker(const worker_options& options);

}  // namespace lifeline::hostile
