// A session's end (see session.hpp for the whole picture): why it closed, as the game is
// told, and what the peer is told on the way out.
#include "portable_error.hpp"
#include "session.hpp"
#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/frame_error.hpp>
#include <lifeline/resume_error.hpp>

#include <asio/error.hpp>

namespace lifeline::detail {
namespace {

close_code wire_code_for(const close_info& why) noexcept {
  switch (why.reason) {
    case close_reason::shutdown: return close_code::shutdown;
    case close_reason::protocol_error:
      return why.detail == frame_error::unsupported_protocol_version ? close_code::unsupported_version
                                                                     : close_code::protocol_error;
    case close_reason::handshake_timeout: return close_code::handshake_timeout;
    case close_reason::server_full: return close_code::server_full;
    case close_reason::heartbeat_timeout: return close_code::heartbeat_timeout;
    case close_reason::slow_frame: return close_code::slow_frame;
    case close_reason::rate_exceeded: return close_code::rate_exceeded;
    case close_reason::memory_budget: return close_code::memory_budget;
    case close_reason::resume_rejected: return close_code::resume_rejected;
    default: return close_code::normal;
  }
}

// The close frame's detail: the reason's name, or for a refused resume the resume_error's
// (the connector tells its game which).
std::string_view wire_detail_for(const close_info& why) noexcept {
  if (why.reason == close_reason::resume_rejected && why.detail.category() == resume_category())
    return to_string(static_cast<resume_error>(why.detail.value()));
  return to_string(why.reason);
}

}  // namespace

// --- closing -------------------------------------------------------------------------------

// The peer's close frame is its word: before the handshake completed it may explain a
// refused attempt (server_full, handshake_timeout, a version we cannot speak); after it,
// it is a quit (peer_closed) or a shutdown (peer_shutdown), with the code as the detail,
// never a reason the game would read as "never opened".
close_info session::reason_for_peer_close(close_code code) const noexcept {
  const std::error_code said = make_error_code(code);
  if (code == close_code::shutdown) return {close_reason::peer_shutdown, said};
  if (!opened_) {
    switch (code) {
      case close_code::server_full: return {close_reason::server_full, said};
      case close_code::admission_refused: return {close_reason::admission_refused, said};
      case close_code::handshake_timeout: return {close_reason::handshake_timeout, said};
      case close_code::protocol_error: return {close_reason::protocol_error, said};
      case close_code::unsupported_version: return {close_reason::protocol_error, frame_error::unsupported_protocol_version};
      default: break;
    }
  }
  return {close_reason::peer_closed, said};
}

// What to say to the peer when we close for `reason` (close_with; a peer's own close
// frame takes another path, reason_for_peer_close).
session::farewell session::farewell_for(close_reason reason, bool was_live) noexcept {
  using enum close_reason;
  switch (reason) {
    case peer_closed:
    case peer_shutdown:
    case peer_dropped:
      return farewell::none;  // it hung up: nothing to say, a plain FIN back
    case heartbeat_timeout:
    case slow_frame:
    case rate_exceeded:
    case memory_budget:
      // Convicted on our evidence, yet it may be alive (hung, then resumed; flooding): tell
      // it why, once, without waiting for it to read.
      return was_live ? farewell::last_word : farewell::abort;
    case keepalive_timeout:
    case user_timeout:
    case peer_reset:
    case unreachable:
    case write_stalled:
    case connect_failed:
    case socket_error:
    case admission_refused:  // dropped to make room: its silence is the flood's, nothing to flush
      return farewell::abort;  // the connection is dead, or the peer cannot take a frame
    default:
      return was_live ? farewell::graceful : farewell::abort;
  }
}

close_info session::classify(std::error_code ec) noexcept {
  if (ec == asio::error::eof) return {close_reason::peer_dropped, {}};  // EOF without a close frame
  ec = portable(ec);
  if (ec == std::errc::connection_reset || ec == std::errc::broken_pipe) return {close_reason::peer_reset, ec};
  if (ec == std::errc::host_unreachable || ec == std::errc::network_unreachable) return {close_reason::unreachable, ec};
  if (ec == std::errc::timed_out) {
    // ETIMEDOUT has two sources: keepalive probes unanswered while nothing was in flight,
    // or sent data retransmitted unacknowledged past TCP_USER_TIMEOUT. The kernel's
    // counters still tell which: probes without retransmissions mean keepalive.
    // Data waiting on a closed window also draws probes (zero-window probes), so data we
    // could not write counts as in flight.
    tcp_kernel_info info;
    const bool have_info = !read_tcp_info(socket_.native_handle(), info);
    // Only TCP_USER_TIMEOUT ends zero-window probes that are answered (Linux 5.11 on), and
    // it counts from the first probe. A peer we heard from after the probing began (within
    // the user timeout) is alive and has stopped reading: write_stalled. A hung peer's
    // kernel answers the probes too, but the peer fell silent before its window shut, so
    // it has been silent the whole user timeout. (The kernel's count of unanswered probes
    // reads 1 at this point in both cases, measured: it cannot tell them apart.)
    const bool window_shut = have_info && info.peer_window == 0u;
    if (window_shut && shard_.now() - last_heard_ < shard_.backstop().user_timeout)
      return {close_reason::write_stalled, ec};
    // Data waiting in the kernel behind a shut window is data in flight, too.
    const bool data_stuck =
        write_waiting_ || outbound_sent_ < outbound_.size() || window_shut || (have_info && info.retransmits > 0);
    if (data_stuck) return {close_reason::user_timeout, ec};
    if (have_info && info.probes > 0) return {close_reason::keepalive_timeout, ec};
    return {sent_since_heard_ ? close_reason::user_timeout : close_reason::keepalive_timeout, ec};
  }
  if (state_ == session_state::connecting) return {close_reason::connect_failed, ec};
  return {close_reason::socket_error, ec};
}

void session::close_with(close_info why, time_point now) {
  if (may_linger(why)) return enter_lingering(why, now);  // the transport died, not the session
  close_as(why, farewell_for(why.reason, is_open() || state_ == session_state::handshaking), now);
}

void session::close_as(close_info why, farewell how, time_point now) {
  if (state_ >= session_state::closing) return;
  auto& stats = shard_.counters();
  if (is_lingering()) {
    // Ending while its transport was gone (grace over, resume refused, closed by the game).
    why.lingered = true;
    why.last_heard = resume_->lost->last_heard;
    resume_->lost.reset();
    --stats.sessions_lingering;
    how = farewell::abort;
  } else {
    why.last_heard = last_heard_;
  }
  why_closed_ = why;
  ++stats.closes_by_reason[static_cast<std::size_t>(why.reason) % close_reason_count];
  if (state_ == session_state::suspect) --stats.sessions_suspect;
  if (role_ == session_role::server) {
    if (state_ == session_state::handshaking) shard_.handshake_ended(*this, /*opened=*/false);
    else if (is_open()) shard_.open_session_ended(*this);
  }
  state_ = session_state::closing;
  shard_.notify_closed(*this);
  why_closed_.app_reason = {};  // a view for on_closed only
  if (state_ != session_state::closing) return;  // the game's handler cannot close twice, but be sure

  switch (how) {
    case farewell::none:
      return enter_closed();
    case farewell::last_word:
      say_last_word(why);
      [[fallthrough]];
    case farewell::abort:
      make_close_abortive(socket_.native_handle());  // nobody to say goodbye to: free it at once
      return enter_closed();
    case farewell::graceful:
      break;
  }
  // The peer may still be listening: tell it why, flush, then close gracefully.
  stage_deadline_ = now + shard_.flush_timeout();
  std::error_code ec;
  // The game's own close with an application code goes out as code application.
  const auto farewell_frame = why.app_code != 0
                                  ? close_frame{.code = close_code::application, .detail = why.app_reason, .app_code = why.app_code}
                                  : close_frame{.code = wire_code_for(why), .detail = wire_detail_for(why)};
  const auto bytes = shard_.encoder().encode(farewell_frame, ec);
  if (!ec && outbound_.size() - outbound_sent_ + bytes.size() <= shard_.config().write_queue_limit) {
    if (outbound_sent_ == outbound_.size()) {
      outbound_.clear();
      outbound_sent_ = 0;
    }
    outbound_.insert(outbound_.end(), bytes.begin(), bytes.end());
    publish_unsent(static_cast<std::ptrdiff_t>(bytes.size()));
  }
  if (!write_waiting_) flush(now);
  if (state_ == session_state::closing) rearm(now);
}

// A peer we convict may be alive after all (a process stopped, then resumed): one
// non-blocking write of a close frame naming why, so it learns more than "reset". Only
// between frames: with part of a frame already on the wire, a close frame would not parse.
void session::say_last_word(const close_info& why) noexcept {
  if (outbound_sent_ != outbound_.size()) return;
  std::error_code ec;
  const auto bytes = shard_.encoder().encode(close_frame{.code = wire_code_for(why), .detail = to_string(why.reason)}, ec);
  if (!ec) socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);  // whatever it takes, once
}

void session::hurry_close(time_point deadline) {
  if (state_ != session_state::closing || deadline >= stage_deadline_) return;
  stage_deadline_ = deadline;
  shard_.schedule(deadline_, deadline);
}

void session::end_now() {
  if (state_ == session_state::closing) enter_closed();
}

// Gives back the connection's buffers: the write queue (its unsent bytes no longer pending
// for game threads) and a frame still arriving, now, not when the session is reclaimed:
// closing the biggest holders is how the memory budget makes room. The decoder stays
// while its read loop is on the stack: a handler may still hold a view into it
// (read_available gives it back then).
void session::drop_buffers() {
  publish_unsent(-static_cast<std::ptrdiff_t>(outbound_.size() - outbound_sent_));
  std::vector<std::byte>().swap(outbound_);
  outbound_sent_ = 0;
  if (!reading_) decoder_ = frame_decoder(shard_.config().max_frame_size);
}

void session::enter_closed() {
  if (state_ == session_state::closed) return;
  state_ = session_state::closed;
  shard_.cancel(deadline_);
  shard_.retire(*this);
  std::error_code ignored;
  if (outbound_sent_ != outbound_.size()) make_close_abortive(socket_.native_handle());  // could not flush: RST
  socket_.close(ignored);  // pending waits complete with operation_aborted
  if (client && client->resolver) client->resolver->cancel();  // a lookup not yet begun is dropped
  drop_buffers();
  account_memory();
  if (pending_handlers_ == 0) shard_.reclaim_later(*this);
}

}  // namespace lifeline::detail
