// lifeline/broadcast.hpp — what server::broadcast() did with one message to many sessions.
//
// A game sending its state to every player of a room 20 times a second would otherwise
// call send() once per player: one copy of the message and one trip through the shard's
// inbox lock each. broadcast() makes one shared copy, and takes each shard's lock once
// for all of its sessions; each session still queues the frame in its own write queue.
// Per session it is a send(): a stale id is skipped (unknown), a session with
// write_queue_limit bytes on their way is skipped (queue_full), and a session's messages,
// sent or broadcast from one thread, reach it in the order they were made.
#pragma once

#include <cstddef>
#include <system_error>

namespace lifeline {

struct broadcast_result {
  std::size_t queued = 0;      ///< sessions the message was queued to
  std::size_t unknown = 0;     ///< ids of no live session (skipped)
  std::size_t queue_full = 0;  ///< sessions already holding write_queue_limit bytes (skipped)
  /// not_running, or message_too_large: then nothing was queued.
  std::error_code error;
};

}  // namespace lifeline
