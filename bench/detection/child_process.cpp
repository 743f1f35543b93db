#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

namespace lifeline::bench {

child_process::child_process(const std::vector<std::string>& argv, int niceness) {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    ::dup2(to_child[0], STDIN_FILENO);
    ::dup2(from_child[1], STDOUT_FILENO);
    if (niceness != 0) ::setpriority(PRIO_PROCESS, 0, ::getpriority(PRIO_PROCESS, 0) + niceness);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  stdin_fd_ = to_child[1];
  stdout_fd_ = from_child[0];
  ::signal(SIGPIPE, SIG_IGN);
}

child_process::~child_process() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

void child_process::write_line(const std::string& line) {
  const std::string with_newline = line + "\n";
  if (stdin_fd_ >= 0) (void)::write(stdin_fd_, with_newline.data(), with_newline.size());
}

void child_process::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

// A whole line, or at EOF what is left of the last one.
std::optional<std::string> child_process::take_buffered_line() {
  if (const auto newline = buffered_.find('\n'); newline != std::string::npos) {
    auto line = buffered_.substr(0, newline);
    buffered_.erase(0, newline + 1);
    return line;
  }
  if (stdout_fd_ < 0 && !buffered_.empty()) return std::exchange(buffered_, {});
  return std::nullopt;
}

// One read, when poll() said stdout is readable; EOF closes it.
void child_process::read_what_is_there() {
  char chunk[4096];
  const auto n = ::read(stdout_fd_, chunk, sizeof chunk);
  if (n <= 0) {
    ::close(stdout_fd_);
    stdout_fd_ = -1;
    return;
  }
  buffered_.append(chunk, static_cast<std::size_t>(n));
}

std::optional<std::string> child_process::read_line(std::chrono::milliseconds timeout) {
  child_process* const self[] = {this};
  if (auto got = read_line_of_any(self, timeout)) return std::move(got->second);
  return std::nullopt;
}

std::optional<std::pair<std::size_t, std::string>> child_process::read_line_of_any(
    std::span<child_process* const> children, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  std::vector<pollfd> waiting;
  std::vector<std::size_t> whose;
  for (;;) {
    waiting.clear();
    whose.clear();
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (auto line = children[i]->take_buffered_line()) return std::pair{i, std::move(*line)};
      if (children[i]->stdout_fd_ < 0) continue;
      waiting.push_back({children[i]->stdout_fd_, POLLIN, 0});
      whose.push_back(i);
    }
    if (waiting.empty()) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    if (::poll(waiting.data(), waiting.size(), static_cast<int>(left.count())) <= 0) return std::nullopt;
    for (std::size_t j = 0; j < waiting.size(); ++j)
      if (waiting[j].revents != 0) children[whose[j]]->read_what_is_there();
  }
}

void child_process::terminate() {
  if (!exited_ && pid_ > 0) ::kill(pid_, SIGTERM);
}

int child_process::wait(std::chrono::milliseconds grace) {
  if (exited_) return status_;
  const auto until = std::chrono::steady_clock::now() + grace;
  int raw = 0;
  while (::waitpid(pid_, &raw, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &raw, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  exited_ = true;
  status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : -WTERMSIG(raw);
  return status_;
}

}  // namespace lifeline::bench
