// A thread-safe record of what a server or connector told the game, with the time of
// each event, and waits with a deadline (tests never sleep for a fixed time to "let
// things happen": they wait for the event, or fail at the deadline).
#pragma once

#include <lifeline/session_handlers.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace lifeline::test {

using clock = std::chrono::steady_clock;

struct closed_event {
  session_id id;
  close_info why;  // why.app_reason is cleared: it was a view valid during on_closed only
  clock::time_point at;
  std::string app_reason{};  // its copy
};

/// What the game heard of a session, in order: "opened", "suspected", "recovered", "closed".
struct journal_entry {
  session_id id;
  std::string event;
  clock::time_point at;
};

class session_log {
 public:
  /// Handlers that record into this log; `on_message` (optional) runs after recording.
  session_handlers handlers(std::function<void(session_id, std::span<const std::byte>)> on_message = {}) {
    return {
        .on_opened =
            [this](session_id id) {
              std::lock_guard lock(mutex_);
              opened_.push_back(id);
              opened_at_[id] = clock::now();
              journal_.push_back({id, "opened", clock::now()});
              changed_.notify_all();
            },
        .on_message =
            [this, on_message](session_id id, std::span<const std::byte> bytes) {
              {
                std::lock_guard lock(mutex_);
                messages_.emplace_back(id, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
                changed_.notify_all();
              }
              if (on_message) on_message(id, bytes);
            },
        .on_closed =
            [this](session_id id, close_info why) {
              std::lock_guard lock(mutex_);
              std::string reason(why.app_reason);
              why.app_reason = {};
              closed_.push_back({id, why, clock::now(), std::move(reason)});
              journal_.push_back({id, "closed", clock::now()});
              changed_.notify_all();
            },
        .on_suspected = [this](session_id id) { note(id, "suspected"); },
        .on_recovered = [this](session_id id) { note(id, "recovered"); },
        .on_transport_lost =
            [this](session_id id, close_info cause) {
              std::lock_guard lock(mutex_);
              lost_.push_back({id, cause, clock::now()});
              journal_.push_back({id, "transport_lost", clock::now()});
              changed_.notify_all();
            },
        .on_resumed =
            [this](session_id id, resumed_info info) {
              std::lock_guard lock(mutex_);
              resumed_.emplace_back(id, info);
              journal_.push_back({id, "resumed", clock::now()});
              changed_.notify_all();
            },
    };
  }

  /// Waits until `done()` holds (checked under the log's lock) or `timeout` passes.
  template <class Predicate>
  bool wait_until(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return done(); });
  }

  bool wait_opened(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return wait_until([&] { return opened_.size() >= n; }, timeout);
  }
  bool wait_closed(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return wait_until([&] { return closed_.size() >= n; }, timeout);
  }
  bool wait_messages(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    return wait_until([&] { return messages_.size() >= n; }, timeout);
  }

  std::vector<session_id> opened() const {
    std::lock_guard lock(mutex_);
    return opened_;
  }
  std::vector<closed_event> closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  /// on_transport_lost events (resume), with the cause, in order.
  std::vector<closed_event> transports_lost() const {
    std::lock_guard lock(mutex_);
    return lost_;
  }
  std::vector<std::pair<session_id, resumed_info>> resumed() const {
    std::lock_guard lock(mutex_);
    return resumed_;
  }
  /// The events of one session as words, in order ("opened transport_lost resumed").
  std::string story_of(session_id id) const {
    std::string out;
    for (const auto& e : journal_of(id)) out += (out.empty() ? "" : " ") + e.event;
    return out;
  }
  std::vector<std::pair<session_id, std::string>> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  /// The events of one session, in the order the game heard them.
  std::vector<journal_entry> journal_of(session_id id) const {
    std::lock_guard lock(mutex_);
    std::vector<journal_entry> out;
    for (const auto& e : journal_)
      if (e.id == id) out.push_back(e);
    return out;
  }
  /// How many times `event` was heard (checked under the log's lock, for wait_until).
  std::size_t count_unlocked(std::string_view event) const {
    return static_cast<std::size_t>(std::count_if(journal_.begin(), journal_.end(), [&](const auto& e) { return e.event == event; }));
  }

  std::size_t closed_count(close_reason r) const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(closed_.begin(), closed_.end(), [&](const auto& e) { return e.why.reason == r; }));
  }

  // Unlocked accessors for use inside wait_until predicates.
  const std::vector<session_id>& opened_unlocked() const { return opened_; }
  const std::vector<closed_event>& closed_unlocked() const { return closed_; }
  const std::vector<std::pair<session_id, std::string>>& messages_unlocked() const { return messages_; }

 private:
  void note(session_id id, const char* event) {
    std::lock_guard lock(mutex_);
    journal_.push_back({id, event, clock::now()});
    changed_.notify_all();
  }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<session_id> opened_;
  std::map<session_id, clock::time_point> opened_at_;
  std::vector<std::pair<session_id, std::string>> messages_;
  std::vector<closed_event> closed_;
  std::vector<closed_event> lost_;
  std::vector<std::pair<session_id, resumed_info>> resumed_;
  std::vector<journal_entry> journal_;
};

inline std::span<const std::byte> bytes_of(std::string_view text) {
  return std::as_bytes(std::span{text.data(), text.size()});
}

}  // namespace lifeline::test
