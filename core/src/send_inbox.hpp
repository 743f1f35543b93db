// Messages that game threads send to a shard's sessions, waiting for the shard to take
// them (private to core/).
//
// Why not one post per message: a post allocates a handler and a copy of the message each,
// and a game sending state to thousands of players 20 times a second posts tens of
// thousands of them; worse, stop() could not get ahead of them (posts run in order: 716 MiB
// of queued sends once kept stop() busy 41.8 s against its 1 s deadline). Here every
// message is appended to one byte arena under a short lock, one drain chain runs at a time
// (a bounded number of messages a turn), and a stopping shard drops what waits at once.
//
//   if (inbox.push(id, bytes)) asio::post(io, [&] { drain(); });   // any thread
//   inbox.take(batch);  for (auto& m : batch.items) deliver(m.id, batch.message(m));  // shard
//
// A broadcast (server::broadcast) waits here too, as one item: the ids of its sessions on
// this shard, appended to one array, and a pointer to its one shared copy of the message.
// In the same queue as single messages, so a game thread's sends and broadcasts reach a
// session in the order it made them.
//
// A game thread's close() waits here too, behind that thread's sends to the session.
//
// push(), push_group(), push_close() and clear() from any thread; take() on the owning
// shard's thread.
#pragma once

#include <lifeline/session_id.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace lifeline::detail {

class send_inbox {
 public:
  struct item {
    session_id to;       // empty: a group (offset is its index in groups)
    std::size_t offset;
    std::size_t size;
    /// A close of `to` (close(id, app_code, reason)), not a message: the bytes are its
    /// reason. Behind the messages sent before it, so "send, then close" says it all first.
    bool close = false;
    std::uint16_t app_code = 0;
  };
  struct group {
    std::shared_ptr<const std::byte[]> message;  // shared by every shard the broadcast reaches
    std::size_t first = 0;                       // its ids: group_ids[first, first + count)
    std::size_t count = 0;
  };
  struct batch {
    std::vector<std::byte> bytes;
    std::vector<item> items;
    std::vector<group> groups;
    std::vector<session_id> group_ids;
    std::size_t shared_bytes = 0;  // the groups' messages (counted here once per shard)
    [[nodiscard]] std::span<const std::byte> message(const item& m) const noexcept {
      if (!m.to) return {groups[m.offset].message.get(), m.size};
      return {bytes.data() + m.offset, m.size};
    }
    [[nodiscard]] std::span<const session_id> members(const item& m) const noexcept {
      const auto& g = groups[m.offset];
      return {group_ids.data() + g.first, g.count};
    }
    void clear() noexcept {
      bytes.clear();
      items.clear();
      groups.clear();
      group_ids.clear();
      shared_bytes = 0;
    }
    [[nodiscard]] std::size_t memory() const noexcept {
      return bytes.capacity() + items.capacity() * sizeof(item) + groups.capacity() * sizeof(group) +
             group_ids.capacity() * sizeof(session_id) + shared_bytes;
    }
  };

  /// Appends a copy of `message` for session `to`. True when no drain is under way, so
  /// the caller must post one to the shard (one drain chain at a time). Any thread.
  bool push(session_id to, std::span<const std::byte> message) {
    std::lock_guard lock(mutex_);
    const auto offset = waiting_.bytes.size();
    waiting_.bytes.insert(waiting_.bytes.end(), message.begin(), message.end());  // first: if it throws, no item points past it
    waiting_.items.push_back({to, offset, message.size()});
    // What the memory budget counts is what is held: the arena's capacity, not its size.
    bytes_waiting_.store(waiting_.memory(), std::memory_order_relaxed);
    return !std::exchange(drain_posted_, true);
  }

  /// Appends a close of session `to` behind what is already waiting for it. True as push().
  /// Any thread.
  bool push_close(session_id to, std::uint16_t app_code, std::string_view reason) {
    std::lock_guard lock(mutex_);
    const auto offset = waiting_.bytes.size();
    const auto* first = reinterpret_cast<const std::byte*>(reason.data());
    waiting_.bytes.insert(waiting_.bytes.end(), first, first + reason.size());
    waiting_.items.push_back({to, offset, reason.size(), true, app_code});
    bytes_waiting_.store(waiting_.memory(), std::memory_order_relaxed);
    return !std::exchange(drain_posted_, true);
  }

  /// Appends one message of `size` bytes for every session in `to`, sharing `message`.
  /// True as push(). Any thread.
  bool push_group(std::span<const session_id> to, std::shared_ptr<const std::byte[]> message, std::size_t size) {
    std::lock_guard lock(mutex_);
    const auto first = waiting_.group_ids.size();
    waiting_.group_ids.insert(waiting_.group_ids.end(), to.begin(), to.end());
    waiting_.groups.push_back({std::move(message), first, to.size()});
    waiting_.shared_bytes += size;
    waiting_.items.push_back({session_id{}, waiting_.groups.size() - 1, size});
    bytes_waiting_.store(waiting_.memory(), std::memory_order_relaxed);
    return !std::exchange(drain_posted_, true);
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

  /// The drain is done with what it took: true if more has arrived meanwhile (drain on);
  /// false, and the next push() posts a new drain, if nothing has. Owning shard's thread.
  bool more_after_drain() {
    std::lock_guard lock(mutex_);
    if (!waiting_.items.empty()) return true;
    drain_posted_ = false;
    return false;
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
  bool drain_posted_ = false;  // a drain chain is under way (guarded by mutex_)
  std::atomic<std::size_t> bytes_waiting_{0};
};

}  // namespace lifeline::detail
