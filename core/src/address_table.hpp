// Sessions per source address, for admission_limits' per-address caps (private to core/).
//
// Shared by a server's shards (a client's connections land on any of them), so it is the
// one place with a lock; it is touched only when a connection arrives, opens or ends,
// never per frame, and not at all while both caps are off.
//
//   if (!table.admit(address)) refuse();   // counted as handshaking
//   table.opened(address);                 // hello: handshaking -> open
//   table.ended(address, was_open);
//
// Any thread.
#pragma once

#include <asio/ip/address.hpp>

#include <cstddef>
#include <mutex>
#include <unordered_map>

namespace lifeline::detail {

class address_table {
 public:
  address_table(std::size_t max_sessions, std::size_t max_handshakes) noexcept
      : max_sessions_(max_sessions), max_handshakes_(max_handshakes) {}

  [[nodiscard]] bool enabled() const noexcept { return max_sessions_ > 0 || max_handshakes_ > 0; }

  /// A connection from `from` arrives: true, and counted as handshaking, if within the caps.
  bool admit(const asio::ip::address& from) {
    std::lock_guard lock(mutex_);
    auto& c = counts_[from];
    if ((max_sessions_ > 0 && c.handshaking + c.open >= max_sessions_) ||
        (max_handshakes_ > 0 && c.handshaking >= max_handshakes_)) {
      if (c.handshaking + c.open == 0) counts_.erase(from);
      return false;
    }
    ++c.handshaking;
    return true;
  }

  void opened(const asio::ip::address& from) {
    std::lock_guard lock(mutex_);
    auto& c = counts_[from];
    if (c.handshaking > 0) --c.handshaking;
    ++c.open;
  }

  void ended(const asio::ip::address& from, bool was_open) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(from);
    if (it == counts_.end()) return;
    auto& c = it->second;
    if (was_open && c.open > 0) --c.open;
    else if (!was_open && c.handshaking > 0) --c.handshaking;
    if (c.handshaking + c.open == 0) counts_.erase(it);
  }

 private:
  struct counts {
    std::size_t handshaking = 0;
    std::size_t open = 0;
  };
  std::size_t max_sessions_;
  std::size_t max_handshakes_;
  std::mutex mutex_;
  std::unordered_map<asio::ip::address, counts> counts_;
};

}  // namespace lifeline::detail
