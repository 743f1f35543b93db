#include <lifeline/socket_address.hpp>

#include "endpoint_conversion.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace lifeline {

std::string socket_address::address_string() const {
  if (family == family_type::none) return {};
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family == family_type::ipv4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

std::string socket_address::to_string() const {
  if (family == family_type::none) return {};
  const auto address = address_string();
  const auto port_text = std::to_string(port);
  return family == family_type::ipv6 ? "[" + address + "]:" + port_text : address + ":" + port_text;
}

namespace detail {

socket_address to_socket_address(const asio::ip::tcp::endpoint& where) noexcept {
  socket_address out;
  out.port = where.port();
  if (where.address().is_v4()) {
    out.family = socket_address::family_type::ipv4;
    const auto v4 = where.address().to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.bytes.begin());
  } else {
    out.family = socket_address::family_type::ipv6;
    const auto v6 = where.address().to_v6().to_bytes();
    std::copy(v6.begin(), v6.end(), out.bytes.begin());
  }
  return out;
}

session_addresses addresses_of(const asio::ip::tcp::socket& socket) noexcept {
  session_addresses out;
  if (!socket.is_open()) return out;
  std::error_code ec;
  if (const auto remote = socket.remote_endpoint(ec); !ec) out.remote = to_socket_address(remote);
  if (const auto local = socket.local_endpoint(ec); !ec) out.local = to_socket_address(local);
  return out;
}

}  // namespace detail
}  // namespace lifeline
