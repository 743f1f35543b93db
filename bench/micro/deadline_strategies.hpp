// The ways a server can keep one idle deadline per session, side by side for the
// micro-benchmarks. Each strategy offers the same four operations:
//   arm(i, now)     session i starts (or restarts) and was heard at `now`
//   heard(i, now)   session i was heard from: its deadline moves to now + timeout
//   cancel(i)       session i is closed locally: forget its deadline
//   advance(now, dead)  find sessions not heard from for `timeout`; append them to `dead`
//                       (each is then unarmed); returns the deadline expiries handled
// and each does it the way its user would write it:
//   wheel_lazy     lifeline's way: heard() stores a timestamp; an expiry re-checks it and
//                  re-arms for the remainder (about one wheel operation per timeout)
//   wheel_eager    the same wheel, rescheduled on every heard()
//   heap           binary heap with lazy deletion: heard() pushes, stale entries are
//                  skipped when they surface (and compacted if they pile up)
//   asio_timer     one Asio waitable timer per session, as in Asio's timeouts examples:
//                  heard() calls expires_at(), which cancels the pending wait; its handler
//                  re-checks the expiry and waits again
//   list           intrusive list ordered by last-heard: heard() moves to the tail; the
//                  head is the next to expire (exact and O(1), but only for one timeout)
#pragma once

#include "simulated_time.hpp"

#include <lifeline/timer_wheel.hpp>

#include <asio/basic_waitable_timer.hpp>
#include <asio/io_context.hpp>

#include <algorithm>
#include <deque>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace lifeline::bench {

using duration = std::chrono::steady_clock::duration;
using dead_list = std::vector<std::size_t>;

class wheel_lazy {
 public:
  static constexpr const char* name = "wheel";
  wheel_lazy(std::size_t sessions, duration timeout, time_point origin)
      : timeout_(timeout), wheel_(origin), sessions_(std::make_unique<session[]>(sessions)) {
    for (std::size_t i = 0; i < sessions; ++i) sessions_[i].owner = this;
  }
  void arm(std::size_t i, time_point now) {
    auto& s = sessions_[i];
    s.last_heard = now;
    wheel_.schedule_at(s.entry, now + timeout_);
  }
  void heard(std::size_t i, time_point now) { sessions_[i].last_heard = now; }
  void cancel(std::size_t i) { wheel_.cancel(sessions_[i].entry); }
  std::size_t advance(time_point now, dead_list& dead) {
    dead_ = &dead;
    return wheel_.advance(now).fired;
  }

 private:
  struct session {
    void on_deadline(time_point now) {
      const auto deadline = last_heard + owner->timeout_;
      if (deadline > now) owner->wheel_.schedule_at(entry, deadline);  // heard since: re-arm
      else owner->dead_->push_back(static_cast<std::size_t>(this - owner->sessions_.get()));
    }
    wheel_lazy* owner = nullptr;
    time_point last_heard{};
    timer_entry entry = timer_entry::calling<&session::on_deadline>(this);
  };
  duration timeout_;
  timer_wheel wheel_;
  std::unique_ptr<session[]> sessions_;  // contiguous, as a shard's session slab
  dead_list* dead_ = nullptr;
};

class wheel_eager {
 public:
  static constexpr const char* name = "wheel_eager";
  wheel_eager(std::size_t sessions, duration timeout, time_point origin)
      : timeout_(timeout), wheel_(origin), sessions_(std::make_unique<session[]>(sessions)) {
    for (std::size_t i = 0; i < sessions; ++i) sessions_[i].owner = this;
  }
  void arm(std::size_t i, time_point now) { wheel_.schedule_at(sessions_[i].entry, now + timeout_); }
  void heard(std::size_t i, time_point now) { wheel_.schedule_at(sessions_[i].entry, now + timeout_); }
  void cancel(std::size_t i) { wheel_.cancel(sessions_[i].entry); }
  std::size_t advance(time_point now, dead_list& dead) {
    dead_ = &dead;
    return wheel_.advance(now).fired;
  }

 private:
  struct session {
    void on_deadline(time_point) { owner->dead_->push_back(static_cast<std::size_t>(this - owner->sessions_.get())); }
    wheel_eager* owner = nullptr;
    timer_entry entry = timer_entry::calling<&session::on_deadline>(this);
  };
  duration timeout_;
  timer_wheel wheel_;
  std::unique_ptr<session[]> sessions_;
  dead_list* dead_ = nullptr;
};

class heap {
 public:
  static constexpr const char* name = "heap";
  heap(std::size_t sessions, duration timeout, time_point) : timeout_(timeout), generation_(sessions, 0) {}
  void arm(std::size_t i, time_point now) { push(i, now + timeout_); }
  void heard(std::size_t i, time_point now) { push(i, now + timeout_); }
  void cancel(std::size_t i) { ++generation_[i]; }
  std::size_t advance(time_point now, dead_list& dead) {
    std::size_t handled = 0;
    while (!items_.empty() && items_.front().deadline <= now) {
      std::pop_heap(items_.begin(), items_.end(), later);
      const auto top = items_.back();
      items_.pop_back();
      ++handled;
      if (top.generation != generation_[top.index]) continue;  // stale: moved or cancelled
      ++generation_[top.index];
      dead.push_back(top.index);
    }
    return handled;
  }

 private:
  struct item {
    time_point deadline;
    std::uint32_t index;
    std::uint32_t generation;
  };
  static bool later(const item& a, const item& b) { return a.deadline > b.deadline; }
  void push(std::size_t i, time_point deadline) {
    items_.push_back({deadline, static_cast<std::uint32_t>(i), ++generation_[i]});
    std::push_heap(items_.begin(), items_.end(), later);
    if (items_.size() > 8 * generation_.size() + 1024) compact();
  }
  void compact() {  // drop stale entries so cancels cannot grow the heap without bound
    std::erase_if(items_, [&](const item& it) { return it.generation != generation_[it.index]; });
    std::make_heap(items_.begin(), items_.end(), later);
  }
  duration timeout_;
  std::vector<std::uint32_t> generation_;
  std::vector<item> items_;
};

class asio_timer {
 public:
  static constexpr const char* name = "asio_timer";
  using simulated_timer = asio::basic_waitable_timer<simulated_clock, check_every_poll>;
  asio_timer(std::size_t sessions, duration timeout, time_point) : timeout_(timeout) {
    for (std::size_t i = 0; i < sessions; ++i) sessions_.emplace_back(this, i);
  }
  void arm(std::size_t i, time_point now) {
    auto& s = sessions_[i];
    s.open = true;
    s.timer.expires_at(simulated(now + timeout_));
    if (!s.waiting) s.wait();
  }
  void heard(std::size_t i, time_point now) { sessions_[i].timer.expires_at(simulated(now + timeout_)); }
  void cancel(std::size_t i) {
    auto& s = sessions_[i];
    s.open = false;
    s.timer.cancel();
  }
  std::size_t advance(time_point now, dead_list& dead) {
    simulated_clock::set(now);
    dead_ = &dead;
    if (io_.stopped()) io_.restart();
    return io_.poll();
  }
  asio::io_context& io() { return io_; }

 private:
  static simulated_clock::time_point simulated(time_point t) { return simulated_clock::time_point{t.time_since_epoch()}; }
  struct session {
    session(asio_timer* o, std::size_t i) : owner(o), index(i), timer(o->io_) {}
    void wait() {
      waiting = true;
      timer.async_wait([this](std::error_code) { on_wait(); });
    }
    // Asio's check_deadline pattern: whatever woke us, compare the expiry with now.
    void on_wait() {
      waiting = false;
      if (!open) return;
      if (timer.expiry() <= simulated_clock::now()) {
        open = false;
        owner->dead_->push_back(index);
      } else {
        wait();
      }
    }
    asio_timer* owner;
    std::size_t index;
    simulated_timer timer;
    bool open = false;
    bool waiting = false;
  };
  duration timeout_;
  asio::io_context io_{1};
  std::deque<session> sessions_;  // never moves its elements: pending handlers point at them
  dead_list* dead_ = nullptr;
};

class list {
 public:
  static constexpr const char* name = "list";
  list(std::size_t sessions, duration timeout, time_point) : timeout_(timeout), nodes_(sessions) {}
  void arm(std::size_t i, time_point now) { heard(i, now); }
  void heard(std::size_t i, time_point now) {
    auto& n = nodes_[i];
    if (n.linked) unlink(n);
    n.last_heard = now;
    n.prev = tail_;
    n.next = nullptr;
    (tail_ ? tail_->next : head_) = &n;
    tail_ = &n;
    n.linked = true;
  }
  void cancel(std::size_t i) {
    if (nodes_[i].linked) unlink(nodes_[i]);
  }
  std::size_t advance(time_point now, dead_list& dead) {
    std::size_t handled = 0;
    while (head_ != nullptr && head_->last_heard + timeout_ <= now) {
      auto& n = *head_;
      unlink(n);
      dead.push_back(static_cast<std::size_t>(&n - nodes_.data()));
      ++handled;
    }
    return handled;
  }

 private:
  struct node {
    node* prev = nullptr;
    node* next = nullptr;
    time_point last_heard{};
    bool linked = false;
  };
  void unlink(node& n) {
    (n.prev ? n.prev->next : head_) = n.next;
    (n.next ? n.next->prev : tail_) = n.prev;
    n.linked = false;
  }
  duration timeout_;
  std::vector<node> nodes_;
  node* head_ = nullptr;
  node* tail_ = nullptr;
};

}  // namespace lifeline::bench
