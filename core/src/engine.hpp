// The machinery shared by server and connector (private to core/): the shards, their
// threads, start/stop, and the cross-thread calls that reach a session through its shard.
#pragma once

#include "address_table.hpp"
#include "event_poller.hpp"
#include "resume_token.hpp"
#include "shard.hpp"

#include <lifeline/broadcast.hpp>
#include <lifeline/config.hpp>
#include <lifeline/session_error.hpp>
#include <lifeline/session_handlers.hpp>
#include <lifeline/socket_address.hpp>
#include <lifeline/stats.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace lifeline::detail {

class engine {
 public:
  engine(session_role role, unsigned threads, std::size_t max_sessions, liveness_config liveness,
         reconnect_config reconnect, std::chrono::milliseconds connect_timeout, session_handlers handlers,
         admission_limits admission = {}, bool polled = false);
  ~engine();

  /// Starts the threads; a server first binds `listen_address`:`port` on every shard.
  void start(const std::string* listen_address = nullptr, std::uint16_t port = 0, bool share_port = false);
  void stop(std::chrono::milliseconds flush_deadline);

  // Any thread.
  std::error_code send(session_id id, std::span<const std::byte> message);
  std::error_code close(session_id id, std::uint16_t app_code = 0, std::string_view app_reason = {});
  broadcast_result broadcast(std::span<const session_id> to, std::span<const std::byte> message);
  /// A connector's connect(): its chain of attempts runs on the next shard in turn. An
  /// empty ticket once stopped.
  connect_ticket connect(connect_target target, void* context);
  std::error_code cancel(connect_ticket ticket);
  [[nodiscard]] server_stats stats() const;
  [[nodiscard]] connector_stats client_stats() const;
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// Poll mode (session_event.hpp): the polling thread takes the shards' events.
  std::size_t poll(event_poller::handler_call call, void* handler, std::size_t max_events);
  [[nodiscard]] bool polled() const noexcept { return polled_; }
  [[nodiscard]] bool is_running() const noexcept { return running_.load(std::memory_order_relaxed); }

  [[nodiscard]] std::error_code round_trip_time(session_id id, std::chrono::microseconds& rtt) const;
  [[nodiscard]] std::error_code queued_bytes(session_id id, std::size_t& bytes) const;
  // Any thread, at the cost of a round trip to the session's shard (see ask_owner).
  std::error_code addresses(session_id id, session_addresses& where) const;
  std::error_code kernel_info(session_id id, tcp_kernel_info& info) const;

  // Owning shard's thread only.
  [[nodiscard]] session* find_on_this_thread(session_id id) const noexcept;
  [[nodiscard]] lingering_session* find_lingering_on_this_thread(session_id id) const noexcept;
  std::error_code set_user_context(session_id id, void* context) const;
  [[nodiscard]] void* user_context(session_id id) const;
  std::error_code liveness_in_use(session_id id, effective_liveness& out) const;

  // For shards.
  [[nodiscard]] const liveness_config& liveness() const noexcept { return liveness_; }
  [[nodiscard]] const kernel_backstop& backstop() const noexcept { return backstop_; }
  [[nodiscard]] const reconnect_config& reconnect() const noexcept { return reconnect_; }
  [[nodiscard]] std::chrono::milliseconds connect_timeout() const noexcept { return connect_timeout_; }
  [[nodiscard]] const session_handlers& handlers() const noexcept { return handlers_; }
  [[nodiscard]] std::size_t shard_count() const noexcept { return shard_count_; }
  [[nodiscard]] shard& shard_at(std::size_t index) noexcept { return *shards_[index]; }
  /// Signs and checks resume tokens (any thread: the keys never change after start).
  [[nodiscard]] const resume_token_keys& resume_keys() const noexcept { return resume_keys_; }
  [[nodiscard]] address_table& addresses() noexcept { return addresses_; }
  /// Handshaking sockets one shard may hold (admission_limits::handshaking_share).
  [[nodiscard]] std::size_t handshakes_per_shard() const noexcept { return handshakes_per_shard_; }
  /// Counts a new session against max_sessions; false when full.
  bool try_admit() noexcept;
  void try_admit_anyway() noexcept;  // counts a session that is closed at once, to keep counts balanced
  void release_admission() noexcept { open_sessions_.fetch_sub(1, std::memory_order_relaxed); }
  /// A connect()'s chain is over: cancel() refuses its ticket from now on.
  void retire_ticket(connect_ticket ticket) { tickets_.retire(ticket); }

 private:
  [[nodiscard]] shard* shard_of(session_id id) const noexcept;
  [[nodiscard]] bool off_its_thread(session_id id) const noexcept;
  template <class Answer, class Query>
  std::error_code ask_owner(session_id id, Answer& out, Query query) const;
  /// A copy of every shard's counters (a post to each, unless called on a shard's
  /// thread); false when some shard could not be asked (its entry is left empty).
  struct shard_counts {
    session_stats sessions;
    connect_stats connects;
  };
  bool gather(std::vector<shard_counts>& per_shard) const;

  std::size_t max_sessions_;
  std::size_t shard_count_ = 1;
  address_table addresses_;
  std::size_t handshakes_per_shard_ = 0;
  liveness_config liveness_;
  kernel_backstop backstop_;
  reconnect_config reconnect_;
  std::chrono::milliseconds connect_timeout_;
  session_handlers handlers_;
  resume_token_keys resume_keys_;
  bool polled_ = false;
  std::vector<std::unique_ptr<shard>> shards_;
  std::unique_ptr<event_poller> poller_;  // poll mode only
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> open_sessions_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<unsigned> live_threads_{0};  // worker threads whose loop still runs
  std::atomic<unsigned> next_connect_shard_{0};
  connect_tickets tickets_;
  std::mutex lifecycle_;  // start/stop/join only, never on a session's path
  bool started_ = false;
  std::uint16_t port_ = 0;
};

}  // namespace lifeline::detail
