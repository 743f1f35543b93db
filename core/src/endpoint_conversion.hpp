// Asio's endpoints as lifeline's plain socket_address values (private to core/).
#pragma once

#include <lifeline/socket_address.hpp>

#include <asio/ip/tcp.hpp>

namespace lifeline::detail {

[[nodiscard]] socket_address to_socket_address(const asio::ip::tcp::endpoint& where) noexcept;
/// Both ends of a connected socket (two syscalls); empty ends where the kernel has none
/// (not connected, or reset already).
[[nodiscard]] session_addresses addresses_of(const asio::ip::tcp::socket& socket) noexcept;

}  // namespace lifeline::detail
