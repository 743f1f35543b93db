#include "session.hpp"

#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/detail/overloaded.hpp>
#include <lifeline/frame_error.hpp>

#include <asio/error.hpp>

#include <algorithm>

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
    default: return close_code::normal;
  }
}

// Asio reports errno values in its own category, which does not compare equal to
// std::errc in Asio 1.22; the game gets std::system_category(), so it needs no Asio.
std::error_code portable(std::error_code ec) noexcept {
  return ec.category() == asio::system_category() ? std::error_code(ec.value(), std::system_category()) : ec;
}

rate_limits wire_limits(const inbound_limits& limits) noexcept {
  const auto clamp32 = [](std::size_t v) { return static_cast<std::uint32_t>(std::min<std::size_t>(v, UINT32_MAX)); };
  return {.frames_per_second = clamp32(limits.frames_per_second),
          .bytes_per_second = clamp32(limits.bytes_per_second),
          .burst = limits.burst,
          .beats_per_interval = static_cast<std::uint16_t>(std::min(limits.beats_per_interval, 65535u))};
}

// Halfway between the peer's beat interval and the silence allowed it, unless the game
// set a value that lies between them.
std::chrono::milliseconds suspicion_after(std::chrono::milliseconds peer_interval, std::chrono::milliseconds dead_after,
                                          const std::optional<std::chrono::milliseconds>& configured) noexcept {
  if (configured && *configured > peer_interval && *configured < dead_after) return *configured;
  return (peer_interval + dead_after) / 2;
}

}  // namespace

std::string_view to_string(session_state s) noexcept {
  switch (s) {
    case session_state::connecting: return "connecting";
    case session_state::handshaking: return "handshaking";
    case session_state::open: return "open";
    case session_state::suspect: return "suspect";
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
      dead_after_(owner.config().dead_after),
      suspect_after_(owner.evidence().suspect_after),
      // A server's peers beat every heartbeat_interval; a client's server says in its welcome.
      peer_interval_(owner.config().heartbeat_interval) {}

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

// --- frames ------------------------------------------------------------------------------

bool session::handle_frame(const frame& f, time_point now) {
  // Any complete frame proves the peer alive: one timestamp store, no timer work.
  last_heard_ = now;
  sent_since_heard_ = false;
  conviction_deferred_ = false;     // any deferral or paced release belonged to a silence now over
  released_at_ = time_point::max();
  // The game hears of a recovery before the frame that proved it; a close frame is no
  // recovery (close_as settles the suspect count, and on_closed follows).
  if (state_ == session_state::suspect && !std::holds_alternative<close_frame>(f)) {
    leave_suspect();
    if (state_ != session_state::open) return false;
  }
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
                   if (is_open()) on_beat(b, now);
                   else if (expecting_handshake) close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const data_frame& d) {
                   if (is_open()) shard_.notify_message(*this, d.payload);
                   else if (expecting_handshake) close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const close_frame& c) { close_as(reason_for_peer_close(c.code), farewell::none, now); },
             },
             f);
  return is_open() || state_ == session_state::handshaking;
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
                           .server_dead_after = own_rate ? own.clients_wait : milliseconds{0},
                           .limits = wire_limits(cfg.inbound)},
             now);
  if (state_ == session_state::handshaking) enter_open(now);
}

void session::on_welcome(const welcome_frame& welcome, time_point now) {
  if (welcome.heartbeat_interval.count() > 0 && welcome.dead_after > welcome.heartbeat_interval) {
    heartbeat_interval_ = welcome.heartbeat_interval;
    dead_after_ = welcome.dead_after;
    auto peer_interval = welcome.heartbeat_interval;
    // A server that beats at its own rate says how long to wait it out; anything that
    // would call a punctual server dead is ignored.
    if (welcome.server_heartbeat_interval.count() > 0 && welcome.server_dead_after > welcome.server_heartbeat_interval) {
      peer_interval = welcome.server_heartbeat_interval;
      dead_after_ = welcome.server_dead_after;
    }
    peer_interval_ = peer_interval;
    suspect_after_ = suspicion_after(peer_interval, dead_after_, shard_.config().suspect_after);
  }
  enter_open(now);
}

void session::enter_open(time_point now) {
  if (role_ == session_role::server) shard_.handshake_ended(*this, /*opened=*/true);
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
  // The peer finds us suspect: answer at once, unless we sent anything a moment ago (that
  // frame answers already), which also keeps a hostile peer from using us as a reflector.
  if (beat.urgent && now - last_sent_ >= std::min(heartbeat_interval_ / 4, std::chrono::milliseconds{100})) send_beat(now);
}

bool session::send_message(std::span<const std::byte> payload, time_point now, admitted how) {
  if (!is_open()) return false;
  send_frame(data_frame{.payload = payload}, now, how == admitted::by_send);
  return true;
}

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
  close_as(why, farewell_for(why.reason, is_open() || state_ == session_state::handshaking), now);
}

void session::close_as(close_info why, farewell how, time_point now) {
  if (state_ >= session_state::closing) return;
  why_closed_ = why;
  why_closed_.last_heard = last_heard_;
  auto& stats = shard_.counters();
  ++stats.closes_by_reason[static_cast<std::size_t>(why.reason) % close_reason_count];
  if (state_ == session_state::suspect) --stats.sessions_suspect;
  if (role_ == session_role::server) {
    if (state_ == session_state::handshaking) shard_.handshake_ended(*this, /*opened=*/false);
    else if (is_open()) shard_.open_session_ended(*this);
  }
  state_ = session_state::closing;
  shard_.notify_closed(*this);
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
  const auto bytes = shard_.encoder().encode(close_frame{.code = wire_code_for(why), .detail = to_string(why.reason)}, ec);
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

void session::enter_closed() {
  if (state_ == session_state::closed) return;
  state_ = session_state::closed;
  shard_.cancel(deadline_);
  shard_.retire(*this);
  std::error_code ignored;
  if (outbound_sent_ != outbound_.size()) make_close_abortive(socket_.native_handle());  // could not flush: RST
  socket_.close(ignored);  // pending waits complete with operation_aborted
  publish_unsent(-static_cast<std::ptrdiff_t>(outbound_.size() - outbound_sent_));
  std::vector<std::byte>().swap(outbound_);
  outbound_sent_ = 0;
  // A frame still arriving is given back now, not when the session is reclaimed: closing
  // the biggest holders is how the memory budget makes room. Not while its read loop is
  // on the stack: a handler may still hold a view into it (read_available does it then).
  if (!reading_) decoder_ = frame_decoder(shard_.config().max_frame_size);
  account_memory();
  if (pending_handlers_ == 0) shard_.reclaim_later(*this);
}

void session::handler_done() {
  if (is_reclaimable()) shard_.reclaim_later(*this);
}

}  // namespace lifeline::detail
