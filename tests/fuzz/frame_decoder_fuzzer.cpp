// libFuzzer target for lifeline::frame_decoder, the streaming decoder that reads every
// byte a peer sends.
//
// Input layout (the seed corpus in corpus/ follows it; make_seed_corpus.cpp writes it):
//   byte 0-1  little-endian u16 choosing the maximum frame size:
//               bits 14-15 = 0: default_max_frame_size
//                            1: 1 + (bits 0-7)    -> 1..256
//                            2: 1 + (bits 0-11)   -> 1..4096
//                            3: max_frame_size_ceiling
//   byte 2    bits 0-2: chunking pattern (see next_chunk_size)
//             bits 3-4: misalignment (0..3) of the buffer each chunk is copied into
//             bit  5  : vary the misalignment from chunk to chunk
//   byte 3    parameter of the chunking pattern (fixed size, or PRNG seed)
//   byte 4..  the byte stream a peer sent
//
// Every chunk is copied into its own exact-size heap block that is freed as soon as next()
// has returned nullopt, so AddressSanitizer catches a decoder that keeps a view into a
// chunk it was done with, or reads past the end of one.
//
// Properties checked (FUZZ_CHECK: a violation prints a line and traps, so libFuzzer saves the input):
//   - chunking does not matter: the frames, the error and finish() are those of decoding
//     the whole stream in one chunk;
//   - framing model: while there is no error, the decoder has yielded exactly the frames
//     whose bytes have all arrived, and buffered_bytes() is the bytes of the pending frame
//     received so far (so it consumed every byte it was fed);
//   - bounds: buffered_bytes() <= max + 4, heap_bytes() <= 2 * max + 64, a data payload
//     or close detail is no larger than max;
//   - errors are frame_error codes, sticky (every later next() returns nullopt with the
//     same code, even after more feed()s), and finish() reports them;
//   - finish() without an error is truncated_frame iff bytes of a frame are pending;
//   - round trip: each decoded frame re-encoded with frame_encoder decodes to the same
//     frame; an encoder with the same maximum either refuses it (frame_too_large) or
//     produces a frame a decoder with that maximum accepts. Once per distinct frame of an
//     input: a long input is mostly copies (the mutator's CopyPart and repeated bytes), and
//     round-tripping every copy took a third of the fuzzer's time.
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <variant>
#include <vector>

using namespace lifeline;

namespace {

constexpr std::size_t control_bytes = 4;

// A decoded frame with its views copied, so it outlives the decoder's next call. Copying
// a view reads every byte it covers in one memmove, which AddressSanitizer checks as a
// range; byte-by-byte loops here would cost a traced comparison per byte (a 64 KiB frame
// took milliseconds), so payloads are copied and compared with memcpy and memcmp only.
bool same(const std::vector<std::byte>& a, const std::vector<std::byte>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}
std::vector<std::byte> copy_of(std::span<const std::byte> bytes) { return {bytes.begin(), bytes.end()}; }
struct owned_data {
  std::vector<std::byte> payload;
  std::uint32_t ack = 0;
  std::optional<frame_timing> timing;
  friend bool operator==(const owned_data& a, const owned_data& b) {
    return a.ack == b.ack && a.timing == b.timing && same(a.payload, b.payload);
  }
};
// Beat, hello and welcome with their resume token copied out (the frame's own view left empty).
struct owned_beat {
  beat_frame frame;
  std::vector<std::byte> token;
  friend bool operator==(const owned_beat& a, const owned_beat& b) { return a.frame == b.frame && same(a.token, b.token); }
};
struct owned_hello {
  hello_frame frame;
  std::vector<std::byte> token;
  friend bool operator==(const owned_hello& a, const owned_hello& b) { return a.frame == b.frame && same(a.token, b.token); }
};
struct owned_welcome {
  welcome_frame frame;
  std::vector<std::byte> token;
  friend bool operator==(const owned_welcome& a, const owned_welcome& b) { return a.frame == b.frame && same(a.token, b.token); }
};
struct owned_close {
  close_code code = close_code::normal;
  std::string detail;
  friend bool operator==(const owned_close&, const owned_close&) = default;
};
using owned_frame = std::variant<owned_beat, owned_data, owned_hello, owned_welcome, owned_close>;

// Keeps the scalar reads below from being optimised away.
volatile std::uint64_t sink;

owned_frame own(const frame& f, std::size_t max_frame_size) {
  FUZZ_CHECK(f.index() < std::variant_size_v<frame>);
  std::uint64_t sum = f.index();
  owned_frame out;
  if (const auto* b = std::get_if<beat_frame>(&f)) {
    sum += b->sent_at.microseconds_mod_2_32 + b->echo_of_peer.microseconds_mod_2_32 +
           static_cast<std::uint64_t>(b->held_for.count());
    FUZZ_CHECK(b->held_for.count() >= 0 && b->held_for.count() <= UINT32_MAX);
    FUZZ_CHECK(b->resume_token.size() <= max_frame_size);
    owned_beat o{*b, copy_of(b->resume_token)};
    o.frame.resume_token = {};
    out = std::move(o);
  } else if (const auto* d = std::get_if<data_frame>(&f)) {
    FUZZ_CHECK(d->payload.size() <= max_frame_size);
    FUZZ_CHECK(d->payload.data() != nullptr || d->payload.empty());
    out = owned_data{{d->payload.begin(), d->payload.end()}, d->ack, d->timing};
  } else if (const auto* h = std::get_if<hello_frame>(&f)) {
    FUZZ_CHECK(h->version >= oldest_protocol_version && h->version <= protocol_version);
    FUZZ_CHECK(h->resume_token.size() <= max_frame_size);
    sum += static_cast<std::uint64_t>(h->heartbeat_interval.count() + h->dead_after.count());
    owned_hello o{*h, copy_of(h->resume_token)};
    o.frame.resume_token = {};
    out = std::move(o);
  } else if (const auto* w = std::get_if<welcome_frame>(&f)) {
    FUZZ_CHECK(w->version >= oldest_protocol_version && w->version <= protocol_version);
    FUZZ_CHECK(w->resume_token.size() <= max_frame_size);
    sum += static_cast<std::uint64_t>(w->heartbeat_interval.count() + w->dead_after.count()) +
           w->session_id;
    owned_welcome o{*w, copy_of(w->resume_token)};
    o.frame.resume_token = {};
    out = std::move(o);
  } else {
    const auto& c = std::get<close_frame>(f);
    FUZZ_CHECK(c.detail.size() <= max_frame_size);
    sum += static_cast<std::uint8_t>(c.code);
    out = owned_close{c.code, std::string{c.detail}};
  }
  sink = sum;
  return out;
}

// The frame an owned_frame stands for, with views into it.
frame as_frame(const owned_frame& f) {
  if (const auto* d = std::get_if<owned_data>(&f)) return data_frame{.payload = d->payload, .ack = d->ack, .timing = d->timing};
  if (const auto* c = std::get_if<owned_close>(&f)) return close_frame{.code = c->code, .detail = c->detail};
  if (const auto* b = std::get_if<owned_beat>(&f)) {
    auto frame = b->frame;
    frame.resume_token = b->token;
    return frame;
  }
  if (const auto* h = std::get_if<owned_hello>(&f)) {
    auto frame = h->frame;
    frame.resume_token = h->token;
    return frame;
  }
  const auto& w = std::get<owned_welcome>(f);
  auto frame = w.frame;
  frame.resume_token = w.token;
  return frame;
}

// Equal frames have equal fingerprints. Hashed by the (uninstrumented) standard library,
// not by a byte loop here, which would cost a traced comparison per byte.
std::uint64_t fingerprint(const owned_frame& f) {
  const auto text = [](const auto& bytes) {
    return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  };
  std::uint64_t h = f.index();
  const auto mix = [&h](std::uint64_t v) { h = (h ^ v) * 0x100000001B3ull; };
  if (const auto* with_token = std::get_if<owned_beat>(&f)) {
    const auto* b = &with_token->frame;
    mix(text(with_token->token));
    mix(b->sent_at.microseconds_mod_2_32);
    mix(b->echo_of_peer.microseconds_mod_2_32);
    mix(static_cast<std::uint64_t>(b->held_for.count()));
    mix(b->urgent ? 1 : 0);
    mix(b->ack);
  } else if (const auto* d = std::get_if<owned_data>(&f)) {
    mix(text(d->payload));
    mix(d->ack);
    if (d->timing) mix(d->timing->sent_at.microseconds_mod_2_32 ^ (std::uint64_t{d->timing->echo_of_peer.microseconds_mod_2_32} << 32));
  } else if (const auto* owned = std::get_if<owned_hello>(&f)) {
    const auto* hello = &owned->frame;
    mix(text(owned->token));
    mix(hello->received);
    mix(hello->replay_from);
    mix(hello->version);
    mix(static_cast<std::uint64_t>(hello->heartbeat_interval.count()));
    mix(static_cast<std::uint64_t>(hello->dead_after.count()));
  } else if (const auto* owned_w = std::get_if<owned_welcome>(&f)) {
    const auto* w = &owned_w->frame;
    mix(text(owned_w->token));
    mix(static_cast<std::uint64_t>(w->resume_grace.count()));
    mix(w->received ^ (std::uint64_t{w->replay_from} << 32));
    mix((w->resumed ? 1 : 0) | (w->state_lost ? 2 : 0));
    mix(w->version);
    mix(static_cast<std::uint64_t>(w->heartbeat_interval.count()));
    mix(static_cast<std::uint64_t>(w->dead_after.count()));
    mix(w->session_id);
    mix(static_cast<std::uint64_t>(w->server_heartbeat_interval.count()));
    mix(static_cast<std::uint64_t>(w->server_dead_after.count()));
  } else {
    const auto& c = std::get<owned_close>(f);
    mix(static_cast<std::uint8_t>(c.code));
    mix(text(c.detail));
  }
  return h;
}

std::uint32_t read_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

std::size_t choose_max_frame_size(const std::uint8_t* control) {
  const std::uint16_t v = static_cast<std::uint16_t>(control[0] | control[1] << 8);
  switch (v >> 14) {
    case 0: return default_max_frame_size;
    case 1: return 1 + (v & 0xFFu);
    case 2: return 1 + (v & 0xFFFu);
    default: return max_frame_size_ceiling;
  }
}

struct chunker {
  unsigned pattern;
  std::uint8_t param;
  std::uint32_t rng;
  std::size_t count = 0;

  std::uint32_t random() {  // xorshift32
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }

  std::size_t next_chunk_size(std::size_t remaining) {
    std::size_t n = 0;
    switch (pattern) {
      case 0: n = remaining; break;                                   // all at once
      case 1: n = 1; break;                                           // byte by byte
      case 2: n = std::size_t{param} + 1; break;                      // fixed 1..256
      case 3: n = random() % 17; break;                               // 0..16, empty chunks too
      case 4: n = 1 + random() % 512; break;                          // 1..512
      case 5: n = count % 2 == 0 ? 1 : std::size_t{param} + 1; break;  // 1, k, 1, k, ...
      case 6: n = 1 + random() % (4 * (std::size_t{param} + 1)); break;
      default: n = random() % 2 == 0 ? 1 + random() % 8 : remaining; break;  // a few bytes, then the rest
    }
    ++count;
    return n < remaining ? n : remaining;
  }
};

// The result of decoding a stream: the frames, the error, finish().
struct decoding {
  std::vector<owned_frame> frames;
  std::error_code error;
  std::error_code finish;
};

void check_error_code(const std::error_code& ec) {
  FUZZ_CHECK(ec.category() == frame_category());
  FUZZ_CHECK(ec.value() >= static_cast<int>(frame_error::frame_too_large) &&
             ec.value() <= static_cast<int>(frame_error::truncated_frame));
  FUZZ_CHECK(ec != frame_error::truncated_frame);  // only finish() reports that
}

// Decodes `stream` fed as one chunk from an exact-size, aligned heap copy.
decoding decode_whole(std::span<const std::byte> stream, std::size_t max_frame_size) {
  decoding out;
  frame_decoder decoder(max_frame_size);
  const auto copy = std::make_unique<std::byte[]>(stream.size());
  if (!stream.empty()) std::memcpy(copy.get(), stream.data(), stream.size());
  decoder.feed({copy.get(), stream.size()});
  std::error_code ec;
  while (const auto f = decoder.next(ec)) {
    FUZZ_CHECK(!ec);
    out.frames.push_back(own(*f, max_frame_size));
  }
  out.error = ec;
  out.finish = decoder.finish();
  return out;
}

void check_round_trip(const owned_frame& original, std::size_t max_frame_size, frame_encoder& same_max,
                      frame_encoder& ceiling) {
  const auto decode_one = [&](std::span<const std::byte> bytes, std::size_t max) {
    FUZZ_CHECK(bytes.size() >= frame_length_prefix_size);
    FUZZ_CHECK(read_le32(reinterpret_cast<const std::uint8_t*>(bytes.data())) ==
               bytes.size() - frame_length_prefix_size);
    FUZZ_CHECK(bytes.size() - frame_length_prefix_size <= max);
    const auto again = decode_whole(bytes, max);
    FUZZ_CHECK(!again.error);
    FUZZ_CHECK(!again.finish);
    FUZZ_CHECK(again.frames.size() == 1);
    FUZZ_CHECK(again.frames.front() == original);
  };

  const frame f = as_frame(original);
  std::error_code ec;
  const auto bytes = same_max.encode(f, ec);
  if (!ec) {
    decode_one(bytes, max_frame_size);  // our limit's encoder never makes what our decoder refuses
  } else {
    FUZZ_CHECK(ec == frame_error::frame_too_large);
    FUZZ_CHECK(bytes.empty());
  }
  // A canonical encoding can be larger than the hostile one it was decoded from (FlatBuffers
  // lets a crafted buffer share bytes), so the unconditional round trip uses the ceiling.
  if (const auto* d = std::get_if<owned_data>(&original); d && d->payload.size() + 64 > max_frame_size_ceiling)
    return;
  const auto big = ceiling.encode(f, ec);
  FUZZ_CHECK(!ec);
  decode_one(big, max_frame_size_ceiling);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < control_bytes) return -1;  // not in the input space: keep it out of the corpus
  const std::size_t max_frame_size = choose_max_frame_size(data);
  const unsigned misalignment = (data[2] >> 3) & 3u;
  const bool vary_misalignment = (data[2] & 0x20u) != 0;
  chunker chunks{.pattern = data[2] & 7u,
                 .param = data[3],
                 .rng = 0x9E3779B9u ^ (std::uint32_t{data[2]} << 8 | data[3])};
  const auto stream = std::as_bytes(std::span{data + control_bytes, size - control_bytes});

  // Framing model: the start offsets of the frames whose length prefix is valid, up to the
  // first frame that is incomplete or has a bad length. boundaries[k] is where frame k starts.
  std::vector<std::size_t> boundaries{0};
  for (std::size_t at = 0; stream.size() - at >= frame_length_prefix_size;) {
    const std::uint32_t length = read_le32(data + control_bytes + at);
    if (length == 0 || length > max_frame_size || stream.size() - at - frame_length_prefix_size < length)
      break;
    at += frame_length_prefix_size + length;
    boundaries.push_back(at);
  }

  decoding chunked;
  frame_decoder decoder(max_frame_size);
  FUZZ_CHECK(decoder.max_frame_size() == max_frame_size);
  FUZZ_CHECK(decoder.buffered_bytes() == 0 && decoder.heap_bytes() == 0 && !decoder.finish());

  std::size_t fed = 0;
  std::size_t frames_seen = 0;
  // The frames whose bytes have all been fed: only grows, so each chunk resumes the scan of
  // boundaries where the last one stopped (restarting it made a byte-by-byte feed of a
  // long input of small frames quadratic: 200 ms for 22 KB).
  std::size_t frames_complete = 0;
  while (fed < stream.size() || chunks.count == 0) {
    const std::size_t n = chunks.next_chunk_size(stream.size() - fed);
    const std::size_t offset = (misalignment + (vary_misalignment ? chunks.count : 0)) & 3u;
    // Exact-size block per chunk: ASan sees any read past its end and any use after free.
    auto block = std::make_unique<std::byte[]>(offset + n);
    if (n != 0) std::memcpy(block.get() + offset, stream.data() + fed, n);
    decoder.feed({block.get() + offset, n});
    fed += n;

    std::error_code ec;
    while (true) {
      const auto f = decoder.next(ec);
      FUZZ_CHECK(decoder.buffered_bytes() <= max_frame_size + frame_length_prefix_size);
      FUZZ_CHECK(decoder.heap_bytes() <= 2 * max_frame_size + 64);
      if (!f) break;
      FUZZ_CHECK(!ec);
      FUZZ_CHECK(!chunked.error);  // nothing after an error
      chunked.frames.push_back(own(*f, max_frame_size));
      ++frames_seen;
    }
    if (chunked.error) {
      FUZZ_CHECK(ec == chunked.error);  // sticky, whatever was fed since
    } else if (ec) {
      check_error_code(ec);
      chunked.error = ec;
    }
    FUZZ_CHECK(!ec || decoder.finish() == ec);
    if (!ec) {
      // Everything fed was consumed: whole frames were yielded, the rest is buffered.
      std::size_t& k = frames_complete;
      while (k + 1 < boundaries.size() && boundaries[k + 1] <= fed) ++k;
      FUZZ_CHECK(frames_seen == k);
      const std::size_t pending = fed - boundaries[k];
      FUZZ_CHECK(decoder.buffered_bytes() == pending);
      if (pending >= frame_length_prefix_size) {  // its length was checked, and it is incomplete
        const std::uint32_t length = read_le32(data + control_bytes + boundaries[k]);
        FUZZ_CHECK(length != 0 && length <= max_frame_size);
        FUZZ_CHECK(pending < frame_length_prefix_size + length);
      }
      FUZZ_CHECK(decoder.finish() ==
                 (decoder.buffered_bytes() == 0 ? std::error_code{} : make_error_code(frame_error::truncated_frame)));
    }
    // `block` is freed here: the decoder must not look at this chunk again.
  }
  FUZZ_CHECK(fed == stream.size());

  // Sticky: more bytes after an error change nothing.
  if (chunked.error) {
    static constexpr std::byte valid_looking[8]{std::byte{4}};
    decoder.feed(valid_looking);
    std::error_code ec;
    FUZZ_CHECK(!decoder.next(ec).has_value());
    FUZZ_CHECK(ec == chunked.error);
    FUZZ_CHECK(!decoder.next(ec).has_value());
    FUZZ_CHECK(ec == chunked.error);
  }
  chunked.finish = decoder.finish();
  FUZZ_CHECK(!chunked.error || chunked.finish == chunked.error);
  FUZZ_CHECK(chunked.error || chunked.finish == std::error_code{} ||
             chunked.finish == frame_error::truncated_frame);

  // Chunking is invisible: same frames, same error, same end as one chunk.
  const auto whole = decode_whole(stream, max_frame_size);
  FUZZ_CHECK(whole.frames == chunked.frames);
  FUZZ_CHECK(whole.error == chunked.error);
  FUZZ_CHECK(whole.finish == chunked.finish);

  // Round trip through the encoder, for every distinct frame that decoded (those before an
  // error too).
  frame_encoder same_max(max_frame_size);
  frame_encoder ceiling(max_frame_size_ceiling);
  std::unordered_set<std::uint64_t> round_tripped;
  for (const auto& f : chunked.frames)
    if (round_tripped.insert(fingerprint(f)).second) check_round_trip(f, max_frame_size, same_max, ceiling);
  return 0;
}
