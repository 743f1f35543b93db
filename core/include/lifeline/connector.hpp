// lifeline/connector.hpp — the client side: the same protocol and liveness as the server.
//
// A connector opens any number of sessions to lifeline servers, on its own worker
// threads (one by default), and detects a dead server within dead_after exactly as the
// server detects a dead client. A game client uses one; so do the tests.
//
// connect() takes a numeric address or a host name, and returns at once with a ticket
// (connect_ticket.hpp) that names the call: the game may cancel() it at any point. A name
// is looked up anew for each attempt, asynchronously: Asio runs getaddrinfo() on a thread
// of its own, never on the game's thread nor a shard's loop; its addresses are tried in the
// resolver's order (RFC 6724: e.g. ::1 before 127.0.0.1 for "localhost"), each until one
// connects, all within connect_timeout. A name that does not resolve ends the attempt
// with name_not_resolved.
//
// Each attempt is a session: on_opened when the server welcomes it, else on_closed
// (connect_failed, name_not_resolved, handshake_timeout, server_full, ...). With reconnect
// enabled, a session that ends for any reason but the game's own (close(), cancel(), a
// handler that threw), a kick or stop() is followed by a new attempt to the same endpoint
// after a capped exponential backoff with jitter: a new session (new id) carrying the same
// user context, until reconnect.max_attempts attempts in a row have failed. Each on_closed
// says what follows (close_info::reconnect: scheduled, given_up or none), and every
// connect() ends with exactly one on_closed that is not `scheduled`.
//
// When the server offers resume (its welcome says so, see liveness_config::resume), a
// session whose connection dies of a transport cause keeps its id: the connector dials the
// same address again at once (a resume belongs to that server process: its name is not
// looked up again), then with the reconnect backoff, until the server's grace runs out, and
// the game hears on_transport_lost then on_resumed (or on_closed with close_info::lingered).
//
// The welcome sets the session's heartbeat_interval and dead_after: the server's settings
// replace the connector's own (config.hpp, connector_config::liveness), so that a server
// holds all its clients to one policy. liveness() tells what a session runs on.
//
// A connector runs once: start(), then stop() (or its destructor). A stopped connector
// cannot be started again; make a new one.
//
//   lifeline::connector client(config, handlers);
//   client.start();
//   const auto ticket = client.connect({.address = "play.example.com", .port = 7777});
//   ...
//   client.cancel(ticket);  // gave up waiting (or closed it, if it had opened)
#pragma once

#include <lifeline/config.hpp>
#include <lifeline/connect_ticket.hpp>
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
  /// A numeric IPv4 or IPv6 address, or a host name ("localhost", "eu.example.com"),
  /// looked up at each attempt.
  std::string address;
  std::uint16_t port = 0;
  std::string local_address = {};  ///< optional source address to bind (numeric: e.g. 127.0.0.2)
};

class connector {
 public:
  /// Validates `config` (throws std::invalid_argument naming the field).
  connector(connector_config config, session_handlers handlers);
  /// Poll mode (session_event.hpp): the game takes the events with poll(), as a server's.
  connector(connector_config config, polled_events_t);
  /// Stops (as stop()) if still running.
  ~connector();
  connector(const connector&) = delete;
  connector& operator=(const connector&) = delete;

  /// Starts the worker threads. Once: a second start() throws std::logic_error, and so
  /// does start() after stop() (a stopped connector cannot be restarted; make a new one).
  /// Any thread.
  void start();
  /// As server::stop(): every session closed with reason shutdown, every connect() over
  /// (waits between attempts end without a word), threads joined. A host name still being
  /// looked up holds stop() until getaddrinfo() returns (it cannot be interrupted; the
  /// system resolver's timeout bounds it). Any thread; from a handler it starts the
  /// shutdown and returns.
  void stop(std::chrono::milliseconds flush_deadline = std::chrono::milliseconds{1000});

  /// Opens a session to `where`, asynchronously: on_opened when the server welcomes it,
  /// or on_closed (connect_failed, name_not_resolved, handshake_timeout, ...), and with
  /// reconnect on, new attempts as the header comment says. `context` is the session's
  /// user context from the start. Returns the ticket that cancel() takes; an empty one
  /// once stop() was called (nothing is attempted then). Any thread. Throws
  /// std::invalid_argument naming the field for an empty or malformed address (neither a
  /// numeric address nor a host name), port 0, or a local_address that is not numeric.
  connect_ticket connect(const endpoint& where, void* context = nullptr);
  /// Calls off the connect() that returned `ticket`: an attempt still connecting, looking
  /// up its name or handshaking ends with on_closed (closed_locally); an open session is
  /// closed as by close(); a wait between attempts ends with an on_closed (closed_locally)
  /// for the attempt that was due. No new attempt follows. Soon after, on the attempt's
  /// shard thread. A ticket whose chain is over (or was never issued) answers
  /// session_error::unknown_session and touches nothing; not_running before start() and
  /// after stop(). Any thread.
  std::error_code cancel(connect_ticket ticket);

  std::error_code send(session_id id, std::span<const std::byte> message);  ///< Any thread.
  std::error_code close(session_id id);                                     ///< Any thread.
  /// As server::close(id, app_code, app_reason). Any thread.
  std::error_code close(session_id id, std::uint16_t app_code, std::string_view app_reason);
  /// As server::poll().
  template <class Handler>
  std::size_t poll(Handler&& handle, std::size_t max_events = SIZE_MAX) {
    return poll_with(
        [](void* h, const session_event& e) { (*static_cast<std::remove_reference_t<Handler>*>(h))(e); },
        const_cast<void*>(static_cast<const void*>(std::addressof(handle))), max_events);
  }
  /// As server's: the owning shard's thread in callback mode, the polling thread in poll mode.
  std::error_code set_user_context(session_id id, void* context);
  [[nodiscard]] void* user_context(session_id id) const;
  std::error_code round_trip_time(session_id id, std::chrono::microseconds& rtt) const;  ///< Any thread.
  std::error_code queued_bytes(session_id id, std::size_t& bytes) const;                ///< Any thread.
  /// As server::addresses() and server::kernel_info().
  std::error_code addresses(session_id id, session_addresses& where) const;
  std::error_code kernel_info(session_id id, tcp_kernel_info& info) const;
  /// The heartbeat interval and deadlines session `id` runs on: the server's, from its
  /// welcome, or the connector's own before it; unknown_session for a closed or unknown
  /// id. Any thread, at the cost server::addresses() states.
  std::error_code liveness(session_id id, effective_liveness& out) const;
  [[nodiscard]] connector_stats stats() const;                              ///< Any thread (see server::stats).

 private:
  std::size_t poll_with(void (*call)(void*, const session_event&), void* handler, std::size_t max_events);

  std::unique_ptr<detail::engine> engine_;
};

}  // namespace lifeline
