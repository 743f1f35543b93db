// The lobby's rules (lobby.hpp): one event at a time, on the game loop's thread.
#include "lobby.hpp"

#include "lobby_protocol.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <memory>

namespace lobby {
namespace {

const auto process_started = std::chrono::steady_clock::now();

player* player_of(const lifeline::session_event& event) noexcept { return static_cast<player*>(event.context); }

// "peer_closed", "heartbeat_timeout (after the grace)", "peer_reset: Connection reset by peer"
std::string describe(const lifeline::close_info& why) {
  std::string text(lifeline::to_string(why.reason));
  if (why.detail) text += ": " + why.detail.message();
  if (why.lingered) text += " (after the grace)";
  return text;
}

// Text from a player goes into other players' messages and our log: keep it printable.
std::string printable(std::string_view text) {
  std::string out(text);
  for (auto& c : out)
    if (c < 0x20 || c > 0x7e) c = '?';
  return out;
}

}  // namespace

void log_line(const char* format, ...) {
  const std::chrono::duration<double> since = std::chrono::steady_clock::now() - process_started;
  std::printf("%8.3f ", since.count());
  va_list args;
  va_start(args, format);
  std::vprintf(format, args);
  va_end(args);
  std::putchar('\n');
}

std::size_t room::seated() const noexcept {
  return static_cast<std::size_t>(std::count_if(seats.begin(), seats.end(), [](const player* p) { return p != nullptr; }));
}

void room::write_snapshot(std::uint64_t tick, std::string& out) const {
  out = "state " + std::to_string(tick) + ' ' + name;
  for (std::size_t seat = 0; seat < seats.size(); ++seat) {
    const auto* p = seats[seat];
    if (p == nullptr) continue;
    out += ' ' + std::to_string(seat) + ':' + std::to_string(p->x) + ',' + std::to_string(p->y);
    if (p->away) out += '~';
  }
}

lobby::lobby(lifeline::server& server, lobby_settings settings) : server_(server), settings_(settings) {}

std::size_t lobby::seated_players() const noexcept {
  std::size_t n = 0;
  for (const auto& [name, r] : rooms_) n += r.seated();
  return n;
}

std::size_t lobby::away_players() const noexcept {
  std::size_t n = 0;
  for (const auto& [name, r] : rooms_)
    n += static_cast<std::size_t>(std::count_if(r.seats.begin(), r.seats.end(), [](const player* p) { return p && p->away; }));
  return n;
}

void lobby::handle(const lifeline::session_event& event) {
  using lifeline::event_kind;
  auto* p = player_of(event);  // null only if open() could not attach one
  switch (event.kind) {
    case event_kind::opened:
      open(event);
      break;
    case event_kind::message:
      if (p) apply(*p, as_text(event.message));
      break;
    case event_kind::writability_changed:
      if (p) p->writable = event.writable;
      break;
    case event_kind::transport_lost:
      if (p) lose_transport(*p, event.why);
      break;
    case event_kind::resumed:
      if (p) resume(*p, event);
      break;
    case event_kind::suspected:
      if (p) log_line("quiet %s: silent past suspect_after, sent an urgent beat", p->remote.c_str());
      break;
    case event_kind::recovered:
      if (p) log_line("heard %s again", p->remote.c_str());
      break;
    case event_kind::closed:
      close(p, event.why);
      break;
  }
}

void lobby::send_states(std::uint64_t tick) {
  tick_ = tick;
  for (const auto& [name, r] : rooms_) {
    send_to_.clear();
    for (const auto* p : r.seats) {
      if (p == nullptr || p->away) continue;  // away: a full snapshot follows its resume
      if (!p->writable) {
        ++counters_.states_skipped;  // behind: it gets the next state once writable again
        continue;
      }
      send_to_.push_back(p->id);
    }
    if (send_to_.empty()) continue;
    r.write_snapshot(tick, snapshot_);
    const auto result = server_.broadcast(send_to_, as_bytes(snapshot_));
    counters_.states_sent += result.queued;
    counters_.states_refused += result.unknown + result.queue_full;
  }
}

void lobby::open(const lifeline::session_event& event) {
  auto fresh = std::make_unique<player>();
  fresh->id = event.id;
  fresh->remote = event.addresses.remote.to_string();
  if (const auto error = server_.set_user_context(event.id, fresh.get())) {
    // Cannot happen on the polling thread for a session whose opened event it holds; if it
    // did, a session without a player could not play: say so and end it.
    log_line("open  %s: no player attached (%s), closing it", fresh->remote.c_str(), error.message().c_str());
    server_.close(event.id);
    return;
  }
  fresh.release();  // owned through the session's context until its closed event
  ++players_;
}

void lobby::apply(player& p, std::string_view message) {
  const auto c = parse_command(message);
  switch (c.what) {
    case command::verb::join:
      join(p, c.room);
      break;
    case command::verb::leave:
      if (p.in == nullptr) return reply(p, "error not in a room");
      reply(p, "left " + p.in->name);
      leave(p, "asked");
      break;
    case command::verb::move:
      p.x = std::clamp(c.x, 0, world_size - 1);
      p.y = std::clamp(c.y, 0, world_size - 1);
      break;
    case command::verb::say:
      if (p.in == nullptr) return reply(p, "error not in a room");
      tell_room(*p.in, "said " + std::to_string(p.seat) + ' ' + printable(c.text));
      break;
    case command::verb::invalid:
      ++counters_.bad_commands;
      reply(p, "error " + std::string(c.text));
      break;
  }
}

void lobby::join(player& p, std::string_view room_name) {
  if (p.in != nullptr && p.in->name == room_name) {
    return reply(p, "joined " + p.in->name + ' ' + std::to_string(p.seat) + ' ' + std::to_string(settings_.tick_hz));
  }
  auto at = rooms_.find(room_name);
  if (at == rooms_.end()) {
    at = rooms_.emplace(std::string(room_name), room{std::string(room_name), std::vector<player*>(settings_.seats)}).first;
  }
  room& r = at->second;
  const auto free_seat = std::find(r.seats.begin(), r.seats.end(), nullptr);
  if (free_seat == r.seats.end()) return reply(p, "full " + r.name);
  if (p.in != nullptr) leave(p, "joined another room");  // never erases r: it holds no seat of p's
  *free_seat = &p;
  p.in = &r;
  p.seat = static_cast<std::size_t>(free_seat - r.seats.begin());
  ++counters_.joined;
  log_line("join  %s seat %zu by %s", r.name.c_str(), p.seat, p.remote.c_str());
  reply(p, "joined " + r.name + ' ' + std::to_string(p.seat) + ' ' + std::to_string(settings_.tick_hz));
}

void lobby::leave(player& p, const char* how) {
  room& r = *p.in;
  r.seats[p.seat] = nullptr;
  p.in = nullptr;
  ++counters_.left;
  log_line("leave %s seat %zu by %s (%s)", r.name.c_str(), p.seat, p.remote.c_str(), how);
  if (r.seated() == 0) rooms_.erase(r.name);  // made on demand, gone when empty
}

void lobby::lose_transport(player& p, const lifeline::close_info& cause) {
  p.away = true;
  if (p.in == nullptr) return log_line("away  %s (no seat): %s", p.remote.c_str(), describe(cause).c_str());
  ++counters_.went_away;
  log_line("away  %s seat %zu by %s: %s; seat held %lld ms", p.in->name.c_str(), p.seat, p.remote.c_str(),
           describe(cause).c_str(), static_cast<long long>(settings_.resume_grace.count()));
}

void lobby::resume(player& p, const lifeline::session_event& event) {
  const auto was = p.remote;
  p.remote = event.addresses.remote.to_string();
  p.away = false;
  // A new connection starts with nothing queued; session_event.hpp does not promise a
  // writability_changed(true) across the outage, so the lobby does not wait for one.
  p.writable = true;
  if (p.in == nullptr) return log_line("back  %s (no seat), was %s", p.remote.c_str(), was.c_str());
  ++counters_.came_back;
  log_line("back  %s seat %zu by %s (was %s), %u messages replayed%s", p.in->name.c_str(), p.seat, p.remote.c_str(),
           was.c_str(), event.resumed.replayed, event.resumed.state_lost ? ", some lost" : "");
  // Whatever it missed while away, one snapshot of now replaces it.
  p.in->write_snapshot(tick_, snapshot_);
  server_.send(p.id, as_bytes(snapshot_));
}

void lobby::close(player* p, const lifeline::close_info& why) {
  if (p == nullptr) return;
  std::unique_ptr<player> gone(p);  // the session's context: its last event
  --players_;
  if (p->in != nullptr) leave(*p, p->away ? "not back in time" : "session closed");
  log_line("close %s: %s", p->remote.c_str(), describe(why).c_str());
}

void lobby::reply(const player& p, std::string_view text) { server_.send(p.id, as_bytes(text)); }

void lobby::tell_room(const room& r, std::string_view text) {
  send_to_.clear();
  for (const auto* p : r.seats)
    if (p && !p->away) send_to_.push_back(p->id);
  server_.broadcast(send_to_, as_bytes(text));
}

}  // namespace lobby
