// A session's writing (see session.hpp for the whole picture; reading is in
// session_io.cpp). Frames the socket takes at once are written from where they were
// encoded; what it does not take is queued in one buffer and written as the socket takes
// it, under the write-stall deadline and the queue limit. Game threads see the queue's
// size (with what is on its way from them) as the session's pending bytes.
#include "session.hpp"

#include "shard.hpp"
#include "socket_options.hpp"

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <sys/socket.h>

#include <cerrno>

namespace lifeline::detail {
namespace {

constexpr int max_drains_per_wakeup = 4;  // a closing session's discarded bytes, per turn

}  // namespace

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
