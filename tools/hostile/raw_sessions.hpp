// tools/hostile/raw_sessions.hpp — many raw lifeline-protocol client sockets on one
// thread: the engine every attacking (and measuring) worker process runs.
//
// Why raw sockets and not lifeline::connector. An attacker does what a well-behaved client
// never does: stops in the middle of a frame, writes beats as fast as the socket takes
// them, connects and never says hello, never reads. Each of those needs a hand on the
// socket; and, like the load generator (tools/loadgen.cpp), the attacker must not share
// code paths, or bugs, with the library it attacks. So each session here is a plain
// non-blocking socket speaking the wire codec (lifeline::frame_encoder / frame_decoder).
//
// The engine: one epoll loop (level-triggered); connects paced at a rate with a cap on
// those in flight; hello, then the welcome's settings; a beat after H of quiet (lazy: a
// send only stores last_sent, the beat timer re-checks it, one lifeline::timer_wheel entry
// per session). What a session sends beyond that comes from its role (raw_role): small
// frames through a bounded queue, or a *stream*: bytes taken from a shared, immutable block
// (cyclically, for a flood; once, for an unfinished frame), so 16,000 sessions holding 64
// KiB each cost the worker one block, not a gigabyte. Beats never cut into a stream.
// Every way a session ends is named: "eof", "reset", "close:<code>" (the server's close
// frame), "error:<errno>", "decode_error", "timeout".
//
// Commands arrive on stdin, one per line ("STOP" or EOF ends the loop); lines go to stdout,
// flushed. Closing at the end is abortive (RST), so no port is left in TIME_WAIT.
//
//   struct my_role : raw_role { void on_opened(raw_session& s, time_point) override { ... } };
//   raw_pool pool(settings, role);
//   return pool.run();
#pragma once

#include "clock.hpp"

#include <lifeline/frame.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>
#include <lifeline/timer_wheel.hpp>

#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lifeline::hostile {

[[nodiscard]] std::string errno_name(int error);

/// A session's life: waiting -> connecting -> (handshaking ->) open -> ended. Without a
/// handshake, open means "connected".
enum class raw_state : std::uint8_t { waiting, connecting, handshaking, open, ended };

/// Bytes sent from a shared block: cyclically while `remaining` lasts.
struct outbound_stream {
  std::span<const std::byte> block;
  std::size_t offset = 0;
  std::uint64_t remaining = 0;
  static constexpr std::uint64_t endless = ~std::uint64_t{0};
};

class raw_pool;

struct raw_session {
  raw_session(raw_pool& owner, std::uint32_t i, std::size_t max_frame);
  raw_session(const raw_session&) = delete;
  raw_session& operator=(const raw_session&) = delete;

  void on_beat_due(time_point now);
  void on_role_due(time_point now);

  raw_pool* pool;
  std::uint32_t index;
  raw_state state = raw_state::waiting;
  int fd = -1;
  std::uint32_t interest = 0;      // epoll events registered
  bool reading = true;             // false: never read (EPOLLERR/EPOLLHUP still seen)
  bool beating = true;             // false: no heartbeats (a frame is left unfinished)
  time_point connect_started{};
  time_point opened_at{};
  time_point last_sent{};
  milliseconds interval{};         // H, as the welcome says
  lifeline::wire_timestamp peer_sent_at{};
  time_point peer_beat_received{};
  std::uint64_t server_id = 0;
  std::uint64_t bytes_sent = 0;    // taken by send()
  std::vector<std::byte> unsent;   // whole small frames the socket has not taken yet
  std::optional<outbound_stream> stream;
  lifeline::frame_decoder decoder;
  lifeline::timer_entry beat_timer = lifeline::timer_entry::calling<&raw_session::on_beat_due>(this);
  lifeline::timer_entry role_timer = lifeline::timer_entry::calling<&raw_session::on_role_due>(this);
};

/// What a worker does with its sessions. Every hook runs on the pool's thread.
class raw_role {
 public:
  virtual ~raw_role() = default;
  /// Welcomed (or, without a handshake, connected).
  virtual void on_opened(raw_session&, time_point) {}
  virtual void on_data(raw_session&, std::span<const std::byte>, time_point) {}
  /// Ended by the server or the network, or failed to open (`was` says which state it
  /// was in). Not called for the pool's own closes at STOP.
  virtual void on_ended(raw_session&, raw_state /*was*/, const std::string& /*how*/, time_point) {}
  virtual void on_timer(raw_session&, time_point) {}
  virtual void on_stream_done(raw_session&, time_point) {}
  /// Every session has been started and none is connecting or handshaking (once).
  virtual void on_settled(time_point) {}
  virtual void on_command(std::string_view /*line*/, time_point) {}
  virtual void on_second(time_point) {}
  /// After STOP: every socket is closed; write the results.
  virtual void finish() {}
};

struct raw_pool_settings {
  sockaddr_in server{};
  std::vector<sockaddr_in> sources;    ///< session i binds sources[i % n]; empty: the kernel chooses
  std::size_t sessions = 0;
  bool handshake = true;               ///< false: connect only, never hello
  bool beat = true;                    ///< heartbeats after H of quiet
  milliseconds heartbeat{1000};
  milliseconds dead_after{3000};       ///< asked for in hello
  double connect_rate = 0;             ///< connects started per second; 0: as fast as allowed
  std::size_t connects_in_flight = 1000;
  milliseconds open_timeout{10'000};   ///< connect + welcome
  std::size_t max_frame = lifeline::default_max_frame_size;
  int receive_buffer = 0;              ///< SO_RCVBUF before connect; 0: the kernel's default
};

class raw_pool {
 public:
  raw_pool(raw_pool_settings settings, raw_role& role);
  ~raw_pool();
  raw_pool(const raw_pool&) = delete;
  raw_pool& operator=(const raw_pool&) = delete;

  /// Runs until STOP, EOF on stdin, or SIGINT/SIGTERM. Returns the exit status.
  int run();

  // For roles.
  [[nodiscard]] std::vector<std::unique_ptr<raw_session>>& sessions() noexcept { return sessions_; }
  [[nodiscard]] const raw_pool_settings& settings() const noexcept { return settings_; }
  /// Queues one small frame (dropped, counted, when 64 KiB are already waiting or a
  /// stream is running). False if the session ended.
  bool send_frame(raw_session& s, const lifeline::frame& f, time_point now);
  void start_stream(raw_session& s, outbound_stream stream, time_point now);
  void stop_reading(raw_session& s);
  /// Closes the socket abortively (RST); no on_ended. A closed session may be reopened.
  void abort(raw_session& s);
  /// Connects again (a session that ended). Counts as a connect of its own.
  void reopen(raw_session& s, time_point now);
  void schedule(raw_session& s, time_point at) { wheel_.schedule_at(s.role_timer, at); }
  void emit(const std::string& line) const;  ///< one line on stdout, flushed

  [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_; }
  [[nodiscard]] std::size_t open_now() const noexcept { return open_now_; }
  [[nodiscard]] std::uint64_t connects_started() const noexcept { return connects_started_; }
  [[nodiscard]] std::uint64_t connects_done() const noexcept { return connects_done_; }
  [[nodiscard]] std::uint64_t frames_dropped() const noexcept { return frames_dropped_; }
  [[nodiscard]] const std::map<std::string, std::uint64_t>& failures() const noexcept { return failures_; }
  [[nodiscard]] std::string failures_text() const;  ///< " how=count ..." of failed opens

 private:
  friend struct raw_session;
  bool set_up();
  void pace_connects(time_point now);
  void start_connect(raw_session& s, time_point now);
  void on_connect_done(raw_session& s, time_point now);
  void dispatch(raw_session& s, std::uint32_t events, time_point now);
  void read_from(raw_session& s, time_point now);
  void handle_frame(raw_session& s, const lifeline::frame& f, time_point now);
  void flush(raw_session& s, time_point now);
  bool write_stream(raw_session& s, time_point now);
  void beat_due(raw_session& s, time_point now);
  void set_interest(raw_session& s, std::uint32_t events);
  void ended(raw_session& s, std::string how, time_point now);
  void close_socket(raw_session& s);
  void read_commands(time_point now);
  [[nodiscard]] time_point next_wakeup() const;

  raw_pool_settings settings_;
  raw_role& role_;
  int epoll_fd_ = -1;
  lifeline::timer_wheel wheel_;  // before sessions_: a session unlinks its entries first
  std::vector<std::unique_ptr<raw_session>> sessions_;
  lifeline::frame_encoder encoder_;
  std::vector<std::byte> read_buffer_;
  std::vector<std::uint16_t> port_cursor_;  // per source address
  std::uint16_t port_low_ = 32768, port_high_ = 60999;

  std::size_t next_to_start_ = 0;
  time_point next_connect_at_{};
  std::vector<raw_session*> reopen_queue_;
  std::size_t in_flight_ = 0;
  std::size_t open_now_ = 0;
  std::uint64_t connects_started_ = 0;
  std::uint64_t connects_done_ = 0;
  std::uint64_t frames_dropped_ = 0;
  std::map<std::string, std::uint64_t> failures_;
  bool settled_ = false;
  bool stopping_ = false;
  std::string stdin_buffer_;
  time_point next_second_{};
};

}  // namespace lifeline::hostile
