// The game side of session_script_fuzzer: the server's handlers, what they were told, and
// the properties every call must satisfy at the moment it is made.
//
// Checked in each handler (FUZZ_CHECK traps, so libFuzzer keeps the input):
//   - every handler runs on the one shard thread;
//   - on_opened names an id never issued before (ids are never reused);
//   - on_message, on_suspected, on_recovered and on_closed name a session that on_opened
//     reported and on_closed has not ended; on_closed comes once per session;
//   - on_suspected only for a session not suspect, on_recovered only for a suspect one;
//   - on_closed gives a valid reason, never one kept for sessions that never opened
//     (server_full, handshake_timeout, connect_failed), and the one the game caused when
//     its handler closed the session (closed_locally) or threw (handler_error); never
//     closed_locally unless the game called close(), nor handler_error unless it threw;
//   - the server's sessions_suspect gauge equals the sessions the handlers were told are
//     suspect, and never exceeds sessions_open, which is never below the open sessions;
//   - server.send and server.close from inside a handler return what their contract says.
// The fuzzer's thread reads the ledger between steps and after the server has settled.
//
// The handlers also act on a payload's first byte (payload_action, session_script.hpp):
// echo, close their own session, throw, send to or close another session.
#pragma once

#include "session_script.hpp"

#include <lifeline/server.hpp>
#include <lifeline/session_handlers.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>
#include <unordered_set>
#include <vector>

namespace lifeline::fuzz {

/// What the game was told about one session.
struct session_record {
  bool closed = false;
  bool suspect = false;
  std::optional<close_info> lingering;              ///< on_transport_lost's cause, until resumed or closed
  close_info why{close_reason::closed_locally, {}};
  std::vector<std::vector<std::byte>> messages;     ///< on_message payloads, in order
  std::optional<close_reason> game_closed_it;       ///< the reason a handler's own action implies
};

class session_ledger {
 public:
  /// The handlers to build the server with; attach() the server before it starts.
  session_handlers handlers();
  void attach(server& s) noexcept { server_ = &s; }

  // --- the fuzzer's thread ------------------------------------------------------------
  /// A copy of what the game was told about `id`, if on_opened reported it.
  [[nodiscard]] std::optional<session_record> find(session_id id) const;
  [[nodiscard]] bool is_closed(session_id id) const;
  [[nodiscard]] session_id latest_opened() const;
  [[nodiscard]] session_id latest_closed() const;
  /// Sessions opened since the last forget_closed() that on_closed has not ended.
  [[nodiscard]] std::size_t open_sessions() const;
  [[nodiscard]] std::size_t opened_since_forget() const;
  /// The game is about to send `payload` to `id` (before the call: its bytes may arrive
  /// before the call returns); undo it if the call refuses.
  void expect_payload(session_id id, std::span<const std::byte> payload);
  void unexpect_payload(session_id id, std::span<const std::byte> payload);
  /// The game is about to call close(id): only then may it end as closed_locally.
  void note_close_requested(session_id id);
  /// A peer received `payload` in a data frame of session `id`: true if the game sent
  /// it one (each sent payload is received at most once).
  bool take_payload(session_id id, std::span<const std::byte> payload);
  /// Drops the records of closed sessions (their ids stay known, so a reissue is caught)
  /// and every payload and close the game asked for; all sessions are closed by then.
  void forget_closed();

  static std::uint64_t fingerprint(std::span<const std::byte> payload) noexcept;

 private:
  void on_opened(session_id id);
  void on_message(session_id id, std::span<const std::byte> payload);
  void on_closed(session_id id, const close_info& why);
  void on_suspected(session_id id);
  void on_recovered(session_id id);
  void on_transport_lost(session_id id, const close_info& cause);
  void on_resumed(session_id id, const resumed_info& info);
  /// The record of a session on_opened reported and on_closed has not ended. Lock held.
  session_record& open_record(session_id id);
  void check_thread();
  /// The server's gauges against what the handlers were told. Shard thread, lock free.
  void check_gauges();
  /// The latest other session still open, or 0. Lock held.
  [[nodiscard]] session_id other_open_session(session_id id) const;

  server* server_ = nullptr;
  mutable std::mutex mutex_;
  std::map<session_id, session_record> sessions_;
  std::vector<session_id> opened_order_;  // the sessions in sessions_, oldest first
  // Kept apart from the records: the game thread may send to or close a session whose
  // welcome a peer has read before on_opened has run (the welcome is written first).
  std::map<session_id, std::multiset<std::uint64_t>> payloads_sent_;  // fingerprints of what the game sent
  std::set<session_id> close_requested_;                              // the game called close() on these
  std::unordered_set<session_id> ever_opened_;
  std::size_t suspect_ = 0;
  std::size_t lingering_ = 0;  // sessions between on_transport_lost and on_resumed / on_closed
  std::size_t open_ = 0;
  std::size_t opened_since_forget_ = 0;
  session_id latest_opened_{};
  session_id latest_closed_{};
  std::thread::id shard_thread_{};
};

}  // namespace lifeline::fuzz
