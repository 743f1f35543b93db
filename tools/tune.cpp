// lifeline_tune: choose a heartbeat interval from evidence.
//
// Sweeps the heartbeat interval H and the dead-after timeout T (as a multiple of H) under
// a jitter / loss profile on the live sessions, and, for comparison, kernel keepalive
// alone at the probe settings given (idle/interval/count, no heartbeats). Each point is
// one run of the detection benchmark (one strategy): K sessions die with the chosen
// fault, the rest keep beating through the jitter and loss. For each point it reports
// detection p99, false kills, server CPU and wire bytes per session, plots the trade-off,
// and recommends the cheapest point that meets the target detection time and the
// false-kill budget.
//
//   lifeline_tune --heartbeat-ms 250,500,1000 --multiples 2,3,4 --keepalive 1/1/2,2/1/3
//                 --jitter-ms 200 --loss 0.05 --target-ms 3000 --max-false-kills 0
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct point {
  std::string setting;  // "H1000/T3000" (lifeline) or "keepalive 1/1/2" (kernel alone)
  long heartbeat_ms = 0;
  long dead_after_ms = 0;
  double detection_p99_ms = NAN;
  std::size_t misses = 0, false_kills = 0, doomed = 0;
  double cpu_pct = NAN, bytes_per_session_second = NAN;
  bool meets = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sweep heartbeat interval and timeout under jitter and loss; recommend the cheapest setting "
               "that detects dead peers within a target and stays within a false-kill budget"};
  std::vector<long> intervals{250, 500, 1000, 2000};
  std::vector<double> multiples{2, 3, 4};
  std::vector<std::string> keepalive_settings;  // "idle/interval/count", seconds
  double server_beat_multiple = 0;              // 0: the library's default
  std::size_t sessions = 2000;
  double kill_share = 0.25;
  std::string fault = "hung";
  long jitter_ms = 100;
  double loss = 0.02;
  double target_ms = 3000;
  std::size_t max_false_kills = 0;
  std::string out_dir = "tuning-results";
  std::string bench = (fs::canonical("/proc/self/exe").parent_path().parent_path() / "bench/lifeline_detection_bench").string();
  app.add_option("--heartbeat-ms", intervals, "heartbeat intervals H to try")->delimiter(',')->capture_default_str();
  app.add_option("--multiples", multiples, "T as multiples of H")->delimiter(',')->capture_default_str();
  app.add_option("--keepalive", keepalive_settings,
                 "kernel keepalive alone, as idle/interval/count in seconds (e.g. 1/1/2), one point each")
      ->delimiter(',');
  app.add_option("--server-beat-multiple", server_beat_multiple,
                 "lifeline's own server beat as a multiple of H (0: the library default, 10)")
      ->capture_default_str();
  app.add_option("--sessions,-n", sessions, "sessions per run")->capture_default_str();
  app.add_option("--kill-share", kill_share, "share killed per run")->capture_default_str();
  app.add_option("--fault", fault, "fault kind (see lifeline_detection_bench --help)")->capture_default_str();
  app.add_option("--jitter-ms", jitter_ms, "live sessions' heartbeats delayed by up to this")->capture_default_str();
  app.add_option("--loss", loss, "share of live sessions' heartbeats withheld")->capture_default_str();
  app.add_option("--target-ms", target_ms, "detection p99 must be at most this")->capture_default_str();
  app.add_option("--max-false-kills", max_false_kills, "false kills allowed per run")->capture_default_str();
  app.add_option("--out", out_dir, "directory for CSV, JSON and plot")->capture_default_str();
  app.add_option("--bench", bench, "the lifeline_detection_bench binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  fs::create_directories(out_dir);
  std::vector<point> points;
  const auto total = intervals.size() * multiples.size() + keepalive_settings.size();
  // One run of the detection benchmark; false if it failed (its log says why).
  const auto run_point = [&](point& p, const std::string& strategy, const std::string& extra) {
    std::string dir_name = p.setting;
    for (auto& c : dir_name) if (c == '/' || c == ' ') c = '_';
    const auto run_dir = fs::path(out_dir) / dir_name;
    std::printf("[%zu/%zu] %s ...\n", points.size() + 1, total, p.setting.c_str());
    std::fflush(stdout);
    // --cost-windows 0: one strategy per run, so its steady CPU is measured in the run itself.
    const std::string command = bench + " --strategies " + strategy + " --sessions " + std::to_string(sessions) +
                                " --kill-share " + std::to_string(kill_share) + " --fault " + fault +
                                " --heartbeat-ms " + std::to_string(p.heartbeat_ms) + " --dead-after-ms " +
                                std::to_string(p.dead_after_ms) + " --jitter-ms " + std::to_string(jitter_ms) +
                                " --loss " + std::to_string(loss) + " --steady-seconds 3 --cost-windows 0" + extra +
                                " --out " + run_dir.string() + " > " + (run_dir.string() + ".log") + " 2>&1";
    fs::create_directories(run_dir);
    if (std::system(command.c_str()) != 0) {
      std::fprintf(stderr, "lifeline_tune: the run failed, see %s.log\n", run_dir.c_str());
      return false;
    }
    const auto doc = nlohmann::json::parse(std::ifstream(run_dir / "detection.json"));
    const auto& r = doc["strategies"][0];
    const auto number = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : NAN; };
    p.detection_p99_ms = number(r["detection_ms"]["p99"]);
    p.misses = r["misses"];
    p.false_kills = r["false_kills"];
    p.doomed = r["doomed"];
    p.cpu_pct = number(r["cpu_steady_pct"]);
    p.bytes_per_session_second = number(r["wire_bytes_per_session_second"]);
    p.meets = p.misses == 0 && p.false_kills <= max_false_kills && p.detection_p99_ms <= target_ms;
    points.push_back(p);
    return true;
  };
  for (const long h : intervals) {
    for (const double m : multiples) {
      point p;
      p.heartbeat_ms = h;
      p.dead_after_ms = std::lround(static_cast<double>(h) * m);
      p.setting = "H" + std::to_string(h) + "/T" + std::to_string(p.dead_after_ms);
      const std::string server_beat =
          server_beat_multiple > 0
              ? " --server-heartbeat-ms " + std::to_string(std::lround(static_cast<double>(h) * server_beat_multiple))
              : "";
      if (!run_point(p, "lifeline", server_beat)) return 1;
    }
  }
  for (const auto& setting : keepalive_settings) {
    long idle = 0, interval = 0, count = 0;
    char tail = 0;
    if (std::sscanf(setting.c_str(), "%ld/%ld/%ld%c", &idle, &interval, &count, &tail) != 3 || idle < 1 ||
        interval < 1 || count < 1 || count > 127) {
      std::fprintf(stderr, "lifeline_tune: --keepalive: '%s' is not idle/interval/count in seconds (count 1..127)\n",
                   setting.c_str());
      return 2;
    }
    point p;
    p.dead_after_ms = (idle + interval * count) * 1000;  // when keepalive gives up: the T it stands for
    // Without heartbeats the clients need not beat at all; the load generator always does,
    // so it beats as seldom as the benchmark allows (just under T), and the kernel's probes
    // of idle live sessions show in the cost as they would.
    p.heartbeat_ms = p.dead_after_ms - 1;
    p.setting = "keepalive " + setting;
    if (!run_point(p, "keepalive",
                   " --keepalive-idle-s " + std::to_string(idle) + " --keepalive-interval-s " +
                       std::to_string(interval) + " --keepalive-count " + std::to_string(count)))
      return 1;
  }

  std::printf("\nHeartbeat tuning: %zu sessions, %.0f %% killed (%s), live beats jittered by up to %ld ms and "
              "%.1f %% withheld\n\n",
              sessions, 100 * kill_share, fault.c_str(), jitter_ms, 100 * loss);
  std::printf("%-20s %12s %7s %7s %9s %10s %6s\n", "setting", "detect p99", "misses", "false", "cpu %", "B/s/sess",
              "meets");
  std::ofstream csv(fs::path(out_dir) / "tuning.csv");
  csv << "heartbeat_ms,dead_after_ms,detection_p99_ms,misses,false_kills,cpu_pct,bytes_per_session_second,meets,"
         "setting\n";
  const point* best = nullptr;
  for (const auto& p : points) {
    std::printf("%-20s %12.0f %7zu %7zu %9.2f %10.1f %6s\n", p.setting.c_str(), p.detection_p99_ms, p.misses,
                p.false_kills, p.cpu_pct, p.bytes_per_session_second, p.meets ? "yes" : "no");
    csv << p.heartbeat_ms << ',' << p.dead_after_ms << ',' << p.detection_p99_ms << ',' << p.misses << ','
        << p.false_kills << ',' << p.cpu_pct << ',' << p.bytes_per_session_second << ',' << p.meets << ','
        << p.setting << '\n';
    // Cheapest: fewest wire bytes (what heartbeats cost, and what CPU follows), then CPU.
    if (p.meets && (best == nullptr || p.bytes_per_session_second < best->bytes_per_session_second ||
                    (p.bytes_per_session_second == best->bytes_per_session_second && p.cpu_pct < best->cpu_pct)))
      best = &p;
  }
  csv.close();

  std::ofstream plot(fs::path(out_dir) / "tuning.gnuplot");
  plot << "set terminal svg size 900,540 dynamic\nset output '" << (fs::path(out_dir) / "tuning.svg").string()
       << "'\nset datafile separator ','\nset title 'Detection p99 against heartbeat cost'\n"
       << "set xlabel 'wire bytes per session per second'\nset ylabel 'detection p99 (ms)'\nset grid\n"
       << "set arrow from graph 0, first " << target_ms << " to graph 1, first " << target_ms << " nohead dt 2\n"
       << "plot '" << (fs::path(out_dir) / "tuning.csv").string()
       << "' every ::1 using 7:3:9 with labels point pt 7 offset 0,1 notitle\n";
  plot.close();
  if (std::system(("gnuplot " + (fs::path(out_dir) / "tuning.gnuplot").string() + " 2>/dev/null").c_str()) == 0)
    std::printf("\nplot: %s\n", (fs::path(out_dir) / "tuning.svg").c_str());

  if (best == nullptr) {
    std::printf("no setting met detection p99 <= %.0f ms with at most %zu false kills: widen the sweep\n", target_ms,
                max_false_kills);
    return 3;
  }
  if (best->setting.starts_with("keepalive")) {
    std::printf("recommended: %s (kernel alone, no heartbeats; detection p99 %.0f ms, %zu false kills, %.1f B/s per "
                "session, %.2f %% CPU); it cannot see a hung peer: check with --fault hung\n",
                best->setting.c_str(), best->detection_p99_ms, best->false_kills, best->bytes_per_session_second,
                best->cpu_pct);
    return 0;
  }
  std::printf("recommended: heartbeat_interval = %ld ms, dead_after = %ld ms (detection p99 %.0f ms, %zu false kills, "
              "%.1f B/s per session, %.2f %% CPU)\n",
              best->heartbeat_ms, best->dead_after_ms, best->detection_p99_ms, best->false_kills,
              best->bytes_per_session_second, best->cpu_pct);
  return 0;
}
