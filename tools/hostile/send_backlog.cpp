// send-backlog: how long stop() takes when game threads have piled sends onto shards busy
// with floods (issue 9, fourth measurement). A lifeline::server runs in this process (1-2
// shards); --clients sessions in worker processes flood it with data frames and never
// read; --game-threads threads call server.send() (--message-bytes each) to every open
// session in a loop for --seconds. Reported: the send() results (ok / queue_full / ...),
// this process's RSS just before stop(), then how long stop(--flush-deadline-ms) took,
// against flush_deadline + 0.5 s.
#include "clock.hpp"
#include "interrupt.hpp"
#include "proc_sampler.hpp"
#include "report.hpp"
#include "subcommands.hpp"
#include "worker_fleet.hpp"

#include <lifeline/server.hpp>

#include <unistd.h>

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace lifeline::hostile {
namespace {

using namespace std::chrono_literals;

// The open sessions, for the game threads to send to (as a game keeps its players).
class session_registry {
 public:
  void add(lifeline::session_id id) {
    std::lock_guard lock(mutex_);
    where_[id.value] = ids_.size();
    ids_.push_back(id);
  }
  void remove(lifeline::session_id id) {
    std::lock_guard lock(mutex_);
    const auto it = where_.find(id.value);
    if (it == where_.end()) return;
    ids_[it->second] = ids_.back();
    where_[ids_.back().value] = it->second;
    ids_.pop_back();
    where_.erase(id.value);
  }
  void copy_to(std::vector<lifeline::session_id>& out) const {
    std::lock_guard lock(mutex_);
    out = ids_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<lifeline::session_id> ids_;
  std::unordered_map<std::uint64_t, std::size_t> where_;
};

// One game thread's send() results; relaxed atomics, read by the progress line.
struct alignas(64) send_counts {
  std::atomic<std::uint64_t> ok{0}, queue_full{0}, unknown_session{0}, not_running{0}, other{0};
  void note(std::error_code ec) {
    auto& n = !ec                                               ? ok
              : ec == lifeline::session_error::queue_full        ? queue_full
              : ec == lifeline::session_error::unknown_session   ? unknown_session
              : ec == lifeline::session_error::not_running       ? not_running
                                                                 : other;
    n.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace

CLI::App* add_send_backlog(CLI::App& app, send_backlog_options& o) {
  auto* c = app.add_subcommand("send-backlog", "stop() time of an in-process lifeline::server under a backlog of cross-thread sends");
  add_server_options(*c, o.server, /*in_process=*/true);
  c->add_option("--clients", o.clients, "flooding client sessions that never read")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  c->add_option("--game-threads", o.game_threads, "threads calling server.send() to every open session in a loop")
      ->capture_default_str()->check(CLI::Range(1u, 64u));
  c->add_option("--message-bytes", o.message_bytes, "bytes per send()")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{65'000}));
  c->add_option("--client-payload-bytes", o.payload_bytes, "payload of each data frame the clients flood with")
      ->capture_default_str()->check(CLI::Range(std::size_t{0}, std::size_t{60'000}));
  c->add_option("--seconds", o.seconds, "how long the game threads send")->capture_default_str()->check(CLI::Range(1L, 3600L));
  c->add_option("--flush-deadline-ms", o.flush_deadline_ms, "stop()'s flush deadline")
      ->capture_default_str()->check(CLI::Range(0L, 3'600'000L));
  c->add_option("--sessions-per-process", o.per_process, "client sessions per worker process at most")
      ->capture_default_str()->check(CLI::Range(std::size_t{1}, std::size_t{19'000}));
  c->add_flag("--inbound-limits", o.inbound_limits,
              "keep the library's inbound rate limits on; off by default here, since they close the flooding "
              "clients (rate_exceeded) before the backlog this measures can build up");
  return c;
}

std::string check_send_backlog(const send_backlog_options& o) {
  if (auto e = check_server_options(o.server); !e.empty()) return e;
  if (o.server.threads == 0) return "--server-threads: must be at least 1 here (the server runs in this process), got 0";
  return {};
}

int run_send_backlog(const send_backlog_options& opts, const std::string& command) {
  auto o = opts;
  const auto limit = raise_descriptor_limit();
  if (o.clients + spare_descriptors > limit) {
    const auto fit = limit - spare_descriptors;
    progress("--clients %zu clamped to %zu: the server runs in this process, which may hold %zu descriptors", o.clients, fit, limit);
    o.clients = fit;
  }
  if (o.per_process + spare_descriptors > limit) o.per_process = limit - spare_descriptors;
  say("send-backlog: in-process server with %u shard(s); %zu clients flood it with %zu-byte data frames and never read; "
      "%u game threads send %zu bytes to every session for %ld s; then stop(%ld ms)",
      o.server.threads, o.clients, o.payload_bytes, o.game_threads, o.message_bytes, o.seconds, o.flush_deadline_ms);

  session_registry sessions;
  std::array<std::atomic<std::uint64_t>, lifeline::close_reason_count> closes{};
  std::atomic<std::uint64_t> messages{0};
  lifeline::server_config config;
  config.listen_address = "127.0.0.1";
  config.port = 0;
  config.worker_threads = o.server.threads;
  config.liveness.heartbeat_interval = milliseconds{o.server.heartbeat_ms};
  config.liveness.dead_after = milliseconds{o.server.dead_after_ms};
  if (!o.inbound_limits) {
    config.liveness.inbound.frames_per_second = 0;
    config.liveness.inbound.bytes_per_second = 0;
  }
  lifeline::server server(config, {.on_opened = [&](lifeline::session_id id) { sessions.add(id); },
                                   .on_message = [&](lifeline::session_id, std::span<const std::byte>) {
                                     messages.fetch_add(1, std::memory_order_relaxed);
                                   },
                                   .on_closed = [&](lifeline::session_id id, lifeline::close_info why) {
                                     sessions.remove(id);
                                     closes[static_cast<std::size_t>(why.reason)].fetch_add(1, std::memory_order_relaxed);
                                   }});
  server.start();
  const auto rss_at_start = resident_bytes(::getpid());
  rss_sampler memory(::getpid(), 100ms);

  std::vector<std::string> summaries;
  const auto on_line = [&](std::size_t, const std::string& line) {
    if (line.rfind("SUMMARY ", 0) == 0) summaries.push_back(line.substr(8));
  };
  worker_options base{.role = "drencher", .port = server.port(), .sessions = o.clients, .heartbeat_ms = o.server.heartbeat_ms,
                      .dead_after_ms = o.server.dead_after_ms, .connect_rate = 4000, .payload_bytes = o.payload_bytes};
  worker_fleet clients(base, o.clients, o.per_process);
  std::optional<std::vector<std::string>> ready;
  for (auto until = steady::now() + 60s; !ready && steady::now() < until && !interrupted();) {
    ready = clients.wait_all("READY", 1s, on_line);
    if (!ready) progress("opening: %llu of %zu clients open", static_cast<unsigned long long>(clients.status_sum("open")), o.clients);
  }
  if (!ready) {
    if (!interrupted()) progress("error: the clients did not open");
    server.stop(milliseconds{0});
    return interrupted() ? 130 : 1;
  }
  std::size_t opened = 0;
  for (const auto& line : *ready) opened += std::stoul(line.substr(6));
  clients.broadcast("FLOOD");
  progress("%zu clients open and flooding; the game threads start in 1 s", opened);
  clients.pump(1s, on_line);

  std::vector<send_counts> counts(o.game_threads);
  std::atomic<bool> game_over{false};
  std::vector<std::thread> game;
  const std::vector<std::byte> message(o.message_bytes, std::byte{0x47});
  for (unsigned t = 0; t < o.game_threads; ++t)
    game.emplace_back([&, t] {
      std::vector<lifeline::session_id> ids;
      while (!game_over.load(std::memory_order_relaxed)) {
        sessions.copy_to(ids);
        if (ids.empty()) std::this_thread::sleep_for(1ms);
        for (const auto id : ids) {
          counts[t].note(server.send(id, message));
          if (game_over.load(std::memory_order_relaxed)) break;
        }
      }
    });
  const auto total = [&](std::atomic<std::uint64_t> send_counts::*field) {
    std::uint64_t n = 0;
    for (const auto& c : counts) n += (c.*field).load(std::memory_order_relaxed);
    return n;
  };
  progress_pacer pacer;
  for (auto until = steady::now() + std::chrono::seconds{o.seconds}; steady::now() < until && !interrupted();) {
    clients.pump(std::min(1000ms, std::chrono::ceil<milliseconds>(until - steady::now())), on_line);
    if (pacer.due()) progress("sending: %llu ok, %llu queue_full, %llu unknown_session; %llu messages received; RSS %.0f MiB",
             static_cast<unsigned long long>(total(&send_counts::ok)), static_cast<unsigned long long>(total(&send_counts::queue_full)),
             static_cast<unsigned long long>(total(&send_counts::unknown_session)),
             static_cast<unsigned long long>(messages.load()), to_mib(resident_bytes(::getpid())));
  }
  game_over = true;
  for (auto& t : game) t.join();

  const auto rss_before_stop = resident_bytes(::getpid());
  const auto open_before_stop = clients.status_sum("open");
  const auto buffers_before_stop = static_cast<std::int64_t>(server.stats().total.buffer_bytes);
  progress("calling stop(%ld ms) with %.0f MiB resident, %.0f MiB of it in the sessions' buffers by the library's account",
           o.flush_deadline_ms, to_mib(rss_before_stop), to_mib(buffers_before_stop));
  std::atomic<bool> stopped{false};
  std::thread watchdog([&] {
    const auto began = steady::now();
    while (!stopped.load()) {
      for (int i = 0; i < 20 && !stopped.load(); ++i) std::this_thread::sleep_for(100ms);
      if (!stopped.load())
        progress("stop() still running after %.0f s; RSS %.0f MiB", std::chrono::duration<double>(steady::now() - began).count(),
                 to_mib(resident_bytes(::getpid())));
    }
  });
  const auto stop_began = steady::now();
  server.stop(milliseconds{o.flush_deadline_ms});
  const auto stop_took = steady::now() - stop_began;
  stopped = true;
  watchdog.join();
  const auto rss_after_stop = resident_bytes(::getpid());
  const auto rss_peak_in_stop = memory.peak_between(stop_began, stop_began + stop_took);
  clients.stop(30s, on_line);
  const auto stats = server.stats().total;

  const double took_s = std::chrono::duration<double>(stop_took).count();
  const double limit_s = static_cast<double>(o.flush_deadline_ms) / 1000.0 + 0.5;
  std::map<std::string, std::uint64_t> closed_by;
  for (std::size_t r = 0; r < closes.size(); ++r)
    if (const auto n = closes[r].load(); n > 0) closed_by[std::string(lifeline::to_string(static_cast<lifeline::close_reason>(r)))] = n;
  say("%s", "");
  if (interrupted()) say("interrupted: the figures below are partial");
  say("send(): %llu ok (%.1f MiB), %llu queue_full, %llu unknown_session, %llu not_running, %llu other",
      static_cast<unsigned long long>(total(&send_counts::ok)),
      to_mib(static_cast<std::int64_t>(total(&send_counts::ok) * o.message_bytes)),
      static_cast<unsigned long long>(total(&send_counts::queue_full)), static_cast<unsigned long long>(total(&send_counts::unknown_session)),
      static_cast<unsigned long long>(total(&send_counts::not_running)), static_cast<unsigned long long>(total(&send_counts::other)));
  say("RSS: %.1f MiB at start, %.1f MiB just before stop(), %.1f MiB at its peak during stop(), %.1f MiB after", to_mib(rss_at_start),
      to_mib(rss_before_stop), to_mib(rss_peak_in_stop), to_mib(rss_after_stop));
  say("the sessions' buffers just before stop(), by the library's account (stats buffer_bytes): %.1f MiB", to_mib(buffers_before_stop));
  say("stop(%ld ms) took %.2f s (goal within %.1f s: %s); %llu clients still open just before it", o.flush_deadline_ms, took_s, limit_s,
      took_s <= limit_s ? "met" : "NOT met", static_cast<unsigned long long>(open_before_stop));
  std::string closed_text;
  for (const auto& [why, n] : closed_by) closed_text += " " + why + "=" + std::to_string(n);
  say("sessions closed:%s; %llu game messages received from the clients", closed_text.c_str(),
      static_cast<unsigned long long>(messages.load()));
  for (const auto& s : summaries) say("client process: %s", s.c_str());
  if (interrupted()) return 130;

  const nlohmann::json figures = {
      {"subcommand", "send-backlog"},
      {"command", command},
      {"machine", machine_context()},
      {"settings", {{"server", to_json(o.server)}, {"clients", o.clients}, {"game_threads", o.game_threads},
                    {"message_bytes", o.message_bytes}, {"client_payload_bytes", o.payload_bytes}, {"seconds", o.seconds},
                    {"flush_deadline_ms", o.flush_deadline_ms}}},
      {"clients_opened", opened},
      {"send", {{"ok", total(&send_counts::ok)}, {"queue_full", total(&send_counts::queue_full)},
                {"unknown_session", total(&send_counts::unknown_session)}, {"not_running", total(&send_counts::not_running)},
                {"other", total(&send_counts::other)}}},
      {"rss_at_start_mib", to_mib(rss_at_start)},
      {"rss_before_stop_mib", to_mib(rss_before_stop)},
      {"buffer_bytes_before_stop_mib", to_mib(buffers_before_stop)},
      {"rss_peak_during_stop_mib", to_mib(rss_peak_in_stop)},
      {"rss_after_stop_mib", to_mib(rss_after_stop)},
      {"stop_seconds", took_s},
      {"stop_goal_seconds", limit_s},
      {"clients_open_before_stop", open_before_stop},
      {"closed_by_reason", closed_by},
      {"messages_received", messages.load()},
      {"server_stats", {{"bytes_received", stats.bytes_received}, {"bytes_sent", stats.bytes_sent}, {"frames_sent", stats.frames_sent}}},
      {"client_summaries", summaries}};
  const bool written = emit_json(figures, o.server.json_path);
  return written && opened > 0 && total(&send_counts::ok) > 0 ? 0 : 1;
}

}  // namespace lifeline::hostile
