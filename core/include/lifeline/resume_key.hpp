// lifeline/resume_key.hpp — a secret that signs and checks resume tokens (DESIGN.md §10).
//
// A session that loses its transport lingers for a grace period; the client comes back on a
// new connection and proves, with the resume token it was given, that the session is its
// own. The token is a MAC (HMAC-SHA256, libsodium) under one of these keys, so a server needs
// no table of issued tokens: anything it did not sign fails the check.
//
// Rotation without a flag day: give every server {new, old}; the new key signs from then on,
// the old one still verifies tokens already handed out. After one token lifetime nothing
// signed by the old key is still valid, and it can be dropped: {new}. The id travels in each
// token, so the right key is found without trying both.
//
//   lifeline::resume_key key{.id = 1};
//   std::ifstream("/dev/urandom", std::ios::binary)
//       .read(reinterpret_cast<char*>(key.secret.data()), key.secret.size());
//
// Keep the secret out of logs and config dumps: whoever has it can resume anyone's session.
#pragma once

#include <array>
#include <cstdint>

namespace lifeline {

/// One key for resume tokens. A server keeps at most two at once: the first signs new
/// tokens, both verify (rotation: add the new key first, keep the old second for one
/// token lifetime, then drop it). A fleet whose players may resume on any gateway shares them.
struct resume_key {
  std::uint8_t id = 0;                    ///< named in every token; distinct per key
  std::array<std::uint8_t, 32> secret{};  ///< 32 random bytes (e.g. from /dev/urandom)
};

}  // namespace lifeline
