// A session's deadlines: heartbeats to send, suspicion, convictions (see session.hpp for
// the whole picture, DESIGN.md §8 for why).
//
// A conviction is a claim that the peer is gone, so it rests on evidence:
//   - only complete frames count as hearing the peer; while a frame is arriving, its own
//     deadline (first byte + frame_timeout) replaces the silence deadline, so a peer that
//     drips bytes is closed as slow_frame instead of being kept alive by them;
//   - time our own shard spent stalled is not the peer's silence: the deadline moves later
//     by every stall since the peer was last heard (stall_record), and the convictions a
//     stall deferred are released at a bounded pace (release_pacer);
//   - just before convicting, bytes waiting unread in the socket are read (one ioctl, paid
//     only by would-be convictions): after a stall the loop may handle this deadline before
//     the readiness of the socket that holds the peer's beats.
// Before that, a peer silent for suspect_after is `suspect`: it is sent one urgent beat,
// which a live peer answers at once, and the game may be told.
#include "session.hpp"

#include "shard.hpp"
#include "socket_options.hpp"

namespace lifeline::detail {

bool session::heartbeats_on() const noexcept { return shard_.config().heartbeats; }

session::time_point session::conviction_deadline() const noexcept {
  const auto& stalls = shard_.stalls();
  auto due = time_point::max();
  if (frame_in_progress())
    due = frame_started_ + shard_.evidence().frame_timeout + stalls.excused_since(frame_started_);
  else if (heartbeats_on())
    due = last_heard_ + dead_after_ + stalls.excused_since(last_heard_);
  // Already due and paced: not before its slot (nor before a later stall's excuse).
  if (released_at_ != time_point::max()) due = std::max(due, released_at_);
  // A peer whose reading we paused (it sent too much) is not silent: it is held back by us.
  if (inbound_.paused) due = std::max(due, reading_resumes_at(shard_.now()));
  return due;
}

// Suspicion waits out our stalls too: a peer is not "unstable" for our own pause.
session::time_point session::suspicion_deadline() const noexcept {
  if (state_ != session_state::open || !heartbeats_on() || frame_in_progress()) return time_point::max();
  return last_heard_ + suspect_after_ + shard_.stalls().excused_since(last_heard_);
}

void session::on_deadline(time_point now) {
  const auto& cfg = shard_.config();
  switch (state_) {
    case session_state::connecting:
      if (now >= stage_deadline_) return give_up_connecting(now);
      break;
    case session_state::handshaking:
      if (now >= stage_deadline_) return close_with({close_reason::handshake_timeout, {}}, now);
      break;
    case session_state::open:
    case session_state::suspect: {
      if (inbound_.paused && now >= reading_resumes_at(now)) resume_reading();
      // Dead unless heard: silent for dead_after, or a frame unfinished for frame_timeout.
      const bool arriving = frame_in_progress();
      const auto since = arriving ? frame_started_ : last_heard_;
      const auto allowed = arriving ? shard_.evidence().frame_timeout : dead_after_;
      if ((arriving || heartbeats_on()) && now >= since + allowed) {
        const auto excused = shard_.stalls().excused_since(since);
        if (now >= since + allowed + excused) {
          convict(arriving ? close_reason::slow_frame : close_reason::heartbeat_timeout, now);
          if (!is_open()) return;
        } else if (!conviction_deferred_) {
          conviction_deferred_ = true;  // a stall of ours: the peer gets that time back
          ++shard_.counters().convictions_deferred;
        }
      }
      if (outbound_sent_ < outbound_.size() && now >= write_progress_ + cfg.write_stall_timeout)
        return close_with({close_reason::write_stalled, {}}, now);
      if (now >= suspicion_deadline() && !heard_in_waiting_bytes(now) && state_ == session_state::open) {
        enter_suspect(now);
        if (!is_open()) return;
      }
      if (!is_open()) return;
      if (heartbeats_on() && now >= last_sent_ + heartbeat_interval_) send_beat(now);
      break;
    }
    case session_state::lingering:
      if (now >= resume_->until) return expire_lingering(now);  // the grace is over
      if (role_ == session_role::client && now >= stage_deadline_) return dial_again(now);
      break;
    case session_state::closing:
      if (now >= stage_deadline_) return enter_closed();  // could not flush in time
      break;
    case session_state::closed:
      return;
  }
  if (state_ < session_state::closed) rearm(now);
}

void session::rearm(time_point now) {
  time_point next = time_point::max();
  switch (state_) {
    case session_state::connecting:
    case session_state::handshaking:
    case session_state::lingering:
    case session_state::closing:
      next = stage_deadline_;
      break;
    case session_state::open:
    case session_state::suspect:
      next = std::min(conviction_deadline(), suspicion_deadline());
      if (heartbeats_on()) next = std::min(next, last_sent_ + heartbeat_interval_);
      if (outbound_sent_ < outbound_.size()) next = std::min(next, write_progress_ + shard_.config().write_stall_timeout);
      if (inbound_.paused) next = std::min(next, reading_resumes_at(now));
      break;
    case session_state::closed:
      return;
  }
  if (next == time_point::max()) return shard_.cancel(deadline_);
  shard_.schedule(deadline_, std::max(next, now));
}

// The deadline says dead; look for evidence against it first.
void session::convict(close_reason reason, time_point now) {
  if (heard_in_waiting_bytes(now)) return;
  const auto since = frame_in_progress() ? frame_started_ : last_heard_;
  if (released_at_ == time_point::max() && shard_.stalls().excused_since(since) > std::chrono::nanoseconds::zero())
    released_at_ = shard_.pacer().reserve(now);  // deferred by a stall: released at a bounded pace
  if (released_at_ != time_point::max() && now < released_at_) return;  // rearm() waits for the slot
  if (reason == close_reason::heartbeat_timeout)
    shard_.counters().heartbeat_timeout_lateness.record(now - (last_heard_ + dead_after_));
  close_with({reason, {}}, now);
}

// Bytes the kernel holds for us that our loop has not read yet. If they hold a complete
// frame, or the first byte of a new one, the peer spoke: read them now (as the readiness
// handler would have) and call the conviction off. More bytes of a frame already arriving
// prove nothing. True also when what was read closed the session (it ended otherwise).
bool session::heard_in_waiting_bytes(time_point now) {
  if (inbound_.paused) return true;  // held back by us for sending too much: alive
  if (bytes_waiting(socket_.native_handle()) == 0 && decoder_.unread_input() == 0) return false;
  if (reading_held_ || shard_.hold_reading(*this)) {
    // Poll mode, the game far behind: we may not read them, and the peer is not to blame
    // for the game's pause. What waits counts as hearing it, until reading resumes.
    last_heard_ = now;
    if (frame_in_progress()) frame_started_ = now;
    return true;
  }
  const auto heard_before = last_heard_;
  const auto frame_before = frame_started_;
  switch (read_available(now)) {
    case read_outcome::stopped:  // it ended otherwise
    case read_outcome::paused:   // it sent too much to be dead
      return true;
    case read_outcome::more_waiting: continue_reading_soon(); break;
    case read_outcome::drained: break;
  }
  if (last_heard_ == heard_before && frame_started_ == frame_before) return false;
  ++shard_.counters().convictions_averted;
  return true;
}

void session::enter_suspect(time_point now) {
  state_ = session_state::suspect;
  auto& stats = shard_.counters();
  ++stats.suspected;
  ++stats.sessions_suspect;
  shard_.notify_suspected(*this);  // before the beat, whose answer may already be waiting
  if (state_ == session_state::suspect) send_beat(now, /*urgent=*/true);  // a live peer answers at once
}

void session::leave_suspect() {
  state_ = session_state::open;
  auto& stats = shard_.counters();
  --stats.sessions_suspect;
  ++stats.recovered;
  shard_.notify_recovered(*this);
}

}  // namespace lifeline::detail
