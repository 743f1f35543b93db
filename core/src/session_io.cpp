// A session's reading and writing (see session.hpp for the whole picture).
//
// Reading: an idle session waits for readability and holds no buffer; bytes land in the
// shard's one read buffer and only an incomplete frame's bytes are kept (in the decoder).
// Only complete frames prove the peer alive; the first byte of a frame starts that
// frame's own deadline (frame_timeout), so a peer cannot stay alive by dripping bytes.
//
// Writing: frames are queued in one buffer and written as far as the socket takes them;
// the rest waits for writability, under the write-stall deadline and the queue limit.
#include "session.hpp"

#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/frame_error.hpp>

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace lifeline::detail {
namespace {

constexpr int max_drains_per_wakeup = 4;  // a closing session's discarded bytes, per turn

}  // namespace

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

// --- writing -------------------------------------------------------------------------------

// What this session's buffers hold, on the shard's memory budget (buffer_budget).
void session::account_memory() noexcept {
  const auto held = state_ >= session_state::closed
                        ? 0
                        : decoder_.heap_bytes() + outbound_.capacity() + (resume_ ? resume_->replay.bytes_held() : 0);
  if (held == charged_) return;
  // The account first: charge() may close this very session, which settles it again.
  const auto delta = static_cast<std::ptrdiff_t>(held) - static_cast<std::ptrdiff_t>(charged_);
  charged_ = held;
  shard_.charge(delta);
}

// Game threads see what is queued here, with what is on its way from them, as the
// session's pending bytes (shard::bytes_pending): their send() answers queue_full by it.
// Crossing the watermarks (config.hpp: write_watermarks) tells the game, once each way.
void session::publish_unsent(std::ptrdiff_t delta) noexcept {
  auto& pending = shard_.bytes_pending(id_.slot());
  const auto size = static_cast<std::size_t>(delta >= 0 ? delta : -delta);
  const auto now_pending = delta >= 0 ? pending.fetch_add(size, std::memory_order_relaxed) + size
                                      : pending.fetch_sub(size, std::memory_order_relaxed) - size;
  const auto& marks = shard_.watermarks();
  if (marks.high == 0) return;
  if (!backlogged_ && now_pending >= marks.high) {
    backlogged_ = true;
    shard_.writability_changed(*this, false);
  } else if (backlogged_ && now_pending <= marks.low) {
    backlogged_ = false;
    shard_.writability_changed(*this, true);
  }
}

void session::send_beat(time_point now, bool urgent) {
  const auto held = peer_sent_at_ == wire_timestamp{}
                        ? std::chrono::microseconds{0}
                        : std::chrono::duration_cast<std::chrono::microseconds>(now - peer_beat_received_);
  last_timed_ = now;
  beat_frame beat{.sent_at = to_wire_timestamp(now),
                  .echo_of_peer = peer_sent_at_,
                  .held_for = held,
                  .urgent = urgent,
                  .ack = ack_to_send()};
  if (token_refresh_due()) {
    beat.resume_token = shard_.issue_token(id_, resume_ ? resume_->epoch : 0);
    token_generation_ = shard_.token_generation();
  }
  send_frame(beat, now);
  ++shard_.counters().heartbeats_sent;
}

void session::send_frame(const frame& f, time_point now, bool within_limit_checked) {
  std::error_code ec;
  const auto* timed = std::get_if<data_frame>(&f);
  if (timed && timed->timing && resumable_) {
    // What is kept for replay carries no clock stamps: sent again after an outage, they
    // would make a round-trip sample of the outage. Encoded first, as the encoder's
    // buffer holds one frame at a time.
    auto untimed = *timed;
    untimed.timing.reset();
    const auto kept = shard_.encoder().encode(untimed, ec);
    if (ec) return;
    auto& r = resume_state();
    r.replay.keep(++r.sent, kept);
  }
  const auto bytes = shard_.encoder().encode(f, ec);
  if (ec) return;  // only a message above max_frame_size; the engine refuses those first
  // The limit is the game's: its messages fill the queue. Game threads are held back at it
  // by send()'s queue_full (within_limit_checked); a handler's message past it closes the
  // session. Our own few small frames (a beat an interval at most) may go past it;
  // write_stall_timeout ends a queue that stays stuck.
  const auto& cfg = shard_.config();
  const bool data = std::holds_alternative<data_frame>(f);
  if (data && resumable_) {
    // Kept until the peer acknowledges it; while the transport is gone, only kept (the
    // resume replays it).
    auto& r = resume_state();
    if (!timed->timing) r.replay.keep(++r.sent, bytes);
    if (r.lost) return account_memory();
  }
  if (!within_limit_checked && data && outbound_.size() - outbound_sent_ + bytes.size() > cfg.write_queue_limit)
    return close_with({close_reason::write_stalled, std::make_error_code(std::errc::no_buffer_space)}, now);
  queue_bytes(bytes, now);
}

// Appends encoded frames to the write queue and writes what the socket takes. With
// nothing queued before them (the common case: a socket with room), they are written
// straight from where they were encoded, and only what the socket did not take is
// queued: no write queue is allocated for a frame the kernel takes at once.
void session::queue_bytes(std::span<const std::byte> bytes, time_point now) {
  auto& stats = shard_.counters();
  if (outbound_sent_ == outbound_.size() && !write_waiting_ && is_open()) {
    std::error_code ec;
    const auto n = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
    if (!ec) {
      last_sent_ = now;
      sent_since_heard_ = true;
      ++stats.frames_sent;
      stats.bytes_sent += bytes.size();
      if (n == bytes.size()) return;
      bytes = bytes.subspan(n);  // the rest waits in the queue, below
      outbound_.clear();
      outbound_sent_ = 0;
      write_progress_ = now;
      outbound_.insert(outbound_.end(), bytes.begin(), bytes.end());
      publish_unsent(static_cast<std::ptrdiff_t>(bytes.size()));
      flush(now);  // would block: waits for writability under the write-stall deadline
      account_memory();
      return;
    }
    // would_block, or an error: the queue's path below meets it again and deals with it.
  }
  if (outbound_sent_ == outbound_.size()) {
    outbound_.clear();
    outbound_sent_ = 0;
    write_progress_ = now;  // the stall clock starts when the queue becomes non-empty
  } else if (outbound_sent_ >= outbound_.size() / 2) {
    // A peer that reads steadily but slower than we write never lets the queue drain:
    // drop the written prefix so the buffer holds only what is unsent.
    outbound_.erase(outbound_.begin(), outbound_.begin() + static_cast<std::ptrdiff_t>(outbound_sent_));
    outbound_sent_ = 0;
  }
  outbound_.insert(outbound_.end(), bytes.begin(), bytes.end());
  publish_unsent(static_cast<std::ptrdiff_t>(bytes.size()));
  last_sent_ = now;
  sent_since_heard_ = true;
  ++stats.frames_sent;
  stats.bytes_sent += bytes.size();
  if (!write_waiting_) flush(now);
  account_memory();
}

// Writes what the socket takes now; waits for writability for the rest.
void session::flush(time_point now) {
  while (outbound_sent_ < outbound_.size()) {
    std::error_code ec;
    const auto n = socket_.write_some(asio::buffer(outbound_.data() + outbound_sent_, outbound_.size() - outbound_sent_), ec);
    if (ec == asio::error::would_block) {
      const bool stall_clock_starts = !write_waiting_ && is_open();
      wait_writable();
      if (stall_clock_starts) rearm(now);  // the write-stall deadline now applies
      return;
    }
    if (ec) {
      if (state_ == session_state::closing) return enter_closed();
      return close_after_write_error(ec, now);
    }
    outbound_sent_ += n;
    publish_unsent(-static_cast<std::ptrdiff_t>(n));
    write_progress_ = now;
  }
  // Drained: give the buffer back, so an idle session holds none (a heartbeat costs one
  // small allocation per interval instead of a buffer kept for the session's life).
  std::vector<std::byte>().swap(outbound_);
  outbound_sent_ = 0;
  if (state_ == session_state::closing) {
    // All said: half-close, then read until the peer closes too (or the flush deadline).
    // Closing with its last frames unread would make our kernel send RST, and an RST can
    // destroy the close frame before the peer's application has read it.
    std::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    drain_until_peer_closes();
  }
}

// A write failed (reset, broken pipe, timed out). The peer may have said why before it
// went, in bytes we have not read yet (a close frame, then its RST): its word, if any, is
// the better reason. Never read here: this may run inside another session's handler,
// whose frames are still being decoded from the shard's one read buffer. A read of our
// own, posted (or the read loop we are in), hears the peer's last words first, and closes
// with this error if they say nothing.
void session::close_after_write_error(std::error_code ec, time_point) {
  write_failed_with_ = ec.value();
  if (!reading_) continue_reading_soon();
}

// Discards what the peer still sends (MSG_TRUNC: the kernel drops it, nothing is copied),
// so this may run inside another session's handler without touching the shard's read
// buffer that handler's frames live in.
void session::drain_until_peer_closes() {
  for (int reads = 0; reads < max_drains_per_wakeup; ++reads) {
    const auto n = ::recv(socket_.native_handle(), nullptr, 64 * 1024, MSG_TRUNC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return enter_closed();  // EOF (the peer closed) or the connection is gone
  }
  wait_readable();  // more later; the flush deadline bounds the wait
}

void session::wait_writable() {
  if (write_waiting_) return;
  write_waiting_ = true;
  ++pending_handlers_;
  socket_.async_wait(asio::ip::tcp::socket::wait_write, [this, generation = transport_](std::error_code ec) {
    --pending_handlers_;
    if (generation != transport_) return handler_done();  // a socket since replaced (resume)
    write_waiting_ = false;
    if (state_ < session_state::closed && ec != asio::error::operation_aborted) {
      if (ec) {
        if (state_ == session_state::closing) enter_closed();
        else close_after_write_error(ec, shard_.now());
      } else {
        flush(shard_.now());
        account_memory();
      }
    }
    handler_done();
  });
}

}  // namespace lifeline::detail
