#include "proc_sampler.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace lifeline::hostile {
namespace {

std::int64_t status_field_bytes(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return -1;
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream value(line.substr(field.size() + 1));
    std::int64_t kib = 0;
    value >> kib;  // "VmRSS:	  10240 kB"
    return kib * 1024;
  }
  return -1;
}

}  // namespace

std::int64_t resident_bytes(pid_t pid) { return status_field_bytes(pid, "VmRSS"); }
std::int64_t peak_resident_bytes(pid_t pid) { return status_field_bytes(pid, "VmHWM"); }

bool reset_peak_resident(pid_t pid) {
  std::ofstream clear_refs("/proc/" + std::to_string(pid) + "/clear_refs");
  if (!clear_refs) return false;
  clear_refs << "5\n";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  const std::string content((std::istreambuf_iterator<char>(stat)), {});
  const auto after_name = content.rfind(')');  // the name may hold spaces and parentheses
  if (after_name == std::string::npos || after_name + 2 > content.size()) return 0;
  std::istringstream fields(content.substr(after_name + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double run_queue_wait_seconds(pid_t pid) {
  double seconds = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream stat(task.path() / "schedstat");
    long long on_cpu = 0, waiting = 0;
    if (stat >> on_cpu >> waiting) seconds += static_cast<double>(waiting) / 1e9;
  }
  return seconds;
}

rss_sampler::rss_sampler(pid_t pid, std::chrono::milliseconds period) : pid_(pid), period_(period) {
  sample_now();
  thread_ = std::thread([this] { run(); });
}

rss_sampler::~rss_sampler() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  thread_.join();
}

std::int64_t rss_sampler::sample_now() {
  const auto bytes = resident_bytes(pid_);
  std::lock_guard lock(mutex_);
  samples_.push_back({clock::now(), bytes});
  return bytes;
}

void rss_sampler::run() {
  auto next = clock::now() + period_;
  for (;;) {
    std::this_thread::sleep_until(next);
    next += period_;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    sample_now();
  }
}

std::int64_t rss_sampler::peak_between(clock::time_point from, clock::time_point to) const {
  std::lock_guard lock(mutex_);
  std::int64_t peak = -1, before = -1;
  for (const auto& s : samples_) {
    if (s.at < from) before = s.bytes;
    else if (s.at <= to && s.bytes > peak) peak = s.bytes;
  }
  return peak >= 0 ? peak : before;
}

std::vector<rss_sampler::sample> rss_sampler::samples() const {
  std::lock_guard lock(mutex_);
  return samples_;
}

}  // namespace lifeline::hostile
