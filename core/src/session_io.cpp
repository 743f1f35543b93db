// A session's reading (see session.hpp for the whole picture; writing is in
// session_write.cpp).
//
// An idle session waits for readability and holds no buffer; bytes land in the
// shard's one read buffer and only an incomplete frame's bytes are kept (in the decoder).
// Only complete frames prove the peer alive; the first byte of a frame starts that
// frame's own deadline (frame_timeout), so a peer cannot stay alive by dripping bytes.

#include "session.hpp"

#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/frame_error.hpp>

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace lifeline::detail {

// --- reading -------------------------------------------------------------------------------

void session::wait_readable() {
  if (read_waiting_ || state_ >= session_state::closed) return;
  read_waiting_ = true;
  ++pending_handlers_;
  // Wait for readability rather than reading into a buffer of our own: an idle session
  // holds no read buffer; the bytes land in the shard's one buffer when they arrive.
  socket_.async_wait(asio::ip::tcp::socket::wait_read, [this, generation = transport_](std::error_code ec) {
    --pending_handlers_;
    if (generation == transport_) {  // not a wait of a socket since replaced (resume)
      read_waiting_ = false;
      on_readable(ec);
    }
    handler_done();
  });
}

void session::on_readable(std::error_code ec) {
  if (state_ >= session_state::closed || ec == asio::error::operation_aborted) return;
  if (state_ == session_state::closing) return drain_until_peer_closes();
  const auto now = shard_.now();
  if (ec) return close_with(classify(ec), now);
  if (inbound_.paused && write_failed_with_ == 0) return;  // over its budget: resumed by its deadline
  if (reading_held_ || shard_.hold_reading(*this)) return;  // poll mode, the game behind: resumed by poll()
  switch (read_available(now)) {
    case read_outcome::drained: return wait_readable();
    case read_outcome::more_waiting: return continue_reading_soon();
    case read_outcome::paused:
    case read_outcome::stopped: return;
  }
}

// Reads what the kernel holds, up to read_budget_per_turn bytes (fairness: then the other
// sessions are served), and handles every complete frame in it.
session::read_outcome session::read_available(time_point now) {
  reading_ = true;
  const auto outcome = read_frames(now);
  reading_ = false;
  // Closed while its frames were being handled: give back what the decoder held now that
  // no frame's view into it is in use (enter_closed left it for this).
  if (state_ >= session_state::lingering && decoder_.heap_bytes() > 0)
    decoder_ = frame_decoder(shard_.config().max_frame_size);
  account_memory();
  if (write_failed_with_ != 0 && state_ < session_state::closing) {
    // A write failed, and nothing read since explained why.
    close_with(classify({write_failed_with_, std::system_category()}), now);
    return read_outcome::stopped;
  }
  return outcome;
}

session::read_outcome session::read_frames(time_point now) {
  // The shard's one read buffer: the frames decoded from it are views into it until this
  // returns, so no other session may read into it meanwhile (from a handler we call).
  const shard::read_buffer_lease buffer(shard_);
  auto& stats = shard_.counters();
  const auto& cfg = shard_.config();
  const auto& policy = shard_.inbound();
  const auto credit = inbound_credit(now);
  bool over_budget = false;
  std::size_t frames = 0;
  for (std::size_t budget = cfg.read_budget_per_turn; budget > 0;) {
    // Frames read in an earlier turn and not yet handled come first; then the socket.
    bool drained = false;
    if (decoder_.unread_input() == 0) {
      const auto wanted = std::min(budget, buffer.bytes.size());
      std::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buffer.bytes.data(), wanted), ec);
      if (ec == asio::error::would_block) return over_budget ? pause_reading(now) : read_outcome::drained;
      if (ec) {
        // After a failed write the kernel has reported the connection's error to the write
        // and shut it; the read then finds only an end of stream. The write's error says why.
        if (write_failed_with_ != 0) ec = std::error_code(write_failed_with_, std::system_category());
        if (ec == asio::error::eof && decoder_.finish() == frame_error::truncated_frame)
          close_with({close_reason::peer_dropped, frame_error::truncated_frame}, now);
        else
          close_with(classify(ec), now);
        return read_outcome::stopped;
      }
      stats.bytes_received += n;
      over_budget |= policy.spend_bytes(inbound_, n, now, credit);
      decoder_.feed(std::span<const std::byte>(buffer.bytes.data(), n));
      budget -= n;
      drained = n < wanted;  // the kernel had no more
    }
    std::error_code frame_ec;
    while (frames < cfg.frames_per_turn) {
      auto f = decoder_.next(frame_ec);
      if (!f) break;
      ++frames;
      ++stats.frames_received;
      over_budget |= policy.spend_frame(inbound_, now, std::holds_alternative<beat_frame>(*f), peer_interval_, credit);
      frame_started_ = time_point::max();  // this one is done
      if (!handle_frame(*f, now)) return read_outcome::stopped;
    }
    if (frame_ec) {
      close_with({close_reason::protocol_error, frame_ec}, now);
      return read_outcome::stopped;
    }
    if (decoder_.unread_input() > 0) {
      // Its share of this turn is used: what is left waits, in the session's own memory,
      // for its next turn, after the other sessions'.
      decoder_.keep_unread_input();
      return over_budget ? pause_reading(now) : read_outcome::more_waiting;
    }
    note_frame_progress(now);
    if (drained) return over_budget ? pause_reading(now) : read_outcome::drained;
    if (frames == cfg.frames_per_turn) break;  // its share is used: no read it could not handle
  }
  if (over_budget) return pause_reading(now);
  return read_outcome::more_waiting;
}

// Past its inbound budget: a strike, and no more reading from this peer until it is back
// within the budget (its TCP window fills and its sender waits), or, out of strikes, the end.
session::read_outcome session::pause_reading(time_point now) {
  const auto& policy = shard_.inbound();
  ++shard_.counters().rate_strikes;
  if (policy.strike(inbound_, now, inbound_credit(now))) {
    close_with({close_reason::rate_exceeded, {}}, now);
    return read_outcome::stopped;
  }
  inbound_.paused = true;
  if (is_open()) rearm(now);  // the wheel entry resumes it
  return read_outcome::paused;
}

// Our own recent stalls: what the peer sent during them arrives at once (inbound_budget.hpp).
std::chrono::nanoseconds session::inbound_credit(time_point now) const noexcept {
  return shard_.stalls().excused_since(now - shard_.inbound().credit_window());
}

session::time_point session::reading_resumes_at(time_point now) const noexcept {
  return shard_.inbound().within_at(inbound_, inbound_credit(now));
}

void session::resume_reading() {
  inbound_.paused = false;
  continue_reading_soon();
}

// Poll mode: the game has taken enough of its events for this session to be read again.
void session::release_reading() {
  if (!reading_held_) return;
  reading_held_ = false;
  if (state_ < session_state::closing) continue_reading_soon();
}

// A frame that has begun but not finished: its deadline starts with its first byte. The
// bytes after it prove nothing; only its completion does.
void session::note_frame_progress(time_point now) {
  if (decoder_.buffered_bytes() == 0 || frame_in_progress()) return;
  frame_started_ = now;
  conviction_deferred_ = false;  // a new frame: the silence before it is over
  released_at_ = time_point::max();
  if (is_open()) rearm(now);  // the frame's deadline replaces the silence deadline
}

// The reads stopped with bytes still in the kernel. The readiness wait is edge-triggered
// and would not fire again until more bytes arrive, so come back after the other
// sessions' handlers instead.
void session::continue_reading_soon() {
  if (read_posted_) return;  // one chain at a time, or the fairness cap means nothing
  read_posted_ = true;
  ++pending_handlers_;
  asio::post(shard_.io(), [this, generation = transport_] {
    --pending_handlers_;
    if (generation == transport_) {
      read_posted_ = false;
      on_readable({});
    }
    handler_done();
  });
}

}  // namespace lifeline::detail
