// What a server keeps of a session whose transport died, while it waits for the client to
// resume (private to core/; DESIGN.md §10).
//
// A session object is 568 bytes, most of them the transport's: the socket, the decoder,
// the write queue, the timers and stamps of a live connection. A lingering session has
// none of that to run, so the shard frees the object (once no Asio handler holds it) and
// keeps this record in the session's slot instead: the id stays live, the game's context
// stays, the counts and the unacknowledged frames stay. About 230 bytes with the
// allocator's header, plus the frames kept for replay.
//
// Whatever needs the full session again (the client resumes, the grace runs out, the game
// closes it, the server stops) wakes it: a new session object takes the record back and
// carries on in state lingering, down the same paths as before (shard::wake). Only two
// things are done on the record itself, being frequent and simple: the game's messages
// are kept for replay (shard::keep_for_lingering), and its context is read and set.
//
//   shard.hibernate(s);                      // at the end of session::enter_lingering
//   if (auto* s = shard.wake(id)) s->...     // a full session again, in state lingering
#pragma once

#include "replay_buffer.hpp"

#include <lifeline/close_reason.hpp>
#include <lifeline/session_id.hpp>
#include <lifeline/timer_wheel.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace lifeline::detail {

class shard;

struct lingering_session {
  using time_point = std::chrono::steady_clock::time_point;

  lingering_session(shard& owner, session_id session, std::size_t replay_limit) noexcept
      : shard_of(&owner), id(session), replay(replay_limit) {}
  lingering_session(const lingering_session&) = delete;
  lingering_session& operator=(const lingering_session&) = delete;

  void on_expiry(time_point now);  // the grace is over (shard_lingering.cpp)

  shard* shard_of;
  session_id id;
  void* user_context = nullptr;
  std::size_t charged = 0;          // its account in the shard's memory budget (the replay buffer)
  // The resume state (session::resume_side, without what only a connector needs).
  std::uint32_t epoch = 0;
  std::uint32_t sent = 0;
  std::uint32_t received = 0;
  std::uint32_t ack_sent = 0;
  bool unconfirmed = false;
  close_reason lost_as = close_reason::peer_reset;  // why the transport died
  std::error_code lost_detail{};
  time_point last_heard{};
  time_point until{};               // the grace runs out
  replay_buffer replay;             // our data frames the client has not acknowledged
  timer_entry expiry = timer_entry::calling<&lingering_session::on_expiry>(this);
};

}  // namespace lifeline::detail
