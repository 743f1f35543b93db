// lifeline/server.hpp — the session layer a game server links in.
//
// A server listens on one port with one acceptor per worker thread (SO_REUSEPORT, so the
// kernel spreads connections); a port another socket already listens on is refused unless
// server_config::share_port says it is shared on purpose. Each worker thread is a shard: one asio::io_context that
// owns its sessions, their timer wheel and a shared read buffer, with no lock on the
// per-frame path. A session stays on its shard for life.
//
// For each session: any inbound frame refreshes it (a timestamp store); a heartbeat goes
// out only after heartbeat_interval without any send; a peer not heard from for
// dead_after is closed with heartbeat_timeout. Kernel keepalive and TCP_USER_TIMEOUT are
// set per socket as a backstop. The game is told why every session ended (close_reason).
//
//   lifeline::server server(config, {
//       .on_opened = [](lifeline::session_id id) { ... },
//       .on_message = [&](lifeline::session_id id, std::span<const std::byte> bytes) { server.send(id, bytes); },
//       .on_closed = [](lifeline::session_id id, lifeline::close_info why) { ... }});
//   server.start();
//   ...
//   server.stop();
//
// Or, in poll mode (session_event.hpp), the game takes the same events on its own thread:
//   lifeline::server server(config, lifeline::polled_events);
//   server.start();
//   for (;;) { server.poll([&](const lifeline::session_event& e) { ... }); tick(); }
#pragma once

#include <lifeline/broadcast.hpp>
#include <lifeline/config.hpp>
#include <lifeline/session_error.hpp>
#include <lifeline/session_event.hpp>
#include <lifeline/session_handlers.hpp>
#include <lifeline/session_id.hpp>
#include <lifeline/stats.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

namespace lifeline {

namespace detail {
class engine;
}

class server {
 public:
  /// Validates `config` (throws std::invalid_argument naming the field). Nothing runs yet.
  server(server_config config, session_handlers handlers);
  /// Poll mode: the game takes the events with poll() on a thread of its own; no handler
  /// runs on lifeline's threads. Validates `config` as above.
  server(server_config config, polled_events_t);
  /// stop(), then joins. Not from a shard thread.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and starts the worker threads. Throws std::system_error if the address cannot
  /// be bound (code address_in_use for a port another socket listens on, unless
  /// server_config::share_port). Once, from the thread that owns the server.
  void start();

  /// Closes every session with reason shutdown (sending each peer a close frame and
  /// flushing what it can for up to `flush_deadline`), stops accepting, and joins the
  /// worker threads. Any thread. From a handler (a shard thread) it starts the shutdown
  /// and returns at once; the destructor joins. Idempotent.
  void stop(std::chrono::milliseconds flush_deadline = std::chrono::milliseconds{1000});

  /// The bound port (useful with port 0). After start().
  [[nodiscard]] std::uint16_t port() const noexcept;

  /// Queues one game message to a session. Any thread. A stale or unknown id returns
  /// session_error::unknown_session and touches nothing; queue_full means the peer is
  /// not reading as fast as the game writes (write_queue_limit bytes are pending). From a
  /// handler on the session's own shard the message is queued at once; if that closes the
  /// session (write_stalled), its on_closed runs before send() returns queue_full.
  std::error_code send(session_id id, std::span<const std::byte> message);

  /// Queues one game message to every session in `to`, as send() would to each, from one
  /// shared copy of it (broadcast.hpp). Any thread; from a handler, the sessions of its own
  /// shard get it at once.
  broadcast_result broadcast(std::span<const session_id> to, std::span<const std::byte> message);

  /// Closes a session (reason closed_locally), after flushing what is queued. Any thread.
  std::error_code close(session_id id);
  /// Closes a session for a reason of the game's own (a kick, a ban): the peer receives
  /// `app_code` and `app_reason` (at most max_app_reason_bytes of it) in its close frame,
  /// and a connector does not reconnect after it (reconnect_config::after_application_close).
  /// Any thread.
  std::error_code close(session_id id, std::uint16_t app_code, std::string_view app_reason);

  /// Poll mode: hands up to `max_events` waiting events to `handle(const session_event&)`
  /// on the calling thread, and returns how many (0 when none wait: it never blocks). Call
  /// it regularly (each tick of the game's loop): a session's reading is held while its
  /// thread's backlog is full (liveness_config::event_backlog_limit). One thread at a
  /// time, and not from inside `handle` (std::logic_error). An exception from `handle`
  /// leaves poll() after that event, which counts as delivered. std::logic_error in
  /// callback mode. After stop() it still delivers the shutdown's closed events.
  template <class Handler>
  std::size_t poll(Handler&& handle, std::size_t max_events = SIZE_MAX) {
    return poll_with(
        [](void* h, const session_event& e) { (*static_cast<std::remove_reference_t<Handler>*>(h))(e); },
        const_cast<void*>(static_cast<const void*>(std::addressof(handle))), max_events);
  }

  /// Per-session game context. In callback mode on the owning shard's thread only (inside
  /// a handler); in poll mode on the polling thread only (from its first poll()), where
  /// each event carries it. Elsewhere set_user_context answers wrong_thread and
  /// user_context nullptr.
  std::error_code set_user_context(session_id id, void* context);
  [[nodiscard]] void* user_context(session_id id) const;

  /// Round-trip time from the last heartbeat exchange, or data frame with clock stamps (0
  /// until one completed). Any thread (an atomic load).
  std::error_code round_trip_time(session_id id, std::chrono::microseconds& rtt) const;
  /// Bytes on their way to the session: sent and not yet taken by its thread, plus queued
  /// and not yet written to its socket (what write_queue_limit bounds, and watermarks
  /// watch). Any thread (an atomic load).
  std::error_code queued_bytes(session_id id, std::size_t& bytes) const;
  /// Both ends of the session's connection (empty while it lingers), and the kernel's view
  /// of it. Any thread: on the session's own shard thread at once; from a game thread at
  /// the cost of one round trip to that shard (the caller waits for a turn of its loop);
  /// from another shard's handler not at all (wrong_thread: a handler never waits on
  /// another shard). Poll mode's opened and resumed events carry the addresses.
  std::error_code addresses(session_id id, session_addresses& where) const;
  std::error_code kernel_info(session_id id, tcp_kernel_info& info) const;

  /// A snapshot of every shard's counters. Any thread; from a handler, only the calling
  /// shard's (server_stats::complete is then false).
  [[nodiscard]] server_stats stats() const;

 private:
  std::size_t poll_with(void (*call)(void*, const session_event&), void* handler, std::size_t max_events);

  std::string config_listen_address_;
  std::uint16_t config_port_;
  bool config_share_port_;
  std::unique_ptr<detail::engine> engine_;
};

}  // namespace lifeline
