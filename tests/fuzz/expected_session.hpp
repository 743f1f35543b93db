// What a correct server makes of the bytes one peer wrote: the reference that
// session_script_fuzzer holds the server's handlers to.
//
// The server's session decodes the peer's stream with the same frame_decoder, so the model
// is the protocol's rules applied to a whole-stream decoding (WIRE_FORMAT.md): the first
// frame must be a hello; after it, data frames are the game's messages and beats are only
// evidence; the first frame that is neither (a close, a second hello, a welcome) or bytes
// that do not decode end the session. What the model catches is the session getting its
// bytes wrong: frames lost, repeated, reordered or read from a buffer another session
// overwrote, whatever the chunking and the timing the script produced.
//
//   const auto expected = expected_session::of(peer.written());
//   // on_message payloads must be a prefix of expected.messages; all of them when the
//   // server says the peer closed (peer_closed) or broke the protocol (protocol_error).
#pragma once

#include <lifeline/close_code.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_error.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <system_error>
#include <variant>
#include <vector>

namespace lifeline::fuzz {

struct expected_session {
  /// How the stream ends for the server, after the hello.
  enum class ending : std::uint8_t {
    not_opened,         ///< no hello first: never opened (the game hears nothing)
    open,               ///< only data and beats follow: the session ends for another reason
    close_frame,        ///< the peer's close frame (close_code below)
    unexpected_frame,   ///< a hello or welcome while open: protocol_error, unexpected_frame
    undecodable,        ///< bytes that are not a frame: protocol_error, decode_error below
  };

  ending end = ending::not_opened;
  std::vector<std::vector<std::byte>> messages;  ///< data payloads, in order, before the end
  close_code close = close_code::normal;
  std::error_code decode_error;
  bool ends_mid_frame = false;  ///< open, and the stream stops inside a frame

  /// The model of a peer that wrote `stream` (every byte the server may have read).
  static expected_session of(std::span<const std::byte> stream) {
    expected_session out;
    frame_decoder decoder;  // the server's max_frame_size is the default
    decoder.feed(stream);
    std::error_code ec;
    bool first = true;
    while (const auto f = decoder.next(ec)) {
      if (first) {
        first = false;
        if (!std::holds_alternative<hello_frame>(*f)) return out;  // not_opened
        out.end = ending::open;
        continue;
      }
      if (const auto* d = std::get_if<data_frame>(&*f)) {
        out.messages.emplace_back(d->payload.begin(), d->payload.end());
      } else if (const auto* c = std::get_if<close_frame>(&*f)) {
        out.end = ending::close_frame;
        out.close = c->code;
        return out;
      } else if (!std::holds_alternative<beat_frame>(*f)) {
        out.end = ending::unexpected_frame;
        return out;
      }
    }
    if (ec && !first) {
      out.end = ending::undecodable;
      out.decode_error = ec;
    }
    out.ends_mid_frame = out.end == ending::open && decoder.finish() == frame_error::truncated_frame;
    return out;
  }
};

/// Byte-wise equality by memcmp: a byte loop in a fuzz target costs a traced comparison
/// per byte.
inline bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) noexcept {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

}  // namespace lifeline::fuzz
