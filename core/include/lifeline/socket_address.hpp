// lifeline/socket_address.hpp — one end of a session's connection: an IP address and a port.
//
// A plain value (no Asio in the public headers), so a game can log a player's address,
// ban it, or count sessions per address without a socket in sight. The server hands it
// out in on_opened (server::addresses) and in poll mode's opened and resumed events.
//
//   lifeline::session_addresses where;
//   if (!server.addresses(id, where)) log("player from {}", where.remote.to_string());
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace lifeline {

struct socket_address {
  enum class family_type : std::uint8_t { none, ipv4, ipv6 };
  family_type family = family_type::none;  ///< none: no connection (a lingering session)
  std::array<std::uint8_t, 16> bytes{};    ///< the address in network order; IPv4 in the first 4
  std::uint16_t port = 0;

  [[nodiscard]] bool empty() const noexcept { return family == family_type::none; }
  /// "127.0.0.1", "::1"; empty for none.
  [[nodiscard]] std::string address_string() const;
  /// "127.0.0.1:7777", "[::1]:7777"; empty for none.
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const socket_address&, const socket_address&) = default;
};

/// Both ends of a session's current connection (after a resume, the new one's).
struct session_addresses {
  socket_address remote;
  socket_address local;
  friend bool operator==(const session_addresses&, const session_addresses&) = default;
};

}  // namespace lifeline
