#include "session.hpp"

#include "portable_error.hpp"
#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/detail/overloaded.hpp>
#include <lifeline/frame_error.hpp>

#include <asio/error.hpp>

#include <algorithm>

namespace lifeline::detail {
namespace {

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
    case session_state::lingering: return "lingering";
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
      last_timed_(now),
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

// --- frames ------------------------------------------------------------------------------

bool session::handle_frame(const frame& f, time_point now) {
  // Any complete frame proves the peer alive: one timestamp store, no timer work.
  last_heard_ = now;
  if (resume_ && resume_->unconfirmed) confirm_resume();
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
                   if (role_ == session_role::client && expecting_handshake && resume_ && resume_->attempting)
                     on_resumed_welcome(w, now);
                   else if (role_ == session_role::client && expecting_handshake) on_welcome(w, now);
                   else close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const beat_frame& b) {
                   if (is_open()) {
                     note_ack(b.ack);
                     on_beat(b, now);
                   }
                   else if (expecting_handshake) close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const data_frame& d) {
                   if (is_open()) {
                     if (resumable_) {
                       ++resume_state().received;  // its number in the session: what we acknowledge
                       note_ack(d.ack);
                     }
                     if (d.timing) note_peer_clock(*d.timing, now);
                     shard_.notify_message(*this, d.payload);
                   }
                   else if (expecting_handshake) close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
                 },
                 [&](const close_frame& c) {
                   if (resume_ && resume_->attempting) return resume_refused_by_peer(c, now);
                   auto why = reason_for_peer_close(c.code);
                   if (c.code == close_code::application) {
                     why.app_code = c.app_code;  // the peer's game kicked us: its code and words
                     why.app_reason = c.detail;
                   }
                   close_as(why, farewell::none, now);
                 },
             },
             f);
  return is_open() || state_ == session_state::handshaking;
}

// The server's settings win: one policy for every session of a server. The server_
// fields go on the wire only when the server beats at a rate of its own.
welcome_frame session::welcome_settings() const {
  const auto& cfg = shard_.config();
  const auto own = derive_server_beat(cfg);
  const bool own_rate = own.interval != cfg.heartbeat_interval;
  return welcome_frame{.heartbeat_interval = cfg.heartbeat_interval,
                       .dead_after = dead_after_,
                       .session_id = id_.value,
                       .server_heartbeat_interval = own_rate ? own.interval : milliseconds{0},
                       .server_dead_after = own_rate ? own.clients_wait : milliseconds{0},
                       .limits = wire_limits(cfg.inbound)};
}

void session::on_hello(const hello_frame& hello, time_point now) {
  // A resume: the shard checks the token and hands this connection to its session.
  if (!hello.resume_token.empty()) return shard_.resume_requested(*this, hello, now);
  auto welcome = welcome_settings();
  welcome.version = std::min(hello.version, protocol_version);  // a version-1 client gets a version-1 welcome
  peer_times_data_ = hello.version >= 2;
  offer_resume(welcome, hello, now);
  send_frame(welcome, now);
  if (state_ == session_state::handshaking) enter_open(now);
}

void session::on_welcome(const welcome_frame& welcome, time_point now) {
  accept_resume_offer(welcome);
  peer_times_data_ = welcome.version >= 2;
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
    liveness_from_welcome_ = true;
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
  note_peer_clock({beat.sent_at, beat.echo_of_peer, beat.held_for}, now);
  // A connector keeps the fresh token its server sends before the one it holds expires.
  if (!beat.resume_token.empty() && role_ == session_role::client && resumable_)
    resume_state().token.assign(beat.resume_token.begin(), beat.resume_token.end());
  // The peer finds us suspect: answer at once, unless we sent anything a moment ago (that
  // frame answers already), which also keeps a hostile peer from using us as a reflector.
  if (beat.urgent && now - last_sent_ >= std::min(heartbeat_interval_ / 4, std::chrono::milliseconds{100})) send_beat(now);
}

// The peer's clock, from a beat or a data frame's stamps: echoed in our next stamps, and
// a round-trip sample when it echoes ours.
void session::note_peer_clock(const frame_timing& stamps, time_point now) {
  peer_sent_at_ = stamps.sent_at;
  peer_beat_received_ = now;
  if (stamps.echo_of_peer != wire_timestamp{}) {
    const auto sample = lifeline::round_trip_time(stamps, to_wire_timestamp(now));
    if (sample.count() >= 0) shard_.publish_round_trip_time(id_.slot(), sample);
  }
}

// A busy session's data keeps beats away, and with them round-trip samples: once an
// interval a data frame carries the stamps a beat would (16 bytes), to a peer that reads them.
std::optional<frame_timing> session::timing_due(std::size_t payload, time_point now) {
  constexpr std::size_t stamps_bytes = 16;
  if (!peer_times_data_ || now - last_timed_ < heartbeat_interval_ ||
      payload > max_data_payload(shard_.config().max_frame_size) - stamps_bytes)
    return std::nullopt;
  last_timed_ = now;
  const auto held = peer_sent_at_ == wire_timestamp{}
                        ? std::chrono::microseconds{0}
                        : std::chrono::duration_cast<std::chrono::microseconds>(now - peer_beat_received_);
  return frame_timing{to_wire_timestamp(now), peer_sent_at_, held};
}

bool session::send_message(std::span<const std::byte> payload, time_point now, admitted how) {
  // A lingering session keeps what the game sends, for replay when its peer is back.
  if (!is_open() && !is_lingering()) return false;
  // Data keeps beats away: a token due for refresh goes out with a beat of its own.
  if (token_refresh_due()) send_beat(now);
  send_frame(data_frame{.payload = payload, .ack = ack_to_send(), .timing = is_open() ? timing_due(payload.size(), now) : std::nullopt},
             now, how == admitted::by_send);
  return true;
}

void session::handler_done() {
  if (is_reclaimable()) shard_.reclaim_later(*this);
}

}  // namespace lifeline::detail
