// lifeline/connect_ticket.hpp — the name of one connector::connect() call, for cancelling it.
//
// A connect() is a chain of attempts: the first, and with reconnect enabled the ones that
// follow it after a failure or a lost session, each a session of its own (its own id). The
// ticket names the chain, not one attempt, so the game can call it off at any point:
// before the first attempt has opened, while it waits to try again, or once it is open
// (then it is close() of that session, and no new attempt follows).
//
// Why a ticket and not the first attempt's session id: ids are handed out by the shard
// that will own the session, on its own thread, and connect() must return at once on the
// game's thread without waiting for it. A ticket is made on the calling thread.
//
//   const auto ticket = client.connect({.address = "eu.example.com", .port = 7777});
//   ...
//   client.cancel(ticket);   // the game gave up waiting: on_closed (closed_locally) follows
//
// 64 bits: the shard that runs the chain (8) | a sequence number (56), so a ticket is never
// issued twice by one connector. Ticket 0 is never issued. A ticket whose chain is over is
// harmless: cancel() answers session_error::unknown_session and touches nothing.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace lifeline {

struct connect_ticket {
  std::uint64_t value = 0;

  [[nodiscard]] constexpr explicit operator bool() const noexcept { return value != 0; }
  friend constexpr auto operator<=>(connect_ticket, connect_ticket) = default;
};

}  // namespace lifeline

template <>
struct std::hash<lifeline::connect_ticket> {
  std::size_t operator()(lifeline::connect_ticket t) const noexcept { return std::hash<std::uint64_t>{}(t.value); }
};
