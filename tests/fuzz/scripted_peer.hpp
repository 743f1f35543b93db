// One loopback TCP connection that a session script plays against the server: it writes
// frames whole or in pieces, half-closes, resets, hangs up, and reads and checks what the
// server says back.
//
// Writing: a frame step encodes its frame (with the ceiling's encoder, so frames above
// the server's limit can be sent) and writes it, except for the bytes a `hold` kept back;
// `drip` and `flush` write those later. Every byte actually written is kept (written()),
// the stream expected_session models. Writes never block for long: a socket the server
// does not drain is given 10 ms, then the bytes stay kept back.
//
// Reading checks every byte the server sends (FUZZ_CHECK):
//   - it decodes (frame_decoder with the server's limit: a peer with the same limit never
//     rejects the server's frames), and a stream that ends with a FIN ends between frames
//     (an unfinished frame is allowed only under an RST: an abortive close drops the rest);
//   - the first frame is a welcome or a close; a welcome comes once, first, with the
//     server's settings and a non-zero id; nothing follows a close frame; never a hello;
//   - before the welcome a close frame says why the attempt failed (protocol_error,
//     unsupported_version, server_full, handshake_timeout); after it, why the session
//     ended (normal, protocol_error, unsupported_version, heartbeat_timeout, slow_frame);
//   - beats and data come only after the welcome, and each data payload is one the game
//     sent to this session (session_ledger::take_payload).
#pragma once

#include "session_ledger.hpp"

#include <lifeline/frame.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/session_id.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace lifeline::fuzz {

/// The settings the server's welcome must carry (session_script_fuzzer's server config).
struct welcome_terms {
  std::chrono::milliseconds heartbeat_interval;
  std::chrono::milliseconds dead_after;
};

class scripted_peer {
 public:
  explicit scripted_peer(welcome_terms terms);
  ~scripted_peer();
  scripted_peer(const scripted_peer&) = delete;
  scripted_peer& operator=(const scripted_peer&) = delete;

  /// Connects to 127.0.0.1:port; false if the kernel would not (the step is then skipped).
  bool connect(std::uint16_t port, bool tiny_receive_buffer);
  [[nodiscard]] bool is_connected() const noexcept { return fd_ >= 0; }

  void send_frame(const frame& f);
  void send_bytes(std::span<const std::byte> bytes);
  /// The next send writes all but its last `n` bytes.
  void hold_next(std::size_t n) noexcept { hold_next_ = n; }
  void drip(std::size_t n) { write_kept_back(n); }
  void flush() { write_kept_back(kept_back()); }

  void half_close();
  void reset();    ///< RST; the socket is gone
  void hang_up();  ///< FIN; the socket is gone

  /// Waits up to `wait` for bytes, then reads and checks all there are.
  void read(std::chrono::milliseconds wait, session_ledger& ledger);

  /// Every byte written to the server, in order.
  [[nodiscard]] std::span<const std::byte> written() const noexcept { return written_; }
  /// The session the server's welcome named, once read.
  [[nodiscard]] std::optional<session_id> session() const noexcept { return session_; }

 private:
  [[nodiscard]] std::size_t kept_back() const noexcept { return pending_.size() - pending_sent_; }
  void write_kept_back(std::size_t n);
  void check(const frame& f, session_ledger& ledger);
  [[nodiscard]] bool was_reset() const;
  void close_socket();

  welcome_terms terms_;
  int fd_ = -1;
  frame_encoder encoder_;
  frame_decoder decoder_;
  std::vector<std::byte> pending_;   // [pending_sent_, size): encoded, not written yet
  std::size_t pending_sent_ = 0;
  std::size_t hold_next_ = 0;
  std::vector<std::byte> written_;
  bool can_write_ = true;
  bool can_read_ = true;
  std::vector<std::byte> read_buffer_;
  std::optional<session_id> session_;
  bool heard_any_frame_ = false;
  bool heard_close_ = false;
};

}  // namespace lifeline::fuzz
