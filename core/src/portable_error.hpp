// Socket errors as the game sees them (private to core/).
#pragma once

#include <asio/error.hpp>

#include <system_error>

namespace lifeline::detail {

// Asio reports errno values in its own category, which does not compare equal to
// std::errc in Asio 1.22; the game gets std::system_category(), so it needs no Asio.
inline std::error_code portable(std::error_code ec) noexcept {
  return ec.category() == asio::system_category() ? std::error_code(ec.value(), std::system_category()) : ec;
}

}  // namespace lifeline::detail
