#include "shard.hpp"

#include "engine.hpp"

#include <lifeline/frame_error.hpp>

#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>

namespace lifeline::detail {
namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;

}  // namespace

shard::shard(engine& owner, unsigned index, session_role role, std::size_t capacity)
    : engine_(owner),
      index_(index),
      role_(role),
      wheel_(clock::now(), owner.liveness().wheel_tick),
      evidence_(derive_evidence_rules(owner.liveness())),
      stalls_(evidence_.stall_threshold),
      pacer_(owner.liveness().stall_release_rate),
      inbound_(owner.liveness().inbound),
      encoder_(owner.liveness().max_frame_size + 64),  // room for framing around a full message
      read_buffer_(read_buffer_size),
      slots_(index, capacity),
      sessions_(slots_.capacity()),
      live_ids_(std::make_unique<std::atomic<std::uint64_t>[]>(slots_.capacity())),
      pending_(std::make_unique<std::atomic<std::size_t>[]>(slots_.capacity())),
      round_trip_us_(std::make_unique<std::atomic<std::uint32_t>[]>(slots_.capacity())),
      budget_(owner.liveness().buffer_budget / owner.shard_count()) {
  work_.emplace(io_.get_executor());
  watermarks_ = derive_watermarks(owner.liveness());
  if (owner.polled()) {
    events_ = std::make_unique<event_queue>();
    event_backlog_limit_ = owner.liveness().event_backlog_limit / owner.shard_count();
  }
  // Only a server's sessions are kept as records while they linger (lingering_session.hpp).
  if (role_ == session_role::server && owner.liveness().resume.grace.count() > 0) {
    lingering_.resize(slots_.capacity());
    note_token_generation();  // before the first welcome, or every first token is "old" at the first tick
  }
}

shard::~shard() = default;

const liveness_config& shard::config() const noexcept { return engine_.liveness(); }
const kernel_backstop& shard::backstop() const noexcept { return engine_.backstop(); }
std::chrono::milliseconds shard::connect_timeout() const noexcept { return engine_.connect_timeout(); }

bool shard::is_live(session_id id) const noexcept {
  return id && id.slot() < sessions_.size() && live_ids_[id.slot()].load(std::memory_order_acquire) == id.value;
}

session* shard::find(session_id id) noexcept {
  if (id.slot() >= sessions_.size()) return nullptr;
  auto* s = sessions_[id.slot()].get();
  return s != nullptr && s->id() == id ? s : nullptr;
}

bool shard::set_user_context(session_id id, void* context) noexcept {
  if (auto* s = find(id)) {
    s->user_context = context;
  } else if (auto* record = find_lingering(id)) {
    record->user_context = context;
  } else {
    return false;
  }
  return true;
}

void shard::run() {
  try {
    io_.run();
  } catch (const std::exception& e) {
    // Only a bug of ours gets here (game handlers are caught per session): say so loudly.
    std::fprintf(stderr, "lifeline: shard %u stopped by an exception: %s\n", index_, e.what());
    throw;
  }
}

// --- game threads' sends ---------------------------------------------------------------

void shard::send_from_another_thread(session_id to, std::span<const std::byte> message) {
  if (inbox_.push(to, message)) asio::post(io_, [this] { deliver_waiting_sends(); });
}

// Hands game threads' messages to their sessions, a bounded number per turn: a burst of
// them must not hold the shard's reads (and stop()) back for long.
void shard::deliver_waiting_sends() {
  constexpr std::size_t messages_per_turn = 512;
  if (delivered_ == delivering_.items.size()) {
    // A burst's buffers are kept for the next batch, unless the burst was large.
    if (delivering_.bytes.capacity() > 1024 * 1024) delivering_ = {};
    inbox_.take(delivering_);
    delivered_ = 0;
  }
  const auto t = now();
  const auto end = std::min(delivering_.items.size(), delivered_ + messages_per_turn);
  for (; delivered_ < end; ++delivered_) {
    const auto& m = delivering_.items[delivered_];
    if (!m.to) {  // a broadcast's share of this shard
      deliver_to_members(delivering_.members(m), delivering_.message(m), t);
      continue;
    }
    if (m.close) {  // after what the same thread sent before it
      const auto reason = delivering_.message(m);
      close_info why{close_reason::closed_locally, {}};
      why.app_code = m.app_code;
      why.app_reason = {reinterpret_cast<const char*>(reason.data()), reason.size()};
      if (auto* target = wake(m.to)) target->close_with(why, t);
      continue;
    }
    // The session counts what it queues, as it queues it.
    pending_[m.to.slot()].fetch_sub(m.size + max_data_frame_overhead, std::memory_order_relaxed);
    if (!engine_.is_running()) continue;  // stop(): what is still waiting is dropped
    if (auto* target = find(m.to))        // it may have closed meanwhile
      target->send_message(delivering_.message(m), t, session::admitted::by_send);
    else
      keep_for_lingering(m.to, delivering_.message(m));  // or lost its transport
  }
  if (delivered_ < delivering_.items.size() || inbox_.more_after_drain())
    asio::post(io_, [this] { deliver_waiting_sends(); });  // the rest after the others' turn
}

void shard::close_from_another_thread(session_id id, std::uint16_t app_code, std::string_view reason) {
  if (inbox_.push_close(id, app_code, reason)) asio::post(io_, [this] { deliver_waiting_sends(); });
}

void shard::send_group_from_another_thread(std::span<const session_id> to, std::shared_ptr<const std::byte[]> message,
                                           std::size_t size) {
  if (inbox_.push_group(to, std::move(message), size)) asio::post(io_, [this] { deliver_waiting_sends(); });
}

// One broadcast message to each of `members` (their pending bytes were counted by the
// caller, as for a single send).
void shard::deliver_to_members(std::span<const session_id> members, std::span<const std::byte> message, time_point t) {
  for (const auto id : members) {
    pending_[id.slot()].fetch_sub(message.size() + max_data_frame_overhead, std::memory_order_relaxed);
    if (!engine_.is_running()) continue;  // stop(): what is still waiting is dropped
    if (auto* target = find(id))
      target->send_message(message, t, session::admitted::by_send);
    else
      keep_for_lingering(id, message);
  }
}

// --- the memory budget ---------------------------------------------------------------------

void shard::charge(std::ptrdiff_t delta) noexcept {
  held_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(held_) + delta);
  held_published_.store(held_, std::memory_order_relaxed);
  stats_.buffer_bytes = held_;
  held_peak_since_trim_ = std::max(held_peak_since_trim_, held_);
  // Much given back since the holdings peaked (an attack ended, queues drained): ask the
  // allocator to return its free pages too, at most once a second. Not on churn: only a
  // net fall of 64 MiB from the peak counts.
  if (delta < 0 && held_ + 64 * 1024 * 1024 < held_peak_since_trim_ && now() - last_trim_ > std::chrono::seconds{1}) {
    held_peak_since_trim_ = held_;
    last_trim_ = now();
    asio::post(io_, [this] { give_memory_back(); });
  }
  // At once, so the budget is passed by one read or one message at most. Sessions only
  // grow their charge between frames (after a read, after queueing a message), where
  // closing them, the grower included, is as safe as a handler's close(). Only on growth:
  // while the shard gives memory back, it is on its way down already.
  if (delta > 0 && held_ > budget_ && !enforcing_) enforce_budget();
}

// Over budget: first the sessions already closing give up the flush of their queues,
// then the open sessions holding the most are closed, until the rest hold under 90 % of
// the budget (so the next few bytes do not start this again at once).
void shard::enforce_budget() {
  enforcing_ = true;  // the closes below give memory back through charge(): no nesting
  const auto goal = budget_ / 10 * 9;
  std::vector<std::pair<std::size_t, session_id>> holders;
  for (const auto& s : sessions_) {
    if (!s || s->memory_held() == 0 || s->state() >= session_state::closed) continue;
    if (s->state() == session_state::closing) s->end_now();
    else holders.emplace_back(s->memory_held(), s->id());
  }
  std::sort(holders.begin(), holders.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const auto t = now();
  for (const auto& [bytes, id] : holders) {
    if (held_ <= goal) break;
    if (auto* s = find(id)) s->close_with({close_reason::memory_budget, {}}, t);
  }
  enforcing_ = false;
}

void shard::give_memory_back() { ::malloc_trim(0); }

// --- the wheel -----------------------------------------------------------------------------

void shard::schedule(timer_entry& entry, time_point deadline) {
  wheel_.schedule_at(entry, deadline);
  if (deadline < tick_armed_for_) arm_tick(deadline);
}

void shard::arm_tick(time_point at) {
  tick_armed_for_ = at;
  tick_timer_.expires_at(at);
  tick_timer_.async_wait([this, at](std::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    note_wakeup(at, clock::now());
    on_tick();
  });
}

// How late the deadline timer ran, and whether the host was frozen since its last run: a
// stall of ours that the sessions' peers must not be blamed for (own_stalls.hpp).
void shard::note_wakeup(time_point due, time_point now) {
  stats_.deadline_timer_lateness.record(now - due);
  // The two clocks read back to back, so that a preemption between them is no "freeze".
  timespec boot{};
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  const auto monotonic = clock::now();
  const auto ahead = std::chrono::seconds{boot.tv_sec} + std::chrono::nanoseconds{boot.tv_nsec} - monotonic.time_since_epoch();
  const auto frozen = boot_ahead_of_monotonic_.count() < 0 ? std::chrono::nanoseconds{0} : ahead - boot_ahead_of_monotonic_;
  boot_ahead_of_monotonic_ = ahead;
  if (!stalls_.note_wakeup(due, now, frozen)) return;
  ++stats_.loop_stalls;
  if (frozen > std::chrono::nanoseconds{evidence_.stall_threshold}) ++stats_.host_freezes;
  stats_.longest_loop_stall = std::chrono::ceil<std::chrono::milliseconds>(stalls_.longest());
}

void shard::on_tick() {
  tick_armed_for_ = time_point::max();
  // Bounded work per turn: when thousands of sessions die in one tick, their closes are
  // spread over several turns so that live sessions' reads and writes run in between.
  if (!lingering_.empty()) note_token_generation();  // resume on: tokens to refresh
  const auto result = wheel_.advance(now(), config().max_expiries_per_turn);
  if (!result.finished) {
    tick_armed_for_ = time_point::min();  // a continuation is queued: no need to arm
    asio::post(io_, [this] { on_tick(); });
    return;
  }
  if (const auto next = wheel_.next_wakeup(); next != time_point::max()) arm_tick(next);
}

// --- reclaiming ------------------------------------------------------------------------------

void shard::retire(session& s) {
  // At once, not at reclaim: a connection dropped to make room (a handshake flood) frees
  // its place for the one waiting, in the same turn.
  slots_.retire(s.id());
  engine_.release_admission();
}

void shard::reclaim_later(session& s) {
  // Never free a session inside its own call stack: its handler may still be on it.
  asio::post(io_, [this, id = s.id()] { reclaim(id); });
}

void shard::reclaim(session_id id) {
  free_retired();
  auto* s = find(id);
  if (s == nullptr || !s->is_reclaimable()) return;
  sessions_[id.slot()].reset();
  slots_.release(id);
  --stats_.sessions_open;
  stop_if_idle();
}

// --- shutting down ----------------------------------------------------------------------------

void shard::begin_shutdown(std::chrono::milliseconds flush_deadline) {
  if (shutting_down_) return;
  shutting_down_ = true;
  flush_timeout_ = flush_deadline;
  std::error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  accept_retry_.cancel();
  for (const auto& [ticket, chain] : chains_) engine_.retire_ticket(chain->ticket);  // every connect() is over
  chains_.clear();                                                                  // waits included
  const auto t = now();
  for (const auto& record : lingering_)  // woken first, so the loop below closes them too
    if (record) (void)wake(record->id);
  for (auto& s : sessions_) {
    if (!s) continue;
    if (s->state() < session_state::closing) s->close_with({close_reason::shutdown, {}}, t);
    else s->hurry_close(t + flush_deadline);  // closing already: stop() sets the pace now
  }
  work_.reset();
  stop_if_idle();
}

void shard::stop_if_idle() {
  if (shutting_down_ && slots_.in_use() == 0) {
    tick_timer_.cancel();
    tick_armed_for_ = time_point::min();  // never re-armed: the loop may end
  }
}

}  // namespace lifeline::detail
