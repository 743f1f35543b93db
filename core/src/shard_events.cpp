// What a shard tells the game (see shard.hpp): in callback mode it calls the game's
// handlers on its own thread; in poll mode (session_event.hpp) it appends the same events
// to its queue for the game's polling thread, and holds its sessions' reading while the
// game is too far behind.
#include "shard.hpp"

#include "engine.hpp"
#include "event_record.hpp"

#include <asio/post.hpp>

namespace lifeline::detail {

// --- callback mode ---------------------------------------------------------------------------

template <class F>
bool shard::call_game(session& s, F&& f) {
  try {
    f();
    return true;
  } catch (...) {
    // A throwing handler costs its own session, never the shard or other sessions.
    s.close_with({close_reason::handler_error, {}}, now());
    return false;
  }
}

// --- poll mode -------------------------------------------------------------------------------

template <class Fill>
void shard::queue_event(session& s, event_kind kind, Fill&& fill) {
  session_event event;
  event.kind = kind;
  event.id = s.id();
  event.context = s.user_context;
  fill(event);
  append_event(*events_, event);
}

bool shard::hold_reading(session& s) {
  if (!events_ || events_->bytes_held() < event_backlog_limit_) return false;
  // Flag first, then look again: the poller takes events, then reads the flag, so either
  // it sees the flag or this sees the room it made (both sequentially consistent).
  readers_held_.store(true, std::memory_order_seq_cst);
  if (events_->bytes_held() < event_backlog_limit_) return false;
  s.hold_reading();
  held_readers_.push_back(s.id());
  ++stats_.reads_held;
  return true;
}

void shard::release_held_readers_if_caught_up() {
  if (!readers_held_.load(std::memory_order_seq_cst) || events_->bytes_held() >= event_backlog_limit_ / 2) return;
  if (readers_held_.exchange(false, std::memory_order_seq_cst)) asio::post(io_, [this] { release_held_readers(); });
}

void shard::release_held_readers() {
  auto held = std::move(held_readers_);
  held_readers_.clear();
  for (const auto id : held)
    if (auto* s = find(id)) s->release_reading();
}

// --- both ------------------------------------------------------------------------------------

void shard::writability_changed(session& s, bool writable) {
  // Only an open session's: a lingering one has no queue, and resumes writable.
  if (!s.is_open()) return;
  if (events_) return queue_event(s, event_kind::writability_changed, [&](session_event& e) { e.writable = writable; });
  if (!engine_.handlers().on_writability_changed) return;
  // Not from inside the send() or the write that crossed the mark: after it.
  asio::post(io_, [this, id = s.id(), writable] {
    auto* target = find(id);
    if (target == nullptr || !target->is_open()) return;
    const auto& h = engine_.handlers().on_writability_changed;
    call_game(*target, [&] { h(id, writable); });
  });
}

void shard::notify_opened(session& s) {
  if (events_) return queue_event(s, event_kind::opened, [&](session_event& e) { e.addresses = s.addresses(); });
  if (const auto& h = engine_.handlers().on_opened) call_game(s, [&] { h(s.id()); });
}

void shard::notify_suspected(session& s) {
  if (events_) return queue_event(s, event_kind::suspected, [](session_event&) {});
  if (const auto& h = engine_.handlers().on_suspected) call_game(s, [&] { h(s.id()); });
}

void shard::notify_recovered(session& s) {
  if (events_) return queue_event(s, event_kind::recovered, [](session_event&) {});
  if (const auto& h = engine_.handlers().on_recovered) call_game(s, [&] { h(s.id()); });
}

void shard::notify_transport_lost(session& s, const close_info& cause) {
  if (events_) return queue_event(s, event_kind::transport_lost, [&](session_event& e) { e.why = cause; });
  if (const auto& h = engine_.handlers().on_transport_lost) call_game(s, [&] { h(s.id(), cause); });
}

void shard::notify_resumed(session& s, const resumed_info& info) {
  if (events_) return queue_event(s, event_kind::resumed, [&](session_event& e) {
      e.resumed = info;
      e.addresses = s.addresses();
    });
  if (const auto& h = engine_.handlers().on_resumed) call_game(s, [&] { h(s.id(), info); });
}

void shard::notify_message(session& s, std::span<const std::byte> payload) {
  if (events_) return queue_event(s, event_kind::message, [&](session_event& e) { e.message = payload; });
  if (const auto& h = engine_.handlers().on_message) call_game(s, [&] { h(s.id(), payload); });
}

void shard::notify_closed(session& s) {
  live_ids_[s.id().slot()].store(0, std::memory_order_release);  // stale from now on, for every thread
  auto why = s.why_closed();
  if (role_ == session_role::client) why.reconnect = end_attempt(s);  // what its connect() does next
  const bool tell_game = s.was_opened() || role_ == session_role::client;
  if (!tell_game) return;
  if (events_) return queue_event(s, event_kind::closed, [&](session_event& e) { e.why = why; });
  if (const auto& h = engine_.handlers().on_closed) {
    try {
      h(s.id(), why);
    } catch (...) {
      // Already closing; nothing more to take from it.
    }
  }
}

}  // namespace lifeline::detail
