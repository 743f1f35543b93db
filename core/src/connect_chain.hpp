// One connector::connect() call on its shard (private to core/).
//
// A connect() is a chain of attempts, one at a time, each a session of its own: the first,
// then with reconnect enabled a new one after each failed or lost session, after the
// backoff, until the game calls it off (cancel(), close(), a handler that threw), the server
// kicks it, stop() ends it, or reconnect.max_attempts attempts in a row have failed. The
// shard keeps one connect_chain per call, by ticket: where to go (a host name is looked up
// again by each attempt), the attempt under way, the failures in a row, and the wait
// before the next attempt (a timer-wheel entry).
//
// cancel() comes from any thread with a ticket. The shard's chains are its own (touched on
// its thread only), so the tickets still live are also kept in connect_tickets, under a
// mutex, for cancel() to refuse a stale one at once (unknown_session) instead of posting
// it. That lock is taken once per connect(), per cancel() and per chain's end: never on a
// session's path.
//
//   const auto ticket = tickets.issue(shard_index);   // connect(), on the game's thread
//   if (tickets.is_live(ticket)) post(cancel);        // cancel(), on any thread
//   tickets.retire(ticket);                           // the chain is over, on its shard
#pragma once

#include <lifeline/connect_ticket.hpp>
#include <lifeline/session_id.hpp>
#include <lifeline/timer_wheel.hpp>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

namespace lifeline::detail {

class shard;

/// Where a connect() goes, as checked on the caller's thread (connector::connect).
struct connect_target {
  std::string host;                              // as given: a numeric address or a host name
  std::optional<asio::ip::address> numeric;      // set when `host` is numeric: nothing to look up
  std::uint16_t port = 0;
  std::optional<asio::ip::tcp::endpoint> local;  // the source address to bind, if any
};

/// One connect() call's chain of attempts. Owning shard's thread only.
struct connect_chain {
  using time_point = timer_entry::time_point;

  connect_chain(shard& runs_on, connect_ticket issued, connect_target where, void* first_context)
      : owner(runs_on), ticket(issued), target(std::move(where)), context(first_context) {}
  connect_chain(const connect_chain&) = delete;
  connect_chain& operator=(const connect_chain&) = delete;

  shard& owner;
  connect_ticket ticket;
  connect_target target;
  void* context;           // the next attempt's user context: the last one's, as the game left it
  unsigned failures = 0;   // attempts failed in a row; a session that opened starts it again
  session_id attempt{};    // the attempt under way (its session); empty while waiting to try again
  bool cancelled = false;  // cancel() reached it: no new attempt follows

  void on_retry_due(time_point now);  // shard_connect.cpp: the next attempt
  timer_entry retry = timer_entry::calling<&connect_chain::on_retry_due>(this);
};

/// The tickets whose chain is not over. Any thread.
class connect_tickets {
 public:
  /// A new ticket for a chain run by shard `shard` (< 256): never 0, never issued before.
  [[nodiscard]] connect_ticket issue(unsigned shard) {
    std::lock_guard lock(mutex_);
    const connect_ticket ticket{(std::uint64_t{shard & 0xFFu} << 56) | (++issued_ & sequence_mask)};
    live_.insert(ticket.value);
    return ticket;
  }
  [[nodiscard]] bool is_live(connect_ticket ticket) const {
    std::lock_guard lock(mutex_);
    return live_.contains(ticket.value);
  }
  void retire(connect_ticket ticket) {
    std::lock_guard lock(mutex_);
    live_.erase(ticket.value);
  }
  /// Which shard runs the chain `ticket` names.
  [[nodiscard]] static unsigned shard_of(connect_ticket ticket) noexcept {
    return static_cast<unsigned>(ticket.value >> 56);
  }

 private:
  static constexpr std::uint64_t sequence_mask = (std::uint64_t{1} << 56) - 1;  // 7 × 10^16: never wraps
  mutable std::mutex mutex_;
  std::unordered_set<std::uint64_t> live_;
  std::uint64_t issued_ = 0;
};

}  // namespace lifeline::detail
