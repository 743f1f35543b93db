// lifeline_hostile — hostile clients against a lifeline server, measured (issue 9,
// DESIGN.md §9: "hostile clients cost only themselves"). Each subcommand reproduces one
// attack against a server it starts itself, and reports what it cost:
//
//   unfinished-frames  RSS while sessions hold frames they never finish, and after they go
//   flood              others' echo round trip on a shard, without and with one flooding client
//   never-hello        legitimate handshakes while sockets connect and never say hello
//   send-backlog       stop() time of an in-process server under a backlog of cross-thread sends
//
// The attackers are worker processes (this binary's hidden `worker` subcommand, worker.hpp)
// speaking the wire protocol on raw sockets; the server is lifeline_echo_server, built
// beside this binary (send-backlog runs lifeline::server in-process instead). Each run
// prints a readable report, then one JSON line (also --json FILE); progress goes to stderr.
// Exit status: 0 the chain worked, 1 it did not, 2 a bad flag, 130 interrupted. Goals are
// printed beside the figures, never judged in the exit status.
//
//   lifeline_hostile unfinished-frames --sessions 16000 --json before.json
//   lifeline_hostile flood --flood echo
#include "interrupt.hpp"
#include "report.hpp"
#include "subcommands.hpp"
#include "worker.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  using namespace lifeline::hostile;
  CLI::App app{"lifeline_hostile: hostile clients against a lifeline server, measured (issue 9).\n"
               "Each subcommand starts its own server and attackers and reports what the attack cost."};
  app.require_subcommand(1);
  app.fallthrough(false);
  unfinished_frames_options unfinished;
  flood_options flood;
  never_hello_options never_hello;
  send_backlog_options backlog;
  worker_options worker;
  auto* unfinished_command = add_unfinished_frames(app, unfinished);
  auto* flood_command = add_flood(app, flood);
  auto* never_hello_command = add_never_hello(app, never_hello);
  auto* backlog_command = add_send_backlog(app, backlog);
  auto* worker_command = add_worker_command(app, worker);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }

  install_interrupt_handlers();
  const auto command = command_text(argc, argv);
  const auto reject = [](const std::string& message) {
    if (message.empty()) return false;
    std::fprintf(stderr, "lifeline_hostile: %s\n", message.c_str());
    return true;
  };
  try {
    if (worker_command->parsed()) return run_worker(worker);
    if (unfinished_command->parsed()) {
      if (reject(check_unfinished_frames(unfinished))) return 2;
      return run_unfinished_frames(unfinished, command);
    }
    if (flood_command->parsed()) {
      if (reject(check_flood(flood))) return 2;
      return run_flood(flood, command);
    }
    if (never_hello_command->parsed()) {
      if (reject(check_never_hello(never_hello))) return 2;
      return run_never_hello(never_hello, command);
    }
    if (backlog_command->parsed()) {
      if (reject(check_send_backlog(backlog))) return 2;
      return run_send_backlog(backlog, command);
    }
  } catch (const std::exception& e) {
    progress("error: %s", e.what());
    return 1;
  }
  return 2;
}
