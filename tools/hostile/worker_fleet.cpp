#include "worker_fleet.hpp"

#include "interrupt.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace lifeline::hostile {

std::size_t workers_needed(std::size_t total, std::size_t per_process) noexcept {
  if (per_process == 0) return 1;
  return std::max<std::size_t>(1, (total + per_process - 1) / per_process);
}

worker_fleet::worker_fleet(const worker_options& base, std::size_t total, std::size_t per_process) {
  const std::size_t n = workers_needed(total, per_process);
  for (std::size_t i = 0; i < n; ++i) {
    auto o = base;
    o.sessions = total / n + (i < total % n ? 1 : 0);
    if (!o.samples.empty()) o.samples += "." + std::to_string(i);
    options_.push_back(o);
    workers_.push_back(std::make_unique<child_process>(o.command_line()));
  }
  status_.resize(n);
  done_.assign(n, false);
}

worker_fleet::~worker_fleet() {
  if (!stopped_) stop(std::chrono::seconds{5}, [](std::size_t, const std::string&) {});
}

void worker_fleet::broadcast(const std::string& command) {
  for (auto& w : workers_) w->write_line(command);
}

void worker_fleet::take(std::size_t worker, const std::string& line, const line_handler& on_line) {
  if (line.rfind("STATUS ", 0) == 0) {
    std::istringstream fields(line.substr(7));
    for (std::string field; fields >> field;) {
      const auto eq = field.find('=');
      if (eq == std::string::npos) continue;
      try {
        status_[worker][field.substr(0, eq)] = std::stoull(field.substr(eq + 1));
      } catch (const std::exception&) {
      }
    }
    return;
  }
  if (line == "DONE") done_[worker] = true;
  on_line(worker, line);
}

bool worker_fleet::pump(std::chrono::milliseconds timeout, const line_handler& on_line) {
  std::vector<child_process*> all;
  for (auto& w : workers_) all.push_back(w.get());
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!interrupted()) {
    const auto left = std::max(std::chrono::milliseconds{0}, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                 until - std::chrono::steady_clock::now()));
    auto got = child_process::read_line_of_any(all, std::min(left, std::chrono::milliseconds{100}));
    if (got) take(got->first, got->second, on_line);
    else if (std::all_of(all.begin(), all.end(), [](auto* w) { return w->at_eof(); })) return false;
    else if (left.count() == 0) return true;  // what was there has been taken
  }
  return false;
}

std::optional<std::vector<std::string>> worker_fleet::wait_all(const std::string& prefix, std::chrono::milliseconds timeout,
                                                               const line_handler& on_line) {
  std::vector<std::optional<std::string>> found(workers_.size());
  std::vector<child_process*> all;
  for (auto& w : workers_) all.push_back(w.get());
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!interrupted()) {
    if (std::all_of(found.begin(), found.end(), [](const auto& f) { return f.has_value(); })) {
      std::vector<std::string> lines;
      for (auto& f : found) lines.push_back(std::move(*f));
      return lines;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto got = child_process::read_line_of_any(all, std::min(left, std::chrono::milliseconds{100}));
    if (!got) {
      for (std::size_t i = 0; i < all.size(); ++i)
        if (!found[i] && all[i]->at_eof()) return std::nullopt;  // a worker is gone
      continue;
    }
    if (!found[got->first] && got->second.rfind(prefix, 0) == 0) found[got->first] = got->second;
    else take(got->first, got->second, on_line);
  }
  return std::nullopt;
}

std::uint64_t worker_fleet::status_sum(const std::string& key) const {
  std::uint64_t sum = 0;
  for (const auto& s : status_)
    if (const auto it = s.find(key); it != s.end()) sum += it->second;
  return sum;
}

bool worker_fleet::stop(std::chrono::milliseconds timeout, const line_handler& on_line) {
  stopped_ = true;
  broadcast("STOP");
  for (auto& w : workers_) w->close_stdin();
  std::vector<child_process*> all;
  for (auto& w : workers_) all.push_back(w.get());
  const auto until = std::chrono::steady_clock::now() + timeout;
  bool finished = true;
  while (!std::all_of(done_.begin(), done_.end(), [](bool d) { return d; })) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      finished = false;
      break;
    }
    auto got = child_process::read_line_of_any(all, std::min(left, std::chrono::milliseconds{100}));
    if (got) take(got->first, got->second, on_line);
    else if (std::all_of(all.begin(), all.end(), [](auto* w) { return w->at_eof(); })) break;
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    finished = finished && done_[i];
    workers_[i]->wait(std::chrono::seconds{2});
  }
  return finished;
}

}  // namespace lifeline::hostile
