// One TCP session, owned by its shard (private to core/).
//
// The state machine, each transition a named verb:
//
//   handshaking --(hello / welcome)--> open --(close_with)--> closing --(flushed or
//   deadline)--> closed --(no handler pending)--> reclaimed by the shard
//   handshaking ------------------------(close_with)------------^
//
// `closing` keeps the socket only to flush a close frame (and what the game queued) to a
// peer that is still there, half-close, and read until the peer closes too; a peer known
// dead goes straight to closed. A close that could not flush in time is abortive (RST). Room is left for `suspect` and `lingering` (session resume) between open and
// closing.
//
// Liveness costs one timer-wheel entry per session. Inbound frames only store
// last_heard_; the entry fires at the earliest of: next heartbeat to send (last_sent_ +
// H), death (last_heard_ + T), handshake deadline, write-stall deadline, flush deadline;
// on_deadline() acts on whatever is due and re-arms for the next.
//
// All members are touched only on the owning shard's thread.
#pragma once

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

enum class session_state : std::uint8_t { connecting, handshaking, open, closing, closed };
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

  /// Queues one game message. False if the session no longer accepts messages.
  bool send_message(std::span<const std::byte> payload, time_point now);

  /// Ends the session: tells the game (once), then flushes a close frame to a peer that
  /// may still be listening, or drops the connection at once for a dead one.
  void close_with(close_info why, time_point now);
  /// A closing session must finish by `deadline` (stop() with a shorter flush deadline).
  void hurry_close(time_point deadline);

  [[nodiscard]] session_id id() const noexcept { return id_; }
  [[nodiscard]] session_state state() const noexcept { return state_; }
  [[nodiscard]] bool is_reclaimable() const noexcept { return state_ == session_state::closed && pending_handlers_ == 0; }
  [[nodiscard]] std::chrono::microseconds round_trip_time() const noexcept { return rtt_; }
  [[nodiscard]] int native_handle() noexcept { return socket_.native_handle(); }
  [[nodiscard]] const close_info& why_closed() const noexcept { return why_closed_; }
  [[nodiscard]] bool was_opened() const noexcept { return opened_; }
  void* user_context = nullptr;

  /// What only a connector's session needs (where to connect and reconnect), kept out of
  /// line so a server's sessions do not carry it.
  struct client_side {
    asio::ip::tcp::endpoint remote;
    std::optional<asio::ip::tcp::endpoint> local;
    unsigned reconnect_attempt = 0;  ///< failed attempts in a row before this one
  };
  std::unique_ptr<client_side> client;

 private:
  void on_deadline(time_point now);
  void rearm(time_point now);
  void wait_readable();
  void on_readable(std::error_code ec);
  bool handle_frame(const frame& f, time_point now);  // false: stop reading (closed)
  void on_hello(const hello_frame& hello, time_point now);
  void on_welcome(const welcome_frame& welcome, time_point now);
  void on_beat(const beat_frame& beat, time_point now);
  void send_frame(const frame& f, time_point now);
  void send_beat(time_point now);
  void flush(time_point now);
  void drain_until_peer_closes();
  void wait_writable();
  void on_connected(std::error_code ec, time_point now);
  void enter_open(time_point now);
  void enter_closed();
  [[nodiscard]] close_info classify(std::error_code ec) noexcept;
  [[nodiscard]] bool heartbeats_on() const noexcept;
  void handler_done();

  shard& shard_;
  session_id id_;
  session_role role_;
  session_state state_;
  bool opened_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  bool sent_since_heard_ = false;  // anything sent since the peer was last heard from
  int pending_handlers_ = 0;       // Asio handlers that still hold `this`
  asio::ip::tcp::socket socket_;
  frame_decoder decoder_;
  timer_entry deadline_ = timer_entry::calling<&session::on_deadline>(this);

  time_point last_heard_;
  time_point last_sent_;
  time_point stage_deadline_;      // handshake (connecting, handshaking) or flush (closing)
  time_point write_progress_;      // when the write queue last moved (or became non-empty)
  std::chrono::milliseconds heartbeat_interval_;
  std::chrono::milliseconds dead_after_;

  wire_timestamp peer_sent_at_;    // the peer's last beat, echoed in ours
  time_point peer_beat_received_;
  std::chrono::microseconds rtt_{0};

  std::vector<std::byte> outbound_;  // queued bytes; [outbound_sent_, size) not yet written
  std::size_t outbound_sent_ = 0;
  close_info why_closed_{close_reason::closed_locally, {}};
};

}  // namespace lifeline::detail
