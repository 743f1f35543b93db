#include "resume_token.hpp"

#include <lifeline/resume_error.hpp>

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <stdexcept>
#include <string>

namespace lifeline::detail {
namespace {

constexpr std::size_t key_id_offset = 1;
constexpr std::size_t session_offset = 2;
constexpr std::size_t epoch_offset = 10;
constexpr std::size_t expires_offset = 14;
constexpr std::size_t mac_offset = 18;  // the MAC covers every byte before it
constexpr std::size_t mac_size = crypto_auth_hmacsha256_BYTES;

static_assert(mac_offset + mac_size == resume_token_keys::token_size);
static_assert(crypto_auth_hmacsha256_KEYBYTES == std::tuple_size_v<decltype(resume_key::secret)>);

[[noreturn]] void reject(const std::string& why) { throw std::invalid_argument("resume.keys: " + why); }

void put_le(std::byte* out, std::uint64_t value, std::size_t size) noexcept {
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>(value >> (8 * i));
}

std::uint64_t get_le(const std::byte* in, std::size_t size) noexcept {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) value |= std::uint64_t{std::to_integer<std::uint8_t>(in[i])} << (8 * i);
  return value;
}

const unsigned char* as_uchar(const std::byte* p) noexcept { return reinterpret_cast<const unsigned char*>(p); }

}  // namespace

resume_token_keys::resume_token_keys(std::span<const resume_key> keys) {
  // Before any other libsodium call; 1 means "already done", only -1 is a failure.
  if (sodium_init() < 0) throw std::runtime_error("resume.keys: libsodium could not be initialised");
  if (keys.size() > max_keys)
    reject("at most " + std::to_string(max_keys) + " keys (the signing key and the one it replaces), got " +
           std::to_string(keys.size()));
  if (keys.size() == 2 && keys[0].id == keys[1].id)
    reject("key ids must be distinct, both keys have id " + std::to_string(keys[0].id));
  for (const auto& key : keys) {
    // A secret left at its default would let anyone forge tokens: refuse it rather than
    // sign with it. (Only the id is named, never the secret.)
    if (std::all_of(key.secret.begin(), key.secret.end(), [](std::uint8_t b) { return b == 0; }))
      reject("the key with id " + std::to_string(key.id) + " has an all-zero secret (never filled in?)");
  }
  if (keys.empty()) {
    // One server on its own: its tokens need only ever be checked by itself, so a fresh key
    // per process will do (a restart loses every session anyway).
    keys_[0].id = 0;
    randombytes_buf(keys_[0].secret.data(), keys_[0].secret.size());
    count_ = 1;
    return;
  }
  std::copy(keys.begin(), keys.end(), keys_.begin());
  count_ = keys.size();
}

resume_token_keys::~resume_token_keys() { sodium_memzero(keys_.data(), sizeof keys_); }

resume_token_keys::token resume_token_keys::issue(const token_claims& claims) const noexcept {
  const resume_key& key = keys_[0];
  token out{};
  out[0] = std::byte{format_version};
  out[key_id_offset] = std::byte{key.id};
  put_le(&out[session_offset], claims.session.value, 8);
  put_le(&out[epoch_offset], claims.epoch, 4);
  put_le(&out[expires_offset], claims.expires_at, 4);
  // Always 0: HMAC over a fixed-size buffer cannot fail.
  (void)crypto_auth_hmacsha256(reinterpret_cast<unsigned char*>(&out[mac_offset]), as_uchar(out.data()), mac_offset,
                               key.secret.data());
  return out;
}

std::error_code resume_token_keys::verify(std::span<const std::byte> bytes, std::uint32_t now_unix,
                                          token_claims& claims) const noexcept {
  if (bytes.size() != token_size || bytes[0] != std::byte{format_version}) return resume_error::malformed_token;
  const resume_key* key = find(std::to_integer<std::uint8_t>(bytes[key_id_offset]));
  if (key == nullptr) return resume_error::unknown_key;
  // Constant time over all 32 bytes (see the header). Before the expiry: a forged token is
  // forged whatever its expiry says.
  if (crypto_auth_hmacsha256_verify(as_uchar(&bytes[mac_offset]), as_uchar(bytes.data()), mac_offset,
                                    key->secret.data()) != 0)
    return resume_error::forged_token;
  const token_claims said{
      .session = session_id{get_le(&bytes[session_offset], 8)},
      .epoch = static_cast<std::uint32_t>(get_le(&bytes[epoch_offset], 4)),
      .expires_at = static_cast<std::uint32_t>(get_le(&bytes[expires_offset], 4)),
  };
  if (said.expires_at <= now_unix) return resume_error::expired_token;
  claims = said;
  return {};
}

const resume_key* resume_token_keys::find(std::uint8_t id) const noexcept {
  // The key id is no secret (it is in the clear in every token): a plain search is fine.
  for (std::size_t i = 0; i < count_; ++i)
    if (keys_[i].id == id) return &keys_[i];
  return nullptr;
}

std::uint32_t unix_seconds_now() noexcept {
  const std::int64_t seconds =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  constexpr std::int64_t last = std::numeric_limits<std::uint32_t>::max();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(seconds, 0, last));
}

}  // namespace lifeline::detail
