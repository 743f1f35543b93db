// Resume tokens (core/src/resume_token.hpp): what a server accepts as proof that a
// lingering session is the client's, and everything it refuses. Time is passed in.
#include "resume_token.hpp"

#include <lifeline/resume_error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using lifeline::resume_error;
using lifeline::resume_key;
using lifeline::session_id;
using lifeline::detail::resume_token_keys;
using lifeline::detail::token_claims;

namespace {

constexpr std::uint32_t now = 1'700'000'000;  // a fixed "now", in Unix seconds
const session_id session_a = session_id::make(3, 77, 1234);
const session_id session_b = session_id::make(3, 78, 1234);  // the same slot, its next occupant

resume_key key(std::uint8_t id, std::uint8_t seed) {
  resume_key k{.id = id};
  for (std::size_t i = 0; i < k.secret.size(); ++i) k.secret[i] = static_cast<std::uint8_t>(seed + i * 7 + 1);
  return k;
}

std::string rejection_of(std::vector<resume_key> keys) {
  try {
    const resume_token_keys accepted(keys);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "accepted";
}

std::error_code verify(const resume_token_keys& keys, std::span<const std::byte> token,
                       std::uint32_t at = now) {
  token_claims claims;
  return keys.verify(token, at, claims);
}

}  // namespace

TEST_CASE("a token verifies and gives back the session, epoch and expiry it was issued for") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  const auto token = keys.issue({.session = session_a, .epoch = 41, .expires_at = now + 300});

  token_claims claims;
  REQUIRE_FALSE(keys.verify(token, now, claims));
  CHECK(claims.session == session_a);
  CHECK(claims.epoch == 41);
  CHECK(claims.expires_at == now + 300);
}

TEST_CASE("the token is laid out as version | key id | session | epoch | expiry | MAC, little-endian") {
  const std::vector<resume_key> set = {key(9, 10)};
  const resume_token_keys keys(set);
  const auto token = keys.issue({.session = session_id{0x0807060504030201}, .epoch = 0x0C0B0A09,
                                 .expires_at = 0x100F0E0D});
  REQUIRE(token.size() == 50);
  CHECK(token[0] == std::byte{1});
  CHECK(token[1] == std::byte{9});
  for (std::size_t i = 2; i < 18; ++i) CHECK(std::to_integer<std::size_t>(token[i]) == i - 1);
}

TEST_CASE("the claims come from the token: a token for session A verifies as A, never as the B a caller expected") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  const auto token = keys.issue({.session = session_a, .epoch = 2, .expires_at = now + 60});

  token_claims claims{.session = session_b, .epoch = 2, .expires_at = now + 60};
  REQUIRE_FALSE(keys.verify(token, now, claims));
  CHECK(claims.session == session_a);
  CHECK(claims.session != session_b);
}

TEST_CASE("a refused token leaves the caller's claims untouched") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  auto token = keys.issue({.session = session_a, .epoch = 2, .expires_at = now + 60});
  token[30] ^= std::byte{0x01};

  token_claims claims{.session = session_b, .epoch = 5, .expires_at = 7};
  CHECK(keys.verify(token, now, claims) == resume_error::forged_token);
  CHECK(claims.session == session_b);
  CHECK(claims.epoch == 5);
  CHECK(claims.expires_at == 7);
}

TEST_CASE("flipping any single bit of a token is refused: version bits as malformed, key id bits as an "
          "unknown key, every other bit as forged") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  const auto genuine = keys.issue({.session = session_a, .epoch = 3, .expires_at = now + 60});
  REQUIRE_FALSE(verify(keys, genuine));

  for (std::size_t byte = 0; byte < genuine.size(); ++byte) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      CAPTURE(byte);
      CAPTURE(bit);
      auto token = genuine;
      token[byte] ^= static_cast<std::byte>(1u << bit);
      const auto expected = byte == 0   ? resume_error::malformed_token
                            : byte == 1 ? resume_error::unknown_key
                                        : resume_error::forged_token;
      CHECK(verify(keys, token) == expected);
    }
  }
}

TEST_CASE("a token whose key id is changed to another key the server holds is forged") {
  const std::vector<resume_key> set = {key(5, 10), key(4, 20)};
  const resume_token_keys keys(set);
  auto token = keys.issue({.session = session_a, .epoch = 3, .expires_at = now + 60});
  REQUIRE(token[1] == std::byte{5});
  token[1] = std::byte{4};
  CHECK(verify(keys, token) == resume_error::forged_token);
}

TEST_CASE("a token one byte short, one byte long, empty or far too long is malformed") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  const auto genuine = keys.issue({.session = session_a, .epoch = 3, .expires_at = now + 60});
  std::vector<std::byte> bytes(genuine.begin(), genuine.end());

  for (std::size_t size = 0; size < genuine.size(); ++size) {
    CAPTURE(size);
    CHECK(verify(keys, std::span(bytes).first(size)) == resume_error::malformed_token);
  }
  bytes.push_back(std::byte{0});
  CHECK(verify(keys, bytes) == resume_error::malformed_token);
  bytes.resize(4096);
  CHECK(verify(keys, bytes) == resume_error::malformed_token);
}

TEST_CASE("a token expires at the second its expiry names: valid one second before, expired at it and after") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  const auto token = keys.issue({.session = session_a, .epoch = 3, .expires_at = now});

  CHECK_FALSE(verify(keys, token, now - 1));
  CHECK(verify(keys, token, now) == resume_error::expired_token);
  CHECK(verify(keys, token, now + 1) == resume_error::expired_token);
  CHECK(verify(keys, token, now + 86'400) == resume_error::expired_token);
}

TEST_CASE("a forged token that has also expired is reported as forged, not as expired") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys keys(set);
  auto token = keys.issue({.session = session_a, .epoch = 3, .expires_at = now - 10});
  REQUIRE(verify(keys, token) == resume_error::expired_token);

  token[40] ^= std::byte{0x80};  // the MAC
  CHECK(verify(keys, token) == resume_error::forged_token);
  auto extended = keys.issue({.session = session_a, .epoch = 3, .expires_at = now - 10});
  extended[17] ^= std::byte{0x80};  // expiry pushed decades ahead, without the key
  CHECK(verify(keys, extended) == resume_error::forged_token);
}

TEST_CASE("rotation: a token of the old key verifies while {new, old} are held, and is an unknown key once the "
          "old is dropped") {
  const resume_key old_key = key(1, 10);
  const resume_key new_key = key(2, 20);
  const std::vector<resume_key> before = {old_key};
  const std::vector<resume_key> during = {new_key, old_key};
  const std::vector<resume_key> after = {new_key};
  const resume_token_keys old_only(before);
  const resume_token_keys rotating(during);
  const resume_token_keys new_only(after);

  const auto old_token = old_only.issue({.session = session_a, .epoch = 1, .expires_at = now + 60});
  token_claims claims;
  REQUIRE_FALSE(rotating.verify(old_token, now, claims));
  CHECK(claims.session == session_a);
  CHECK(verify(new_only, old_token) == resume_error::unknown_key);

  // While rotating, new tokens are signed with the new key: they outlive the old one.
  const auto new_token = rotating.issue({.session = session_a, .epoch = 2, .expires_at = now + 60});
  CHECK(new_token[1] == std::byte{2});
  CHECK_FALSE(verify(new_only, new_token));
  CHECK(verify(old_only, new_token) == resume_error::unknown_key);
}

TEST_CASE("a key set with duplicate ids, more than two keys or an all-zero secret is rejected naming resume.keys") {
  CHECK(rejection_of({}) == "accepted");
  CHECK(rejection_of({key(1, 10)}) == "accepted");
  CHECK(rejection_of({key(1, 10), key(2, 20)}) == "accepted");

  CHECK(rejection_of({key(1, 10), key(1, 20)}).starts_with("resume.keys:"));
  CHECK(rejection_of({key(1, 10), key(2, 20), key(3, 30)}).starts_with("resume.keys:"));
  CHECK(rejection_of({resume_key{.id = 1}}).starts_with("resume.keys:"));
  CHECK(rejection_of({key(1, 10), resume_key{.id = 2}}).starts_with("resume.keys:"));
}

TEST_CASE("two generated key sets (no keys configured) do not verify each other's tokens") {
  const resume_token_keys first(std::span<const resume_key>{});
  const resume_token_keys second(std::span<const resume_key>{});
  const auto token = first.issue({.session = session_a, .epoch = 1, .expires_at = now + 60});

  CHECK(token[1] == std::byte{0});
  CHECK_FALSE(verify(first, token));
  CHECK(verify(second, token) == resume_error::forged_token);
}

TEST_CASE("a copy of a key set verifies the original's tokens") {
  const std::vector<resume_key> set = {key(1, 10)};
  const resume_token_keys original(set);
  const resume_token_keys copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  CHECK_FALSE(verify(copy, original.issue({.session = session_a, .epoch = 1, .expires_at = now + 60})));
}

TEST_CASE("unix_seconds_now counts system_clock seconds since 1970") {
  using namespace std::chrono;
  const auto before = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  const auto got = lifeline::detail::unix_seconds_now();
  const auto after = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
  CHECK(got >= before);
  CHECK(got <= after);
}

TEST_CASE("each resume error has a name and a message in category lifeline.resume") {
  CHECK(std::string(lifeline::resume_category().name()) == "lifeline.resume");
  const std::vector<std::pair<resume_error, std::string>> names = {
      {resume_error::malformed_token, "malformed_token"}, {resume_error::unknown_key, "unknown_key"},
      {resume_error::forged_token, "forged_token"},       {resume_error::expired_token, "expired_token"},
      {resume_error::unknown_session, "unknown_session"}, {resume_error::replayed_token, "replayed_token"},
      {resume_error::not_resumable, "not_resumable"},     {resume_error::state_lost, "state_lost"},
  };
  for (const auto& [error, name] : names) {
    CAPTURE(name);
    CHECK(lifeline::to_string(error) == name);
    const std::error_code ec = error;
    CHECK(ec.category() == lifeline::resume_category());
    CHECK(ec.value() == static_cast<int>(error));
    CHECK(ec);
    CHECK_FALSE(ec.message().empty());
    CHECK(ec.message() != "unknown resume error");
  }
  CHECK(lifeline::to_string(static_cast<resume_error>(200)) == "unknown");
  CHECK(std::error_code(200, lifeline::resume_category()).message() == "unknown resume error");
}
