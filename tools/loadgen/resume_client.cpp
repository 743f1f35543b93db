// tools/loadgen/resume_client.cpp — the client's half of resume, written from
// protocol/WIRE_FORMAT.md ("Resume"), and the numbered stream that checks it
// (load_generator.hpp).
//
// Data frames are numbered 1, 2, ... each way by their order in the session. A session
// counts what it receives (`received`), acks that count on its next beat or data frame when
// it changed, and keeps its own frames until the server acks them. Dialling again, it
// presents the token with its count and its oldest kept frame; the server's welcome says
// what the server received, and we send again everything after that, before anything new.
// Every payload we send is 16 bytes (echo probes and stream messages), so a kept frame is a
// 16-byte array and is encoded again on replay (its ack then is today's: a receiver keeps
// the largest, so that is as good as the original's).
#include "load_generator.hpp"

namespace lifeline::loadgen {
namespace {

/// A stream message: its number in the session's stream and a tag telling it from probes.
struct stream_message {
  static constexpr std::uint64_t tag = 0x6d61657274736c6c;  // "llstream"
  std::uint64_t number;
  std::uint64_t magic;
};
static_assert(sizeof(stream_message) == 16);

/// As many frames as the server keeps by default (64 KiB of 16-byte payloads, roughly):
/// past it the oldest go, and a resume then says state_lost.
constexpr std::size_t max_kept_frames = 4096;

/// The number of the oldest frame `s` still keeps (sent + 1 when it keeps none).
std::uint32_t first_kept(const session& s) noexcept { return s.sent - static_cast<std::uint32_t>(s.unacked.size()) + 1; }

/// a is after b, modulo 2^32 (the counts wrap like the server's).
bool after(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) > 0; }

}  // namespace

bool load_generator::send_data(session& s, std::span<const std::byte, 16> payload, time_point now) {
  if (!s.token.empty()) {  // resume negotiated: numbered, and kept until acked
    ++s.sent;
    std::array<std::byte, 16> kept{};
    std::ranges::copy(payload, kept.begin());
    s.unacked.push_back(kept);
    if (s.unacked.size() > max_kept_frames) s.unacked.pop_front();
  }
  // Cut off (killed, or dialling again): kept for the replay, nothing written now.
  if (s.state != session_state::open || s.fd < 0) return !s.token.empty();
  return send_frame(s, lifeline::data_frame{.payload = payload, .ack = ack_to_send(s)}, now);
}

std::uint32_t load_generator::ack_to_send(session& s) noexcept {
  if (s.token.empty() || s.received == s.ack_sent) return 0;  // 0: no news
  s.ack_sent = s.received;
  return s.received;
}

void load_generator::note_ack(session& s, std::uint32_t ack) noexcept {
  if (ack == 0 || !after(ack, s.peer_received)) return;
  s.peer_received = ack;
  while (!s.unacked.empty() && !after(first_kept(s), ack)) s.unacked.pop_front();
}

void load_generator::keep_token(session& s, const lifeline::welcome_frame& w) {
  if (!options_.resume || w.resume_grace.count() == 0) return;
  s.token.assign(w.resume_token.begin(), w.resume_token.end());
}

// The reconnect's time has come: a blackholed session's old socket is reset (into the
// filter: the server never sees it), and a new connection dials from the live address.
void load_generator::redial(session& s, time_point now) {
  if (s.fd >= 0) {
    const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  }
  close_socket(s);
  s.decoder = lifeline::frame_decoder{};  // a frame cut in half died with its connection
  s.sending = true;
  s.reading = true;
  s.redial_started = now;
  start_connect(s, now);
}

lifeline::hello_frame load_generator::resume_hello(const session& s) const {
  return lifeline::hello_frame{.heartbeat_interval = options_.heartbeat_interval,
                               .dead_after = options_.dead_after,
                               .resume_token = s.token,
                               .received = s.received,
                               .replay_from = first_kept(s)};
}

void load_generator::on_resumed(session& s, const lifeline::welcome_frame& w, time_point now) {
  if (!w.resumed || w.session_id != s.server_id) return fail(s, "handshake:not_resumed");
  --in_flight_;
  s.reconnecting = false;
  s.state = session_state::open;
  resumed_.push_back({s.index, monotonic_ns(s.redial_started), monotonic_ns(now), w.state_lost, monotonic_ns(s.hello_sent)});
  keep_token(s, w);
  // The server has our frames up to w.received; it sends again from our count + 1, or from
  // its own oldest if it no longer has that one (state lost: our count moves on with it).
  note_ack(s, w.received);
  if (after(w.replay_from, s.received + 1)) s.received = w.replay_from - 1;
  std::size_t replayed = 0;
  auto number = first_kept(s);
  const std::vector<std::array<std::byte, 16>> replay(s.unacked.begin(), s.unacked.end());
  for (const auto& payload : replay) {
    if (after(number++, w.received)) {
      if (!send_frame(s, lifeline::data_frame{.payload = payload, .ack = ack_to_send(s)}, now)) return;
      ++replayed;
    }
  }
  // The first frame on the new connection tells the server we have the welcome's token.
  if (replayed == 0) send_beat(s, now);
  if (s.fd >= 0) schedule_beat(s, now);
}

void load_generator::record_unresumed(session& s, std::string why, time_point now) {
  unresumed_.push_back({s.index, monotonic_ns(now), std::move(why)});
  s.reconnecting = false;
  close_socket(s);
}

// One doomed session's next message every stream_interval / K, round robin: K sessions
// each send one per interval, evenly spread. Bounded per turn, and no burst after a stall.
void load_generator::pace_stream(time_point now) {
  if (quiet_ || options_.doomed == 0) return;
  if (next_stream_at_ + options_.stream_interval < now) next_stream_at_ = now;
  for (std::size_t sent = 0; sent < max_stream_per_turn && next_stream_at_ <= now; ++sent) {
    next_stream_at_ += stream_spacing_;
    auto& s = *sessions_[stream_cursor_];
    stream_cursor_ = (stream_cursor_ + 1) % options_.doomed;
    if (s.token.empty() || (s.state == session_state::ended && !s.reconnecting)) continue;
    const stream_message message{.number = ++s.stream_sent, .magic = stream_message::tag};
    std::array<std::byte, sizeof message> payload{};
    std::memcpy(payload.data(), &message, sizeof message);
    send_data(s, payload, now);
  }
}

bool load_generator::on_stream_echo(session& s, std::span<const std::byte> payload) {
  stream_message message{};
  if (payload.size() != sizeof message) return false;
  std::memcpy(&message, payload.data(), sizeof message);
  if (message.magic != stream_message::tag) return false;
  if (message.number == s.stream_next) {
    ++s.stream_next;
  } else if (message.number > s.stream_next) {
    s.stream_missing += message.number - s.stream_next;
    s.stream_next = message.number + 1;
  } else {
    ++s.stream_duplicated;
  }
  return true;
}

}  // namespace lifeline::loadgen
