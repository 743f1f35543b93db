// The events of one shard on their way to the game's polling thread (private to core/).
//
// Poll mode (session_event.hpp) moves every handler call off the shard: the shard appends
// each event as a record to this queue and the game's thread takes them in poll(). One
// producer (the shard's thread), one consumer (the polling thread), no lock: records are
// written into chunks of memory; the producer publishes how far a chunk is written with
// one release store per record, and links a new chunk when one is full; the consumer reads
// up to that mark and frees each chunk once it has passed it. Appending a record costs a
// copy of it and that store, never a system call (an allocation once per chunk).
//
//   auto* at = queue.reserve(bytes); write(at); queue.commit(bytes);   // shard's thread
//   queue.consume(max, [](std::span<const std::byte> record) { ... }); // polling thread
//
// bytes_held() from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

namespace lifeline::detail {

class event_queue {
 public:
  static constexpr std::size_t chunk_size = 256 * 1024;
  static constexpr std::size_t alignment = 8;  // every record starts 8-aligned

  event_queue() : head_(new chunk(chunk_size)), tail_(head_) {}
  ~event_queue() {
    for (auto* c = head_; c != nullptr;) {
      auto* next = c->next.load(std::memory_order_relaxed);
      delete c;
      c = next;
    }
  }
  event_queue(const event_queue&) = delete;
  event_queue& operator=(const event_queue&) = delete;

  [[nodiscard]] static constexpr std::size_t padded(std::size_t bytes) noexcept {
    return (bytes + alignment - 1) & ~(alignment - 1);
  }

  /// Room for one record of `bytes` (padded) at the tail, not yet visible. Producer only.
  [[nodiscard]] std::byte* reserve(std::size_t bytes) {
    bytes = padded(bytes);
    if (tail_->capacity - tail_written_ < bytes) {
      auto* next = new chunk(std::max(chunk_size, bytes));
      tail_->next.store(next, std::memory_order_release);  // the old chunk is finished
      tail_ = next;
      tail_written_ = 0;
    }
    return tail_->data.get() + tail_written_;
  }
  /// Publishes the record reserve() made room for. Producer only.
  void commit(std::size_t bytes) noexcept {
    bytes = padded(bytes);
    tail_written_ += bytes;
    produced_.fetch_add(bytes, std::memory_order_seq_cst);  // before the mark: bytes_held never undercounts
    tail_->written.store(tail_written_, std::memory_order_release);
  }

  /// Hands up to `max` records to `take(std::span<const std::byte>)`, oldest first, and
  /// returns how many. A record is consumed once `take` returns (or throws: it is not
  /// handed out again). Consumer only.
  template <class Take>
  std::size_t consume(std::size_t max, Take&& take) {
    std::size_t count = 0;
    while (count < max) {
      const auto written = head_->written.load(std::memory_order_acquire);
      if (read_ < written) {
        const auto* at = head_->data.get() + read_;
        std::uint32_t stated = 0;  // each record begins with its length
        std::memcpy(&stated, at, sizeof stated);
        const auto length = padded(stated);
        read_ += length;
        ++count;
        struct settle {
          event_queue& q;
          std::size_t length;
          ~settle() { q.consumed_.fetch_add(length, std::memory_order_seq_cst); }
        } settled{*this, length};
        take(std::span<const std::byte>(at, length));
        continue;
      }
      auto* next = head_->next.load(std::memory_order_acquire);
      if (next == nullptr) break;
      // The producer moved on; whatever it wrote here before that is visible now.
      if (head_->written.load(std::memory_order_acquire) != read_) continue;
      delete head_;
      head_ = next;
      read_ = 0;
    }
    return count;
  }

  /// Bytes of records appended and not yet consumed (chunks' slack not counted). Any thread.
  [[nodiscard]] std::size_t bytes_held() const noexcept {
    const auto consumed = consumed_.load(std::memory_order_seq_cst);
    const auto produced = produced_.load(std::memory_order_seq_cst);
    return produced > consumed ? produced - consumed : 0;
  }

 private:
  struct chunk {
    explicit chunk(std::size_t bytes) : data(new std::byte[bytes]), capacity(bytes) {}
    std::unique_ptr<std::byte[]> data;
    std::size_t capacity;
    std::atomic<std::size_t> written{0};  // published by the producer
    std::atomic<chunk*> next{nullptr};    // set once, when the producer leaves this chunk
  };

  // Consumer's.
  chunk* head_;
  std::size_t read_ = 0;
  // Producer's.
  chunk* tail_;
  std::size_t tail_written_ = 0;
  // Both: for bytes_held().
  std::atomic<std::size_t> produced_{0};
  std::atomic<std::size_t> consumed_{0};
};

}  // namespace lifeline::detail
