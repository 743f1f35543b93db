// tools/hostile/legit_client.hpp — one legitimate client trying to get in: connect, hello,
// welcome, within a deadline, timing each step; and how it was turned away if it was.
//
// Blocking code on one socket with poll() deadlines, run on a thread of its own per
// attempt (never-hello starts one every half second while the attack goes on), speaking
// the wire codec like the workers do. After a welcome it says goodbye properly (a close
// frame, code normal), as a player who only wanted to know it could get in.
//
//   const auto outcome = try_handshake("127.0.0.1", port, "127.0.0.1", 5000ms);
//   if (outcome.welcomed) use(outcome.to_welcome); else log(outcome.how);
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lifeline::hostile {

struct handshake_outcome {
  bool welcomed = false;
  /// "welcome", or how it failed: "close:<code>" (the server's close frame, e.g.
  /// close:server_full), "reset", "eof", "connect_timeout" (no SYN-ACK: the accept queue is
  /// full), "handshake_timeout" (connected, no answer to hello), "connect:<errno>",
  /// "decode_error", "error:<errno>".
  std::string how;
  std::chrono::microseconds to_connect{0};  ///< connect() done (0 if it never was)
  std::chrono::microseconds to_answer{0};   ///< welcome or refusal, from the start
  std::int64_t started_ns = 0;              ///< CLOCK_MONOTONIC
};

/// One attempt against `address:port` from `source_address` (port chosen by the kernel),
/// all of it within `timeout`. Any thread.
[[nodiscard]] handshake_outcome try_handshake(const std::string& address, std::uint16_t port,
                                              const std::string& source_address, std::chrono::milliseconds timeout);

}  // namespace lifeline::hostile
