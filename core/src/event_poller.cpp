#include "event_poller.hpp"

#include "engine.hpp"
#include "event_record.hpp"

#include <asio/post.hpp>

#include <stdexcept>

namespace lifeline::detail {

event_poller::event_poller(engine& owner) : engine_(owner), contexts_(owner.shard_count()) {
  for (std::size_t i = 0; i < contexts_.size(); ++i) contexts_[i].resize(owner.shard_at(i).slot_capacity());
}

std::size_t event_poller::poll(handler_call call, void* handler, std::size_t max_events) {
  if (polling_.exchange(true, std::memory_order_acquire))
    throw std::logic_error("poll: already polling, on another thread or in a handler of this poll()");
  struct done_polling {
    std::atomic<bool>& flag;
    ~done_polling() { flag.store(false, std::memory_order_release); }
  } done{polling_};
  poller_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  // Round by round, a bounded share per shard, so one busy shard cannot starve the others'
  // events within one poll().
  constexpr std::size_t per_shard_per_round = 256;
  const auto shards = engine_.shard_count();
  std::size_t delivered = 0;
  for (bool any = true; any && delivered < max_events;) {
    any = false;
    for (std::size_t k = 0; k < shards && delivered < max_events; ++k) {
      const auto index = (first_shard_ + k) % shards;
      auto& owner = engine_.shard_at(index);
      const auto wanted = std::min(per_shard_per_round, max_events - delivered);
      const auto taken = owner.events()->consume(wanted, [&](std::span<const std::byte> record) {
        deliver(index, read_event(record), call, handler);
      });
      delivered += taken;
      any = any || taken > 0;
      owner.release_held_readers_if_caught_up();
    }
  }
  first_shard_ = (first_shard_ + 1) % shards;
  return delivered;
}

void event_poller::deliver(std::size_t shard_index, const session_event& event, handler_call call, void* handler) {
  auto& entry = contexts_[shard_index][event.id.slot()];
  session_event out = event;
  if (entry.id == event.id.value) {
    out.context = entry.context;
  } else if (event.kind == event_kind::opened || event.kind == event_kind::closed) {
    entry = {event.id.value, event.context};  // what the shard knew: connect()'s context
  }
  // The closed event is the last: its slot's entry is free afterwards, even if the
  // handler throws.
  struct forget {
    context_entry& entry;
    bool last;
    ~forget() {
      if (last) entry = {};
    }
  } after{entry, event.kind == event_kind::closed};
  call(handler, out);
}

std::error_code event_poller::set_user_context(session_id id, void* context) {
  if (id.shard() >= contexts_.size() || id.slot() >= contexts_[id.shard()].size())
    return session_error::unknown_session;
  auto& entry = contexts_[id.shard()][id.slot()];
  auto& owner = engine_.shard_at(id.shard());
  // Known here (opened delivered, closed not yet), or alive and not yet opened.
  if (entry.id != id.value && !owner.is_live(id)) return session_error::unknown_session;
  entry = {id.value, context};
  // The shard keeps a copy for what it does with the context itself: a connector's
  // reconnect carries it to the new session, a lingering session's record keeps it.
  asio::post(owner.io(), [&owner, id, context] { owner.set_user_context(id, context); });
  return {};
}

void* event_poller::user_context(session_id id) const noexcept {
  if (id.shard() >= contexts_.size() || id.slot() >= contexts_[id.shard()].size()) return nullptr;
  const auto& entry = contexts_[id.shard()][id.slot()];
  return entry.id == id.value ? entry.context : nullptr;
}

}  // namespace lifeline::detail
