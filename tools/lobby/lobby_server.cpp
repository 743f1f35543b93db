// lifeline_lobby_server: a lobby game server on lifeline's public API only, in poll mode,
// so that the game runs its own fixed-rate loop on its main thread while lifeline's
// worker threads do the sockets, beats and verdicts.
//
// Why poll mode: a game with rooms wants its state touched by one thread, at its own
// pace. Each tick the loop drains lifeline's events (server::poll), applies the players'
// commands as they come, then sends every room its snapshot with one server::broadcast()
// per room. The rules (rooms of seats, held seats, back-pressure) are in lobby.hpp; the
// text protocol in lobby_protocol.hpp; lifeline_lobby_bot plays it.
//
//   lifeline_lobby_server --port 7900 --tick-hz 20 --seats 8 --resume-grace-ms 10000
//   lifeline_lobby_bot --host localhost --port 7900 --bots 4 --room arena
//
// Output: one line per join, leave, away (transport lost, seat held), back (resumed) and
// close, with the player's address and the close reason; a summary every --stats-every-ms;
// a final summary after a clean stop (SIGINT, SIGTERM or --run-seconds).
#include "lobby.hpp"

#include <lifeline/server.hpp>

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <thread>

namespace {

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
void on_signal(int) { interrupted = true; }

struct options {
  std::string listen = "127.0.0.1";
  int port = 7900;
  int threads = 0;
  int tick_hz = 20;
  int seats = 8;
  long resume_grace_ms = 10'000;
  long heartbeat_ms = 1000;
  long dead_after_ms = 3000;
  long run_seconds = 0;
  long stats_every_ms = 1000;
};

// Every flag is checked here, before anything starts: a bad one is a message naming it and
// exit status 2. nullopt: parsed and valid; otherwise the exit status (0 for --help).
std::optional<int> parse_flags(CLI::App& app, options& o, int argc, char** argv) {
  app.add_option("--listen", o.listen, "address to listen on")->capture_default_str();
  app.add_option("--port", o.port, "port to listen on (0: any free port, printed)")
      ->capture_default_str()->check(CLI::Range(0, 65535));
  app.add_option("--threads", o.threads, "lifeline worker threads (0: one per hardware thread)")
      ->capture_default_str()->check(CLI::Range(0, 255));
  app.add_option("--tick-hz", o.tick_hz, "game loop ticks a second; each sends every room its state")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--seats", o.seats, "players a room holds at most")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--resume-grace-ms", o.resume_grace_ms,
                 "hold a player's seat this long after its connection dies, for it to resume (0: off)")
      ->capture_default_str()->check(CLI::Range(0L, 86'400'000L));
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "heartbeat interval H")
      ->capture_default_str()->check(CLI::Range(1L, 3'600'000L));
  app.add_option("--dead-after-ms", o.dead_after_ms, "a player not heard from this long is dead (> H)")
      ->capture_default_str()->check(CLI::Range(1L, 86'400'000L));
  app.add_option("--run-seconds", o.run_seconds, "stop after this long (0: until SIGINT or SIGTERM)")
      ->capture_default_str()->check(CLI::Range(0L, 31'536'000L));
  app.add_option("--stats-every-ms", o.stats_every_ms, "print a summary this often (0: only the final one)")
      ->capture_default_str()->check(CLI::Range(0L, 86'400'000L));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (o.dead_after_ms <= o.heartbeat_ms) {
    std::fprintf(stderr, "--dead-after-ms: must be greater than --heartbeat-ms (%ld ms), got %ld ms\n", o.heartbeat_ms,
                 o.dead_after_ms);
    return 2;
  }
  return std::nullopt;
}

lifeline::server_config server_config_of(const options& o) {
  lifeline::server_config config;
  config.listen_address = o.listen;
  config.port = static_cast<std::uint16_t>(o.port);
  config.worker_threads = static_cast<unsigned>(o.threads);
  config.liveness.heartbeat_interval = std::chrono::milliseconds{o.heartbeat_ms};
  config.liveness.dead_after = std::chrono::milliseconds{o.dead_after_ms};
  config.liveness.resume.grace = std::chrono::milliseconds{o.resume_grace_ms};
  return config;
}

void print_summary(const lobby::lobby& game, const lifeline::server& server) {
  const auto& c = game.counters();
  const auto stats = server.stats().total;
  lobby::log_line("rooms %zu, players %zu (%zu away), joined %llu, left %llu, states sent %llu, skipped %llu, refused %llu, "
                  "sessions open %llu, event backlog %llu B",
                  game.rooms(), game.seated_players(), game.away_players(), static_cast<unsigned long long>(c.joined),
                  static_cast<unsigned long long>(c.left), static_cast<unsigned long long>(c.states_sent),
                  static_cast<unsigned long long>(c.states_skipped), static_cast<unsigned long long>(c.states_refused),
                  static_cast<unsigned long long>(stats.sessions_open),
                  static_cast<unsigned long long>(stats.event_backlog_bytes));
}

void print_final_summary(const lobby::lobby& game, const lifeline::server& server, std::uint64_t ticks) {
  const auto& c = game.counters();
  const auto stats = server.stats().total;
  lobby::log_line("stopped after %llu ticks: joined %llu, left %llu, away %llu, back %llu, states sent %llu, skipped %llu, "
                  "refused %llu, bad commands %llu, sessions opened %llu",
                  static_cast<unsigned long long>(ticks), static_cast<unsigned long long>(c.joined),
                  static_cast<unsigned long long>(c.left), static_cast<unsigned long long>(c.went_away),
                  static_cast<unsigned long long>(c.came_back), static_cast<unsigned long long>(c.states_sent),
                  static_cast<unsigned long long>(c.states_skipped), static_cast<unsigned long long>(c.states_refused),
                  static_cast<unsigned long long>(c.bad_commands), static_cast<unsigned long long>(stats.sessions_opened));
  if (game.players() != 0) lobby::log_line("warning: %zu players never got their closed event", game.players());
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // whoever reads our log (a test, a pipe) sees each line as it happens
  CLI::App app{"lifeline demo: a lobby game server with rooms, a fixed-rate game loop in poll mode"};
  options o;
  if (const auto exit_status = parse_flags(app, o, argc, argv)) return *exit_status;

  std::optional<lifeline::server> server;
  try {
    server.emplace(server_config_of(o), lifeline::polled_events);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "lifeline_lobby_server: %s\n", e.what());
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    server->start();
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "lifeline_lobby_server: cannot listen on %s port %d: %s\n", o.listen.c_str(), o.port, e.what());
    return 1;
  }
  lobby::lobby game(*server, {.seats = static_cast<std::size_t>(o.seats),
                              .tick_hz = static_cast<unsigned>(o.tick_hz),
                              .resume_grace = std::chrono::milliseconds{o.resume_grace_ms}});
  lobby::log_line("listening on %s port %u: tick %d Hz, %d seats a room, resume grace %ld ms, H %ld ms, T %ld ms; "
                  "Ctrl-C stops",
                  o.listen.c_str(), server->port(), o.tick_hz, o.seats, o.resume_grace_ms, o.heartbeat_ms, o.dead_after_ms);

  using clock = std::chrono::steady_clock;
  const auto tick_length = std::chrono::duration_cast<clock::duration>(std::chrono::seconds{1}) / o.tick_hz;
  const auto stats_every = std::chrono::milliseconds{o.stats_every_ms};
  const auto started = clock::now();
  const auto stop_at = o.run_seconds > 0 ? started + std::chrono::seconds{o.run_seconds} : clock::time_point::max();
  auto next_tick = started;
  auto next_stats = started + stats_every;
  std::uint64_t tick = 0;

  // The game loop: events, then state, at a fixed rate.
  while (!interrupted && clock::now() < stop_at) {
    server->poll([&](const lifeline::session_event& e) { game.handle(e); });  // commands applied as they come
    game.send_states(++tick);                                                  // one broadcast() per room
    const auto now = clock::now();
    if (stats_every.count() > 0 && now >= next_stats) {
      print_summary(game, *server);
      next_stats += stats_every;
    }
    // A late tick is not made up for with a burst: states are snapshots, the next one
    // says all there is to say.
    next_tick = std::max(next_tick + tick_length, now);
    std::this_thread::sleep_until(next_tick);
  }

  lobby::log_line("stopping (%s): closing every session", interrupted ? "signal" : "--run-seconds");
  server->stop();
  // Stopped, the server still hands over what its sessions said last: the shutdown's
  // closed events, which free the seats and the players.
  while (server->poll([&](const lifeline::session_event& e) { game.handle(e); }) > 0) {
  }
  print_final_summary(game, *server, tick);
  return 0;
}
