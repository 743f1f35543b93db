#include "echo_server_process.hpp"

#include "interrupt.hpp"

#include <csignal>
#include <filesystem>
#include <stdexcept>

namespace lifeline::hostile {
namespace {

std::vector<std::string> command_line(const echo_server_settings& s) {
  std::vector<std::string> argv{own_directory() + "/lifeline_echo_server",
                                "--address", "127.0.0.1", "--port", "0",
                                "--threads", std::to_string(s.threads),
                                "--heartbeat-ms", std::to_string(s.heartbeat.count()),
                                "--dead-after-ms", std::to_string(s.dead_after.count())};
  if (s.max_sessions) {
    argv.emplace_back("--max-sessions");
    argv.push_back(std::to_string(*s.max_sessions));
  }
  argv.insert(argv.end(), s.extra_args.begin(), s.extra_args.end());
  return argv;
}

}  // namespace

std::string own_directory() { return std::filesystem::canonical("/proc/self/exe").parent_path().string(); }

echo_server_process::echo_server_process(const echo_server_settings& settings)
    : argv_(command_line(settings)), child_(argv_) {
  // "listening on 127.0.0.1:41234 (H = 1000 ms, T = 3000 ms); Ctrl-C stops"
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (port_ == 0 && std::chrono::steady_clock::now() < until && !interrupted()) {
    auto line = child_.read_line(std::chrono::milliseconds{100});
    if (!line) {
      if (child_.at_eof()) break;
      continue;
    }
    const auto at = line->find("listening on ");
    const auto colon = line->find(':', at == std::string::npos ? 0 : at);
    if (at == std::string::npos || colon == std::string::npos) continue;
    port_ = static_cast<std::uint16_t>(std::stoul(line->substr(colon + 1)));
  }
  if (port_ == 0) {
    child_.signal(SIGKILL);
    const int status = child_.wait(std::chrono::seconds{1});
    throw std::runtime_error(argv_.front() + " did not start (exit status " + std::to_string(status) +
                             (status == 127 ? ": is it built beside this tool?)" : ": see its message above)"));
  }
  reader_ = std::thread([this] { drain(); });
}

echo_server_process::~echo_server_process() { stop(); }

void echo_server_process::drain() {
  for (;;) {
    auto line = child_.read_line(std::chrono::milliseconds{200});
    if (line) note(*line);
    else if (child_.at_eof()) return;
  }
}

// "session 0100000000000001 opened" / "session ... closed: slow_frame -> crash or ..." /
// "stopped: 3 sessions opened, ..."
void echo_server_process::note(const std::string& line) {
  std::lock_guard lock(mutex_);
  if (line.rfind("stopped:", 0) == 0) {
    tally_.stopped_line = line;
    return;
  }
  if (line.rfind("session ", 0) != 0) return;
  if (line.find(" opened") != std::string::npos) {
    ++tally_.opened;
    return;
  }
  const auto closed = line.find(" closed: ");
  if (closed == std::string::npos) return;
  const auto start = closed + 9;
  const auto arrow = line.find(" -> ", start);
  ++tally_.closed[line.substr(start, arrow == std::string::npos ? std::string::npos : arrow - start)];
}

bool echo_server_process::running() { return !child_.has_exited(); }

echo_server_process::tally echo_server_process::stop() {
  if (!stopped_) {
    stopped_ = true;
    child_.signal(SIGTERM);
    // stop() flushes every session for up to 1 s; a server stuck longer is killed.
    child_.wait(std::chrono::seconds{30});
    if (reader_.joinable()) reader_.join();
  }
  std::lock_guard lock(mutex_);
  return tally_;
}

}  // namespace lifeline::hostile
