// tools/lobby/lobby_protocol.hpp — the lobby demo's game protocol: one line of text per
// game message, shared by lifeline_lobby_server and lifeline_lobby_bot.
//
// Text, not FlatBuffers, on purpose: a person trying the demo can read every message in a
// log, and the demo is about the loop around lifeline, not about encoding. Each game
// message (one lifeline data frame) is one command or one reply, without a newline.
//
// Client to server:
//   join <room>      take a free seat in <room> (made on demand; leaves the current room)
//   leave            give the seat up (the session stays open)
//   move <x> <y>     set the player's position, integers, clamped to 0..world_size-1
//   say <text>       relayed to everyone in the room
// Server to client:
//   joined <room> <seat> <tick_hz>         the seat taken, and how many states a second follow
//   full <room>                            no free seat
//   left <room>
//   state <tick> <room> <seat>:<x>,<y>[~] ...  the room's snapshot each tick ("~": player away)
//   said <seat> <text>
//   error <what>                           a command the server did not understand
//
// Room names are 1..max_room_name characters of [A-Za-z0-9_-], so that they print safely
// in logs and need no quoting in snapshots.
#pragma once

#include <charconv>
#include <cstddef>
#include <span>
#include <string_view>

namespace lobby {

inline constexpr std::size_t max_command_bytes = 200;
inline constexpr std::size_t max_room_name = 32;
inline constexpr int world_size = 1000;

/// The bytes of a game message as text (the protocol is ASCII; nothing is copied).
[[nodiscard]] inline std::string_view as_text(std::span<const std::byte> message) noexcept {
  return {reinterpret_cast<const char*>(message.data()), message.size()};
}
/// Text as the bytes of a game message (nothing is copied).
[[nodiscard]] inline std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

[[nodiscard]] inline bool is_valid_room_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > max_room_name) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

/// One command from a client, parsed. Views point into the message: valid while it is.
struct command {
  enum class verb { join, leave, move, say, invalid };
  verb what = verb::invalid;
  std::string_view room;   ///< join
  int x = 0, y = 0;        ///< move
  std::string_view text;   ///< say; for invalid, why
};

namespace detail {
/// Splits the first word off `rest` (spaces separate words).
inline std::string_view next_word(std::string_view& rest) noexcept {
  const auto start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  const auto end = rest.find(' ');
  const auto word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return word;
}
inline bool parse_int(std::string_view word, int& out) noexcept {
  const auto [end, error] = std::from_chars(word.data(), word.data() + word.size(), out);
  return error == std::errc{} && end == word.data() + word.size();
}
}  // namespace detail

/// Parses one client command. Never throws: what it cannot read is verb::invalid, with why.
[[nodiscard]] inline command parse_command(std::string_view line) noexcept {
  command c;
  if (line.size() > max_command_bytes) {
    c.text = "command too long";
    return c;
  }
  auto rest = line;
  const auto verb = detail::next_word(rest);
  if (verb == "join") {
    c.room = detail::next_word(rest);
    if (is_valid_room_name(c.room) && detail::next_word(rest).empty()) c.what = command::verb::join;
    else c.text = "join <room>: a room is 1..32 of A-Z a-z 0-9 _ -";
  } else if (verb == "leave") {
    c.what = command::verb::leave;
  } else if (verb == "move") {
    const auto x = detail::next_word(rest), y = detail::next_word(rest);
    if (detail::parse_int(x, c.x) && detail::parse_int(y, c.y)) c.what = command::verb::move;
    else c.text = "move <x> <y>: two integers";
  } else if (verb == "say") {
    const auto start = rest.find_first_not_of(' ');
    c.text = start == std::string_view::npos ? std::string_view{} : rest.substr(start);
    c.what = command::verb::say;
  } else {
    c.text = "unknown command (join, leave, move, say)";
  }
  return c;
}

}  // namespace lobby
