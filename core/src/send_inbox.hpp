// Messages that game threads send to a shard's sessions, waiting for the shard to take
// them (private to core/).
//
// Why not one post per message: a post allocates a handler and a copy of the message each,
// and a game sending state to thousands of players 20 times a second posts tens of
// thousands of them; worse, stop() could not get ahead of them (posts run in order: 716 MiB
// of queued sends once kept stop() busy 41.8 s against its 1 s deadline). Here every
// message is appended to one byte arena under a short lock, one drain is posted per batch,
// and a stopping shard drops the whole batch at once.
//
//   if (inbox.push(id, bytes)) asio::post(io, [&] { drain(); });   // any thread
//   inbox.take(batch);  for (auto& m : batch.items) deliver(m.id, batch.message(m));  // shard
//
// push() and clear() from any thread; take() on the owning shard's thread.
#pragma once

#include <lifeline/session_id.hpp>

#include <atomic>
#include <cstddef>
#include <mutex>
#include <span>
#include <vector>

namespace lifeline::detail {

class send_inbox {
 public:
  struct item {
    session_id to;
    std::size_t offset;
    std::size_t size;
  };
  struct batch {
    std::vector<std::byte> bytes;
    std::vector<item> items;
    [[nodiscard]] std::span<const std::byte> message(const item& m) const noexcept {
      return {bytes.data() + m.offset, m.size};
    }
    void clear() noexcept {
      bytes.clear();
      items.clear();
    }
  };

  /// Appends a copy of `message` for session `to`. True when the inbox was empty, so the
  /// caller must post a drain to the shard (one drain per batch). Any thread.
  bool push(session_id to, std::span<const std::byte> message) {
    std::lock_guard lock(mutex_);
    const bool was_empty = waiting_.items.empty();
    waiting_.items.push_back({to, waiting_.bytes.size(), message.size()});
    waiting_.bytes.insert(waiting_.bytes.end(), message.begin(), message.end());
    // What the memory budget counts is what is held: the arena's capacity, not its size.
    bytes_waiting_.store(waiting_.bytes.capacity() + waiting_.items.capacity() * sizeof(item), std::memory_order_relaxed);
    return was_empty;
  }

  /// Memory the messages waiting for the shard hold now (for the memory budget). Any thread.
  [[nodiscard]] std::size_t bytes_waiting() const noexcept { return bytes_waiting_.load(std::memory_order_relaxed); }

  /// Moves everything waiting into `out` (whose old contents are dropped), leaving the
  /// inbox empty with `out`'s old buffers. Owning shard's thread.
  void take(batch& out) {
    out.clear();
    std::lock_guard lock(mutex_);
    std::swap(out, waiting_);
    bytes_waiting_.store(0, std::memory_order_relaxed);
  }

  /// Drops everything waiting and gives its memory back. Any thread.
  void clear() {
    batch dropped;
    std::lock_guard lock(mutex_);
    std::swap(dropped, waiting_);
    bytes_waiting_.store(0, std::memory_order_relaxed);
  }

 private:
  std::mutex mutex_;
  batch waiting_;
  std::atomic<std::size_t> bytes_waiting_{0};
};

}  // namespace lifeline::detail
