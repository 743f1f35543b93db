// lifeline/connector.hpp — the client side: the same protocol and liveness as the server.
//
// A connector opens any number of sessions to lifeline servers, on its own worker
// threads (one by default), and detects a dead server within dead_after exactly as the
// server detects a dead client. When the server offers resume (its welcome says so, see
// liveness_config::resume), a session whose connection dies of a transport cause keeps
// its id: the connector dials again at once, then with the reconnect backoff, until the
// server's grace runs out, and the game hears on_transport_lost then on_resumed (or
// on_closed with close_info::lingered). With reconnect enabled, a session that ends for
// any other reason but close()/stop() is followed by a new attempt to the same endpoint
// after a capped exponential backoff with jitter; the new attempt is a new session (new
// id) carrying the same user context. Used by the load generator and the tests; usable by
// a game client.
//
//   lifeline::connector client(config, handlers);
//   client.start();
//   client.connect({.address = "127.0.0.1", .port = 7777});
#pragma once

#include <lifeline/config.hpp>
#include <lifeline/session_error.hpp>
#include <lifeline/session_event.hpp>
#include <lifeline/session_handlers.hpp>
#include <lifeline/session_id.hpp>
#include <lifeline/stats.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <span>
#include <string>
#include <system_error>

namespace lifeline {

namespace detail {
class engine;
}

struct endpoint {
  std::string address;             ///< numeric IPv4 or IPv6 address
  std::uint16_t port = 0;
  std::string local_address = {};  ///< optional source address to bind (e.g. 127.0.0.2)
};

class connector {
 public:
  /// Validates `config` (throws std::invalid_argument naming the field).
  connector(connector_config config, session_handlers handlers);
  /// Poll mode (session_event.hpp): the game takes the events with poll(), as a server's.
  connector(connector_config config, polled_events_t);
  ~connector();
  connector(const connector&) = delete;
  connector& operator=(const connector&) = delete;

  /// Starts the worker threads. Once.
  void start();
  /// As server::stop(). Any thread; from a handler it starts the shutdown and returns.
  void stop(std::chrono::milliseconds flush_deadline = std::chrono::milliseconds{1000});

  /// Opens a session to `where`, asynchronously: on_opened when the server welcomes it,
  /// or on_closed (connect_failed, handshake_timeout, ...). `context` is the session's
  /// user context from the start. Any thread. Throws std::invalid_argument for an
  /// address that is not numeric.
  void connect(const endpoint& where, void* context = nullptr);

  std::error_code send(session_id id, std::span<const std::byte> message);  ///< Any thread.
  std::error_code close(session_id id);                                     ///< Any thread.
  /// As server::close(id, app_code, app_reason). Any thread.
  std::error_code close(session_id id, std::uint16_t app_code, std::string_view app_reason);
  /// As server::poll().
  template <class Handler>
  std::size_t poll(Handler&& handle, std::size_t max_events = SIZE_MAX) {
    return poll_with(
        [](void* h, const session_event& e) { (*static_cast<std::remove_reference_t<Handler>*>(h))(e); },
        static_cast<void*>(std::addressof(handle)), max_events);
  }
  /// As server's: the owning shard's thread in callback mode, the polling thread in poll mode.
  std::error_code set_user_context(session_id id, void* context);
  [[nodiscard]] void* user_context(session_id id) const;
  std::error_code round_trip_time(session_id id, std::chrono::microseconds& rtt) const;  ///< Any thread.
  std::error_code queued_bytes(session_id id, std::size_t& bytes) const;                ///< Any thread.
  /// As server::addresses() and server::kernel_info().
  std::error_code addresses(session_id id, session_addresses& where) const;
  std::error_code kernel_info(session_id id, tcp_kernel_info& info) const;
  [[nodiscard]] server_stats stats() const;                                 ///< Any thread (see server::stats).

 private:
  std::size_t poll_with(void (*call)(void*, const session_event&), void* handler, std::size_t max_events);

  std::unique_ptr<detail::engine> engine_;
};

}  // namespace lifeline
