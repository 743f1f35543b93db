// lifeline_micro_bench: Google Benchmark, plus a closing table that puts the deadline
// strategies side by side as ratios to lifeline's wheel, measured in this one run.
//
//   lifeline_micro_bench                      all benchmarks (about two minutes)
//   lifeline_micro_bench --smoke              one tiny pass at 1,000 sessions (for ctest)
//   lifeline_micro_bench --benchmark_filter=touch   any Google Benchmark flag works
//   lifeline_micro_bench --benchmark_filter=delivery  poll mode against callbacks, per message
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace lifeline::bench {
void register_deadline_benchmarks();
void register_codec_benchmarks();
void register_delivery_benchmarks();
}  // namespace lifeline::bench

namespace {

constexpr const char* strategies[] = {"wheel", "wheel_eager", "heap", "asio_timer", "list"};
constexpr const char* operations[] = {"schedule_cancel", "touch_and_expire", "touch_and_expire_30hz", "expire"};

// Records ns per item of every deadline benchmark while printing as usual.
class comparison_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      const auto items = run.counters.find("items_per_second");
      if (items == run.counters.end() || items->second.value <= 0) continue;
      // Names look like "touch_and_expire/wheel/100000".
      const auto name = run.benchmark_name();
      if (name == "reactor_turn/asio_poll") reactor_turn_ns_ = 1e9 / items->second.value;
      const auto first = name.find('/'), last = name.rfind('/');
      if (first == std::string::npos || first == last) continue;
      const auto sessions = name.substr(last + 1);
      if (sessions.find_first_not_of("0123456789") != std::string::npos) continue;  // not a deadline benchmark
      ns_per_item_[{name.substr(0, first), std::stol(sessions), name.substr(first + 1, last - first - 1)}] =
          1e9 / items->second.value;
    }
  }

  void print_comparison() const {
    std::printf("\nDeadline strategies: ns per operation, and in brackets the ratio to lifeline's wheel\n");
    std::printf("(same run, same simulated workload; lower is better)\n\n");
    std::printf("%-21s %9s", "operation", "sessions");
    for (const auto* s : strategies) std::printf(" %19s", s);
    std::printf("\n");
    for (const auto* op : operations) {
      for (const long n : {1'000L, 10'000L, 100'000L, 1'000'000L}) {
        const auto wheel = find(op, n, "wheel");
        if (!wheel) continue;
        std::printf("%-21s %9ld", op, n);
        for (const auto* s : strategies) {
          if (const auto v = find(op, n, s)) std::printf(" %10.1f (%5.1fx)", *v, *v / *wheel);
          else std::printf(" %19s", "-");
        }
        std::printf("\n");
      }
    }
    if (reactor_turn_ns_ > 0) {
      std::printf("\nOne Asio reactor turn with a due timer (epoll_wait + timerfd_settime) costs %.0f ns;\n"
                  "asio_timer pays it once per simulated 4 ms turn, as would a shard waking to advance its wheel.\n",
                  reactor_turn_ns_);
    }
    if (const auto wheel = find("touch_and_expire", 100'000, "wheel")) {
      if (const auto asio = find("touch_and_expire", 100'000, "asio_timer")) {
        const double ratio = *asio / *wheel;
        std::printf("\ntouch+expiry at 100,000 sessions: asio_timer costs %.1fx the wheel per operation "
                    "(target: at least 10x) -> %s\n", ratio, ratio >= 10 ? "met" : "NOT met");
        if (reactor_turn_ns_ > 0) {
          const double touches_per_turn = 100'000.0 * 4 / 1000;
          const double without_reactor = *asio - reactor_turn_ns_ / touches_per_turn;
          std::printf("  without its reactor turn (%.1f ns per touch): %.1fx\n", reactor_turn_ns_ / touches_per_turn,
                      without_reactor / *wheel);
        }
      }
    }
  }

 private:
  const double* find(const std::string& op, long n, const std::string& strategy) const {
    const auto it = ns_per_item_.find({op, n, strategy});
    return it == ns_per_item_.end() ? nullptr : &it->second;
  }
  std::map<std::tuple<std::string, long, std::string>, double> ns_per_item_;
  double reactor_turn_ns_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  std::string smoke_filter = "--benchmark_filter=(/1000$)|(^codec/)|(^delivery/)|(^reactor_turn/)|(_30hz/.*/10000$)";
  for (auto it = args.begin(); it != args.end(); ++it) {
    if (std::strcmp(*it, "--smoke") == 0) {
      *it = smoke_filter.data();
      break;
    }
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;

  lifeline::bench::register_deadline_benchmarks();
  lifeline::bench::register_codec_benchmarks();
  lifeline::bench::register_delivery_benchmarks();

  comparison_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_comparison();
  benchmark::Shutdown();
  return 0;
}
