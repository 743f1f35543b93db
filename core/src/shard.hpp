// A shard: one worker thread's world (private to core/).
//
// The shard owns everything on its io_context: the sessions (a slab of slots addressed by
// generation-checked ids), the timer wheel that holds their deadlines, one read buffer
// shared by all its sessions, one frame encoder, its counters, and on a connector the
// connect() calls it runs (connect_chain.hpp). Nothing in it is
// locked: other threads reach it only by posting to its io_context, and the one thing
// they may read directly is each slot's live id (an atomic), so that send() from a game
// thread can refuse a stale id at once.
#pragma once

#include "event_queue.hpp"
#include "connect_chain.hpp"
#include "lingering_session.hpp"
#include "own_stalls.hpp"
#include "resume_token.hpp"
#include "session.hpp"
#include "send_inbox.hpp"
#include "session_slots.hpp"

#include <lifeline/config.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/session_event.hpp>
#include <lifeline/session_handlers.hpp>
#include <lifeline/stats.hpp>
#include <lifeline/timer_wheel.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace lifeline::detail {

class engine;

class shard {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;

  shard(engine& owner, unsigned index, session_role role, std::size_t capacity);
  ~shard();
  shard(const shard&) = delete;
  shard& operator=(const shard&) = delete;

  // --- any thread ---------------------------------------------------------------
  asio::io_context& io() noexcept { return io_; }
  [[nodiscard]] unsigned index() const noexcept { return index_; }
  [[nodiscard]] bool runs_on_this_thread() const noexcept { return io_.get_executor().running_in_this_thread(); }
  /// Whether `id` names a session of this shard that is alive now (an atomic load).
  [[nodiscard]] bool is_live(session_id id) const noexcept;
  /// Bytes on their way to `slot`'s peer: sent by game threads and not yet taken by the
  /// shard, plus those queued in the session and not yet written to its socket. The
  /// back-pressure that keeps game threads from outrunning a session (queue_full).
  [[nodiscard]] std::atomic<std::size_t>& bytes_pending(std::uint32_t slot) noexcept { return pending_[slot]; }
  /// The round-trip time `slot`'s session last measured (0 until one completed), for any
  /// thread: check is_live() before and after reading it.
  [[nodiscard]] std::chrono::microseconds published_round_trip_time(std::uint32_t slot) const noexcept {
    return std::chrono::microseconds{round_trip_us_[slot].load(std::memory_order_relaxed)};
  }
  /// Queues a game thread's message for session `to` (the caller checked bytes_pending).
  void send_from_another_thread(session_id to, std::span<const std::byte> message);
  /// Closes session `id` once the messages game threads sent it before are queued.
  void close_from_another_thread(session_id id, std::uint16_t app_code, std::string_view reason);
  /// Queues one shared message for each of `to` (sessions of this shard; the caller
  /// checked their bytes_pending), behind the game threads' earlier messages.
  void send_group_from_another_thread(std::span<const session_id> to, std::shared_ptr<const std::byte[]> message,
                                      std::size_t size);
  /// stop() was called: messages still waiting for the shard are dropped.
  void drop_waiting_sends() { inbox_.clear(); }
  /// Whether `more` bytes from a game thread would take the shard past its share of
  /// buffer_budget (what its sessions hold, and what waits in its inbox).
  [[nodiscard]] bool would_pass_budget(std::size_t more) const noexcept {
    return held_published_.load(std::memory_order_relaxed) + inbox_.bytes_waiting() + more > budget_;
  }
  /// The worker thread's body.
  void run();
  [[nodiscard]] std::size_t slot_capacity() const noexcept { return slots_.capacity(); }
  /// Poll mode: this shard's events, on their way to the polling thread (nullptr in
  /// callback mode). The poller consumes them.
  [[nodiscard]] event_queue* events() noexcept { return events_.get(); }
  [[nodiscard]] const event_queue* events() const noexcept { return events_.get(); }
  /// Poll mode, for the poller after it took events: if the shard held its sessions'
  /// reading because the backlog was full, and the backlog is now under half the limit,
  /// the shard reads them again (one post).
  void release_held_readers_if_caught_up();

  // --- before the thread starts ---------------------------------------------------
  /// Opens this shard's SO_REUSEPORT acceptor; returns the bound port.
  std::uint16_t listen(const asio::ip::tcp::endpoint& where);

  // --- owning shard's thread only ----------------------------------------------------
  // A connector's connect() calls (connect_chain.hpp, shard_connect.cpp).
  /// Starts the chain of attempts of the connect() that issued `ticket`.
  void begin_connect(connect_ticket ticket, connect_target target, void* context);
  /// cancel(ticket): ends the chain's attempt under way, or its wait, with closed_locally.
  void cancel_connect(connect_ticket ticket);
  [[nodiscard]] const connect_stats& connect_counts() const noexcept { return connects_; }
  [[nodiscard]] session* find(session_id id) noexcept;
  // Lingering server sessions are kept as records (lingering_session.hpp, shard_lingering.cpp).
  [[nodiscard]] lingering_session* find_lingering(session_id id) noexcept;
  /// The session `id` as a full session object: the one open, or a lingering one woken
  /// from its record (in state lingering). nullptr: no such session here.
  [[nodiscard]] session* wake(session_id id);
  /// Sets session `id`'s user context (open or lingering); false: no such session here.
  bool set_user_context(session_id id, void* context) noexcept;
  /// Keeps a game message for lingering session `id`, for replay. False: not lingering.
  bool keep_for_lingering(session_id id, std::span<const std::byte> message);
  void begin_shutdown(std::chrono::milliseconds flush_deadline);
  /// A broadcast's message to each of `members` (the caller counted their bytes_pending).
  void deliver_to_members(std::span<const session_id> members, std::span<const std::byte> message, time_point t);
  [[nodiscard]] const session_stats& stats() const noexcept { return stats_; }

  // --- for sessions (owning shard's thread) ----------------------------------------
  [[nodiscard]] const liveness_config& config() const noexcept;
  [[nodiscard]] const kernel_backstop& backstop() const noexcept;
  [[nodiscard]] const evidence_rules& evidence() const noexcept { return evidence_; }
  /// The shard's own recent stalls, which its sessions' peers are not blamed for.
  [[nodiscard]] const stall_record& stalls() const noexcept { return stalls_; }
  [[nodiscard]] release_pacer& pacer() noexcept { return pacer_; }
  [[nodiscard]] const inbound_policy& inbound() const noexcept { return inbound_; }
  [[nodiscard]] std::chrono::milliseconds connect_timeout() const noexcept;
  [[nodiscard]] frame_encoder& encoder() noexcept { return encoder_; }
  /// The shard's one read buffer, lent to one session's read at a time: what it decodes
  /// from it are views into it, which a nested read (from a handler) would overwrite.
  struct read_buffer_lease {
    explicit read_buffer_lease(shard& s) noexcept : owner(s), bytes(s.read_buffer_) {
      assert(!s.read_buffer_lent_ && "a session read into the shard's buffer while another's frames live in it");
      s.read_buffer_lent_ = true;
    }
    ~read_buffer_lease() { owner.read_buffer_lent_ = false; }
    read_buffer_lease(const read_buffer_lease&) = delete;
    read_buffer_lease& operator=(const read_buffer_lease&) = delete;
    shard& owner;
    std::span<std::byte> bytes;
  };
  [[nodiscard]] session_stats& counters() noexcept { return stats_; }
  void publish_round_trip_time(std::uint32_t slot, std::chrono::microseconds rtt) noexcept {
    round_trip_us_[slot].store(static_cast<std::uint32_t>(std::min<std::int64_t>(rtt.count(), UINT32_MAX)),
                               std::memory_order_relaxed);
  }
  [[nodiscard]] bool shutting_down() const noexcept { return shutting_down_; }
  /// How long a closing session may take to flush its close frame to a live peer.
  [[nodiscard]] std::chrono::milliseconds flush_timeout() const noexcept { return flush_timeout_; }
  [[nodiscard]] time_point now() const noexcept { return clock::now(); }
  void schedule(timer_entry& entry, time_point deadline);
  void cancel(timer_entry& entry) noexcept { wheel_.cancel(entry); }
  /// A session's buffers grew or shrank by `delta` bytes (the memory budget's account).
  void charge(std::ptrdiff_t delta) noexcept;
  /// A server session leaves handshaking (opened, or closed first); an open one ends.
  void handshake_ended(session& s, bool opened);
  void open_session_ended(session& s);
  /// Poll mode: when the events waiting for the game reach event_backlog_limit, holds
  /// `s`'s reading (true) until the game has taken half of them.
  bool hold_reading(session& s);
  [[nodiscard]] const applied_watermarks& watermarks() const noexcept { return watermarks_; }
  /// `s`'s queued bytes crossed a watermark: tells the game (after the current handler).
  void writability_changed(session& s, bool writable);
  void notify_opened(session& s);
  void notify_message(session& s, std::span<const std::byte> payload);
  void notify_closed(session& s);
  void notify_suspected(session& s);
  void notify_recovered(session& s);
  void notify_transport_lost(session& s, const close_info& cause);
  void notify_resumed(session& s, const resumed_info& info);
  /// Session `s`, a new connection, said hello with a resume token: checks the token and
  /// hands the connection to the session it names, on whichever shard owns it (or refuses).
  void resume_requested(session& s, const hello_frame& hello, time_point now);
  /// A new token for session `id` at `epoch`, valid until the next call.
  [[nodiscard]] std::span<const std::byte> issue_token(session_id id, std::uint32_t epoch);
  /// Which half of a token lifetime this is (mod 256, updated each tick): a session whose
  /// token was issued in another half gets a fresh one with its next beat, so that no
  /// token it holds is ever older than its lifetime.
  [[nodiscard]] std::uint8_t token_generation() const noexcept { return token_generation_; }
  /// The reconnect backoff (with jitter) after `attempt` failed attempts in a row.
  [[nodiscard]] std::chrono::milliseconds reconnect_delay(unsigned attempt) const;
  /// The session has closed: it no longer counts against max_sessions (its slot is freed
  /// when it is reclaimed).
  void retire(session& s);
  /// The session is closed and none of its handlers is pending: free its slot, later.
  void reclaim_later(session& s);
  /// A server session has started lingering: the shard keeps a record of it instead.
  void hibernate(session& s);
  /// A record's grace is over.
  void lingering_expired(lingering_session& record, time_point now);

 private:
  void accept();
  void on_accepted(std::error_code ec, asio::ip::tcp::socket socket);
  bool admit(asio::ip::tcp::socket& socket, asio::ip::address& from);
  void refuse(asio::ip::tcp::socket& socket, close_reason why, close_code code, std::string_view detail);
  void make_room_for_a_handshake();
  session& adopt(session_id id, asio::ip::tcp::socket socket, session_role role, void* context);
  void reclaim(session_id id);
  void free_retired();
  void deliver_waiting_sends();
  void enforce_budget();
  void give_memory_back();
  void arm_tick(time_point at);
  void note_wakeup(time_point due, time_point now);
  void on_tick();
  void start_attempt(connect_chain& chain);
  /// A connector's session has ended: what its connect() does next (and the counts).
  reconnect_plan end_attempt(const session& s);
  void end_chain(connect_ticket ticket);
  void stop_if_idle();
  void note_token_generation() noexcept;
  template <class F>
  bool call_game(session& s, F&& f);
  template <class Fill>
  void queue_event(session& s, event_kind kind, Fill&& fill);
  void release_held_readers();

  friend struct connect_chain;  // its wait's end starts the next attempt
  // A connection on its way to the session it resumes (maybe on another shard).
  struct resume_handoff {
    int fd = -1;
    asio::ip::tcp protocol = asio::ip::tcp::v4();
    session_id target;
    session::resume_request request;
    std::optional<asio::ip::address> from;  // as admitted, when per-address caps are on
  };
  void take_resume(resume_handoff handoff);

  engine& engine_;
  unsigned index_;
  session_role role_;
  mutable asio::io_context io_{1};  // mutable: asking which thread runs it is not a change
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<asio::ip::tcp::acceptor> acceptor_;
  asio::steady_timer accept_retry_{io_};
  asio::steady_timer tick_timer_{io_};
  time_point tick_armed_for_ = time_point::max();
  timer_wheel wheel_;
  evidence_rules evidence_;
  stall_record stalls_;
  release_pacer pacer_;
  inbound_policy inbound_;
  std::chrono::nanoseconds boot_ahead_of_monotonic_{-1};  // CLOCK_BOOTTIME − CLOCK_MONOTONIC at the last wake-up; <0: none yet
  frame_encoder encoder_;
  std::uint8_t token_generation_ = 0;
  std::vector<std::byte> read_buffer_;
  bool read_buffer_lent_ = false;

  // The slab: slot i holds sessions_[i]; live_ids_[i] is its id while it is alive (0
  // when free); slots_ says which slot and generation the next session gets.
  session_slots slots_;
  std::vector<std::unique_ptr<session>> sessions_;
  std::vector<std::unique_ptr<lingering_session>> lingering_;  // slot i's record while it lingers
  std::vector<std::unique_ptr<session>> retiring_;  // hibernated objects an Asio handler still holds
  bool sweep_posted_ = false;                        // a free_retired() is queued
  std::unique_ptr<std::atomic<std::uint64_t>[]> live_ids_;
  std::unique_ptr<std::atomic<std::size_t>[]> pending_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> round_trip_us_;  // each slot's last RTT sample, for any thread
  send_inbox inbox_;
  // The memory budget: this shard's share of buffer_budget, what its sessions hold now.
  std::size_t budget_;
  std::size_t held_ = 0;
  std::atomic<std::size_t> held_published_{0};  // held_, for game threads' send()
  bool enforcing_ = false;                       // enforce_budget() is running
  std::size_t held_peak_since_trim_ = 0;
  time_point last_trim_{};
  send_inbox::batch delivering_;  // the batch being delivered; its buffers are reused
  std::size_t delivered_ = 0;     // how much of it

  // A connector's connect() calls not over yet, by ticket, and what they did.
  std::unordered_map<std::uint64_t, std::unique_ptr<connect_chain>> chains_;
  connect_stats connects_;
  // Server sessions still handshaking, oldest first (with stale ids of ones that moved on,
  // skipped when met), and how many there are.
  std::deque<session_id> handshakes_;
  std::size_t handshaking_ = 0;
  // With per-address caps on: each server session's source address, as admitted.
  std::unordered_map<std::uint64_t, asio::ip::address> admitted_from_;
  session_stats stats_;
  applied_watermarks watermarks_;
  // Poll mode (session_event.hpp): the queue to the game, and the sessions whose reading
  // waits for the game to catch up.
  std::unique_ptr<event_queue> events_;
  std::size_t event_backlog_limit_ = 0;
  std::vector<session_id> held_readers_;
  std::atomic<bool> readers_held_{false};  // held_readers_ may be non-empty: the poller releases them
  resume_token_keys::token token_{};  // the last token issue_token() made
  bool shutting_down_ = false;
  std::chrono::milliseconds flush_timeout_{1000};
};

}  // namespace lifeline::detail
