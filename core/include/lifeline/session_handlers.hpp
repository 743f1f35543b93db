// lifeline/session_handlers.hpp — what the game server hears about its sessions.
//
// Every handler runs on the thread of the shard that owns the session, one at a time per
// shard, so a game may keep per-shard state without locks. A handler may call send() and
// close() on any session, including its own (closing from inside on_message is safe: the
// session is freed only after its handlers have returned). If a handler throws, lifeline
// catches it and closes that session with reason handler_error; the other sessions go on.
#pragma once

#include <lifeline/close_reason.hpp>
#include <lifeline/session_id.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace lifeline {

/// What the game hears when a session resumes.
struct resumed_info {
  bool state_lost = false;  ///< messages were lost one way or both: resynchronise the game state
  bool takeover = false;    ///< the old connection still looked open (the player roamed): it was closed
  std::uint32_t replayed = 0;  ///< data frames this side sent again
};

struct session_handlers {
  /// The handshake completed: the session is live and may be sent to.
  std::function<void(session_id)> on_opened;
  /// One game message (a data frame's payload), valid only during the call.
  std::function<void(session_id, std::span<const std::byte>)> on_message;
  /// The session ended, with why. Called once for every session on_opened was called
  /// for (and, on a connector, for every connection attempt). The id is stale afterwards.
  std::function<void(session_id, close_info)> on_closed;
  /// Optional. The peer has been silent for suspect_after (a beat it owed did not come):
  /// lifeline has sent it an urgent beat, which a live peer answers at once. A game may
  /// show "connection unstable"; the session stays open and may be sent to.
  std::function<void(session_id)> on_suspected = {};
  /// Optional. A suspect session's peer was heard again (before the frame that proved it
  /// is handled). After each on_suspected comes on_recovered or on_closed, never both.
  std::function<void(session_id)> on_recovered = {};
  /// Optional, with resume on (liveness.resume). The session's connection died of `cause`
  /// (a transport death: reset, timeout, EOF without a close frame, ...) and the session is
  /// kept for resume.grace: it keeps its id, its user context and what the game sends it
  /// (queued for replay). After each on_transport_lost comes on_resumed or on_closed (with
  /// the same cause and close_info::lingered set), never both.
  std::function<void(session_id, close_info cause)> on_transport_lost = {};
  /// Optional. The peer came back on a new connection (or took the session over from one
  /// that still looked open): what either side sent and the other had not received is
  /// being replayed, once and in order, unless `state_lost` (more was sent in the outage
  /// than resume.replay_bytes keeps: send the client a full snapshot).
  std::function<void(session_id, resumed_info)> on_resumed = {};
  /// Optional. The bytes on their way to the session (server::queued_bytes) rose to
  /// liveness_config::watermarks.high (writable false: the peer reads slower than the game
  /// writes; skip state it does not need) or fell back to watermarks.low (true). Called
  /// after the send() or the write that crossed the mark, never inside it.
  std::function<void(session_id, bool writable)> on_writability_changed = {};
};

}  // namespace lifeline
