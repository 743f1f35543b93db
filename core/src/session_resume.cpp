// Session and transport (see session.hpp for the whole picture, DESIGN.md §10 for why).
//
// A session that negotiated resume outlives its transport: when the connection dies of a
// cause the player may come back from (resume.linger_on), the session drops the socket and
// lingers for resume.grace, keeping its id, its context, its sequence numbers and the data
// frames the peer has not acknowledged. The server's welcome carried a token (a MAC over
// the session id, its epoch and an expiry: resume_token.hpp); the client comes back on a
// new connection with it, the shard checks it before anything else and hands the
// connection to the session, which bumps its epoch (the token just used is dead, with no
// table of used tokens) and sends a new one. Then each side replays what the other lacks:
// the hello and the welcome say how many data frames each has received, and the oldest
// each can still send. A resume that finds the old transport still open (the player roamed
// faster than the old connection died) closes it as superseded.
#include "session.hpp"

#include "lingering_session.hpp"
#include "portable_error.hpp"
#include "resume_token.hpp"
#include "shard.hpp"
#include "socket_options.hpp"

#include <lifeline/resume_error.hpp>

#include <algorithm>
#include <utility>

namespace lifeline::detail {
namespace {

// The resume_error a refusal's close frame names (its detail is to_string of it).
std::error_code refusal_named(std::string_view detail) noexcept {
  for (int e = 1; e <= static_cast<int>(resume_error::state_lost); ++e)
    if (to_string(static_cast<resume_error>(e)) == detail) return static_cast<resume_error>(e);
  return resume_error::unknown_session;
}

}  // namespace

// --- both sides ------------------------------------------------------------------------------

session::resume_side& session::resume_state() {
  if (!resume_) {
    resume_ = std::make_unique<resume_side>(shard_.config().resume.replay_bytes);
    resume_->grace = shard_.config().resume.grace;  // a server's own; a connector's comes from its welcome
  }
  return *resume_;
}

bool session::may_linger(const close_info& why) const noexcept {
  if (!resumable_ || !opened_ || shard_.shutting_down()) return false;
  if (resume_ && resume_->attempting) {
    // A connector's new attempt failed (refused, timed out, reset): wait and dial again.
    // Unless it is the game's doing, or the server's answer made no sense.
    switch (why.reason) {
      case close_reason::closed_locally: case close_reason::shutdown: case close_reason::handler_error:
      case close_reason::protocol_error: case close_reason::memory_budget: case close_reason::rate_exceeded:
        return false;
      default:
        return true;
    }
  }
  if (!is_open()) return false;
  const auto& causes = shard_.config().resume.linger_on;
  return std::find(causes.begin(), causes.end(), why.reason) != causes.end();
}

// The transport died; the session stays, without a socket, for the grace period.
void session::enter_lingering(close_info why, time_point now) {
  auto& stats = shard_.counters();
  resume_state();
  if (resume_->attempting) {
    // A connector's attempt failed (refused, timed out, reset): the outage goes on.
    resume_->attempting = false;
    ++resume_->attempts;
    shed_transport();
    state_ = session_state::lingering;
    stage_deadline_ = std::min(now + shard_.reconnect_delay(resume_->attempts), resume_->until);
    rearm(now);
    return;
  }
  if (state_ == session_state::suspect) --stats.sessions_suspect;
  if (role_ == session_role::server) shard_.open_session_ended(*this);
  why.last_heard = last_heard_;
  resume_->lost = why;
  resume_->until = now + resume_->grace;
  resume_->attempts = 0;
  ++stats.sessions_lingering;
  ++stats.transports_lost;
  // Nothing to say: the peer is gone, or will come back on another connection. An RST,
  // so a peer that is alive after all (hung, then resumed) learns at once to dial again.
  shed_transport();
  state_ = session_state::lingering;
  // A server waits for the client; a connector dials again at once (a reset or EOF is
  // usually a server or a route that is back), then backs off.
  stage_deadline_ = role_ == session_role::client ? now : resume_->until;
  rearm(now);
  shard_.notify_transport_lost(*this, why);
  // The game's handler may have closed it; else a server keeps only what it needs.
  if (state_ == session_state::lingering && role_ == session_role::server) shard_.hibernate(*this);
}

void session::hibernate_into(lingering_session& record) {
  record.user_context = user_context;
  record.charged = std::exchange(charged_, 0);
  auto& r = *resume_;
  record.epoch = r.epoch;
  record.sent = r.sent;
  record.received = r.received;
  record.ack_sent = r.ack_sent;
  record.unconfirmed = r.unconfirmed;
  record.lost_as = r.lost->reason;
  record.lost_detail = r.lost->detail;
  record.last_heard = r.lost->last_heard;
  record.until = r.until;
  record.replay = std::move(r.replay);
  resume_.reset();
  shard_.cancel(deadline_);
  state_ = session_state::closed;  // its waits, aborted with the socket, find nothing to do
}

void session::wake_from(lingering_session& record) {
  user_context = record.user_context;
  charged_ = std::exchange(record.charged, 0);
  state_ = session_state::lingering;
  opened_ = true;
  resumable_ = true;
  peer_times_data_ = true;  // resume is version 2
  last_heard_ = record.last_heard;
  auto& r = resume_state();
  r.epoch = record.epoch;
  r.sent = record.sent;
  r.received = record.received;
  r.ack_sent = record.ack_sent;
  r.unconfirmed = record.unconfirmed;
  r.lost = close_info{record.lost_as, record.lost_detail};
  r.lost->last_heard = record.last_heard;
  r.until = record.until;
  r.replay = std::move(record.replay);
}

// The grace ran out (or the server refused the resume): the session ends, as the game
// was told when its transport died, with `lingered` set.
void session::expire_lingering(time_point now, std::error_code refused) {
  auto why = *resume_->lost;
  if (refused) why.detail = refused;
  resume_->attempting = false;
  close_as(why, farewell::abort, now);
}

// Drops the current socket (RST) and forgets its waits: their completions find an older
// generation and do nothing.
void session::shed_transport() {
  std::error_code ignored;
  if (socket_.is_open()) {
    make_close_abortive(socket_.native_handle());
    socket_.close(ignored);
  }
  ++transport_;
  read_waiting_ = write_waiting_ = read_posted_ = false;
  write_failed_with_ = 0;
  drop_buffers();
  frame_started_ = time_point::max();
  released_at_ = time_point::max();
  conviction_deferred_ = false;
  inbound_ = inbound_budget{};
  backlogged_ = false;  // its queue is gone: a resumed session starts writable, unannounced
  account_memory();
}

// A new socket is this session's transport from now on.
void session::start_transport(time_point now) {
  std::error_code ec;
  socket_.non_blocking(true, ec);
  if (!ec) ec = apply_session_options(socket_.native_handle(), shard_.backstop());
  last_heard_ = now;
  last_sent_ = now;
  write_progress_ = now;
  sent_since_heard_ = false;
  if (ec) return close_with({close_reason::socket_error, portable(ec)}, now);
  wait_readable();
}

// Server: the client's token was issued half a lifetime ago or more (see
// shard::token_generation). Not while a resume is unconfirmed: the client may hold either
// of two epochs' tokens then, and the next beat after confirmation refreshes it.
bool session::token_refresh_due() const noexcept {
  return role_ == session_role::server && resumable_ && is_open() && token_generation_ != shard_.token_generation() &&
         !(resume_ && resume_->unconfirmed);
}

std::uint32_t session::ack_to_send() noexcept {
  if (!resume_ || resume_->received == resume_->ack_sent) return 0;
  resume_->ack_sent = resume_->received;
  return resume_->received;
}

void session::note_ack(std::uint32_t ack) noexcept {
  if (ack == 0 || !resume_) return;
  resume_->replay.acknowledge(ack);  // a stale (replayed) ack acknowledges nothing new
  account_memory();
}

// Queues, after the welcome, every data frame of ours the peer has not received.
std::uint32_t session::replay_after(std::uint32_t peer_received, time_point now) {
  resume_->replay.acknowledge(peer_received);
  const auto replayed = resume_->replay.for_each_after(peer_received, [&](std::span<const std::byte> frame) {
    if (state_ == session_state::open) queue_bytes(frame, now);
  });
  shard_.counters().replayed_frames += replayed;
  return replayed;
}

// --- server side -------------------------------------------------------------------------------

// The first welcome of a session that can resume: a token, and how long the session
// will wait for its client. A version-1 client gets neither (it could not use them).
void session::offer_resume(welcome_frame& welcome, const hello_frame& hello, time_point) {
  const auto& cfg = shard_.config().resume;
  if (cfg.grace.count() == 0 || hello.version < 2) return;
  resumable_ = true;  // its state is made when first needed (epoch 0 until then)
  welcome.resume_grace = cfg.grace;
  welcome.resume_token = shard_.issue_token(id_, 0);
  token_generation_ = shard_.token_generation();
}

std::error_code session::resume_with(asio::ip::tcp::socket& socket, const resume_request& request, time_point now) {
  if (!resumable_) return resume_error::not_resumable;
  if (!is_open() && state_ != session_state::lingering) return resume_error::unknown_session;
  resume_state();
  // The token in use, or, while the last resume is unconfirmed, the one its welcome
  // carried: a welcome lost with its connection must not burn the client's token.
  const bool current = request.epoch == resume_->epoch;
  const bool from_unconfirmed_welcome = resume_->unconfirmed && request.epoch == resume_->epoch + 1;
  if (!current && !from_unconfirmed_welcome) return resume_error::replayed_token;
  if (from_unconfirmed_welcome) ++resume_->epoch;  // the client had it: that resume is confirmed
  auto& stats = shard_.counters();
  const bool takeover = is_open();
  if (takeover) {
    // The player came back before its old connection was found dead (it roamed): that
    // one is over. It is told so, if it can still hear.
    if (outbound_sent_ == outbound_.size()) {
      std::error_code ignored;
      const auto bytes = shard_.encoder().encode(close_frame{.code = close_code::superseded, .detail = "superseded"}, ignored);
      if (!ignored) socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ignored);
    }
    if (state_ == session_state::suspect) --stats.sessions_suspect;
    if (role_ == session_role::server) shard_.open_session_ended(*this);
    shed_transport();
    ++stats.takeovers;
  } else {
    --stats.sessions_lingering;
  }
  socket_ = std::move(socket);
  state_ = session_state::open;
  resume_->lost.reset();
  // The token just used dies when the client proves it has the new one (its first frame
  // on this connection: confirm_resume()), not before: this welcome may yet be lost.
  resume_->unconfirmed = true;
  ++stats.resumed;

  // What each side lacks: ours after the peer's count; the peer's after ours, unless it
  // no longer has them (then they are lost: our count moves on to what it still has).
  const bool lost_ours = !resume_->replay.holds_all_after(request.received);
  const bool lost_theirs = after(request.replay_from, resume_->received + 1);
  if (lost_theirs) resume_->received = request.replay_from - 1;
  const bool state_lost = lost_ours || lost_theirs;
  if (state_lost) ++stats.resumed_state_lost;

  start_transport(now);
  if (state_ != session_state::open) return {};  // the new socket failed at once: closed, and the game told
  auto welcome = welcome_settings();
  welcome.resume_grace = resume_->grace;
  welcome.resume_token = shard_.issue_token(id_, resume_->epoch + 1);
  token_generation_ = shard_.token_generation();
  welcome.resumed = true;
  welcome.received = resume_->received;
  welcome.replay_from = resume_->replay.first();
  welcome.state_lost = state_lost;
  send_frame(welcome, now);
  const auto replayed = replay_after(request.received, now);
  if (state_ != session_state::open) return {};
  rearm(now);
  shard_.notify_resumed(*this, resumed_info{.state_lost = state_lost, .takeover = takeover, .replayed = replayed});
  return {};
}

// The client's first frame on a resumed connection: it has the new token, and the one it
// resumed with is dead from now on.
void session::confirm_resume() noexcept {
  resume_->unconfirmed = false;
  ++resume_->epoch;
}

asio::ip::tcp::socket::native_handle_type session::hand_over_connection() {
  std::error_code ignored;
  const auto fd = socket_.release(ignored);  // its waits complete as aborted
  ++transport_;
  shard_.handshake_ended(*this, /*opened=*/false);
  state_ = session_state::closing;
  shard_.notify_closed(*this);  // never opened: the game hears nothing; the id goes stale
  enter_closed();
  return fd;
}

void session::refuse_resume(std::error_code why, time_point now) {
  ++shard_.counters().resumes_refused;
  close_with({close_reason::resume_rejected, why}, now);
}

// --- connector side ----------------------------------------------------------------------------

// The welcome offers resume: keep what the connector needs to come back.
void session::accept_resume_offer(const welcome_frame& welcome) {
  if (welcome.resume_grace.count() == 0 || welcome.resume_token.empty()) return;
  resumable_ = true;
  resume_ = std::make_unique<resume_side>(shard_.config().resume.replay_bytes);
  resume_->grace = welcome.resume_grace;
  resume_->token.assign(welcome.resume_token.begin(), welcome.resume_token.end());
  resume_->server_session = welcome.session_id;
}

// Lingering, a connector dials its server again with a new socket: the address it was
// connected to (the session lives in that server process; a name is not looked up again).
void session::dial_again(time_point now) {
  std::error_code ec;
  socket_ = asio::ip::tcp::socket(shard_.io());
  socket_.open(client->remote.protocol(), ec);
  if (!ec && client->target.local) socket_.bind(*client->target.local, ec);
  resume_->attempting = true;
  state_ = session_state::connecting;
  if (ec) return close_with({close_reason::connect_failed, portable(ec)}, now);
  stage_deadline_ = std::min(now + shard_.connect_timeout(), resume_->until);
  ++pending_handlers_;
  socket_.async_connect(client->remote, [this, generation = transport_](std::error_code connect_ec) {
    --pending_handlers_;
    if (generation == transport_) on_connected(connect_ec, shard_.now());
    handler_done();
  });
  rearm(now);
}

void session::on_resumed_welcome(const welcome_frame& welcome, time_point now) {
  if (!welcome.resumed || welcome.session_id != resume_->server_session)
    return close_with({close_reason::protocol_error, frame_error::unexpected_frame}, now);
  resume_->attempting = false;
  resume_->lost.reset();
  --shard_.counters().sessions_lingering;
  ++shard_.counters().resumed;
  if (!welcome.resume_token.empty()) resume_->token.assign(welcome.resume_token.begin(), welcome.resume_token.end());
  // The server lost some of what it had kept for us: our count moves on to what it has.
  if (after(welcome.replay_from, resume_->received + 1)) resume_->received = welcome.replay_from - 1;
  if (welcome.state_lost) ++shard_.counters().resumed_state_lost;
  state_ = session_state::open;
  last_heard_ = now;
  const auto replayed = replay_after(welcome.received, now);
  if (state_ != session_state::open) return;
  // A first frame at once tells the server we have the new token (it keeps the old one
  // valid until then); replayed data says so already.
  if (replayed == 0) send_beat(now);
  if (state_ != session_state::open) return;
  rearm(now);
  shard_.notify_resumed(*this, resumed_info{.state_lost = welcome.state_lost, .takeover = false, .replayed = replayed});
}

// A close frame in answer to our resume: the server refused it (or is going away).
void session::resume_refused_by_peer(const close_frame& refusal, time_point now) {
  const std::error_code why = refusal.code == close_code::resume_rejected ? refusal_named(refusal.detail)
                                                                          : make_error_code(refusal.code);
  expire_lingering(now, why);
}

}  // namespace lifeline::detail
