// tools/loadgen/main.cpp — lifeline_loadgen's flags (load_generator.hpp says what it does).
#include "load_generator.hpp"

#include <CLI/CLI.hpp>

#include <csignal>

using namespace lifeline::loadgen;

namespace {
void on_signal(int) { interrupted = true; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lifeline_loadgen: N heartbeating client sessions in one thread; kills the first K on command\n"
               "(stdin: KILL <monotonic ns> [count] | QUIET | STOP; stdout: READY <open> <failed> | KILLED <k> | DONE)"};
  options opts;
  long long heartbeat_ms = 1000, dead_after_ms = 3000, echo_ms = 100, jitter_ms = 0, open_timeout_ms = 10'000;
  std::string fault = "hung";
  long long reconnect_after_ms = -1, reconnect_spread_ms = 0, stream_ms = 0;
  app.add_option("--address", opts.address, "server address")->capture_default_str();
  app.add_option("--port", opts.port, "server port")->required();
  app.add_option("--sessions", opts.sessions, "sessions N (clamped to RLIMIT_NOFILE - 100)")->capture_default_str();
  app.add_option("--doomed", opts.doomed, "the first K sessions are killed by KILL")->capture_default_str();
  app.add_option("--doomed-address", opts.doomed_address, "source address of the doomed sessions (of the first group)")
      ->capture_default_str();
  app.add_option("--doomed-groups", opts.doomed_groups,
                 "G: the doomed, in order, in G groups of about K/G; group g connects from --doomed-address + g")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--live-address", opts.live_address, "source address of the live sessions")->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval H asked for in hello")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--dead-after-ms", dead_after_ms, "dead-after timeout T asked for in hello (> H)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--fault", fault, "fault applied by KILL")
      ->capture_default_str()
      ->check(CLI::IsMember({"hung", "closed", "rebooted", "stalled", "blackholed", "unreachable", "reset"}));
  app.add_option("--echo-ms", echo_ms, "one live session sends an echo probe this often (0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--jitter-ms", jitter_ms, "live beats are delayed by a uniform 0..J ms")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--loss", opts.loss, "probability that a live beat is withheld")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  app.add_option("--report", opts.report_path, "report file written at STOP");
  app.add_option("--connect-rate", opts.connect_rate, "connects started per second")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--open-timeout-ms", open_timeout_ms, "connect + welcome within this, or the session failed")
      ->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", opts.seed, "seed of the jitter, loss and reconnect draws")->capture_default_str();
  app.add_flag("--resume", opts.resume,
               "keep the welcome's resume token, count, ack and keep data frames (protocol version 2, resume)");
  app.add_option("--reconnect-after-ms", reconnect_after_ms,
                 "with --resume and --fault reset, blackholed or unreachable: a killed session dials again D ms after its kill "
                 "and resumes");
  app.add_option("--reconnect-spread-ms", reconnect_spread_ms, "each reconnect a further uniform 0..S ms later")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--stream-ms", stream_ms,
                 "with --resume: every doomed session sends a numbered message this often; the echoes are checked "
                 "(0: none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  if (dead_after_ms <= heartbeat_ms) {
    std::fprintf(stderr, "lifeline_loadgen: --dead-after-ms must be greater than --heartbeat-ms\n");
    return 2;
  }
  opts.heartbeat_interval = milliseconds{heartbeat_ms};
  opts.dead_after = milliseconds{dead_after_ms};
  opts.echo_interval = milliseconds{echo_ms};
  opts.jitter = milliseconds{jitter_ms};
  opts.open_timeout = milliseconds{open_timeout_ms};
  opts.fault = parse_fault(fault);
  if (reconnect_after_ms >= 0) {
    if (!opts.resume || (opts.fault != fault_kind::reset && opts.fault != fault_kind::blackholed &&
                         opts.fault != fault_kind::unreachable)) {
      std::fprintf(stderr,
                   "lifeline_loadgen: --reconnect-after-ms needs --resume and --fault reset, blackholed or unreachable\n");
      return 2;
    }
    opts.reconnect_after = milliseconds{reconnect_after_ms};
  } else if (reconnect_after_ms != -1) {
    std::fprintf(stderr, "lifeline_loadgen: --reconnect-after-ms must be 0 or more\n");
    return 2;
  }
  if (stream_ms > 0 && !opts.resume) {
    std::fprintf(stderr, "lifeline_loadgen: --stream-ms needs --resume (the messages are checked across resumes)\n");
    return 2;
  }
  opts.reconnect_spread = milliseconds{reconnect_spread_ms};
  opts.stream_interval = milliseconds{stream_ms};

  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction stop_action {};
  stop_action.sa_handler = on_signal;  // no SA_RESTART: epoll_wait returns EINTR
  ::sigaction(SIGINT, &stop_action, nullptr);
  ::sigaction(SIGTERM, &stop_action, nullptr);

  load_generator generator(std::move(opts));
  return generator.run();
}
