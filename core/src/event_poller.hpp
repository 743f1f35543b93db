// Poll mode's consumer side (private to core/): poll() on the game's thread drains every
// shard's event queue, attaches each session's user context, and keeps that context in a
// table only the polling thread touches (so setting it there is immediate and lock-free).
#pragma once

#include <lifeline/session_error.hpp>
#include <lifeline/session_event.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

namespace lifeline::detail {

class engine;

class event_poller {
 public:
  using handler_call = void (*)(void* handler, const session_event& event);

  explicit event_poller(engine& owner);

  /// Hands up to `max_events` events to `call(handler, event)`, and returns how many.
  /// One thread at a time (std::logic_error otherwise, and from inside a handler).
  std::size_t poll(handler_call call, void* handler, std::size_t max_events);

  /// The thread that polls (the last to call poll()).
  [[nodiscard]] bool on_polling_thread() const noexcept {
    return poller_.load(std::memory_order_relaxed) == std::this_thread::get_id();
  }
  // Polling thread only.
  std::error_code set_user_context(session_id id, void* context);
  [[nodiscard]] void* user_context(session_id id) const noexcept;

 private:
  struct context_entry {
    std::uint64_t id = 0;  // the session this slot's context belongs to; 0: none
    void* context = nullptr;
  };
  void deliver(std::size_t shard_index, const session_event& event, handler_call call, void* handler);

  engine& engine_;
  std::vector<std::vector<context_entry>> contexts_;  // [shard][slot]
  std::atomic<std::thread::id> poller_{};
  std::atomic<bool> polling_{false};
  std::size_t first_shard_ = 0;  // where the next poll() starts, so no shard always goes first
};

}  // namespace lifeline::detail
