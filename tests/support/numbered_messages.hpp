// Numbered messages, for tests that prove a stream arrives exactly once and in order: each
// side sends "<prefix><n>" for n = 1, 2, ..., and the receiver's log must hold exactly
// 1..count, in order (a lost one leaves a gap, a duplicate makes the list longer).
//
//   game.send(id, bytes_of("s:" + std::to_string(i)));
//   CHECK(numbers_heard(client_log, "s:") == one_to(count));
#pragma once

#include "session_log.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace lifeline::test {

/// The numbers of the messages `log` heard that start with `prefix`, in order.
inline std::vector<int> numbers_heard(const session_log& log, const std::string& prefix) {
  std::vector<int> out;
  for (const auto& [id, text] : log.messages())
    if (text.starts_with(prefix)) out.push_back(std::stoi(text.substr(prefix.size())));
  return out;
}

/// Waits until `log` has heard at least `count` messages (any session).
inline bool heard_at_least(session_log& log, int count, std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
  return log.wait_until([&] { return log.messages_unlocked().size() >= static_cast<std::size_t>(count); }, timeout);
}

/// 1, 2, ..., n.
inline std::vector<int> one_to(int n) {
  std::vector<int> out;
  for (int i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

}  // namespace lifeline::test
