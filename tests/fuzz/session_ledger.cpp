// The game side of session_script_fuzzer (see session_ledger.hpp for what is checked).
//
// Locking: the handlers run on the shard thread and the fuzzer's thread reads between
// steps, so the ledger has a mutex. It is never held while calling into the server: a
// send or close from a handler can run another handler (on_closed) before it returns,
// which takes the mutex again.
#include "session_ledger.hpp"

#include "fuzz_check.hpp"
#include "fuzz_trace.hpp"

#include <lifeline/frame.hpp>
#include <lifeline/session_error.hpp>

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string_view>

namespace lifeline::fuzz {
namespace {

// What server.send from a handler may answer for a session that is open: the message is
// too large for a frame, or queued (success), or it overflowed the write queue, which
// closes the session at once (queue_full).
void check_send_from_handler(std::error_code ec, std::size_t size) {
  if (size > max_data_payload(default_max_frame_size)) FUZZ_CHECK(ec == session_error::message_too_large);
  else FUZZ_CHECK(!ec || ec == session_error::queue_full);
}

}  // namespace

session_handlers session_ledger::handlers() {
  return {
      .on_opened = [this](session_id id) { on_opened(id); },
      .on_message = [this](session_id id, std::span<const std::byte> payload) { on_message(id, payload); },
      .on_closed = [this](session_id id, close_info why) { on_closed(id, why); },
      .on_suspected = [this](session_id id) { on_suspected(id); },
      .on_recovered = [this](session_id id) { on_recovered(id); },
      .on_transport_lost = [this](session_id id, close_info cause) { on_transport_lost(id, cause); },
      .on_resumed = [this](session_id id, resumed_info info) { on_resumed(id, info); },
  };
}

std::uint64_t session_ledger::fingerprint(std::span<const std::byte> payload) noexcept {
  // std::hash runs in the (uninstrumented) standard library: no traced comparison per byte.
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  return std::hash<std::string_view>{}(text) ^ (payload.size() * 0x9E3779B97F4A7C15ull);
}

// --- the handlers (shard thread) ------------------------------------------------------------

void session_ledger::check_thread() {
  std::lock_guard lock(mutex_);
  if (shard_thread_ == std::thread::id{}) shard_thread_ = std::this_thread::get_id();
  FUZZ_CHECK(shard_thread_ == std::this_thread::get_id());  // one worker thread: one handler thread
}

session_record& session_ledger::open_record(session_id id) {
  const auto it = sessions_.find(id);
  FUZZ_CHECK(it != sessions_.end());  // a handler for an id on_opened never reported
  FUZZ_CHECK(!it->second.closed);     // a handler after on_closed
  return it->second;
}

session_id session_ledger::other_open_session(session_id id) const {
  for (auto it = opened_order_.rbegin(); it != opened_order_.rend(); ++it)
    if (*it != id && !sessions_.at(*it).closed) return *it;
  return {};
}

void session_ledger::on_opened(session_id id) {
  FUZZ_TRACE("on_opened %llx", static_cast<unsigned long long>(id.value));
  check_thread();
  {
    std::lock_guard lock(mutex_);
    FUZZ_CHECK(id.value != 0);
    FUZZ_CHECK(ever_opened_.insert(id).second);  // an id issued twice
    sessions_.emplace(id, session_record{});
    opened_order_.push_back(id);
    ++open_;
    ++opened_since_forget_;
    latest_opened_ = id;
  }
  check_gauges();
}

void session_ledger::on_message(session_id id, std::span<const std::byte> payload) {
  check_thread();
  const auto action = payload.empty() ? payload_action{} : static_cast<payload_action>(payload.front());
  FUZZ_TRACE("on_message %llx: %zu bytes, action '%c'", static_cast<unsigned long long>(id.value), payload.size(),
             static_cast<char>(action));
  session_id other{};
  {
    std::lock_guard lock(mutex_);
    auto& record = open_record(id);
    FUZZ_CHECK(!record.lingering);  // a message with no transport
    record.messages.emplace_back(payload.begin(), payload.end());
    other = other_open_session(id);
    switch (action) {
      case payload_action::echo: payloads_sent_[id].insert(fingerprint(payload)); break;
      case payload_action::close_own:
        record.game_closed_it = close_reason::closed_locally;
        close_requested_.insert(id);
        break;
      case payload_action::throw_error: record.game_closed_it = close_reason::handler_error; break;
      case payload_action::send_other:
        if (other) payloads_sent_[other].insert(fingerprint(payload));
        break;
      case payload_action::close_other:
        if (other) close_requested_.insert(other);
        break;
      default: break;
    }
  }
  check_gauges();
  switch (action) {
    case payload_action::echo: {
      const auto ec = server_->send(id, payload);
      check_send_from_handler(ec, payload.size());
      if (ec) unexpect_payload(id, payload);
      break;
    }
    case payload_action::close_own: FUZZ_CHECK(!server_->close(id)); break;
    case payload_action::throw_error: throw std::runtime_error("session_script_fuzzer: a handler that throws");
    case payload_action::send_other:
      if (other) {
        const auto ec = server_->send(other, payload);
        check_send_from_handler(ec, payload.size());
        if (ec) unexpect_payload(other, payload);
      }
      break;
    case payload_action::close_other:
      if (other) FUZZ_CHECK(!server_->close(other));
      break;
    default: break;
  }
}

void session_ledger::on_closed(session_id id, const close_info& why) {
  FUZZ_TRACE("on_closed %llx: %s (%s)", static_cast<unsigned long long>(id.value), to_string(why.reason).data(),
             why.detail.message().c_str());
  check_thread();
  {
    std::lock_guard lock(mutex_);
    auto& record = open_record(id);
    // After on_transport_lost: the same cause and `lingered` (the grace ran out), unless
    // the game or the server's limits ended it meanwhile (then `lingered` all the same).
    FUZZ_CHECK(why.lingered == record.lingering.has_value());
    if (record.lingering && why.reason != close_reason::closed_locally && why.reason != close_reason::memory_budget &&
        why.reason != close_reason::shutdown)
      FUZZ_CHECK(why.reason == record.lingering->reason);
    if (record.lingering) {
      record.lingering.reset();
      --lingering_;
    }
    record.closed = true;
    record.why = why;
    --open_;
    if (record.suspect) {
      record.suspect = false;
      --suspect_;
    }
    latest_closed_ = id;
    const auto reason = static_cast<unsigned>(why.reason);
    FUZZ_CHECK(reason >= 1 && reason <= static_cast<unsigned>(close_reason::admission_refused));
    // Reasons only a session that never opened can have; the game never hears of those.
    FUZZ_CHECK(why.reason != close_reason::server_full && why.reason != close_reason::handshake_timeout &&
               why.reason != close_reason::connect_failed && why.reason != close_reason::admission_refused);
    if (record.game_closed_it) FUZZ_CHECK(why.reason == *record.game_closed_it);
    if (why.reason == close_reason::closed_locally) FUZZ_CHECK(close_requested_.contains(id));
    if (why.reason == close_reason::handler_error) FUZZ_CHECK(record.game_closed_it == close_reason::handler_error);
  }
  check_gauges();
}

void session_ledger::on_suspected(session_id id) {
  FUZZ_TRACE("on_suspected %llx", static_cast<unsigned long long>(id.value));
  check_thread();
  {
    std::lock_guard lock(mutex_);
    auto& record = open_record(id);
    FUZZ_CHECK(!record.suspect);
    record.suspect = true;
    ++suspect_;
  }
  check_gauges();
}

void session_ledger::on_recovered(session_id id) {
  FUZZ_TRACE("on_recovered %llx", static_cast<unsigned long long>(id.value));
  check_thread();
  {
    std::lock_guard lock(mutex_);
    auto& record = open_record(id);
    FUZZ_CHECK(record.suspect);  // on_recovered only after on_suspected
    record.suspect = false;
    --suspect_;
  }
  check_gauges();
}

void session_ledger::on_transport_lost(session_id id, const close_info& cause) {
  FUZZ_TRACE("on_transport_lost %llx: %s", static_cast<unsigned long long>(id.value), to_string(cause.reason).data());
  check_thread();
  {
    std::lock_guard lock(mutex_);
    auto& record = open_record(id);
    FUZZ_CHECK(!record.lingering);  // lost twice without a resume between
    // Only a transport's death lingers (resume.linger_on's default).
    const auto causes = resume_config::transport_deaths();
    FUZZ_CHECK(std::find(causes.begin(), causes.end(), cause.reason) != causes.end());
    FUZZ_CHECK(!record.game_closed_it);  // the game's own close never lingers
    record.lingering = cause;
    ++lingering_;
    if (record.suspect) {  // a lingering session is no longer suspect
      record.suspect = false;
      --suspect_;
    }
  }
  check_gauges();
}

void session_ledger::on_resumed(session_id id, const resumed_info&) {
  FUZZ_TRACE("on_resumed %llx", static_cast<unsigned long long>(id.value));
  check_thread();
  std::lock_guard lock(mutex_);
  open_record(id);
  FUZZ_CHECK(false);  // no script presents a token: nothing can resume
}

void session_ledger::check_gauges() {
  const auto now = server_->stats().total;  // from a handler: this shard's own counters, at once
  FUZZ_CHECK(now.sessions_suspect <= now.sessions_open);
  std::lock_guard lock(mutex_);
  FUZZ_CHECK(now.sessions_suspect == suspect_);
  FUZZ_CHECK(now.sessions_lingering == lingering_);
  FUZZ_CHECK(now.sessions_open >= open_);
}

// --- the fuzzer's thread --------------------------------------------------------------------

std::optional<session_record> session_ledger::find(session_id id) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::nullopt;
  return it->second;
}

bool session_ledger::is_closed(session_id id) const {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  return it != sessions_.end() ? it->second.closed : ever_opened_.contains(id);
}

session_id session_ledger::latest_opened() const {
  std::lock_guard lock(mutex_);
  return latest_opened_;
}

session_id session_ledger::latest_closed() const {
  std::lock_guard lock(mutex_);
  return latest_closed_;
}

std::size_t session_ledger::open_sessions() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t session_ledger::opened_since_forget() const {
  std::lock_guard lock(mutex_);
  return opened_since_forget_;
}

void session_ledger::expect_payload(session_id id, std::span<const std::byte> payload) {
  std::lock_guard lock(mutex_);
  payloads_sent_[id].insert(fingerprint(payload));
}

void session_ledger::unexpect_payload(session_id id, std::span<const std::byte> payload) {
  std::lock_guard lock(mutex_);
  auto& sent = payloads_sent_[id];
  if (const auto one = sent.find(fingerprint(payload)); one != sent.end()) sent.erase(one);
}

void session_ledger::note_close_requested(session_id id) {
  std::lock_guard lock(mutex_);
  close_requested_.insert(id);
}

bool session_ledger::take_payload(session_id id, std::span<const std::byte> payload) {
  std::lock_guard lock(mutex_);
  auto& sent = payloads_sent_[id];
  const auto one = sent.find(fingerprint(payload));
  if (one == sent.end()) return false;
  sent.erase(one);
  return true;
}

void session_ledger::forget_closed() {
  std::lock_guard lock(mutex_);
  std::erase_if(opened_order_, [&](session_id id) { return sessions_.at(id).closed; });
  std::erase_if(sessions_, [](const auto& entry) { return entry.second.closed; });
  payloads_sent_.clear();
  close_requested_.clear();
  opened_since_forget_ = 0;
}

}  // namespace lifeline::fuzz
