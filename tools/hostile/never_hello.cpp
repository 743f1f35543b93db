// never-hello: admission under a flood of sockets that never say hello (issue 9, third
// measurement). --processes worker processes keep --sockets connections (in total) open
// to the echo server without ever sending hello, re-opening each as soon as it ends, from
// --attack-address (and the --attack-sources - 1 addresses after it); meanwhile --legit
// legitimate clients, one every --legit-interval-ms, from --legit-address, each try to
// complete a handshake within --legit-timeout-ms. Reported: how many got in and how fast
// (connect, and welcome, from the start), how the rest were turned away (the server's
// close code, a reset, no SYN-ACK, no answer to hello), and the attackers' connect rate.
#include "clock.hpp"
#include "interrupt.hpp"
#include "legit_client.hpp"
#include "proc_sampler.hpp"
#include "report.hpp"
#include "subcommands.hpp"
#include "worker_fleet.hpp"

#include <arpa/inet.h>

#include <atomic>
#include <map>
#include <sstream>
#include <thread>

namespace lifeline::hostile {
namespace {

using namespace std::chrono_literals;

std::string attack_sources(const std::string& first, unsigned count) {
  in_addr address{};
  ::inet_pton(AF_INET, first.c_str(), &address);
  std::string list;
  for (unsigned i = 0; i < count; ++i) {
    in_addr next{htonl(ntohl(address.s_addr) + i)};
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &next, text, sizeof text);
    list += (i == 0 ? "" : ",") + std::string(text);
  }
  return list;
}

double ms(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; }

}  // namespace

CLI::App* add_never_hello(CLI::App& app, never_hello_options& o) {
  auto* c = app.add_subcommand("never-hello", "legitimate clients' handshakes while other sockets connect and never say hello");
  add_server_options(*c, o.server);
  c->add_option("--max-sessions", o.max_sessions, "the server's max_sessions (0: the library's default)")
      ->capture_default_str()->check(CLI::Range(std::size_t{0}, std::size_t{100'000'000}));
  c->add_option("--processes", o.processes, "attacking processes")->capture_default_str()->check(CLI::Range(1u, 64u));
  c->add_option("--sockets", o.sockets, "never-hello sockets kept open, all processes together")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  c->add_option("--legit", o.legit, "legitimate clients, one after the other")->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  c->add_option("--legit-interval-ms", o.legit_interval_ms, "a new legitimate client this often")
      ->capture_default_str()->check(CLI::Range(1L, 3'600'000L));
  c->add_option("--legit-timeout-ms", o.legit_timeout_ms, "each legitimate client gives up after this (connect + welcome)")
      ->capture_default_str()->check(CLI::Range(1L, 3'600'000L));
  c->add_option("--connect-rate", o.connect_rate, "attackers' connects per second, all together (0: as fast as they can)")
      ->capture_default_str()->check(CLI::Range(0.0, 1e7));
  c->add_option("--ramp-ms", o.ramp_ms, "attack alone this long before the first legitimate client")
      ->capture_default_str()->check(CLI::Range(0L, 3'600'000L));
  c->add_option("--attack-address", o.attack_address, "the attackers' (first) source address")->capture_default_str()->check(CLI::ValidIPV4);
  c->add_option("--attack-sources", o.attack_sources, "source addresses the attackers use, from --attack-address up")
      ->capture_default_str()->check(CLI::Range(1u, 250u));
  c->add_option("--legit-address", o.legit_address, "the legitimate clients' source address")->capture_default_str()->check(CLI::ValidIPV4);
  return c;
}

std::string check_never_hello(const never_hello_options& o) { return check_server_options(o.server); }

int run_never_hello(const never_hello_options& opts, const std::string& command) {
  auto o = opts;
  const auto limit = raise_descriptor_limit();
  auto per_process = (o.sockets + o.processes - 1) / o.processes;
  if (per_process + spare_descriptors > limit) {
    per_process = limit - spare_descriptors;
    progress("--sockets %zu clamped to %zu: %u processes of at most %zu descriptors each (limit %zu per process)", o.sockets,
             per_process * o.processes, o.processes, per_process, limit);
    o.sockets = per_process * o.processes;
  }
  say("never-hello: %u processes keep %zu sockets open without hello (from %s, %u address(es)); %zu legitimate clients, "
      "one every %ld ms, %ld ms each to get a welcome; server max_sessions %s, may hold %zu descriptors",
      o.processes, o.sockets, o.attack_address.c_str(), o.attack_sources, o.legit, o.legit_interval_ms, o.legit_timeout_ms,
      o.max_sessions == 0 ? "default" : std::to_string(o.max_sessions).c_str(), limit);

  auto settings = echo_settings(o.server);
  if (o.max_sessions > 0) settings.max_sessions = o.max_sessions;
  echo_server_process server(settings);
  rss_sampler memory(server.pid(), 100ms);

  std::vector<std::string> summaries;
  const auto on_line = [&](std::size_t, const std::string& line) {
    if (line.rfind("SUMMARY ", 0) == 0) summaries.push_back(line.substr(8));
  };
  worker_options base{.role = "lurker", .port = server.port(), .sources = attack_sources(o.attack_address, o.attack_sources),
                      .sessions = o.sockets, .connect_rate = o.connect_rate / o.processes, .in_flight = per_process,
                      .open_timeout_ms = 10'000};
  worker_fleet lurkers(base, o.sockets, per_process);
  const auto status = [&] {
    return "attackers: " + std::to_string(lurkers.status_sum("connected")) + " connected, " +
           std::to_string(lurkers.status_sum("pending")) + " connecting; " + std::to_string(lurkers.status_sum("connects")) +
           " connects, " + std::to_string(lurkers.status_sum("closed")) + " closed by the server, " +
           std::to_string(lurkers.status_sum("failed")) + " failed";
  };
  progress_pacer ramp_pacer;
  for (auto until = steady::now() + milliseconds{o.ramp_ms}; steady::now() < until && !interrupted();) {
    lurkers.pump(std::min(1000ms, std::chrono::ceil<milliseconds>(until - steady::now())), on_line);
    if (ramp_pacer.due()) progress("ramp: %s; server RSS %.0f MiB", status().c_str(), to_mib(resident_bytes(server.pid())));
  }

  const auto legit_started = steady::now();
  const auto connects0 = lurkers.status_sum("connects"), closed0 = lurkers.status_sum("closed");
  const double cpu0 = cpu_seconds(server.pid());
  std::vector<handshake_outcome> outcomes(o.legit);
  std::vector<std::thread> clients;
  std::atomic<std::size_t> finished{0};
  progress_pacer legit_pacer;
  while ((clients.size() < o.legit || finished < clients.size()) && !interrupted()) {
    if (clients.size() < o.legit && steady::now() >= legit_started + milliseconds{o.legit_interval_ms} * static_cast<long>(clients.size())) {
      const auto i = clients.size();
      clients.emplace_back([&, i] {
        outcomes[i] = try_handshake("127.0.0.1", server.port(), o.legit_address, milliseconds{o.legit_timeout_ms});
        ++finished;
      });
    }
    lurkers.pump(50ms, on_line);
    if (legit_pacer.due()) {
      progress("legit: %zu started, %zu finished; %s", clients.size(), finished.load(), status().c_str());
    }
  }
  for (auto& t : clients) t.join();
  const auto legit_ended = steady::now();
  const double window = std::chrono::duration<double>(legit_ended - legit_started).count();
  const auto connects1 = lurkers.status_sum("connects"), closed1 = lurkers.status_sum("closed");
  const auto connected_at_end = lurkers.status_sum("connected"), pending_at_end = lurkers.status_sum("pending");
  const double server_cpu = 100.0 * (cpu_seconds(server.pid()) - cpu0) / window;
  lurkers.stop(30s, on_line);
  const auto peak_rss = memory.peak_between(std::chrono::steady_clock::time_point{}, std::chrono::steady_clock::now());
  const auto tally = server.stop();
  if (interrupted()) return 130;

  std::vector<double> welcome_ms;
  std::size_t within_1s = 0;
  std::map<std::string, std::size_t> refused;
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& r : outcomes) {
    if (r.welcomed) {
      welcome_ms.push_back(ms(r.to_answer));
      if (r.to_answer <= 1s) ++within_1s;
    } else {
      ++refused[r.how];
    }
    attempts.push_back({{"how", r.how}, {"connect_ms", ms(r.to_connect)}, {"answer_ms", ms(r.to_answer)}});
  }
  const auto d = distribution_of(welcome_ms);
  const double connect_rate = window > 0 ? static_cast<double>(connects1 - connects0) / window : 0;
  const double close_rate = window > 0 ? static_cast<double>(closed1 - closed0) / window : 0;

  say("%s", "");
  say("legitimate clients welcomed: %zu of %zu; within 1 s: %zu (goal %zu of %zu, each within 1 s: %s)", d.count, o.legit, within_1s,
      o.legit, o.legit, within_1s == o.legit ? "met" : "NOT met");
  if (d.count > 0) say("time to welcome: p50 %.1f ms, max %.1f ms", d.p50, d.max);
  for (const auto& [how, n] : refused) say("turned away: %zu %s", n, how.c_str());
  say("attackers during the legitimate window: %.0f connects/s, %.0f closed by the server/s; at its end %llu connected, %llu connecting",
      connect_rate, close_rate, static_cast<unsigned long long>(connected_at_end), static_cast<unsigned long long>(pending_at_end));
  for (const auto& s : summaries) say("attacker process: %s", s.c_str());
  say("server: %.0f %% of a core during the legitimate window, peak RSS %.1f MiB", server_cpu, to_mib(peak_rss));
  std::string server_view;
  for (const auto& [why, n] : tally.closed) server_view += " " + why + "=" + std::to_string(n);
  say("the server's own account (opened sessions only): %llu opened; closed:%s", static_cast<unsigned long long>(tally.opened),
      server_view.c_str());

  const nlohmann::json figures = {
      {"subcommand", "never-hello"},
      {"command", command},
      {"machine", machine_context()},
      {"settings", {{"server", to_json(o.server)}, {"max_sessions", o.max_sessions}, {"processes", o.processes}, {"sockets", o.sockets},
                    {"legit", o.legit}, {"legit_interval_ms", o.legit_interval_ms}, {"legit_timeout_ms", o.legit_timeout_ms},
                    {"connect_rate", o.connect_rate}, {"ramp_ms", o.ramp_ms}, {"attack_sources", o.attack_sources}}},
      {"server_command", server.command()},
      {"legit_welcomed", d.count},
      {"legit_within_1s", within_1s},
      {"welcome_ms", to_json(d)},
      {"turned_away", refused},
      {"attempts", attempts},
      {"attack", {{"connects_per_s", connect_rate}, {"closed_by_server_per_s", close_rate}, {"connected_at_end", connected_at_end},
                  {"connecting_at_end", pending_at_end}, {"summaries", summaries}}},
      {"server_cpu_percent", server_cpu},
      {"server_peak_rss_mib", to_mib(peak_rss)},
      {"server_tally", {{"opened", tally.opened}, {"closed", tally.closed}}}};
  const bool written = emit_json(figures, o.server.json_path);
  return written && connects1 > 0 ? 0 : 1;
}

}  // namespace lifeline::hostile
