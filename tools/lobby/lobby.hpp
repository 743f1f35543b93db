// tools/lobby/lobby.hpp — the lobby demo's game state: players, rooms of seats, and what
// the game does with each of lifeline's events, on lifeline's public API only.
//
// Everything here runs on one thread, the game loop's (lobby_server.cpp), which takes
// lifeline's events with server::poll() and hands each to lobby::handle(). No lock, and no
// map from session id to player: the opened event's player is stored as the session's
// user context, and every later event of that session carries it back (event.context).
//
// What each event means to a lobby:
//   opened               a player object, with the remote address for the logs
//   message              a command (lobby_protocol.hpp), applied at once
//   writability_changed  false: the player's connection is behind; leave it out of the
//                        state broadcasts (counted as skipped) until true, when the next
//                        tick's broadcast brings it the latest state (states are whole
//                        snapshots, so the skipped ones are not owed)
//   transport_lost       the connection died but resume may bring it back: the seat is
//                        held, marked away, and sent nothing (a fresh snapshot follows)
//   resumed              back in the same seat, sent a full snapshot at once
//   closed               the seat is freed (after the grace, if the player was away)
//
//   lobby game(server, {.seats = 8, .tick_hz = 20});
//   server.poll([&](const lifeline::session_event& e) { game.handle(e); });
//   game.send_states(tick);   // one server.broadcast() per room
#pragma once

#include <lifeline/server.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lobby {

/// printf to stdout with the seconds since the process started in front, one line.
void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

struct room;

/// One session's player: made on opened and stored as the session's user context, deleted
/// on closed (the event carries it back).
struct player {
  lifeline::session_id id;
  std::string remote;       ///< "127.0.0.1:53412", for the logs; the new one after a resume
  room* in = nullptr;       ///< null: not seated
  std::size_t seat = 0;
  int x = 0, y = 0;
  bool away = false;        ///< transport lost, seat held for resume
  bool writable = true;     ///< false between writability_changed(false) and (true)
};

/// A room: a fixed number of seats, each free (null) or a player's.
struct room {
  std::string name;
  std::vector<player*> seats;

  [[nodiscard]] std::size_t seated() const noexcept;
  /// Writes "state <tick> <room> <seat>:<x>,<y>[~] ..." (lobby_protocol.hpp) into `out`,
  /// reusing its capacity: a tick allocates nothing once the buffer has grown.
  void write_snapshot(std::uint64_t tick, std::string& out) const;
};

struct lobby_settings {
  std::size_t seats = 8;
  unsigned tick_hz = 20;
  std::chrono::milliseconds resume_grace{0};  ///< only for the logs: how long a seat is held
};

/// Counted since the lobby started.
struct lobby_counters {
  std::uint64_t joined = 0;          ///< seats taken
  std::uint64_t left = 0;            ///< seats freed, by leave, a new join or a close
  std::uint64_t went_away = 0;       ///< transports lost with a seat held
  std::uint64_t came_back = 0;       ///< resumed into a held seat
  std::uint64_t states_sent = 0;     ///< snapshots queued to a player (one per player per tick)
  std::uint64_t states_skipped = 0;  ///< not sent: the player was not writable
  std::uint64_t states_refused = 0;  ///< broadcast() skipped them (queue_full, or a session just gone)
  std::uint64_t bad_commands = 0;
};

class lobby {
 public:
  lobby(lifeline::server& server, lobby_settings settings);
  lobby(const lobby&) = delete;
  lobby& operator=(const lobby&) = delete;

  /// The handler for server::poll(): one event, applied at once.
  void handle(const lifeline::session_event& event);
  /// Sends each room its snapshot: one server::broadcast() per room, to its seated players
  /// that are neither away nor behind.
  void send_states(std::uint64_t tick);

  [[nodiscard]] const lobby_counters& counters() const noexcept { return counters_; }
  [[nodiscard]] std::size_t rooms() const noexcept { return rooms_.size(); }
  [[nodiscard]] std::size_t seated_players() const noexcept;
  [[nodiscard]] std::size_t away_players() const noexcept;
  /// Player objects alive: sessions opened and not yet closed. 0 once the events after
  /// server::stop() are drained (every opened session gets its closed event).
  [[nodiscard]] std::size_t players() const noexcept { return players_; }

 private:
  void open(const lifeline::session_event& event);
  void apply(player& p, std::string_view message);
  void lose_transport(player& p, const lifeline::close_info& cause);
  void resume(player& p, const lifeline::session_event& event);
  void close(player* p, const lifeline::close_info& why);

  void join(player& p, std::string_view room_name);
  /// Frees the player's seat (and the room, if it is now empty). `how` is for the log.
  void leave(player& p, const char* how);
  void reply(const player& p, std::string_view text);
  void tell_room(const room& r, std::string_view text);

  lifeline::server& server_;
  lobby_settings settings_;
  std::map<std::string, room, std::less<>> rooms_;  // nodes are stable: players point at them
  std::size_t players_ = 0;                         // player objects alive (sessions opened, not closed)
  lobby_counters counters_;
  std::uint64_t tick_ = 0;                          // the last tick sent, for a resumed player's snapshot
  std::vector<lifeline::session_id> send_to_;       // reused by each broadcast
  std::string snapshot_;                            // reused by each snapshot
};

}  // namespace lobby
