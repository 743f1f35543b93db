#include "session.hpp"

#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/detail/overloaded.hpp>
#include <lifeline/frame_error.hpp>

#include <asio/error.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <cerrno>

namespace lifeline::detail {
namespace {


// Reasons for which the peer is gone or unable to listen: no close frame, no flushing.
bool peer_is_gone(close_reason r) noexcept {
  switch (r) {
    case close_reason::peer_closed:
    case close_reason::heartbeat_timeout:
    case close_reason::keepalive_timeout:
    case close_reason::user_timeout:
    case close_reason::peer_reset:
    case close_reason::unreachable:
    case close_reason::write_stalled:
    case close_reason::connect_failed:
    case close_reason::socket_error:
      return true;
    default:
      return false;
  }
}

// The reason to report when the peer closes with a close frame: its own words where they
// name something the game can act on (a connector refused by a full server), else
// peer_closed.
close_info reason_for_peer_close(close_code code) noexcept {
  switch (code) {
    case close_code::server_full: return {close_reason::server_full, {}};
    case close_code::handshake_timeout: return {close_reason::handshake_timeout, {}};
    case close_code::protocol_error: return {close_reason::protocol_error, {}};
    case close_code::unsupported_version: return {close_reason::protocol_error, frame_error::unsupported_protocol_version};
    default: return {close_reason::peer_closed, {}};
  }
}

close_code wire_code_for(const close_info& why) noexcept {
  switch (why.reason) {
    case close_reason::shutdown: return close_code::shutdown;
    case close_reason::protocol_error:
      return why.detail == frame_error::unsupported_protocol_version ? close_code::unsupported_version
                                                                     : close_code::protocol_error;
    case close_reason::handshake_timeout: return close_code::handshake_timeout;
    case close_reason::server_full: return close_code::server_full;
    default: return close_code::normal;
  }
}

constexpr int max_reads_per_wakeup = 4;               // fairness between a shard's sessions

// Asio reports errno values in its own category, which does not compare equal to
// std::errc in Asio 1.22; the game gets std::system_category(), so it needs no Asio.
std::error_code portable(std::error_code ec) noexcept {
  return ec.category() == asio::system_category() ? std::error_code(ec.value(), std::system_category()) : ec;
}

}  // namespace

std::string_view to_string(session_state s) noexcept {
  switch (s) {
    case session_state::connecting: return "connecting";
    case session_state::handshaking: return "handshaking";
    case session_state::open: return "open";
    case session_state::closing: return "closing";
    case session_state::closed: return "closed";
  }
  return "?";
}

session::session(shard& owner, session_id id, session_role role, asio::ip::tcp::socket socket, time_point now)
    : shard_(owner),
      id_(id),
      role_(role),
      state_(role == session_role::server ? session_state::handshaking : session_state::connecting),
      socket_(std::move(socket)),
      decoder_(owner.config().max_frame_size),
      last_heard_(now),
      last_sent_(now),
      stage_deadline_(now + owner.config().handshake_timeout),
      write_progress_(now),
      // A server beats at its own rate; a client at its own until the welcome says otherwise.
      heartbeat_interval_(role == session_role::server ? derive_server_beat(owner.config()).interval
                                                       : owner.config().heartbeat_interval),
      dead_after_(owner.config().dead_after) {}

bool session::heartbeats_on() const noexcept { return shard_.config().heartbeats; }

void session::start_server(time_point now) {
  std::error_code ec;
  socket_.non_blocking(true, ec);
  if (!ec) ec = apply_session_options(socket_.native_handle(), shard_.backstop());
  if (ec) return close_with({close_reason::socket_error, portable(ec)}, now);
  wait_readable();
  rearm(now);
}

void session::start_client(time_point now) {
  std::error_code ec;
  socket_.open(client->remote.protocol(), ec);
  if (!ec && client->local) socket_.bind(*client->local, ec);
  if (ec) return close_with({close_reason::connect_failed, portable(ec)}, now);
  stage_deadline_ = now + shard_.connect_timeout();
  ++pending_handlers_;
  socket_.async_connect(client->remote, [this](std::error_code connect_ec) {
    --pending_handlers_;
    on_connected(connect_ec, shard_.now());
    handler_done();
  });
  rearm(now);
}

void session::on_connected(std::error_code ec, time_point now) {
  if (state_ != session_state::connecting) return;
  if (!ec) socket_.non_blocking(true, ec);
  if (!ec) ec = apply_session_options(socket_.native_handle(), shard_.backstop());
  if (ec) return close_with({close_reason::connect_failed, portable(ec)}, now);
  state_ = session_state::handshaking;
  stage_deadline_ = now + shard_.config().handshake_timeout;
  last_heard_ = now;
  const auto& cfg = shard_.config();
  send_frame(hello_frame{.heartbeat_interval = cfg.heartbeat_interval, .dead_after = cfg.dead_after}, now);
  if (state_ != session_state::handshaking) return;
  wait_readable();
  rearm(now);  // from the connect deadline to the handshake deadline
}

// --- reading ---------------------------------------------------------------------------

void session::wait_readable() {
  if (read_waiting_ || state_ >= session_state::closed) return;
  read_waiting_ = true;
  ++pending_handlers_;
  // Wait for readability rather than reading into a buffer of our own: an idle session
  // holds no read buffer; the bytes land in the shard's one buffer when they arrive.
  socket_.async_wait(asio::ip::tcp::socket::wait_read, [this](std::error_code ec) {
    --pending_handlers_;
    read_waiting_ = false;
    on_readable(ec);
    handler_done();
  });
}

void session::on_readable(std::error_code ec) {
  if (state_ >= session_state::closed || ec == asio::error::operation_aborted) return;
  const auto now = shard_.now();
  if (state_ == session_state::closing) return drain_until_peer_closes();
  if (ec) return close_with(classify(ec), now);
  const auto buffer = shard_.read_buffer();
  for (int reads = 0; reads < max_reads_per_wakeup; ++reads) {
    const std::size_t n = socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == asio::error::would_block) break;
    if (ec) {
      if (ec == asio::error::eof && decoder_.finish() == frame_error::truncated_frame)
        return close_with({close_reason::peer_closed, frame_error::truncated_frame}, now);
      return close_with(classify(ec), now);
    }
    auto& stats = shard_.counters();
    stats.bytes_received += n;
    // Bytes of a frame still arriving prove the peer alive too: a large frame on a slow
    // link must not look like silence.
    last_heard_ = now;
    sent_since_heard_ = false;
    decoder_.feed(std::span<const std::byte>(buffer.data(), n));
    std::error_code frame_ec;
    while (auto f = decoder_.next(frame_ec)) {
      ++stats.frames_received;
      if (!handle_frame(*f, now)) return;
    }
    if (frame_ec) return close_with({close_reason::protocol_error, frame_ec}, now);
    if (n < buffer.size()) break;  // drained what the kernel had
  }
  if (state_ < session_state::closed) wait_readable();
}

bool session::handle_frame(const frame& f, time_point now) {
  // Any frame proves the peer alive: one timestamp store, no timer work.
  last_heard_ = now;
  sent_since_heard_ = false;
  const bool expecting_handshake = state_ == session_state::handshaking;
  std::visit(overloaded{
                 [&](const hello_frame& h) {
                   if (role_ == session_role::server && expecting_handshake) on_hello(h, now);
                   else close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const welcome_frame& w) {
                   if (role_ == session_role::client && expecting_handshake) on_welcome(w, now);
                   else close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const beat_frame& b) {
                   if (state_ == session_state::open) on_beat(b, now);
                   else if (expecting_handshake) close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const data_frame& d) {
                   if (state_ == session_state::open) shard_.notify_message(*this, d.payload);
                   else if (expecting_handshake) close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const close_frame& c) { close_with(reason_for_peer_close(c.code), now); },
             },
             f);
  return state_ == session_state::open || state_ == session_state::handshaking;
}

void session::on_hello(const hello_frame&, time_point now) {
  // The server's settings win: one policy for every session of a server. The server_
  // fields go on the wire only when the server beats at a rate of its own.
  const auto& cfg = shard_.config();
  const auto own = derive_server_beat(cfg);
  const bool own_rate = own.interval != cfg.heartbeat_interval;
  send_frame(welcome_frame{.heartbeat_interval = cfg.heartbeat_interval,
                           .dead_after = dead_after_,
                           .session_id = id_.value,
                           .server_heartbeat_interval = own_rate ? own.interval : milliseconds{0},
                           .server_dead_after = own_rate ? own.clients_wait : milliseconds{0}},
             now);
  if (state_ == session_state::handshaking) enter_open(now);
}

void session::on_welcome(const welcome_frame& welcome, time_point now) {
  if (welcome.heartbeat_interval.count() > 0 && welcome.dead_after > welcome.heartbeat_interval) {
    heartbeat_interval_ = welcome.heartbeat_interval;
    dead_after_ = welcome.dead_after;
    // A server that beats at its own rate says how long to wait it out; anything that
    // would call a punctual server dead is ignored.
    if (welcome.server_heartbeat_interval.count() > 0 && welcome.server_dead_after > welcome.server_heartbeat_interval)
      dead_after_ = welcome.server_dead_after;
  }
  enter_open(now);
}

void session::enter_open(time_point now) {
  state_ = session_state::open;
  opened_ = true;
  ++shard_.counters().sessions_opened;
  rearm(now);
  shard_.notify_opened(*this);
}

void session::on_beat(const beat_frame& beat, time_point now) {
  ++shard_.counters().heartbeats_received;
  peer_sent_at_ = beat.sent_at;
  peer_beat_received_ = now;
  if (beat.echo_of_peer != wire_timestamp{}) {
    const auto sample = lifeline::round_trip_time(beat, to_wire_timestamp(now));
    if (sample.count() >= 0) rtt_ = sample;
  }
}

// --- writing ---------------------------------------------------------------------------

bool session::send_message(std::span<const std::byte> payload, time_point now) {
  if (state_ != session_state::open) return false;
  send_frame(data_frame{.payload = payload}, now);
  return true;
}

void session::send_beat(time_point now) {
  const auto held = peer_sent_at_ == wire_timestamp{}
                        ? std::chrono::microseconds{0}
                        : std::chrono::duration_cast<std::chrono::microseconds>(now - peer_beat_received_);
  send_frame(beat_frame{.sent_at = to_wire_timestamp(now), .echo_of_peer = peer_sent_at_, .held_for = held}, now);
  ++shard_.counters().heartbeats_sent;
}

void session::send_frame(const frame& f, time_point now) {
  std::error_code ec;
  const auto bytes = shard_.encoder().encode(f, ec);
  if (ec) return;  // only a message above max_frame_size; the engine refuses those first
  const auto& cfg = shard_.config();
  if (outbound_.size() - outbound_sent_ + bytes.size() > cfg.write_queue_limit)
    return close_with({close_reason::write_stalled, std::make_error_code(std::errc::no_buffer_space)}, now);
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
  last_sent_ = now;
  sent_since_heard_ = true;
  auto& stats = shard_.counters();
  ++stats.frames_sent;
  stats.bytes_sent += bytes.size();
  if (!write_waiting_) flush(now);
}

// Writes what the socket takes now; waits for writability for the rest.
void session::flush(time_point now) {
  while (outbound_sent_ < outbound_.size()) {
    std::error_code ec;
    const auto n = socket_.write_some(asio::buffer(outbound_.data() + outbound_sent_, outbound_.size() - outbound_sent_), ec);
    if (ec == asio::error::would_block) {
      if (!write_waiting_ && state_ == session_state::open) {
        wait_writable();
        rearm(now);  // the write-stall deadline now applies
      } else {
        wait_writable();
      }
      return;
    }
    if (ec) {
      if (state_ == session_state::closing) return enter_closed();
      return close_with(classify(ec), now);
    }
    outbound_sent_ += n;
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

void session::drain_until_peer_closes() {
  const auto buffer = shard_.read_buffer();
  for (int reads = 0; reads < max_reads_per_wakeup; ++reads) {
    std::error_code ec;
    socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == asio::error::would_block) break;
    if (ec) return enter_closed();  // EOF (the peer closed) or the connection is gone
  }
  wait_readable();  // more later; the flush deadline bounds the wait
}

void session::wait_writable() {
  if (write_waiting_) return;
  write_waiting_ = true;
  ++pending_handlers_;
  socket_.async_wait(asio::ip::tcp::socket::wait_write, [this](std::error_code ec) {
    --pending_handlers_;
    write_waiting_ = false;
    if (state_ < session_state::closed && ec != asio::error::operation_aborted) {
      if (ec) {
        if (state_ == session_state::closing) enter_closed();
        else close_with(classify(ec), shard_.now());
      } else {
        flush(shard_.now());
      }
    }
    handler_done();
  });
}

// --- deadlines -------------------------------------------------------------------------

void session::on_deadline(time_point now) {
  const auto& cfg = shard_.config();
  switch (state_) {
    case session_state::connecting:
      if (now >= stage_deadline_) return close_with({close_reason::connect_failed, std::make_error_code(std::errc::timed_out)}, now);
      break;
    case session_state::handshaking:
      if (now >= stage_deadline_) return close_with({close_reason::handshake_timeout, {}}, now);
      break;
    case session_state::open:
      if (heartbeats_on() && now >= last_heard_ + dead_after_) {
        shard_.counters().heartbeat_timeout_lateness.record(now - (last_heard_ + dead_after_));
        return close_with({close_reason::heartbeat_timeout, {}}, now);
      }
      if (outbound_sent_ < outbound_.size() && now >= write_progress_ + cfg.write_stall_timeout)
        return close_with({close_reason::write_stalled, {}}, now);
      if (heartbeats_on() && now >= last_sent_ + heartbeat_interval_) send_beat(now);
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
    case session_state::closing:
      next = stage_deadline_;
      break;
    case session_state::open:
      if (heartbeats_on()) next = std::min(last_heard_ + dead_after_, last_sent_ + heartbeat_interval_);
      if (outbound_sent_ < outbound_.size()) next = std::min(next, write_progress_ + shard_.config().write_stall_timeout);
      break;
    case session_state::closed:
      return;
  }
  if (next == time_point::max()) return shard_.cancel(deadline_);
  shard_.schedule(deadline_, std::max(next, now));
}

// --- closing ---------------------------------------------------------------------------

close_info session::classify(std::error_code ec) noexcept {
  if (ec == asio::error::eof) return {close_reason::peer_closed, ec};
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
  if (state_ >= session_state::closing) return;
  why_closed_ = why;
  why_closed_.last_heard = last_heard_;
  ++shard_.counters().closes_by_reason[static_cast<std::size_t>(why.reason) & 15u];
  const bool was_live = state_ == session_state::open || state_ == session_state::handshaking;
  state_ = session_state::closing;
  shard_.notify_closed(*this);
  if (state_ != session_state::closing) return;  // the game's handler cannot close twice, but be sure

  if (why.reason == close_reason::peer_closed) return enter_closed();  // it said goodbye: a plain close
  if (peer_is_gone(why.reason) || !was_live) {
    make_close_abortive(socket_.native_handle());  // nobody to say goodbye to: free it at once
    return enter_closed();
  }
  // The peer may still be listening: tell it why, flush, then close gracefully.
  stage_deadline_ = now + shard_.flush_timeout();
  std::error_code ec;
  const auto bytes = shard_.encoder().encode(close_frame{.code = wire_code_for(why), .detail = to_string(why.reason)}, ec);
  if (!ec && outbound_.size() - outbound_sent_ + bytes.size() <= shard_.config().write_queue_limit) {
    if (outbound_sent_ == outbound_.size()) {
      outbound_.clear();
      outbound_sent_ = 0;
    }
    outbound_.insert(outbound_.end(), bytes.begin(), bytes.end());
  }
  if (!write_waiting_) flush(now);
  if (state_ == session_state::closing) rearm(now);
}

void session::hurry_close(time_point deadline) {
  if (state_ != session_state::closing || deadline >= stage_deadline_) return;
  stage_deadline_ = deadline;
  shard_.schedule(deadline_, deadline);
}

void session::enter_closed() {
  if (state_ == session_state::closed) return;
  state_ = session_state::closed;
  shard_.cancel(deadline_);
  std::error_code ignored;
  if (outbound_sent_ != outbound_.size()) make_close_abortive(socket_.native_handle());  // could not flush: RST
  socket_.close(ignored);  // pending waits complete with operation_aborted
  std::vector<std::byte>().swap(outbound_);
  outbound_sent_ = 0;
  if (pending_handlers_ == 0) shard_.reclaim_later(*this);
}

void session::handler_done() {
  if (is_reclaimable()) shard_.reclaim_later(*this);
}

}  // namespace lifeline::detail
