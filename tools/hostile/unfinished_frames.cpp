// unfinished-frames: memory a server gives to frames that never finish (issue 9, first
// measurement). Per wave: --sessions raw sessions open (hello, welcome, beats), each then
// sends a length prefix announcing --frame-bytes and only --send-bytes of the body, and
// holds its socket; then the attacker resets every socket and the server is left to
// settle. The server's VmRSS is sampled every 100 ms throughout (and VmHWM, reset per
// wave, catches what the samples miss): before the wave, with the sessions open, at the
// peak, and after. The server may close attack sessions on its own (frame_timeout, a
// memory budget): each such close is reported with when (after its frame's first byte)
// and how (the close frame's code, or a reset), and not fought.
#include "clock.hpp"
#include "interrupt.hpp"
#include "proc_sampler.hpp"
#include "report.hpp"
#include "subcommands.hpp"
#include "worker_fleet.hpp"

#include <map>
#include <sstream>

namespace lifeline::hostile {
namespace {

using namespace std::chrono_literals;

struct wave_figures {
  std::size_t opened = 0, failed = 0, attacked = 0, fully_sent = 0;
  std::string failures;
  std::int64_t before = 0, with_sessions = 0, peak = 0, kernel_peak = -1, after = 0;
  double send_seconds = 0;
  std::size_t ended_before_attack = 0;
  std::map<std::string, std::size_t> ended_by;  // closed by the server after the attack began
  std::vector<double> ended_after_ms;          // since each one's frame began
};

nlohmann::json to_json(const wave_figures& w) {
  return {{"sessions_opened", w.opened},
          {"sessions_failed", w.failed},
          {"attacked", w.attacked},
          {"frames_fully_sent", w.fully_sent},
          {"send_seconds", w.send_seconds},
          {"rss_before_mib", to_mib(w.before)},
          {"rss_with_sessions_mib", to_mib(w.with_sessions)},
          {"rss_peak_mib", to_mib(w.peak)},
          {"rss_kernel_peak_mib", w.kernel_peak < 0 ? nlohmann::json() : nlohmann::json(to_mib(w.kernel_peak))},
          {"rss_after_mib", to_mib(w.after)},
          {"after_over_before", w.before > 0 ? static_cast<double>(w.after) / static_cast<double>(w.before) : 0.0},
          {"closed_by_server_before_attack", w.ended_before_attack},
          {"closed_by_server", w.ended_by},
          {"closed_after_frame_start_ms", to_json(distribution_of(w.ended_after_ms))}};
}

// "ENDED <ns> <how> <ms since its frame began, or -1>"
void note_ended(wave_figures& w, const std::string& line) {
  std::istringstream fields(line.substr(6));
  long long ns = 0, since = -1;
  std::string how;
  fields >> ns >> how >> since;
  if (since < 0) {
    ++w.ended_before_attack;
    return;
  }
  ++w.ended_by[how];
  w.ended_after_ms.push_back(static_cast<double>(since));
}

std::size_t closed_count(const wave_figures& w) {
  std::size_t n = 0;
  for (const auto& [how, count] : w.ended_by) n += count;
  return n;
}

}  // namespace

CLI::App* add_unfinished_frames(CLI::App& app, unfinished_frames_options& o) {
  auto* c = app.add_subcommand("unfinished-frames",
                               "RSS of lifeline_echo_server while sessions hold frames they never finish, and after they go");
  add_server_options(*c, o.server);
  c->add_option("--sessions", o.sessions, "attacking sessions per wave")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  c->add_option("--frame-bytes", o.frame_bytes, "body length each frame's prefix announces")
      ->capture_default_str()->check(CLI::Range(std::size_t{2}, std::size_t{16} << 20));
  c->add_option("--send-bytes", o.send_bytes, "body bytes actually sent (< --frame-bytes)")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{16} << 20));
  c->add_option("--waves", o.waves, "attack waves, one after the other")->capture_default_str()->check(CLI::Range(1u, 100u));
  c->add_option("--hold-ms", o.hold_ms, "how long the frames are held after the last byte went")
      ->capture_default_str()->check(CLI::Range(0L, 3'600'000L));
  c->add_option("--settle-ms", o.settle_ms, "wait after the attacker closed everything, before 'after'")
      ->capture_default_str()->check(CLI::Range(0L, 3'600'000L));
  c->add_option("--sessions-per-process", o.per_process, "sessions per worker process at most")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{19'000}));
  c->add_option("--connect-rate", o.connect_rate, "connects per second, all workers together")
      ->capture_default_str()->check(CLI::Range(1.0, 1e6));
  c->add_option("--budget-mib", o.budget_mib, "the server's configured memory budget, to set the peak against (0: none)")
      ->capture_default_str()->check(CLI::Range(0.0, 1e7));
  return c;
}

std::string check_unfinished_frames(const unfinished_frames_options& o) {
  if (auto e = check_server_options(o.server); !e.empty()) return e;
  if (o.send_bytes >= o.frame_bytes)
    return "--send-bytes: must be less than --frame-bytes (" + std::to_string(o.frame_bytes) + ") so the frame stays unfinished, got " +
           std::to_string(o.send_bytes);
  return {};
}

int run_unfinished_frames(const unfinished_frames_options& opts, const std::string& command) {
  auto o = opts;
  const auto limit = raise_descriptor_limit();
  if (o.sessions + spare_descriptors > limit) {
    const auto fit = limit - spare_descriptors;
    progress("--sessions %zu clamped to %zu: the server is one process, and may hold %zu descriptors", o.sessions, fit, limit);
    o.sessions = fit;
  }
  if (o.per_process + spare_descriptors > limit) {
    o.per_process = limit - spare_descriptors;
    progress("--sessions-per-process clamped to %zu (descriptor limit %zu)", o.per_process, limit);
  }
  const auto workers = workers_needed(o.sessions, o.per_process);
  say("unfinished-frames: %zu sessions per wave in %zu worker processes, each announcing a %zu-byte frame and sending %zu bytes of it; "
      "%u wave(s); H = %ld ms, T = %ld ms",
      o.sessions, workers, o.frame_bytes, o.send_bytes, o.waves, o.server.heartbeat_ms, o.server.dead_after_ms);

  echo_server_process server(echo_settings(o.server));
  rss_sampler memory(server.pid(), 100ms);
  sleep_unless_interrupted(1s);
  const auto baseline = memory.sample_now();
  std::vector<wave_figures> waves;
  bool chain_ok = true;

  for (unsigned wave = 1; wave <= o.waves && !interrupted(); ++wave) {
    wave_figures w;
    w.before = memory.sample_now();
    const bool kernel_peak = reset_peak_resident(server.pid());
    worker_options base{.role = "holder", .port = server.port(), .sessions = o.sessions,
                        .heartbeat_ms = o.server.heartbeat_ms, .dead_after_ms = o.server.dead_after_ms,
                        .connect_rate = o.connect_rate / static_cast<double>(workers),
                        .frame_bytes = o.frame_bytes, .send_bytes = o.send_bytes};
    worker_fleet holders(base, o.sessions, o.per_process);
    const auto on_line = [&](std::size_t, const std::string& line) {
      if (line.rfind("ENDED ", 0) == 0) note_ended(w, line);
      else if (line.rfind("SUMMARY ", 0) == 0) progress("wave %u worker: %s", wave, line.c_str() + 8);
    };
    const auto open_deadline = std::chrono::milliseconds{static_cast<long>(1000.0 * static_cast<double>(o.sessions) / o.connect_rate)} + 40s;
    auto ready = std::optional<std::vector<std::string>>{};
    for (auto until = std::chrono::steady_clock::now() + open_deadline; !ready && std::chrono::steady_clock::now() < until && !interrupted();) {
      ready = holders.wait_all("READY", 1s, on_line);
      if (!ready)
        progress("wave %u: opening: %llu of %zu open, %llu pending; server RSS %.0f MiB", wave,
                 static_cast<unsigned long long>(holders.status_sum("open")), o.sessions,
                 static_cast<unsigned long long>(holders.status_sum("pending")), to_mib(resident_bytes(server.pid())));
    }
    if (!ready) {
      progress("error: wave %u: the workers did not report their sessions open", wave);
      chain_ok = false;
      break;
    }
    for (const auto& line : *ready) {
      std::istringstream fields(line.substr(6));
      std::size_t open = 0, failed = 0;
      fields >> open >> failed;
      w.opened += open;
      w.failed += failed;
      std::string rest;
      std::getline(fields, rest);
      w.failures += rest;
    }
    progress("wave %u: %zu sessions open, %zu failed%s", wave, w.opened, w.failed, w.failures.c_str());
    sleep_unless_interrupted(500ms);
    w.with_sessions = memory.sample_now();

    const auto attack_started = std::chrono::steady_clock::now();
    holders.broadcast("ATTACK");
    std::optional<std::vector<std::string>> sent;
    for (auto until = attack_started + std::max(std::chrono::milliseconds{o.hold_ms}, std::chrono::milliseconds{30s});
         !sent && std::chrono::steady_clock::now() < until && !interrupted();) {
      sent = holders.wait_all("SENT", 1s, on_line);
      if (!sent)
        progress("wave %u: attack: %llu of %zu frames' bytes sent, %zu closed by the server; server RSS %.0f MiB", wave,
                 static_cast<unsigned long long>(holders.status_sum("sent")), w.opened, closed_count(w),
                 to_mib(resident_bytes(server.pid())));
    }
    if (sent) {
      long long first = 0, last = 0;
      for (const auto& line : *sent) {
        std::istringstream fields(line.substr(5));
        std::size_t attacked = 0, done = 0;
        long long began = 0, ended = 0;
        fields >> attacked >> done >> began >> ended;
        w.attacked += attacked;
        w.fully_sent += done;
        first = first == 0 ? began : std::min(first, began);
        last = std::max(last, ended);
      }
      w.send_seconds = static_cast<double>(last - first) / 1e9;
    } else {
      progress("wave %u: not every frame's bytes were taken by the server's sockets (it stopped reading?)", wave);
      w.attacked = holders.status_sum("attacked");
      w.fully_sent = holders.status_sum("sent");
    }
    progress("wave %u: %zu frames' bytes sent in %.2f s; holding them %ld ms", wave, w.fully_sent, w.send_seconds, o.hold_ms);
    progress_pacer pacer;
    for (auto until = steady::now() + milliseconds{o.hold_ms};
         steady::now() < until && holders.pump(std::min(1000ms, std::chrono::ceil<milliseconds>(until - steady::now())), on_line);)
      if (pacer.due()) progress("wave %u: holding: %zu of %zu closed by the server; server RSS %.0f MiB", wave, closed_count(w), w.attacked,
               to_mib(resident_bytes(server.pid())));
    const auto attack_ended = std::chrono::steady_clock::now();
    holders.stop(30s, on_line);
    w.peak = memory.peak_between(attack_started, attack_ended);
    if (kernel_peak) w.kernel_peak = peak_resident_bytes(server.pid());
    progress("wave %u: attacker closed everything; settling %ld ms", wave, o.settle_ms);
    sleep_unless_interrupted(std::chrono::milliseconds{o.settle_ms});
    w.after = memory.sample_now();
    waves.push_back(std::move(w));
  }
  const auto tally = server.stop();
  if (interrupted()) return 130;

  say("%s", "");
  say("server RSS at start: %.1f MiB", to_mib(baseline));
  say("%-5s %10s %14s %10s %12s %10s %12s", "wave", "before MiB", "sessions MiB", "peak MiB", "kernel peak", "after MiB", "after/before");
  for (std::size_t i = 0; i < waves.size(); ++i) {
    const auto& w = waves[i];
    say("%-5zu %10.1f %14.1f %10.1f %12s %10.1f %12.2f", i + 1, to_mib(w.before), to_mib(w.with_sessions), to_mib(w.peak),
        w.kernel_peak < 0 ? "n/a" : std::to_string(static_cast<long long>(to_mib(w.kernel_peak) + 0.5)).c_str(), to_mib(w.after),
        w.before > 0 ? static_cast<double>(w.after) / static_cast<double>(w.before) : 0.0);
  }
  for (std::size_t i = 0; i < waves.size(); ++i) {
    const auto& w = waves[i];
    const auto d = distribution_of(w.ended_after_ms);
    std::string how;
    for (const auto& [h, n] : w.ended_by) how += " " + h + "=" + std::to_string(n);
    say("wave %zu: %zu opened (%zu failed), %zu attacked, bytes sent in %.2f s; closed by the server during the attack: %zu of %zu%s%s",
        i + 1, w.opened, w.failed, w.attacked, w.send_seconds, closed_count(w), w.attacked, how.empty() ? "" : ":", how.c_str());
    if (d.count > 0)
      say("        those closes came %.0f / %.0f / %.0f ms (min / p50 / max) after each frame's first byte", d.min, d.p50, d.max);
    if (w.ended_before_attack > 0) say("        %zu sessions were closed before their frame began", w.ended_before_attack);
    const double ratio = w.before > 0 ? static_cast<double>(w.after) / static_cast<double>(w.before) : 0;
    say("        goal after within 10 %% of before: %s (%.2f)%s", ratio <= 1.10 ? "met" : "NOT met", ratio,
        o.budget_mib > 0 ? (to_mib(std::max(w.peak, w.kernel_peak)) <= o.budget_mib ? "; peak within budget: met" : "; peak within budget: NOT met")
                         : "; no --budget-mib given");
  }
  std::string server_view;
  for (const auto& [why, n] : tally.closed) server_view += " " + why + "=" + std::to_string(n);
  say("the server's own account: %llu sessions opened; closed:%s", static_cast<unsigned long long>(tally.opened), server_view.c_str());

  nlohmann::json wave_list = nlohmann::json::array();
  for (const auto& w : waves) wave_list.push_back(to_json(w));
  const nlohmann::json figures = {
      {"subcommand", "unfinished-frames"},
      {"command", command},
      {"machine", machine_context()},
      {"settings", {{"server", to_json(o.server)}, {"sessions", o.sessions}, {"frame_bytes", o.frame_bytes},
                    {"send_bytes", o.send_bytes}, {"waves", o.waves}, {"hold_ms", o.hold_ms}, {"settle_ms", o.settle_ms},
                    {"worker_processes", workers}, {"budget_mib", o.budget_mib}}},
      {"server_command", server.command()},
      {"rss_at_start_mib", to_mib(baseline)},
      {"waves", wave_list},
      {"server_tally", {{"opened", tally.opened}, {"closed", tally.closed}}}};
  const bool written = emit_json(figures, o.server.json_path);
  const bool all_opened = !waves.empty() && waves.size() == o.waves &&
                          std::all_of(waves.begin(), waves.end(), [](const wave_figures& w) { return w.opened > 0; });
  return chain_ok && all_opened && written ? 0 : 1;
}

}  // namespace lifeline::hostile
