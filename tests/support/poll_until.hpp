// Waiting, with a deadline, for a condition no session_log sees (a stats counter, the
// number of open descriptors): poll it every few milliseconds until it holds or the
// deadline passes. Tests never sleep for a fixed time "to let things happen".
#pragma once

#include <chrono>
#include <thread>

namespace lifeline::test {

/// True as soon as `done()` holds; false if it still does not after `timeout`.
template <class Predicate>
bool poll_until(Predicate done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds every = std::chrono::milliseconds{5}) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace lifeline::test
