// flood: what one flooding client costs the others on its shard (issue 9, second
// measurement). The echo server runs with one shard (--server-threads 1); --normal-sessions
// well-behaved sessions beat at H and each send a small echo probe every
// --echo-interval-ms, measuring the round trip. A baseline window without the flood, then
// a window with one client writing heartbeats (--flood beats) or tiny data frames
// (--flood echo) as fast as its socket takes them. Reported: the normal sessions' echo
// p50 / p99 / max in each window and the ratio, the flooder's accepted byte rate, the
// server's CPU, whether the server closed the flooder (when, with which close code) and
// whether it closed any normal session. The server and the normal sessions' processes also
// report how long they waited for a core in each window: on a 2-core machine the flooder
// competes for CPU with both, and that part of a round trip is the machine's, not the
// server's design.
#include "clock.hpp"
#include "interrupt.hpp"
#include "proc_sampler.hpp"
#include "report.hpp"
#include "subcommands.hpp"
#include "worker_fleet.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace lifeline::hostile {
namespace {

using namespace std::chrono_literals;

struct window {
  std::int64_t from_ns = 0, to_ns = 0;
  double server_cpu_seconds = 0, server_waited_seconds = 0, clients_waited_seconds = 0;
  std::vector<double> round_trips_ms;
  [[nodiscard]] double seconds() const { return static_cast<double>(to_ns - from_ns) / 1e9; }
};

double clients_waited(const worker_fleet& fleet) {
  double seconds = 0;
  for (std::size_t i = 0; i < fleet.size(); ++i) seconds += run_queue_wait_seconds(fleet.pid_of(i));
  return seconds;
}

nlohmann::json to_json(const window& w) {
  const auto d = distribution_of(w.round_trips_ms);
  return {{"seconds", w.seconds()},
          {"echo_ms", to_json(d)},
          {"server_cpu_percent", w.seconds() > 0 ? 100.0 * w.server_cpu_seconds / w.seconds() : 0.0},
          {"server_waited_for_a_core_ms_per_s", w.seconds() > 0 ? 1000.0 * w.server_waited_seconds / w.seconds() : 0.0},
          {"clients_waited_for_a_core_ms_per_s", w.seconds() > 0 ? 1000.0 * w.clients_waited_seconds / w.seconds() : 0.0}};
}

}  // namespace

CLI::App* add_flood(CLI::App& app, flood_options& o) {
  auto* c = app.add_subcommand("flood", "normal sessions' echo round trip on one shard, without and with one flooding client");
  add_server_options(*c, o.server);
  c->add_option("--normal-sessions", o.normal_sessions, "well-behaved sessions measuring their echo round trip")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  c->add_option("--echo-interval-ms", o.echo_interval_ms, "each normal session sends one echo probe this often")
      ->capture_default_str()->check(CLI::Range(1L, 60'000L));
  c->add_option("--flooder-nice", o.flooder_nice,
                 "niceness added to the flooding process: an attacker is another machine, whose CPU this 2-core "
                 "one should not have to share with the server")
      ->capture_default_str()->check(CLI::Range(0, 19));
  c->add_option("--flood", o.flood, "what the flooder writes as fast as it can: beats (heartbeats) or echo (tiny data frames)")
      ->capture_default_str()->check(CLI::IsMember({"beats", "echo"}));
  c->add_option("--flood-payload-bytes", o.payload_bytes, "payload of each data frame of --flood echo")
      ->capture_default_str()->check(CLI::Range(std::size_t{0}, std::size_t{60'000}));
  c->add_option("--window-ms", o.window_ms, "length of the baseline window and of the flood window")
      ->capture_default_str()->check(CLI::Range(100L, 3'600'000L));
  c->add_option("--sessions-per-process", o.per_process, "normal sessions per worker process at most")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{19'000}));
  return c;
}

std::string check_flood(const flood_options& o) { return check_server_options(o.server); }

int run_flood(const flood_options& opts, const std::string& command) {
  auto o = opts;
  const auto limit = raise_descriptor_limit();
  if (o.normal_sessions + 1 + spare_descriptors > limit) {
    const auto fit = limit - spare_descriptors - 1;
    progress("--normal-sessions %zu clamped to %zu: the server is one process, and may hold %zu descriptors", o.normal_sessions, fit, limit);
    o.normal_sessions = fit;
  }
  if (o.per_process + spare_descriptors > limit) o.per_process = limit - spare_descriptors;
  say("flood: %zu normal sessions (echo every %ld ms) and one client flooding %s; server with %u shard(s); windows of %ld ms; "
      "H = %ld ms, T = %ld ms",
      o.normal_sessions, o.echo_interval_ms, o.flood == "beats" ? "heartbeats" : "tiny data frames", o.server.threads,
      o.window_ms, o.server.heartbeat_ms, o.server.dead_after_ms);

  echo_server_process server(echo_settings(o.server));
  rss_sampler memory(server.pid(), 100ms);
  const auto samples_dir = std::filesystem::temp_directory_path() / ("lifeline-hostile-" + std::to_string(::getpid()));
  std::filesystem::create_directories(samples_dir);
  struct remove_dir {
    std::filesystem::path p;
    ~remove_dir() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{samples_dir};

  std::map<std::string, std::size_t> normal_lost;
  std::vector<std::string> summaries;
  std::optional<std::pair<std::int64_t, std::string>> flood_end;
  std::uint64_t flooded_bytes = 0, flood_echoes = 0;
  std::int64_t flood_from = 0, flood_to = 0;
  const auto on_line = [&](std::size_t, const std::string& line) {
    std::istringstream fields(line);
    std::string word;
    fields >> word;
    if (word == "LOST") {
      std::string index, ns, how;
      fields >> index >> ns >> how;
      ++normal_lost[how];
    } else if (word == "FLOOD_END") {
      std::int64_t ns = 0;
      std::string how;
      fields >> ns >> how;
      if (!flood_end) flood_end = std::pair{ns, how};
    } else if (word == "FLOODED") {
      fields >> flooded_bytes >> flood_from >> flood_to >> flood_echoes;
    } else if (word == "SUMMARY") {
      summaries.push_back(line);
    }
  };

  worker_options normal{.role = "echo", .port = server.port(), .sessions = o.normal_sessions,
                        .heartbeat_ms = o.server.heartbeat_ms, .dead_after_ms = o.server.dead_after_ms, .connect_rate = 4000,
                        .echo_interval_ms = o.echo_interval_ms, .samples = (samples_dir / "echo").string()};
  worker_fleet normals(normal, o.normal_sessions, o.per_process);
  std::optional<std::vector<std::string>> ready;
  for (auto until = std::chrono::steady_clock::now() + 60s; !ready && std::chrono::steady_clock::now() < until && !interrupted();) {
    ready = normals.wait_all("READY", 1s, on_line);
    if (!ready) progress("opening: %llu of %zu normal sessions open", static_cast<unsigned long long>(normals.status_sum("open")), o.normal_sessions);
  }
  if (!ready) {
    if (!interrupted()) progress("error: the normal sessions did not open");
    return interrupted() ? 130 : 1;
  }
  std::size_t opened = 0;
  for (const auto& line : *ready) opened += std::stoul(line.substr(6));
  worker_options flooding{.role = "flooder", .port = server.port(), .sessions = 1, .heartbeat_ms = o.server.heartbeat_ms,
                          .dead_after_ms = o.server.dead_after_ms, .flood = o.flood, .payload_bytes = o.payload_bytes,
                          .nice = o.flooder_nice};
  worker_fleet flooder(flooding, 1, 1);
  if (!flooder.wait_all("READY", 10s, on_line)) {
    if (!interrupted()) progress("error: the flooder did not open its session");
    return interrupted() ? 130 : 1;
  }
  progress("%zu normal sessions and the flooder open; warming up 1 s", opened);
  normals.pump(1s, on_line);

  const auto measure = [&](window& w, const char* name) {
    w.from_ns = monotonic_ns(steady::now());
    const double cpu0 = cpu_seconds(server.pid()), waited0 = clients_waited(normals);
    const double server_waited0 = run_queue_wait_seconds(server.pid());
    progress_pacer pacer;
    for (auto until = steady::now() + milliseconds{o.window_ms}; steady::now() < until && !interrupted();) {
      normals.pump(std::min(milliseconds{1000}, std::chrono::ceil<milliseconds>(until - steady::now())), on_line);
      flooder.pump(0ms, on_line);
      if (!pacer.due()) continue;
      progress("%s window: %llu echoes so far; server CPU %.0f %% of a core so far; flooder took %.1f MiB", name,
               static_cast<unsigned long long>(normals.status_sum("echoes")),
               100.0 * (cpu_seconds(server.pid()) - cpu0) / std::max(1e-3, static_cast<double>(monotonic_ns(steady::now()) - w.from_ns) / 1e9),
               to_mib(static_cast<std::int64_t>(flooder.status_sum("flooded"))));
    }
    w.to_ns = monotonic_ns(steady::now());
    w.server_cpu_seconds = cpu_seconds(server.pid()) - cpu0;
    w.clients_waited_seconds = clients_waited(normals) - waited0;
    w.server_waited_seconds = run_queue_wait_seconds(server.pid()) - server_waited0;
  };
  window baseline, flood;
  measure(baseline, "baseline");
  flooder.broadcast("FLOOD");
  measure(flood, "flood");
  flooder.stop(10s, on_line);
  normals.broadcast("QUIET");
  normals.pump(std::max(1000L, o.echo_interval_ms * 2) * 1ms, on_line);
  normals.stop(30s, on_line);
  const auto peak_rss = memory.peak_between(std::chrono::steady_clock::time_point{}, std::chrono::steady_clock::now());
  const auto tally = server.stop();
  if (interrupted()) return 130;

  std::size_t probes = 0, echoes = 0, skipped = 0;
  for (const auto& s : summaries) {
    std::istringstream fields(s.substr(8));
    for (std::string field; fields >> field;) {
      const auto eq = field.find('=');
      const auto value = eq == std::string::npos ? 0 : std::stoul(field.substr(eq + 1));
      if (field.rfind("probes=", 0) == 0) probes += value;
      if (field.rfind("echoes=", 0) == 0) echoes += value;
      if (field.rfind("skipped=", 0) == 0) skipped += value;
    }
  }
  for (std::size_t i = 0; i < normals.size(); ++i) {
    std::ifstream in(normals.options_of(i).samples);
    long long sent = 0, round_trip = 0;
    while (in >> sent >> round_trip) {
      auto* w = sent >= baseline.from_ns && sent < baseline.to_ns ? &baseline : sent >= flood.from_ns && sent < flood.to_ns ? &flood : nullptr;
      if (w) w->round_trips_ms.push_back(static_cast<double>(round_trip) / 1e6);
    }
  }
  const auto b = distribution_of(baseline.round_trips_ms), f = distribution_of(flood.round_trips_ms);
  const double flood_seconds = static_cast<double>(flood_to - flood_from) / 1e9;
  const double flood_rate = flood_seconds > 0 ? to_mib(static_cast<std::int64_t>(flooded_bytes)) / flood_seconds : 0;
  std::size_t lost = 0;
  std::string lost_how;
  for (const auto& [how, n] : normal_lost) {
    lost += n;
    lost_how += " " + how + "=" + std::to_string(n);
  }

  say("%s", "");
  say("%-9s %8s %9s %9s %9s %11s %21s %22s", "window", "echoes", "p50 ms", "p99 ms", "max ms", "server CPU", "server waited ms/s",
      "clients waited ms/s");
  for (const auto* w : {&baseline, &flood}) {
    const auto d = distribution_of(w->round_trips_ms);
    say("%-9s %8zu %9.2f %9.2f %9.2f %10.0f%% %21.0f %22.0f", w == &baseline ? "baseline" : "flood", d.count, d.p50, d.p99, d.max,
        100.0 * w->server_cpu_seconds / w->seconds(), 1000.0 * w->server_waited_seconds / w->seconds(),
        1000.0 * w->clients_waited_seconds / w->seconds());
  }
  say("flood p99 / baseline p99: %.1fx (p50 %.1fx)", b.p99 > 0 ? f.p99 / b.p99 : 0.0, b.p50 > 0 ? f.p50 / b.p50 : 0.0);
  say("flooder (%s): %.1f MiB taken by its socket in %.2f s = %.1f MiB/s; %llu frames read back", o.flood.c_str(),
      to_mib(static_cast<std::int64_t>(flooded_bytes)), flood_seconds, flood_rate, static_cast<unsigned long long>(flood_echoes));
  if (flood_end)
    say("the server closed the flooder %.2f s into the flood: %s", static_cast<double>(flood_end->first - flood.from_ns) / 1e9,
        flood_end->second.c_str());
  else
    say("the server did not close the flooder");
  say("normal sessions closed by the server: %zu%s%s", lost, lost_how.empty() ? "" : ":", lost_how.c_str());
  say("echo probes: %zu sent, %zu answered, %zu skipped (socket backed up); server peak RSS %.1f MiB", probes, echoes, skipped, to_mib(peak_rss));
  std::string server_view;
  for (const auto& [why, n] : tally.closed) server_view += " " + why + "=" + std::to_string(n);
  say("the server's own account: %llu sessions opened; closed:%s", static_cast<unsigned long long>(tally.opened), server_view.c_str());

  const nlohmann::json figures = {
      {"subcommand", "flood"},
      {"command", command},
      {"machine", machine_context()},
      {"settings", {{"server", to_json(o.server)}, {"normal_sessions", o.normal_sessions}, {"echo_interval_ms", o.echo_interval_ms},
                    {"flood", o.flood}, {"flood_payload_bytes", o.payload_bytes}, {"window_ms", o.window_ms}}},
      {"server_command", server.command()},
      {"normal_sessions_opened", opened},
      {"baseline", to_json(baseline)},
      {"flood", to_json(flood)},
      {"p99_ratio", b.p99 > 0 ? f.p99 / b.p99 : 0.0},
      {"flooder", {{"bytes_taken", flooded_bytes}, {"seconds", flood_seconds}, {"mib_per_s", flood_rate}, {"frames_read_back", flood_echoes},
                   {"closed_after_s", flood_end ? nlohmann::json(static_cast<double>(flood_end->first - flood.from_ns) / 1e9) : nlohmann::json()},
                   {"closed_how", flood_end ? nlohmann::json(flood_end->second) : nlohmann::json()}}},
      {"normal_sessions_closed", normal_lost},
      {"echo_probes", {{"sent", probes}, {"answered", echoes}, {"skipped", skipped}}},
      {"server_peak_rss_mib", to_mib(peak_rss)},
      {"server_tally", {{"opened", tally.opened}, {"closed", tally.closed}}}};
  const bool written = emit_json(figures, o.server.json_path);
  return written && b.count > 0 && f.count > 0 && flooded_bytes > 0 ? 0 : 1;
}

}  // namespace lifeline::hostile
