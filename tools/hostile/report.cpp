#include "report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <fstream>

namespace lifeline::hostile {

distribution distribution_of(std::vector<double> values) {
  distribution d;
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  const auto rank = [&](double q) {
    const auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(i, 1, values.size()) - 1];
  };
  d.count = values.size();
  d.min = values.front();
  d.p50 = rank(0.50);
  d.p99 = rank(0.99);
  d.max = values.back();
  return d;
}

nlohmann::json to_json(const distribution& d) {
  return {{"count", d.count}, {"min", d.min}, {"p50", d.p50}, {"p99", d.p99}, {"max", d.max}};
}

double to_mib(std::int64_t bytes) noexcept { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void progress(const char* format, ...) {
  std::fputs("lifeline_hostile: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
}

void say(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

bool emit_json(const nlohmann::json& figures, const std::string& path) {
  std::printf("%s\n", figures.dump().c_str());
  std::fflush(stdout);
  if (path.empty()) return true;
  std::ofstream out(path);
  out << figures.dump(2) << "\n";
  out.close();
  if (!out) {
    progress("error: cannot write %s", path.c_str());
    return false;
  }
  return true;
}

nlohmann::json machine_context() {
  double load[3] = {0, 0, 0};
  const int got = ::getloadavg(load, 3);
  utsname name{};
  ::uname(&name);
  return {{"cores", ::sysconf(_SC_NPROCESSORS_ONLN)},
          {"load_average_1m", got > 0 ? load[0] : -1.0},
          {"kernel", std::string(name.release)}};
}

std::string command_text(int argc, char** argv) {
  std::string text;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i == 0) arg = arg.substr(arg.rfind('/') == std::string::npos ? 0 : arg.rfind('/') + 1);
    const bool plain = !arg.empty() && arg.find_first_of(" \t\"'$\\*?;&|<>()") == std::string::npos;
    if (!text.empty()) text += ' ';
    text += plain ? arg : "'" + arg + "'";
  }
  return text;
}

}  // namespace lifeline::hostile
