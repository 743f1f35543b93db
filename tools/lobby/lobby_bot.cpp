// lifeline_lobby_bot: players for lifeline_lobby_server, on lifeline's public connector API
// in poll mode. Each bot is one connect(): it joins a room, walks about, counts the state
// snapshots it receives, leaves and closes; a summary says how many states each bot got a
// second, which should be about the server's tick rate.
//
// Why poll mode here too: a game client has a main loop of its own (input, rendering), and
// wants the network's events there, on its own thread, as the server does. All bots share
// one connector and one loop; the bot behind each event is its session's user context
// (given to connect(), carried by every event, kept across a reconnect or a resume).
//
// A bot rides out a lost connection: the server offers resume, so the connector dials
// again on its own and the bot is back in its seat (the server logs "away" then "back");
// if a whole new session opens instead (reconnect), the bot joins its room again.
//
//   lifeline_lobby_bot --host localhost --port 7900 --bots 4 --room arena --seconds 10
//
// Exit status: 0 when every bot joined and received states; 1 when one did not; 2 for a
// bad flag.
#include "lobby_protocol.hpp"

#include <lifeline/connector.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> interrupted{false};
void on_signal(int) { interrupted = true; }

using clock_type = std::chrono::steady_clock;

struct options {
  std::string host = "127.0.0.1";
  int port = 7900;
  int bots = 4;
  std::string room = "arena";
  double seconds = 10;
  int moves_hz = 5;
};

// One bot: the user context of its connect(), hence of every session that call opens.
struct bot {
  int number = 0;
  lifeline::session_id session;          // 0 while not open
  bool joined = false;
  std::size_t seat = 0;
  int x = 0, y = 0;
  clock_type::time_point joined_at{};
  std::uint64_t states = 0;              // snapshots received since it first joined
  std::uint64_t states_this_second = 0;
  bool leaving = false;                  // sent "leave": close once the server answers
  bool over = false;                     // its connect() chain has ended
  std::string last_close;                // why its last session ended, for the summary
};

std::optional<int> parse_flags(CLI::App& app, options& o, int argc, char** argv) {
  app.add_option("--host", o.host, "server: a host name or a numeric address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--bots", o.bots, "players to run")->capture_default_str()->check(CLI::Range(1, 10'000));
  app.add_option("--room", o.room, "room every bot joins")->capture_default_str();
  app.add_option("--seconds", o.seconds, "how long the bots play")->capture_default_str()->check(CLI::Range(0.1, 86'400.0));
  app.add_option("--moves-hz", o.moves_hz, "moves each bot sends a second (0: stands still)")
      ->capture_default_str()->check(CLI::Range(0, 1000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (!lobby::is_valid_room_name(o.room)) {
    std::fprintf(stderr, "--room: 1..%zu of A-Z a-z 0-9 _ -, got \"%s\"\n", lobby::max_room_name, o.room.c_str());
    return 2;
  }
  return std::nullopt;
}

void send_text(lifeline::connector& client, const bot& b, const std::string& text) {
  client.send(b.session, lobby::as_bytes(text));
}

// What a bot does with each of its sessions' events.
void handle(lifeline::connector& client, const options& o, const lifeline::session_event& e) {
  auto& b = *static_cast<bot*>(e.context);
  using lifeline::event_kind;
  switch (e.kind) {
    case event_kind::opened:
      b.session = e.id;
      send_text(client, b, "join " + o.room);
      break;
    case event_kind::message: {
      const auto text = lobby::as_text(e.message);
      if (text.starts_with("state ")) {
        if (b.joined) {
          ++b.states;
          ++b.states_this_second;
        }
      } else if (text.starts_with("joined ")) {
        // "joined <room> <seat> <tick_hz>"
        unsigned seat = 0, tick_hz = 0;
        const std::string line(text);
        if (std::sscanf(line.c_str(), "joined %*s %u %u", &seat, &tick_hz) == 2) {
          if (b.joined_at == clock_type::time_point{}) b.joined_at = clock_type::now();
          b.joined = true;
          b.seat = seat;
        }
      } else if (text.starts_with("full ") || text.starts_with("error ")) {
        std::printf("bot %d: %.*s\n", b.number, static_cast<int>(text.size()), text.data());
      }
      // Leaving: the server has our "leave" (it answered), so the close cannot overtake it.
      if (b.leaving && (text.starts_with("left ") || text.starts_with("error "))) client.close(e.id);
      break;
    }
    case event_kind::transport_lost:
      std::printf("bot %d: connection lost (%s), resuming\n", b.number, std::string(lifeline::to_string(e.why.reason)).c_str());
      break;
    case event_kind::resumed:
      std::printf("bot %d: resumed in seat %zu (%u messages replayed%s)\n", b.number, b.seat, e.resumed.replayed,
                  e.resumed.state_lost ? ", some lost" : "");
      break;
    case event_kind::closed:
      b.session = {};
      b.joined = false;
      b.last_close = std::string(lifeline::to_string(e.why.reason));
      if (e.why.reconnect == lifeline::reconnect_plan::scheduled) {
        std::printf("bot %d: session ended (%s), connecting again\n", b.number, b.last_close.c_str());
      } else {
        if (e.why.reconnect == lifeline::reconnect_plan::given_up)
          std::printf("bot %d: session ended (%s), gave up after 3 attempts in a row\n", b.number, b.last_close.c_str());
        b.over = true;
      }
      break;
    default:
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  CLI::App app{"lifeline demo: bots that play lifeline_lobby_server"};
  options o;
  if (const auto exit_status = parse_flags(app, o, argc, argv)) return *exit_status;

  lifeline::connector_config config;
  // A session that fails or ends is tried again, three times in a row at most: a server
  // that is not there ends the run within a second or so instead of retrying forever.
  config.reconnect = {.enabled = true, .max_attempts = 3};
  std::optional<lifeline::connector> client;
  try {
    client.emplace(config, lifeline::polled_events);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "lifeline_lobby_bot: %s\n", e.what());
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  client->start();

  std::vector<bot> bots(static_cast<std::size_t>(o.bots));  // never resized: connect() holds pointers into it
  try {
    for (std::size_t i = 0; i < bots.size(); ++i) {
      bots[i].number = static_cast<int>(i);
      client->connect({.address = o.host, .port = static_cast<std::uint16_t>(o.port)}, &bots[i]);
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "--host: %s\n", e.what());
    return 2;
  }
  std::printf("%d bots playing in room %s on %s port %d for %.1f s\n", o.bots, o.room.c_str(), o.host.c_str(), o.port,
              o.seconds);

  std::mt19937 random(12345);
  std::uniform_int_distribution<int> step(-10, 10);
  const auto started = clock_type::now();
  const auto play_until = started + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(o.seconds));
  const auto move_every = o.moves_hz > 0 ? std::chrono::duration_cast<clock_type::duration>(std::chrono::seconds{1}) / o.moves_hz
                                         : clock_type::duration::max();
  auto next_move = started;
  auto next_report = started + std::chrono::seconds{1};
  // Not const: poll() calls its handler through a pointer to non-const.
  auto on_event = [&](const lifeline::session_event& e) { handle(*client, o, e); };

  // The client's loop: events, then moves, then a line a second. connector::poll() never
  // blocks, so the loop sleeps a little between turns.
  while (!interrupted && clock_type::now() < play_until &&
         !std::all_of(bots.begin(), bots.end(), [](const bot& b) { return b.over; })) {
    client->poll(on_event);
    const auto now = clock_type::now();
    if (now >= next_move) {
      for (auto& b : bots) {
        if (!b.joined) continue;
        b.x = std::clamp(b.x + step(random), 0, lobby::world_size - 1);
        b.y = std::clamp(b.y + step(random), 0, lobby::world_size - 1);
        send_text(*client, b, "move " + std::to_string(b.x) + ' ' + std::to_string(b.y));
      }
      next_move += move_every;
    }
    if (now >= next_report) {
      std::string line = "states in the last second:";
      for (auto& b : bots) line += ' ' + std::to_string(std::exchange(b.states_this_second, 0));
      std::printf("%s\n", line.c_str());
      next_report += std::chrono::seconds{1};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }

  // Leave politely: the server hears "leave" and then a clean close (peer_closed), and
  // frees the seats at once instead of holding them for a resume. The close waits for the
  // server's answer because, from a game thread, a close() made right after a send() can
  // overtake it today (the message waits in its shard's inbox, the close is posted ahead
  // of the inbox's next drain), and the "leave" would be lost.
  const auto ended = clock_type::now();
  for (auto& b : bots) {
    if (!b.session) continue;
    send_text(*client, b, "leave");
    b.leaving = true;
  }
  const auto give_up = clock_type::now() + std::chrono::seconds{3};
  while (clock_type::now() < give_up && !std::all_of(bots.begin(), bots.end(), [](const bot& b) { return b.over; })) {
    if (client->poll(on_event) == 0) std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  client->stop();  // closes whatever did not answer in time
  client->poll(on_event);  // what stop() ended

  bool all_played = true;
  double lowest = 1e18, sum = 0;
  for (const auto& b : bots) {
    const std::chrono::duration<double> played = ended - b.joined_at;
    const double rate = b.joined_at == clock_type::time_point{} ? 0.0 : static_cast<double>(b.states) / played.count();
    std::printf("bot %d: seat %zu, %llu states in %.1f s = %.1f/s, last close %s\n", b.number, b.seat,
                static_cast<unsigned long long>(b.states), b.joined_at == clock_type::time_point{} ? 0.0 : played.count(),
                rate, b.last_close.empty() ? "none" : b.last_close.c_str());
    all_played = all_played && b.states > 0;
    lowest = std::min(lowest, rate);
    sum += rate;
  }
  std::printf("summary: %zu bots, states per bot per second: min %.1f, mean %.1f%s\n", bots.size(), lowest,
              sum / static_cast<double>(bots.size()), all_played ? "" : " (some bots never played: see above)");
  return all_played ? 0 : 1;
}
