// bench/detection/proc_readings.cpp — the /proc and clock readers of proc_readings.hpp.
// Text parsing of the kernel's own formats (stat, statm, schedstat); a field that cannot be
// read counts as zero rather than stopping a benchmark run.
#include "proc_readings.hpp"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

namespace fs = std::filesystem;

namespace lifeline::bench {

ns_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<ns_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  const auto after_name = content.rfind(')');
  if (after_name == std::string::npos) return 0;
  std::istringstream fields(content.substr(after_name + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long rss_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

machine_time machine_time_now() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  long long field = 0;
  machine_time t;
  stat >> cpu;  // "cpu": user nice system idle iowait irq softirq steal guest guest_nice
  for (int i = 0; i < 8 && stat >> field; ++i) {
    t.total += field;
    if (i == 7) t.steal = field;
  }
  return t;
}

run_queue_wait run_queue_wait_of(pid_t pid) {
  run_queue_wait w;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream stat(task.path() / "schedstat");
    long long on_cpu = 0, waiting = 0, runs = 0;
    if (stat >> on_cpu >> waiting >> runs) {
      w.seconds += static_cast<double>(waiting) / 1e9;
      w.runs += runs;
    }
  }
  return w;
}

bool is_stopped(pid_t pid) {
  std::error_code ec;
  bool any = false;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream stat(task.path() / "stat");
    const std::string content((std::istreambuf_iterator<char>(stat)), {});
    const auto after_name = content.rfind(')');  // the name may hold spaces and parentheses
    if (after_name == std::string::npos || after_name + 2 >= content.size() || content[after_name + 2] != 'T')
      return false;
    any = true;
  }
  return any;
}

}  // namespace lifeline::bench
