// One TCP session, owned by its shard (private to core/).
//
// The state machine, each transition a named verb:
//
//   handshaking --(hello / welcome)--> open <--(heard: leave_suspect)--> suspect
//        |                               |  --(silent suspect_after: enter_suspect)-->  |
//        |                               +---------------(close_with)------------------+
//        |                               |  transport died, resume negotiated:            |
//        |                               +--(enter_lingering)--> lingering --(resumed)--> open
//        |                                                          | (grace over, refused, closed)
//        +--------------(close_with)---> closing <------------------+
//                                        --(flushed or deadline)--> closed
//                                        --(no handler pending)--> reclaimed by the shard
//
// `closing` keeps the socket only to flush a close frame (and what the game queued) to a
// peer that is still there, half-close, and read until the peer closes too; a peer known
// dead goes straight to closed. A close that could not flush in time is abortive (RST).
// `lingering` (session_resume.cpp, DESIGN.md §10) holds no socket: the session keeps its
// id, context, sequence numbers and the data frames its peer has not acknowledged, for
// resume.grace. A server session resumes when a new connection presents its token (the
// shard checks it and hands the connection over); a connector's session dials again
// itself, passing through connecting and handshaking, and lingers again if that fails.
// A lingering server session does not keep this object: the shard holds a record of it
// (lingering_session.hpp, about 230 bytes against this object's 568) and wakes a new
// object, in state lingering, for whatever needs one (resume, grace over, closed, stop).
// Each transport has a generation: completions of the old socket's waits are ignored.
//
// Liveness costs one timer-wheel entry per session. Complete inbound frames only store
// last_heard_; the entry fires at the earliest of: next heartbeat to send (last_sent_ +
// H), suspicion (last_heard_ + suspect_after), conviction (last_heard_ + T, or, while a
// frame is arriving, its first byte + frame_timeout; either moved later by any stall of
// our own since), a paced release, handshake, write-stall and flush deadlines;
// on_deadline() acts on whatever is due and re-arms for the next. A conviction rests on
// evidence (session_liveness.cpp): bytes waiting unread in the socket are read first.
//
// The code is split by concept: session.cpp (lifecycle, handshake, frames),
// session_connect.cpp (a connector's attempt: lookup, dialling), session_close.cpp (why it
// ended, what the peer is told), session_io.cpp (reading), session_write.cpp (writing),
// session_liveness.cpp (deadlines, suspicion, convictions), session_resume.cpp (lingering,
// resume, replay). All members are touched only on the owning shard's thread.
#pragma once

#include "endpoint_conversion.hpp"
#include "connect_chain.hpp"
#include "inbound_budget.hpp"
#include "replay_buffer.hpp"

#include <lifeline/close_reason.hpp>
#include <lifeline/config.hpp>
#include <lifeline/frame.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/session_id.hpp>
#include <lifeline/timer_wheel.hpp>

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace lifeline::detail {

class shard;
struct lingering_session;

enum class session_state : std::uint8_t { connecting, handshaking, open, suspect, lingering, closing, closed };
[[nodiscard]] std::string_view to_string(session_state s) noexcept;

enum class session_role : std::uint8_t { server, client };

class session {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  session(shard& owner, session_id id, session_role role, asio::ip::tcp::socket socket, time_point now);
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Server side: the socket is connected; wait for hello.
  void start_server(time_point now);
  /// Client side: connect to `remote` (from `local`, if set), send hello, wait for welcome.
  void start_client(time_point now);

  /// How a message was admitted: on the shard's own thread (a handler) its queue's limit
  /// applies here, and passing it closes the session (write_stalled); from a game thread,
  /// send() already held it within the limit (queue_full), and it is queued as is.
  enum class admitted : std::uint8_t { here, by_send };
  /// Queues one game message. False if the session no longer accepts messages.
  bool send_message(std::span<const std::byte> payload, time_point now, admitted how = admitted::here);

  /// Ends the session: tells the game (once), then flushes a close frame to a peer that
  /// may still be listening, or drops the connection at once for a dead one.
  void close_with(close_info why, time_point now);
  /// A closing session must finish by `deadline` (stop() with a shorter flush deadline).
  void hurry_close(time_point deadline);
  /// A closing session gives up flushing at once (the memory budget needs its queue).
  void end_now();
  /// Poll mode: reading was held while the game's events backlog was full; read again.
  void release_reading();
  void hold_reading() noexcept { reading_held_ = true; }

  // session_resume.cpp (server side)
  /// A connection that asked to resume this session, its token checked by the shard: the
  /// session moves to it (closing an old one still open, as superseded), replays what the
  /// peer lacks, and is open again. An error (resume_error) changes nothing.
  struct resume_request {
    std::uint32_t epoch = 0;      // from the token
    std::uint32_t received = 0;   // the peer's count of our data frames
    std::uint32_t replay_from = 0;  // the oldest of its own it can send again
  };
  std::error_code resume_with(asio::ip::tcp::socket& socket, const resume_request& request, time_point now);
  /// This connection's hello asked to resume another session: its socket goes to that
  /// session (returned, released from this one), and this one ends without a word.
  [[nodiscard]] asio::ip::tcp::socket::native_handle_type hand_over_connection();
  /// Refuses a resume asked on this connection (never opened): a close frame naming why.
  void refuse_resume(std::error_code why, time_point now);
  /// Server, lingering: moves what the session keeps into `record` (lingering_session.hpp)
  /// and ends this object's part (state closed, nothing scheduled, no slot given back); the
  /// shard frees it once no Asio handler holds it.
  void hibernate_into(lingering_session& record);
  /// A new server session object (no socket) takes `record` back: lingering, as it was.
  void wake_from(lingering_session& record);
  /// Lingering: the grace ran out (or the server refused the resume). Ends the session,
  /// with the cause its transport died of and `lingered`.
  void expire_lingering(time_point now, std::error_code refused = {});
  /// Bytes read from the socket past the frame being handled (a resume hello must be the
  /// last thing a client sends before the welcome).
  [[nodiscard]] bool is_ipv6() const noexcept {
    std::error_code ec;
    const auto local = socket_.local_endpoint(ec);
    return !ec && local.address().is_v6();
  }
  [[nodiscard]] bool read_past_this_frame() const noexcept { return decoder_.unread_input() > 0 || decoder_.buffered_bytes() > 0; }

  [[nodiscard]] session_id id() const noexcept { return id_; }
  [[nodiscard]] session_state state() const noexcept { return state_; }
  /// Open for the game's messages: open, or suspect (open, with a peer silent a while).
  [[nodiscard]] bool is_open() const noexcept { return state_ == session_state::open || state_ == session_state::suspect; }
  /// Waiting for its peer to come back (its transport died; resume.grace).
  [[nodiscard]] bool is_lingering() const noexcept { return resume_ && resume_->lost; }
  [[nodiscard]] bool is_reclaimable() const noexcept { return state_ == session_state::closed && pending_handlers_ == 0; }
  [[nodiscard]] int native_handle() noexcept { return socket_.native_handle(); }
  /// Both ends of its connection now (two syscalls); empty while lingering.
  [[nodiscard]] session_addresses addresses() const noexcept { return addresses_of(socket_); }
  [[nodiscard]] const close_info& why_closed() const noexcept { return why_closed_; }
  /// Bytes this session's buffers hold (a frame arriving, its write queue): its charge on
  /// the shard's memory budget.
  [[nodiscard]] std::size_t memory_held() const noexcept { return charged_; }
  [[nodiscard]] bool was_opened() const noexcept { return opened_; }
  void* user_context = nullptr;

  /// What only a connector's session needs (where to connect, and which connect() it
  /// belongs to), kept out of line so a server's sessions do not carry it.
  struct client_side {
    connect_target target;   ///< as given to connect()
    connect_ticket chain;    ///< the connect() this attempt belongs to (connect_chain.hpp)
    /// The address dialled last: once connected, the server's, which a resume dials again
    /// (the session belongs to that server process: its name is not looked up again).
    asio::ip::tcp::endpoint remote{};
    std::vector<asio::ip::tcp::endpoint> candidates{};  ///< the name's addresses, in the resolver's order
    std::size_t next_candidate = 0;                      ///< the next one to try
    std::optional<asio::ip::tcp::resolver> resolver{};  ///< made for the lookup of a host name
    bool looking_up = false;                             ///< the lookup is under way
  };
  std::unique_ptr<client_side> client;
  /// The liveness this session runs on: a connector's own until its welcome, then its
  /// server's (connector::liveness).
  [[nodiscard]] effective_liveness liveness_in_use() const noexcept {
    return {.heartbeat_interval = heartbeat_interval_, .dead_after = dead_after_,
            .peer_heartbeat_interval = peer_interval_, .suspect_after = suspect_after_,
            .from_welcome = liveness_from_welcome_};
  }

  /// Resume state, only on sessions that negotiated it (DESIGN.md §10).
  struct resume_side {
    explicit resume_side(std::size_t replay_limit) : replay(replay_limit) {}
    std::uint32_t epoch = 0;          // server: resumes so far; the token carries it
    std::uint32_t sent = 0;           // data frames sent in the session (the last one's number)
    std::uint32_t received = 0;       // data frames received
    std::uint32_t ack_sent = 0;       // the last count we acknowledged
    replay_buffer replay;             // our data frames the peer has not acknowledged
    std::chrono::milliseconds grace{0};
    std::optional<close_info> lost;   // lingering: why the transport died
    time_point until{};               // lingering: when the grace runs out
    // Connector only.
    std::vector<std::byte> token;     // the server's latest token
    std::uint64_t server_session = 0; // the session's id on the server
    bool unconfirmed = false;         // server: resumed, the client not yet heard on the new connection
    bool attempting = false;          // dialling again (connecting or handshaking)
    unsigned attempts = 0;            // failed attempts this outage
  };

 private:
  // What to say to the peer on closing.
  enum class farewell : std::uint8_t {
    none,       // it said goodbye (close frame) or hung up (EOF): answer with a plain FIN
    abort,      // gone, or unable to listen: RST at once, nothing said
    last_word,  // convicted, though perhaps alive: one non-blocking try at a close frame, then RST
    graceful,   // ours to end: a close frame after what is queued, flushed, then FIN
  };

  // session_connect.cpp: a connector's attempt (lookup, dialling each address in turn)
  void on_resolved(std::error_code ec, const asio::ip::tcp::resolver::results_type& results, time_point now);
  void dial_next(time_point now);
  void on_connected(std::error_code ec, time_point now);
  void give_up_connecting(time_point now);

  // session.cpp: lifecycle, handshake, frames; session_close.cpp: closing
  bool handle_frame(const frame& f, time_point now);  // false: stop reading (closed)
  void on_hello(const hello_frame& hello, time_point now);
  void on_welcome(const welcome_frame& welcome, time_point now);
  void on_beat(const beat_frame& beat, time_point now);
  void note_peer_clock(const frame_timing& stamps, time_point now);
  [[nodiscard]] std::optional<frame_timing> timing_due(std::size_t payload, time_point now);
  void enter_open(time_point now);
  [[nodiscard]] static farewell farewell_for(close_reason reason, bool was_live) noexcept;
  void close_as(close_info why, farewell how, time_point now);
  void say_last_word(const close_info& why) noexcept;
  void enter_closed();
  void drop_buffers();
  [[nodiscard]] close_info classify(std::error_code ec) noexcept;
  [[nodiscard]] close_info reason_for_peer_close(close_code code) const noexcept;
  void handler_done();

  // session_io.cpp: reading; session_write.cpp: writing
  enum class read_outcome : std::uint8_t { drained, more_waiting, paused, stopped };
  void wait_readable();
  void on_readable(std::error_code ec);
  read_outcome read_available(time_point now);
  read_outcome read_frames(time_point now);
  void close_after_write_error(std::error_code ec, time_point);
  void note_frame_progress(time_point now);
  read_outcome pause_reading(time_point now);
  [[nodiscard]] std::chrono::nanoseconds inbound_credit(time_point now) const noexcept;
  [[nodiscard]] time_point reading_resumes_at(time_point now) const noexcept;
  void resume_reading();
  void continue_reading_soon();
  void send_frame(const frame& f, time_point now, bool within_limit_checked = false);
  void publish_unsent(std::ptrdiff_t delta) noexcept;
  void account_memory() noexcept;
  void send_beat(time_point now, bool urgent = false);
  void flush(time_point now);
  void drain_until_peer_closes();
  void wait_writable();

  // session_liveness.cpp: deadlines, suspicion, convictions
  void on_deadline(time_point now);
  void rearm(time_point now);
  [[nodiscard]] bool frame_in_progress() const noexcept { return frame_started_ != time_point::max(); }
  /// When the peer is dead unless heard: last_heard_ + T, or while a frame is arriving its
  /// first byte + frame_timeout; plus any stall of ours since. max() with heartbeats off
  /// and no frame arriving.
  [[nodiscard]] time_point conviction_deadline() const noexcept;
  [[nodiscard]] time_point suspicion_deadline() const noexcept;
  void convict(close_reason reason, time_point now);
  bool heard_in_waiting_bytes(time_point now);
  void enter_suspect(time_point now);
  void leave_suspect();
  [[nodiscard]] bool heartbeats_on() const noexcept;

  // session_resume.cpp
  [[nodiscard]] bool may_linger(const close_info& why) const noexcept;
  void enter_lingering(close_info why, time_point now);
  void offer_resume(welcome_frame& welcome, const hello_frame& hello, time_point now);
  void accept_resume_offer(const welcome_frame& welcome);
  void on_resumed_welcome(const welcome_frame& welcome, time_point now);
  void shed_transport();
  void start_transport(time_point now);
  void dial_again(time_point now);
  void note_ack(std::uint32_t ack) noexcept;
  [[nodiscard]] std::uint32_t ack_to_send() noexcept;
  [[nodiscard]] bool token_refresh_due() const noexcept;
  std::uint32_t replay_after(std::uint32_t peer_received, time_point now);  // frames sent again
  void queue_bytes(std::span<const std::byte> bytes, time_point now);
  void resume_refused_by_peer(const close_frame& refusal, time_point now);
  void confirm_resume() noexcept;
  /// The resume state, made on first need: an idle session that can resume (no data yet,
  /// transport alive) carries none of it.
  resume_side& resume_state();
  [[nodiscard]] welcome_frame welcome_settings() const;

  shard& shard_;
  session_id id_;
  session_role role_;
  session_state state_;
  bool opened_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool reading_ = false;            // inside read_available(): the decoder is mid-chunk
  bool read_posted_ = false;        // a continue_reading_soon() read is queued
  bool sent_since_heard_ = false;   // anything sent since the peer was last heard from
  bool conviction_deferred_ = false;  // a stall of ours pushed this silence's conviction later (counted once)
  bool peer_times_data_ = false;    // the peer speaks version 2: data frames may carry clock stamps
  bool resumable_ = false;          // resume negotiated (resume_ is made when first needed)
  bool reading_held_ = false;       // poll mode: not read until the game takes its events (shard::hold_reading)
  bool backlogged_ = false;         // queued bytes rose to watermarks.high, not yet back to low
  bool liveness_from_welcome_ = false;  // connector: the welcome's H and T replaced the connector's own
  std::uint8_t token_generation_ = 0;  // server: shard::token_generation() when our client's token was issued
  int pending_handlers_ = 0;        // Asio handlers that still hold `this`
  std::uint32_t transport_ = 0;     // generation of socket_: waits of an older one are ignored
  int write_failed_with_ = 0;       // errno of a failed write, until a read hears the peer's last words
  asio::ip::tcp::socket socket_;
  frame_decoder decoder_;
  timer_entry deadline_ = timer_entry::calling<&session::on_deadline>(this);

  time_point last_heard_;           // the last complete frame (only complete frames prove life)
  time_point last_sent_;
  time_point last_timed_;           // our last beat, or data frame with clock stamps
  time_point frame_started_ = time_point::max();  // first byte of the frame still arriving; max(): none
  time_point released_at_ = time_point::max();    // a paced conviction's reserved time; max(): none
  time_point stage_deadline_;       // handshake (connecting, handshaking) or flush (closing)
  time_point write_progress_;       // when the write queue last moved (or became non-empty)
  std::chrono::milliseconds heartbeat_interval_;
  std::chrono::milliseconds dead_after_;
  std::chrono::milliseconds suspect_after_;
  std::chrono::milliseconds peer_interval_;  // how often the peer beats when quiet
  inbound_budget inbound_;                   // what the peer may still send (inbound_limits)

  wire_timestamp peer_sent_at_;     // the peer's last beat, echoed in ours
  time_point peer_beat_received_;

  std::vector<std::byte> outbound_;  // queued bytes; [outbound_sent_, size) not yet written
  std::size_t outbound_sent_ = 0;
  std::size_t charged_ = 0;          // what the shard's memory budget has on this session's account
  close_info why_closed_{close_reason::closed_locally, {}};
  std::unique_ptr<resume_side> resume_;  // see resumable_ and resume_state()
};

}  // namespace lifeline::detail
