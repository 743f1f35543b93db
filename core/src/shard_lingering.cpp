// Lingering server sessions as records (lingering_session.hpp): a session whose transport
// died gives its object up and the shard keeps what matters in its slot, until the client
// resumes, the grace runs out, the game closes it, or the server stops. Each of those wakes
// the session (a new object in state lingering) and goes on down the session's own paths.
#include "engine.hpp"
#include "shard.hpp"

#include <lifeline/frame.hpp>

#include <asio/post.hpp>

#include <algorithm>

namespace lifeline::detail {

void lingering_session::on_expiry(time_point now) { shard_of->lingering_expired(*this, now); }

lingering_session* shard::find_lingering(session_id id) noexcept {
  if (id.slot() >= lingering_.size()) return nullptr;
  auto* record = lingering_[id.slot()].get();
  return record != nullptr && record->id == id ? record : nullptr;
}

void shard::hibernate(session& s) {
  const auto slot = s.id().slot();
  if (slot >= lingering_.size()) return;  // a connector's: it dials again, and keeps its object
  auto record = std::make_unique<lingering_session>(*this, s.id(), config().resume.replay_bytes);
  s.hibernate_into(*record);
  schedule(record->expiry, record->until);
  lingering_[slot] = std::move(record);
  // Not freed here: we are inside its call stack, and its aborted waits still hold it.
  retiring_.push_back(std::move(sessions_[slot]));
  // One sweep for a mass death's thousands, posted after their sockets' aborted waits.
  if (!sweep_posted_) {
    sweep_posted_ = true;
    asio::post(io_, [this] { free_retired(); });
  }
}

void shard::free_retired() {
  sweep_posted_ = false;
  if (retiring_.empty()) return;
  std::erase_if(retiring_, [](const std::unique_ptr<session>& s) { return s->is_reclaimable(); });
}

session* shard::wake(session_id id) {
  if (auto* s = find(id)) return s;
  auto* record = find_lingering(id);
  if (record == nullptr) return nullptr;
  const auto slot = id.slot();
  cancel(record->expiry);
  auto s = std::make_unique<session>(*this, id, session_role::server, asio::ip::tcp::socket(io_), now());
  s->wake_from(*record);
  lingering_[slot].reset();
  sessions_[slot] = std::move(s);
  return sessions_[slot].get();
}

void shard::lingering_expired(lingering_session& record, time_point t) {
  if (auto* s = wake(record.id)) s->expire_lingering(t);
}

// A game message for a session without a transport: kept, numbered, for the replay (as
// session::send_frame keeps it while the session lingers), with no ack and no clock stamps.
bool shard::keep_for_lingering(session_id id, std::span<const std::byte> message) {
  auto* record = find_lingering(id);
  if (record == nullptr) return false;
  std::error_code ec;
  const auto bytes = encoder_.encode(data_frame{.payload = message}, ec);
  if (ec) return true;  // only a message above max_frame_size; the engine refuses those first
  record->replay.keep(++record->sent, bytes);
  const auto held = record->replay.bytes_held();
  const auto delta = static_cast<std::ptrdiff_t>(held) - static_cast<std::ptrdiff_t>(record->charged);
  record->charged = held;
  charge(delta);
  return true;
}

}  // namespace lifeline::detail
