#include "child_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace lifeline::hostile {

child_process::child_process(const std::vector<std::string>& argv) {
  int to_child[2], from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  // Built before fork(): the child may only call async-signal-safe functions.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    // Dies with the tool, even when the tool is killed with SIGKILL.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    ::dup2(to_child[0], STDIN_FILENO);
    ::dup2(from_child[1], STDOUT_FILENO);
    // Handlers do not survive exec, but an ignored signal stays ignored: start clean.
    std::signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    const char* const message = "lifeline_hostile: exec of a child failed\n";
    (void)::write(STDERR_FILENO, message, std::strlen(message));
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  stdin_fd_ = to_child[1];
  stdout_fd_ = from_child[0];
}

child_process::~child_process() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

bool child_process::write_line(const std::string& line) {
  if (stdin_fd_ < 0) return false;
  const std::string with_newline = line + "\n";
  std::size_t written = 0;
  while (written < with_newline.size()) {
    const auto n = ::write(stdin_fd_, with_newline.data() + written, with_newline.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    written += static_cast<std::size_t>(n);
  }
  return true;
}

void child_process::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

std::optional<std::string> child_process::take_buffered_line() {
  if (const auto newline = buffered_.find('\n'); newline != std::string::npos) {
    auto line = buffered_.substr(0, newline);
    buffered_.erase(0, newline + 1);
    return line;
  }
  if (stdout_fd_ < 0 && !buffered_.empty()) return std::exchange(buffered_, {});
  return std::nullopt;
}

void child_process::read_what_is_there() {
  char chunk[16384];
  const auto n = ::read(stdout_fd_, chunk, sizeof chunk);
  if (n < 0 && errno == EINTR) return;
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
    // A timeout already passed still looks once (poll with 0): what is there is taken.
    const auto left = std::max(std::chrono::milliseconds{0}, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                 until - std::chrono::steady_clock::now()));
    const int ready = ::poll(waiting.data(), waiting.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) return std::nullopt;  // a signal: let the caller look at its flag
    if (ready <= 0) return std::nullopt;
    for (std::size_t j = 0; j < waiting.size(); ++j)
      if (waiting[j].revents != 0) children[whose[j]]->read_what_is_there();
  }
}

void child_process::signal(int signal_number) {
  if (!exited_ && pid_ > 0) ::kill(pid_, signal_number);
}

int child_process::status_of(int raw) noexcept { return WIFEXITED(raw) ? WEXITSTATUS(raw) : -WTERMSIG(raw); }

bool child_process::has_exited() {
  if (exited_) return true;
  int raw = 0;
  if (::waitpid(pid_, &raw, WNOHANG) != pid_) return false;
  exited_ = true;
  status_ = status_of(raw);
  return true;
}

int child_process::wait(std::chrono::milliseconds grace) {
  const auto until = std::chrono::steady_clock::now() + grace;
  while (!has_exited()) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid_, SIGKILL);
      int raw = 0;
      ::waitpid(pid_, &raw, 0);
      exited_ = true;
      status_ = status_of(raw);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return status_;
}

}  // namespace lifeline::hostile
