// A shard's part in resume (DESIGN.md §10): tokens issued for its sessions, and the
// connections that ask to resume one, checked here and handed to the session's own shard.
#include "engine.hpp"
#include "shard.hpp"

#include <lifeline/frame_error.hpp>
#include <lifeline/resume_error.hpp>

#include <asio/post.hpp>

#include <unistd.h>

namespace lifeline::detail {

std::span<const std::byte> shard::issue_token(session_id id, std::uint32_t epoch) {
  const auto lifetime = static_cast<std::uint32_t>(config().resume.token_lifetime.count());
  token_ = engine_.resume_keys().issue({.session = id, .epoch = epoch, .expires_at = unix_seconds_now() + lifetime});
  return token_;
}

void shard::note_token_generation() noexcept {
  const auto half_lifetime = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(config().resume.token_lifetime.count() / 2));
  token_generation_ = static_cast<std::uint8_t>(unix_seconds_now() / half_lifetime);
}

// The token is checked here, before anything else is looked at (a forged one costs one
// MAC), then the connection goes to the session's own shard.
void shard::resume_requested(session& s, const hello_frame& hello, time_point t) {
  std::error_code refused;
  token_claims claims;
  if (config().resume.grace.count() == 0) refused = resume_error::not_resumable;
  else refused = engine_.resume_keys().verify(hello.resume_token, unix_seconds_now(), claims);
  if (!refused && claims.session.shard() >= engine_.shard_count()) refused = resume_error::unknown_session;
  if (refused) return s.refuse_resume(refused, t);
  // Frames sent after a resume hello, before the welcome, would be lost in the handover.
  if (s.read_past_this_frame()) return s.close_with({close_reason::protocol_error, frame_error::unexpected_frame}, t);

  resume_handoff handoff;
  handoff.target = claims.session;
  handoff.request = {.epoch = claims.epoch, .received = hello.received, .replay_from = hello.replay_from};
  if (const auto it = admitted_from_.find(s.id().value); it != admitted_from_.end()) {
    // The connection's place in its address's count moves with it (handshaking -> open).
    handoff.from = it->second;
    engine_.addresses().opened(it->second);
    admitted_from_.erase(it);
  }
  handoff.protocol = s.is_ipv6() ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
  handoff.fd = s.hand_over_connection();
  auto& owner = engine_.shard_at(claims.session.shard());
  if (&owner == this) return take_resume(std::move(handoff));
  asio::post(owner.io(), [&owner, handoff = std::move(handoff)]() mutable { owner.take_resume(std::move(handoff)); });
}

void shard::take_resume(resume_handoff handoff) {
  std::error_code ec;
  asio::ip::tcp::socket socket(io_);
  socket.assign(handoff.protocol, handoff.fd, ec);
  if (ec) {
    ::close(handoff.fd);
    if (handoff.from) engine_.addresses().ended(*handoff.from, true);
    return;
  }
  auto* target = shutting_down_ ? nullptr : wake(handoff.target);
  const std::error_code refused =
      target ? target->resume_with(socket, handoff.request, now()) : make_error_code(resume_error::unknown_session);
  if (refused) {
    ++stats_.resumes_refused;
    if (target != nullptr && target->is_lingering()) hibernate(*target);  // untouched: back to its record
    if (handoff.from) engine_.addresses().ended(*handoff.from, true);
    return refuse(socket, close_reason::resume_rejected, close_code::resume_rejected,
                  to_string(static_cast<resume_error>(refused.value())));
  }
  if (handoff.from) admitted_from_[handoff.target.value] = *handoff.from;
}

}  // namespace lifeline::detail
