// tools/hostile/report.hpp — how every subcommand reports: a short readable report on
// stdout, then its figures as one JSON line on stdout (and in --json FILE when given), and
// progress lines on stderr while it runs.
//
// A measurement is reported as measured, with the goal it is set against beside it
// ("goal met" / "goal NOT met"), but the exit status says only whether the chain worked
// (0), failed (1) or was asked something impossible (2): goals are benchmark figures.
//
//   progress("wave %d: %zu of %zu sessions open", wave, open, total);
//   nlohmann::json j = {{"subcommand", "flood"}, ...};
//   emit_json(j, options.json_path);
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lifeline::hostile {

/// Quantiles of a sample (nearest rank); all zero when it is empty.
struct distribution {
  std::size_t count = 0;
  double min = 0, p50 = 0, p99 = 0, max = 0;
};
[[nodiscard]] distribution distribution_of(std::vector<double> values);
[[nodiscard]] nlohmann::json to_json(const distribution& d);

[[nodiscard]] double to_mib(std::int64_t bytes) noexcept;

/// "lifeline_hostile: <message>" on stderr, printf-style.
[[gnu::format(printf, 1, 2)]] void progress(const char* format, ...);
/// True at most once per `period`: progress lines in a loop whose turns may be short.
class progress_pacer {
 public:
  explicit progress_pacer(std::chrono::milliseconds period = std::chrono::milliseconds{1000})
      : period_(period), next_(std::chrono::steady_clock::now() + period) {}
  [[nodiscard]] bool due() {
    const auto now = std::chrono::steady_clock::now();
    if (now + std::chrono::milliseconds{50} < next_) return false;  // a loop turn of ~period counts
    next_ = std::max(next_ + period_, now);
    return true;
  }

 private:
  std::chrono::milliseconds period_;
  std::chrono::steady_clock::time_point next_;
};

/// One line of the readable report on stdout, printf-style.
[[gnu::format(printf, 1, 2)]] void say(const char* format, ...);

/// The JSON line on stdout, and `path` (when not empty) with the same object, pretty.
/// False if the file could not be written.
bool emit_json(const nlohmann::json& figures, const std::string& path);

/// What the machine looked like at the start: load average, cores, the kernel.
[[nodiscard]] nlohmann::json machine_context();

/// The command line the tool was run with, quoted for a shell where needed.
[[nodiscard]] std::string command_text(int argc, char** argv);

}  // namespace lifeline::hostile
