// The byte script that session_script_fuzzer plays against a lifeline server: the input
// format, its reader, and the writer the seed corpus is made with.
//
// Why a script and not a byte stream: the decoder fuzzer already feeds the codec hostile
// bytes; the session's state machine is driven by *events* (connections, frames whole or
// in pieces, half-closes, resets, silences, the game's calls from its own thread), so the
// input names events and the fuzzer mutates their order, their peers and their fields.
//
// A script is a sequence of steps, each an opcode byte and its operands:
//   opcode: bits 0-4 = the step (modulo step_count), bits 5-6 = the peer slot (0-3) it
//           acts on, bit 7 ignored. Operands follow, little-endian; an input that ends
//           inside a step reads the missing bytes as 0, so every input is a valid script.
//
//   step           operands                 what the peer in the slot does
//   connect        flags                    opens a loopback TCP connection (slot empty only);
//                                           flags bit 0: 1-byte SO_RCVBUF set before connecting (a reader that falls behind)
//   hello          version interval:u16 dead_after:u16   a hello frame; version = 1, or byte - 0xF0 when the byte >= 0xF0
//   beat           flags sent_at:u16 echo:u16 held:u16   a beat (flags bit 0: urgent)
//   data           size:u16 action fill     a data frame: payload[0] = action (see payload_action), the rest a pattern of fill
//   close          code detail_length       a close frame (any code byte; detail of 'x's)
//   raw            n n×byte                 n raw bytes
//   length_prefix  which                    a 4-byte length prefix alone: which % 8 picks 0, 1, 28, 65,535, 65,536 (the
//                                           limit), 65,537, 16 MiB, 0xFFFFFFFF
//   hold           n:u16                    the next frame step writes all but its last n + 1 bytes (kept back)
//   drip           n                        writes the next 1 + n % 16 kept-back bytes
//   flush          -                        writes every kept-back byte
//   half_close     -                        shutdown(SHUT_WR)
//   reset          -                        SO_LINGER 0, close: an RST
//   hang_up        -                        close(): a FIN (an RST if bytes lie unread)
//   read           ms                       waits up to ms % 8 ms for bytes, then reads all there are
//   wait           ms                       sleeps ms % 16 ms (a script waits at most 64 ms in all, reads included)
//   game_send      target size:u16          the game thread calls server.send(target, size bytes)
//   game_close     target                   the game thread calls server.close(target)
// A game step's target % 4: 0 = this peer's session (from its welcome), 1 = the session
// closed last, 2 = the session opened last (any peer's), 3 = an id never issued.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lifeline::fuzz {

enum class step : std::uint8_t {
  connect, hello, beat, data, close, raw, length_prefix, hold, drip, flush,
  half_close, reset, hang_up, read, wait, game_send, game_close,
};
inline constexpr unsigned step_count = 17;

[[nodiscard]] constexpr const char* to_string(step s) noexcept {
  constexpr const char* names[step_count] = {"connect", "hello", "beat", "data", "close", "raw", "length_prefix",
                                             "hold", "drip", "flush", "half_close", "reset", "hang_up", "read",
                                             "wait", "game_send", "game_close"};
  return static_cast<unsigned>(s) < step_count ? names[static_cast<unsigned>(s)] : "?";
}
inline constexpr unsigned peer_slots = 4;

/// What the server's on_message handler does when a payload starts with this byte; other
/// bytes: nothing. Exercises the handlers' re-entrancy: sending and closing from inside
/// a handler, its own session or another, and a handler that throws.
enum class payload_action : std::uint8_t {
  echo = 'E',         ///< server.send(own id, the payload)
  close_own = 'C',    ///< server.close(own id): the session must close as closed_locally
  throw_error = 'T',  ///< throws: the session must close as handler_error
  send_other = 'O',   ///< server.send(the latest other open session, the payload)
  close_other = 'K',  ///< server.close(the latest other open session)
};

enum class game_target : std::uint8_t { own = 0, latest_closed = 1, latest_opened = 2, never_issued = 3 };

inline constexpr std::uint32_t length_prefix_choices[8] = {0, 1, 28, 65535, 65536, 65537, 1u << 24, 0xFFFFFFFFu};

/// Reads a script; past the end every byte is 0 and done() is true.
class script_reader {
 public:
  explicit script_reader(std::span<const std::uint8_t> input) : input_(input) {}
  [[nodiscard]] bool done() const noexcept { return at_ >= input_.size(); }
  std::uint8_t u8() noexcept { return at_ < input_.size() ? input_[at_++] : 0; }
  std::uint16_t u16() noexcept {
    const std::uint16_t low = u8();
    return static_cast<std::uint16_t>(low | u8() << 8);
  }
  /// Up to n bytes, fewer at the end of the input.
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    const auto take = std::min(n, input_.size() - std::min(at_, input_.size()));
    const auto out = input_.subspan(std::min(at_, input_.size()), take);
    at_ += take;
    return out;
  }

 private:
  std::span<const std::uint8_t> input_;
  std::size_t at_ = 0;
};

/// Writes a script, one call per step (the seed corpus).
class script_writer {
 public:
  script_writer& connect(unsigned peer, bool tiny_receive_buffer = false) { return op(step::connect, peer, {tiny_receive_buffer ? 1u : 0u}); }
  script_writer& hello(unsigned peer, std::uint8_t version_byte = 0) { return op(step::hello, peer, {version_byte, 10, 0, 30, 0}); }
  script_writer& beat(unsigned peer, bool urgent = false) { return op(step::beat, peer, {urgent ? 1u : 0u, 1, 0, 0, 0, 0, 0}); }
  script_writer& data(unsigned peer, std::uint16_t size, std::uint8_t action = 0, std::uint8_t fill = 0x61) {
    return op(step::data, peer, {lo(size), hi(size), action, fill});
  }
  script_writer& close(unsigned peer, std::uint8_t code, std::uint8_t detail_length = 0) { return op(step::close, peer, {code, detail_length}); }
  script_writer& raw(unsigned peer, std::vector<std::uint8_t> bytes) {
    op(step::raw, peer, {static_cast<unsigned>(bytes.size())});
    out_.insert(out_.end(), bytes.begin(), bytes.end());
    return *this;
  }
  script_writer& length_prefix(unsigned peer, std::uint8_t which) { return op(step::length_prefix, peer, {which}); }
  script_writer& hold(unsigned peer, std::uint16_t n) { return op(step::hold, peer, {lo(n), hi(n)}); }
  script_writer& drip(unsigned peer, std::uint8_t n) { return op(step::drip, peer, {n}); }
  script_writer& flush(unsigned peer) { return op(step::flush, peer, {}); }
  script_writer& half_close(unsigned peer) { return op(step::half_close, peer, {}); }
  script_writer& reset(unsigned peer) { return op(step::reset, peer, {}); }
  script_writer& hang_up(unsigned peer) { return op(step::hang_up, peer, {}); }
  script_writer& read(unsigned peer, std::uint8_t ms = 5) { return op(step::read, peer, {ms}); }
  script_writer& wait(std::uint8_t ms) { return op(step::wait, 0, {ms}); }
  script_writer& game_send(unsigned peer, game_target target, std::uint16_t size) {
    return op(step::game_send, peer, {static_cast<unsigned>(target), lo(size), hi(size)});
  }
  script_writer& game_close(unsigned peer, game_target target) { return op(step::game_close, peer, {static_cast<unsigned>(target)}); }

  [[nodiscard]] const std::vector<std::uint8_t>& bytes() const noexcept { return out_; }

 private:
  static unsigned lo(std::uint16_t v) { return v & 0xFFu; }
  static unsigned hi(std::uint16_t v) { return v >> 8; }
  script_writer& op(step s, unsigned peer, std::initializer_list<unsigned> operands) {
    out_.push_back(static_cast<std::uint8_t>(static_cast<unsigned>(s) | (peer % peer_slots) << 5));
    for (const unsigned b : operands) out_.push_back(static_cast<std::uint8_t>(b));
    return *this;
  }
  std::vector<std::uint8_t> out_;
};

}  // namespace lifeline::fuzz
