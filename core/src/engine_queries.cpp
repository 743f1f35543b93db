// What a game may ask about one session, and from which thread (see engine.hpp): the
// answers a slot publishes for any thread (round-trip time, queued bytes), those that take
// a round trip to the session's shard (addresses, kernel info, effective liveness), and
// those only its owner may touch (user context: the shard's thread, or in poll mode the
// polling thread). Split from engine.cpp by concept.
#include "engine.hpp"

#include "socket_options.hpp"

#include <asio/post.hpp>

#include <future>
#include <memory>

namespace lifeline::detail {

session* engine::find_on_this_thread(session_id id) const noexcept {
  auto* s = shard_of(id);
  if (s == nullptr || !s->runs_on_this_thread()) return nullptr;
  return s->find(id);
}

// A lingering server session is a record in its shard (lingering_session.hpp): its
// context is kept there; it has no transport, so no round-trip time (0).
lingering_session* engine::find_lingering_on_this_thread(session_id id) const noexcept {
  auto* s = shard_of(id);
  if (s == nullptr || !s->runs_on_this_thread()) return nullptr;
  return s->find_lingering(id);
}

std::error_code engine::set_user_context(session_id id, void* context) const {
  if (poller_) return poller_->on_polling_thread() ? poller_->set_user_context(id, context) : session_error::wrong_thread;
  if (auto* s = find_on_this_thread(id)) {
    s->user_context = context;
  } else if (auto* record = find_lingering_on_this_thread(id)) {
    record->user_context = context;
  } else {
    return off_its_thread(id) ? session_error::wrong_thread : session_error::unknown_session;
  }
  return {};
}

void* engine::user_context(session_id id) const {
  if (poller_) return poller_->on_polling_thread() ? poller_->user_context(id) : nullptr;
  if (auto* s = find_on_this_thread(id)) return s->user_context;
  if (auto* record = find_lingering_on_this_thread(id)) return record->user_context;
  return nullptr;
}

// A live session asked about from a thread that is not its shard's.
bool engine::off_its_thread(session_id id) const noexcept {
  auto* s = shard_of(id);
  return s != nullptr && !s->runs_on_this_thread() && s->is_live(id);
}

// Published by the shard in a per-slot atomic: read from any thread, checked against the
// slot's live id before and after, so a reused slot's value is never taken for this one's.
std::error_code engine::round_trip_time(session_id id, std::chrono::microseconds& rtt) const {
  auto* s = shard_of(id);
  if (s == nullptr || !s->is_live(id)) return session_error::unknown_session;
  const auto published = s->published_round_trip_time(id.slot());
  if (!s->is_live(id)) return session_error::unknown_session;
  rtt = published;
  return {};
}

std::error_code engine::queued_bytes(session_id id, std::size_t& bytes) const {
  auto* s = shard_of(id);
  if (s == nullptr || !s->is_live(id)) return session_error::unknown_session;
  const auto pending = s->bytes_pending(id.slot()).load(std::memory_order_relaxed);
  if (!s->is_live(id)) return session_error::unknown_session;
  bytes = pending;
  return {};
}

// Runs `query(shard, answer)` on the session's own shard: at once on its thread; from a
// game thread as one post and a wait for the answer (the caller blocks for a turn of that
// shard's loop); from another shard's thread not at all (wrong_thread): a handler never
// waits on another shard, which may be waiting on it.
template <class Answer, class Query>
std::error_code engine::ask_owner(session_id id, Answer& out, Query query) const {
  auto* s = shard_of(id);
  if (s == nullptr || !s->is_live(id)) return session_error::unknown_session;
  if (s->runs_on_this_thread()) return query(*s, out);
  for (const auto& other : shards_)
    if (other->runs_on_this_thread()) return session_error::wrong_thread;
  if (!running_) return session_error::not_running;
  struct exchange {
    Answer answer;
    std::promise<std::error_code> done;
  };
  auto shared = std::make_shared<exchange>();  // outlives a wait that gave up
  auto future = shared->done.get_future();
  asio::post(s->io(), [shared, s, query] { shared->done.set_value(query(*s, shared->answer)); });
  if (future.wait_for(std::chrono::seconds{5}) != std::future_status::ready) return session_error::not_running;
  const auto ec = future.get();
  if (!ec) out = shared->answer;
  return ec;
}

std::error_code engine::addresses(session_id id, session_addresses& where) const {
  return ask_owner(id, where, [id](shard& owner, session_addresses& found) -> std::error_code {
    if (auto* s = owner.find(id); s != nullptr && s->state() < session_state::closed) {
      found = s->addresses();
      return {};
    }
    if (owner.find_lingering(id) != nullptr) {
      found = {};  // no connection now: both ends empty
      return {};
    }
    return session_error::unknown_session;
  });
}

std::error_code engine::kernel_info(session_id id, tcp_kernel_info& info) const {
  return ask_owner(id, info, [id](shard& owner, tcp_kernel_info& found) -> std::error_code {
    auto* s = owner.find(id);
    if (s == nullptr || s->state() >= session_state::closed) return session_error::unknown_session;
    return read_tcp_info(s->native_handle(), found);
  });
}

std::error_code engine::liveness_in_use(session_id id, effective_liveness& out) const {
  return ask_owner(id, out, [id](shard& owner, effective_liveness& found) -> std::error_code {
    auto* s = owner.find(id);
    if (s == nullptr || s->state() >= session_state::closing) return session_error::unknown_session;
    found = s->liveness_in_use();
    return {};
  });
}

}  // namespace lifeline::detail
