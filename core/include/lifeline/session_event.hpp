// lifeline/session_event.hpp — poll mode: the game takes lifeline's events on its own thread.
//
// By default lifeline calls the game's handlers (session_handlers.hpp) on its worker
// threads. A game with a loop of its own (a fixed-rate simulation, a lobby with rooms)
// would rather take them there: made with `polled_events`, a server or connector keeps
// every event in a queue per worker thread and the game drains them with poll() from the
// thread that runs its loop. Each event carries the session's user context, so the game
// needs no map from session to player; send() and close() work from that thread as from
// any other.
//
// The worker threads still do all the I/O and liveness work; only the game's part moves.
// The queues are single-producer, single-consumer: a worker appends a record (a copy of
// the message) with no lock, and poll() reads it. Per 100-byte message that costs about
// 25 ns more than a handler call on one thread (the copy and the record), and one queue
// carries 6.4 million such messages a second from a worker to the polling thread on a
// 2-vCPU machine (bench/micro: delivery/*; bench/RESULTS.md, "Game API"): next to the
// 38 ns of decoding the frame and the microseconds of the read() it came in, nothing a
// game will see. A game that stops
// polling does not make lifeline's memory grow without bound: once a worker's queue holds
// liveness_config::event_backlog_limit bytes, that worker stops reading from its sessions
// (their TCP windows push back on their peers; bytes waiting in a socket count as hearing
// the peer, so nobody is convicted for the game's pause) until poll() has taken half.
// Closes, opens and the other events are never held back. A peer that keeps sending into
// a window shut that long gives up from its side: a lifeline connector after its
// write_stall_timeout, its kernel after TCP_USER_TIMEOUT (2 × dead_after by default); the
// default limit (64 MiB) holds minutes of ordinary game input, so only a game that has
// stopped for good gets there.
//
// Order: a session's events arrive in the order they happened, exactly once (they come
// from its one worker); events of different sessions interleave.
//
//   lifeline::server server(config, lifeline::polled_events);
//   server.start();
//   while (running) {
//     server.poll([&](const lifeline::session_event& e) {
//       switch (e.kind) {
//         case lifeline::event_kind::opened: server.set_user_context(e.id, new_player(e.id)); break;
//         case lifeline::event_kind::message: player(e.context).act(e.message); break;
//         case lifeline::event_kind::closed: delete_player(e.context); break;
//         default: break;
//       }
//     });
//     simulate_one_tick();
//   }
#pragma once

#include <lifeline/close_reason.hpp>
#include <lifeline/session_handlers.hpp>
#include <lifeline/session_id.hpp>
#include <lifeline/socket_address.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace lifeline {

/// Chooses poll mode when making a server or connector: `server(config, polled_events)`.
struct polled_events_t {
  explicit polled_events_t() = default;
};
inline constexpr polled_events_t polled_events{};

/// What happened; each kind matches the handler of the same name in session_handlers.
enum class event_kind : std::uint8_t {
  opened,               ///< addresses set
  message,              ///< message set
  closed,               ///< why set; the id is stale after this event
  suspected,
  recovered,
  transport_lost,       ///< why set (the cause)
  resumed,              ///< resumed and addresses (the new connection's) set
  writability_changed,  ///< writable set (liveness_config::watermarks)
};

struct session_event {
  event_kind kind = event_kind::opened;
  session_id id;
  /// The session's user context when poll() hands the event out: what set_user_context
  /// set last (on the polling thread), or what connect() gave a connector's session.
  void* context = nullptr;
  /// message: the game message, valid until the handler returns.
  std::span<const std::byte> message;
  /// closed, transport_lost: why (app_reason valid until the handler returns).
  close_info why{close_reason::closed_locally, {}};
  resumed_info resumed;
  session_addresses addresses;
  bool writable = true;
};

}  // namespace lifeline
