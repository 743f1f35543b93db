// Resume tokens: what a client shows to take its lingering session back on a new
// connection (private to core/; DESIGN.md §10).
//
// A token names a session and proves that this server (or its fleet) issued it. It is a
// MAC over the claims, not an encryption of them: the claims are no secret (the client
// already knows its session), only their integrity matters. QUIC's stateless reset token is
// the model: the server can check a token without having stored it.
//
// Layout, 50 bytes, integers little-endian:
//
//   offset  size  field
//        0     1  format version, = 1 (a later layout gets a new version, so an old token is
//                 refused as malformed, never misread)
//        1     1  key id: which resume_key signed it (rotation: the verifier picks the key
//                 by id instead of trying each)
//        2     8  session id (session_id::value)
//       10     4  epoch: the session's resume count when the token was issued
//       14     4  expires_at: seconds since the Unix epoch (system_clock); valid until 2106
//       18    32  HMAC-SHA256 (libsodium crypto_auth_hmacsha256) of bytes 0..17 under the key
//
// Everything before the MAC is under it, the version and key id included, so none of it
// can be changed without the key.
//
// Why an epoch, and no list of used tokens. The session keeps its current epoch (it already
// keeps everything else about itself). Each resume bumps the epoch and hands the client a
// new token; every older token names an older epoch and is refused as replayed_token from
// then on. A used or stolen-and-used token is therefore dead at the cost of four bytes per
// session, with nothing stored per token and nothing to expire from a table. A token that
// outlives its session is refused as unknown_session, a stale one as expired_token.
//
// Why system_clock seconds for the expiry. A fleet whose players may resume on any gateway
// must agree on what "expired" means, and steady_clock is per host; wall-clock seconds are
// comparable across hosts to within their NTP skew, which is small against a token lifetime.
//
// Why a constant-time verify. A compare that stops at the first wrong byte tells an
// attacker, through its timing, how many leading bytes of a guessed MAC are right, and a
// MAC can then be forged byte by byte. crypto_auth_hmacsha256_verify compares all 32 bytes
// whatever they hold. The MAC is also checked before the expiry, so a forged token is
// always reported as forged, never as merely expired.
//
//   resume_token_keys keys(config.resume_keys);        // throws on a bad key set, at start
//   const auto token = keys.issue({id, session.epoch, unix_seconds_now() + 300});
//   ...
//   token_claims claims;
//   if (const auto ec = keys.verify(bytes_from_client, unix_seconds_now(), claims)) refuse(ec);
//   else if (claims.epoch != session.epoch) refuse(resume_error::replayed_token);
//
// The secrets never leave this object except in the MACs it computes: nothing here prints
// or logs them, and they are wiped when it is destroyed.
#pragma once

#include <lifeline/resume_key.hpp>
#include <lifeline/session_id.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

namespace lifeline::detail {

/// What a token says. Filled by verify() from the token itself, never from the caller's guess.
struct token_claims {
  session_id session;
  std::uint32_t epoch = 0;       ///< the session's resume count: a resume bumps it, killing older
                                 ///< tokens with no storage
  std::uint32_t expires_at = 0;  ///< seconds since the Unix epoch (system_clock)
};

/// The keys of one server: the first signs, all verify. Any thread for issue() and verify()
/// (const, no mutable state); constructing one calls sodium_init(), which is idempotent and
/// thread-safe. Copies hold the same secrets, and each wipes its own when destroyed.
class resume_token_keys {
 public:
  static constexpr std::size_t token_size = 50;
  static constexpr std::uint8_t format_version = 1;
  static constexpr std::size_t max_keys = 2;  ///< the signing key and the one it is replacing

  using token = std::array<std::byte, token_size>;

  /// Validates: at most 2 keys, distinct ids, no all-zero secret (a key never filled in);
  /// throws std::invalid_argument naming the field "resume.keys". Empty: one key of 32
  /// random bytes, id 0, is generated (one server, no fleet: its tokens die with it).
  /// Throws std::runtime_error if libsodium cannot be initialised.
  explicit resume_token_keys(std::span<const resume_key> keys);
  ~resume_token_keys();
  resume_token_keys(const resume_token_keys&) = default;
  resume_token_keys& operator=(const resume_token_keys&) = default;

  /// A token for `claims`, signed with the first key. Any thread.
  [[nodiscard]] token issue(const token_claims& claims) const noexcept;

  /// Checks size and format version (malformed_token), key id (unknown_key), MAC in
  /// constant time (forged_token), then expiry against now_unix (expired_token when
  /// expires_at <= now_unix), in that order; fills `claims` only on success and leaves it
  /// untouched otherwise. Whether the session exists and the epoch is current is the
  /// caller's to check. Any thread.
  [[nodiscard]] std::error_code verify(std::span<const std::byte> bytes, std::uint32_t now_unix,
                                       token_claims& claims) const noexcept;

 private:
  [[nodiscard]] const resume_key* find(std::uint8_t id) const noexcept;

  std::array<resume_key, max_keys> keys_{};
  std::size_t count_ = 0;
};

/// Seconds since the Unix epoch by system_clock, as tokens count them (clamped to the
/// uint32 range). Any thread.
[[nodiscard]] std::uint32_t unix_seconds_now() noexcept;

}  // namespace lifeline::detail
