// What one peer may send, enforced (private to core/; DESIGN.md §9, config.hpp's
// inbound_limits).
//
// The budget is a generic cell rate algorithm (GCRA), the token bucket kept as one time:
// `due` is when everything the peer has sent so far would be paid for at the allowed
// rate. Each frame costs 1/frames_per_second and each byte 1/bytes_per_second; a peer is
// within its budget while `due` runs no further ahead of now than `burst`. Beats are
// counted the same way apart: beats_per_interval per heartbeat interval, one interval of
// burst. Per session that is a few time points and a count, and per frame a max and an add.
//
// Past the budget the peer gets a strike and its shard stops reading it until it has paid
// off what it ran ahead (TCP pushes back on the sender meanwhile); `strikes` strikes within
// `strike_window` end the session (rate_exceeded), in the spirit of gRPC's keepalive
// enforcement (too_many_pings, ENHANCE_YOUR_CALM); so does running so far ahead that the
// pause would outlast that window (hundreds of beats in one read).
//
//   inbound_policy policy(config.inbound);
//   bool over = policy.spend_bytes(budget, n, now, credit);
//   over |= policy.spend_frame(budget, now, is_beat, peer_interval, credit);
//   if (over && policy.strike(budget, now, credit)) close(rate_exceeded); else pause until policy.within_at(budget, credit);
//
// Owning shard's thread only; time is passed in.
#pragma once

#include <lifeline/config.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace lifeline::detail {

/// One session's account.
struct inbound_budget {
  using time_point = std::chrono::steady_clock::time_point;
  time_point due{};          // frames and bytes paid for until here
  time_point beats_due{};    // beats paid for until here
  time_point strikes_end{};  // the strike window's end
  std::uint8_t strikes = 0;
  bool paused = false;       // reading stopped until within_at()
};

class inbound_policy {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;

  explicit inbound_policy(const inbound_limits& limits) noexcept
      : frame_cost_(limits.frames_per_second == 0 ? duration::zero()
                                                  : duration{std::chrono::seconds{1}} / static_cast<long>(limits.frames_per_second)),
        nanoseconds_per_byte_(limits.bytes_per_second == 0 ? 0.0 : 1e9 / static_cast<double>(limits.bytes_per_second)),
        burst_(limits.burst),
        beats_per_interval_(limits.beats_per_interval),
        strikes_(limits.strikes),
        strike_window_(limits.strike_window) {}

  // `credit`: time the shard itself did not read (its stalls, own_stalls.hpp). What a peer
  // sent meanwhile arrives at once when reading resumes, at no fault of the peer's, so
  // the budget may run that much further ahead.

  /// Spends `n` bytes read; true when that takes the peer past its budget.
  bool spend_bytes(inbound_budget& b, std::size_t n, time_point now, duration credit) const noexcept {
    if (nanoseconds_per_byte_ == 0.0) return false;
    b.due = std::max(b.due, now) + std::chrono::nanoseconds{static_cast<long long>(nanoseconds_per_byte_ * static_cast<double>(n))};
    return b.due - now > burst_ + credit;
  }

  /// Spends one frame (and, for a beat, one of the interval's beats); true when past the budget.
  bool spend_frame(inbound_budget& b, time_point now, bool is_beat, std::chrono::milliseconds peer_interval,
                   duration credit) const noexcept {
    bool over = false;
    if (frame_cost_ > duration::zero()) {
      b.due = std::max(b.due, now) + frame_cost_;
      over = b.due - now > burst_ + credit;
    }
    if (is_beat && beats_per_interval_ > 0) {
      b.beats_due = std::max(b.beats_due, now) + duration{peer_interval} / static_cast<long>(beats_per_interval_);
      over = over || b.beats_due - now > duration{peer_interval} + credit;
    }
    return over;
  }

  /// When the peer has paid off what it ran ahead (reading may resume): then it has its
  /// whole burst again, rather than being at its edge and over at the next frame.
  [[nodiscard]] time_point within_at(const inbound_budget& b, duration credit) const noexcept {
    return std::max(b.due, b.beats_due) - credit;
  }

  /// The stall credit to ask the shard for: stalls that ended within this window.
  [[nodiscard]] duration credit_window() const noexcept { return strike_window_; }

  /// Counts a strike; true when the peer is to be closed: it has used up its strikes, or
  /// it ran so far ahead (more than burst + strike_window past its budget, beyond `credit`)
  /// that waiting it out would outlast the window its strikes are counted in.
  bool strike(inbound_budget& b, time_point now, duration credit) const noexcept {
    if (now >= b.strikes_end) {
      b.strikes = 0;
      b.strikes_end = now + strike_window_;
    }
    if (b.strikes < UINT8_MAX) ++b.strikes;
    return b.strikes >= strikes_ || std::max(b.due, b.beats_due) - now > burst_ + strike_window_ + credit;
  }

 private:
  duration frame_cost_;
  double nanoseconds_per_byte_;
  duration burst_;
  unsigned beats_per_interval_;
  unsigned strikes_;
  duration strike_window_;
};

}  // namespace lifeline::detail
