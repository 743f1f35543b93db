// lifeline/stats.hpp — what a server or connector has done, as a snapshot.
//
// server::stats() answers a server_stats, connector::stats() a connector_stats: the same
// session counters, and for a connector what its connect() calls did (connect_stats).
//
// Each shard counts for itself, without locks or atomics on its hot path; stats() asks
// every shard for a copy (a post to each) and adds them up, so it costs one round trip
// per shard. From a handler it includes only the calling shard (see `complete`).
#pragma once

#include <lifeline/close_reason.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace lifeline {

/// Detection lateness: detected − (last heard + dead_after), in 1 ms buckets up to 1 s;
/// the last bucket holds everything later.
struct lateness_histogram {
  static constexpr std::size_t buckets = 1001;
  std::array<std::uint64_t, buckets> count{};
  void record(std::chrono::nanoseconds lateness) noexcept;
  [[nodiscard]] std::uint64_t total() const noexcept;
  /// The smallest lateness (bucket upper bound) at or below which a fraction q of samples lie.
  [[nodiscard]] std::chrono::milliseconds quantile(double q) const noexcept;
  lateness_histogram& operator+=(const lateness_histogram& other) noexcept;
};

struct session_stats {
  std::uint64_t sessions_open = 0;
  std::uint64_t sessions_opened = 0;     ///< handshakes completed
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t heartbeats_received = 0;
  std::uint64_t frames_sent = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::array<std::uint64_t, close_reason_count> closes_by_reason{};  ///< indexed by close_reason's value
  lateness_histogram heartbeat_timeout_lateness;
  /// How late each shard's deadline timer ran after it was due: the event loop's own
  /// wake-up delay (waiting for a core, or other work queued ahead of it in the loop).
  /// A detection can be no earlier than this; when heartbeat_timeout_lateness is large
  /// and this is large too, the thread was starved rather than the wheel slow.
  lateness_histogram deadline_timer_lateness;

  // Evidence before conviction (DESIGN.md §8).
  std::uint64_t sessions_suspect = 0;      ///< now: open sessions whose peer is silent past suspect_after
  std::uint64_t suspected = 0;             ///< times a session became suspect (and was sent an urgent beat)
  std::uint64_t recovered = 0;             ///< times a suspect session's peer was heard again
  /// Would-be convictions or suspicions called off because the peer's bytes were found
  /// waiting unread in its socket (the loop had reached the deadline before the read).
  std::uint64_t convictions_averted = 0;
  /// Sessions whose conviction a stall of the shard's own pushed later (by the stall).
  std::uint64_t convictions_deferred = 0;
  /// The shard's deadline timer ran more than stall_threshold late, or its host was frozen
  /// that long (CLOCK_BOOTTIME gaining on CLOCK_MONOTONIC; also counted in host_freezes).
  std::uint64_t loop_stalls = 0;
  std::uint64_t host_freezes = 0;
  std::chrono::milliseconds longest_loop_stall{0};  ///< summed over shards: the longest of any

  // Hostile peers (DESIGN.md §9).
  std::uint64_t rate_strikes = 0;  ///< times a peer ran past its inbound budget (its reading paused)
  /// Now: bytes the sessions hold in buffers of their own (frames arriving, write queues),
  /// what buffer_budget bounds.
  std::uint64_t buffer_bytes = 0;
  /// Poll mode: times a session's reading was held because the game's events backlog was
  /// full (liveness_config::event_backlog_limit).
  std::uint64_t reads_held = 0;
  /// Poll mode, now: bytes of events waiting for the game's poll().
  std::uint64_t event_backlog_bytes = 0;

  // Session and transport (DESIGN.md §10).
  std::uint64_t sessions_lingering = 0;  ///< now: sessions whose transport died, waiting out their grace
  std::uint64_t transports_lost = 0;     ///< times a session started lingering
  std::uint64_t resumed = 0;             ///< resumes accepted (takeovers included)
  std::uint64_t resumed_state_lost = 0;  ///< of those, resumed with messages lost
  std::uint64_t takeovers = 0;           ///< resumes that found the old transport still open and closed it
  std::uint64_t resumes_refused = 0;     ///< forged, replayed or expired tokens, sessions gone
  std::uint64_t replayed_frames = 0;     ///< data frames sent again after a resume

  [[nodiscard]] std::uint64_t closes(close_reason r) const noexcept {
    return closes_by_reason[static_cast<std::size_t>(r)];
  }
  session_stats& operator+=(const session_stats& other) noexcept;
};

struct server_stats {
  session_stats total;
  std::vector<std::uint64_t> sessions_per_shard;
  /// False when some shard could not be asked: stats() called from a handler counts only
  /// its own shard (a handler never waits on another shard), or a shard was stopping.
  bool complete = true;
};

/// What a connector's connect() calls did. A resumed session's own dials (a lingering
/// session coming back, DESIGN.md §10) are not attempts here: they are counted as resumes.
struct connect_stats {
  /// New sessions dialled: each connect()'s first attempt and every reconnect (a lookup
  /// and a TCP connect, then the handshake).
  std::uint64_t attempts = 0;
  /// Attempts that ended without opening, for any reason but the game's own close()
  /// or cancel() and stop() (connect_failed, name_not_resolved, handshake_timeout,
  /// server_full, ...).
  std::uint64_t failures = 0;
  /// Of those, host names that did not resolve (close reason name_not_resolved).
  std::uint64_t resolution_failures = 0;
  std::uint64_t reconnects_scheduled = 0;  ///< on_closed told reconnect_plan::scheduled
  std::uint64_t given_up = 0;              ///< connect() chains ended by reconnect.max_attempts
  std::uint64_t cancelled = 0;             ///< connect() chains ended by cancel()

  connect_stats& operator+=(const connect_stats& other) noexcept;
};

struct connector_stats {
  session_stats total;
  connect_stats connects;
  std::vector<std::uint64_t> sessions_per_shard;
  /// As server_stats::complete: false when stats() ran in a handler (only its own shard
  /// counted) or a shard was stopping.
  bool complete = true;
};

/// The kernel's view of one connection (TCP_INFO).
struct tcp_kernel_info {
  std::chrono::microseconds rtt{0};
  std::chrono::microseconds rtt_variance{0};
  std::uint32_t retransmits = 0;       ///< consecutive retransmissions of the current segment
  std::uint32_t total_retransmits = 0;
  std::uint32_t unacked = 0;           ///< segments in flight
  std::uint32_t lost = 0;
  std::uint32_t probes = 0;            ///< keepalive or zero-window probes sent without an answer
  /// The receive window the peer last advertised, in bytes (tcpi_snd_wnd; empty on kernels
  /// before 5.4). Zero with data waiting means the peer has stopped reading. A session
  /// closed because such a window stayed shut is reported write_stalled on Linux 5.11 and
  /// later, where TCP_USER_TIMEOUT ends zero-window probes that the peer answers.
  std::optional<std::uint32_t> peer_window;
};

}  // namespace lifeline
