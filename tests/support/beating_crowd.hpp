// Many raw peers that beat on their own, as live clients do, each every `interval`, their
// beats spread evenly over the interval (so some always arrive just after any instant).
// A test can silence any of them (hung from then on) and knows when each last beat left.
#pragma once

#include "raw_peer.hpp"

#include <lifeline/session_id.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace lifeline::test {

class beating_crowd {
 public:
  using clock = std::chrono::steady_clock;

  /// Opens `count` peers to 127.0.0.1:`port`, each through its handshake, and keeps each
  /// beating from then on: peer i every `interval`, at offset i × interval / count.
  beating_crowd(std::uint16_t port, std::size_t count, std::chrono::milliseconds interval) : interval_(interval) {
    beater_ = std::thread([this] { beat_until_stopped(); });
    const auto origin = clock::now();
    for (std::size_t i = 0; i < count; ++i) {
      auto p = std::make_unique<member>();
      p->peer = std::make_unique<raw_peer>("127.0.0.1", port);
      p->id = session_id{p->peer->handshake().session_id};
      auto offset = origin + interval_ * static_cast<long>(i) / static_cast<long>(count);
      while (offset <= clock::now()) offset += interval_;
      p->next = offset;
      std::lock_guard lock(mutex_);
      members_.push_back(std::move(p));
    }
  }
  ~beating_crowd() { stop(); }
  beating_crowd(const beating_crowd&) = delete;
  beating_crowd& operator=(const beating_crowd&) = delete;

  void stop() {
    running_ = false;
    if (beater_.joinable()) beater_.join();
  }

  /// Peer i beats once more now, then never again. Returns when that last beat left.
  clock::time_point silence(std::size_t i) {
    std::lock_guard lock(mutex_);
    const auto at = clock::now();
    members_[i]->peer->send_beat();
    members_[i]->silent = true;
    return at;
  }

  /// Peer i sends `f` (between its beats, never inside one).
  void send(std::size_t i, const frame& f) {
    std::lock_guard lock(mutex_);
    members_[i]->peer->send_frame(f);
  }

  [[nodiscard]] std::size_t size() const { return members_.size(); }
  [[nodiscard]] session_id id(std::size_t i) const { return members_[i]->id; }
  [[nodiscard]] raw_peer& peer(std::size_t i) { return *members_[i]->peer; }

 private:
  struct member {
    std::unique_ptr<raw_peer> peer;
    session_id id;
    clock::time_point next;
    bool silent = false;
  };

  void beat_until_stopped() {
    while (running_) {
      {
        std::lock_guard lock(mutex_);
        const auto now = clock::now();
        for (auto& m : members_) {
          if (m->silent || m->next > now) continue;
          try {
            m->peer->send_beat();
          } catch (const std::runtime_error&) {
            m->silent = true;  // the server closed it: the test's log says why
          }
          m->next += interval_;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
    }
  }

  std::chrono::milliseconds interval_;
  std::vector<std::unique_ptr<member>> members_;
  std::mutex mutex_;
  std::atomic<bool> running_{true};
  std::thread beater_;
};

}  // namespace lifeline::test
