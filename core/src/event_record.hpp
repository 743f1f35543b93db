// How a session_event travels through an event_queue (private to core/).
//
// A fixed header, then what the kind needs: a message's bytes; a close_info (its
// app_reason's bytes after it); addresses (and resumed_info for a resume). 32 bytes of
// header for a message, so a 100-byte message takes 136 bytes of queue.
#pragma once

#include "event_queue.hpp"

#include <lifeline/session_event.hpp>

#include <cstring>
#include <type_traits>

namespace lifeline::detail {

struct event_record_header {
  std::uint32_t length = 0;    // the whole record, header included (unpadded)
  std::uint32_t trailing = 0;  // bytes after the kind's fixed part: a message, an app_reason
  event_kind kind = event_kind::opened;
  bool writable = true;
  session_id id;
  void* context = nullptr;
};
static_assert(std::is_trivially_copyable_v<close_info> && std::is_trivially_copyable_v<session_addresses> &&
              std::is_trivially_copyable_v<resumed_info>);

/// The fixed part that follows the header, by kind.
[[nodiscard]] constexpr std::size_t fixed_part_of(event_kind kind) noexcept {
  switch (kind) {
    case event_kind::opened: return sizeof(session_addresses);
    case event_kind::closed:
    case event_kind::transport_lost: return sizeof(close_info);
    case event_kind::resumed: return sizeof(session_addresses) + sizeof(resumed_info);
    default: return 0;
  }
}

/// Appends `event` to `queue` (producer's side): its message or app_reason are copied.
inline void append_event(event_queue& queue, const session_event& event) {
  std::span<const std::byte> trailing;
  if (event.kind == event_kind::message) trailing = event.message;
  if (event.kind == event_kind::closed || event.kind == event_kind::transport_lost)
    trailing = std::as_bytes(std::span(event.why.app_reason.data(), event.why.app_reason.size()));
  event_record_header header{.trailing = static_cast<std::uint32_t>(trailing.size()),
                             .kind = event.kind,
                             .writable = event.writable,
                             .id = event.id,
                             .context = event.context};
  const auto fixed = fixed_part_of(event.kind);
  header.length = static_cast<std::uint32_t>(sizeof header + fixed + trailing.size());
  auto* at = queue.reserve(header.length);
  std::memcpy(at, &header, sizeof header);
  auto* part = at + sizeof header;
  switch (event.kind) {
    case event_kind::opened: std::memcpy(part, &event.addresses, sizeof event.addresses); break;
    case event_kind::closed:
    case event_kind::transport_lost: {
      close_info why = event.why;
      why.app_reason = {};  // its bytes trail; the reader points it at them
      std::memcpy(part, &why, sizeof why);
      break;
    }
    case event_kind::resumed:
      std::memcpy(part, &event.addresses, sizeof event.addresses);
      std::memcpy(part + sizeof event.addresses, &event.resumed, sizeof event.resumed);
      break;
    default: break;
  }
  if (!trailing.empty()) std::memcpy(part + fixed, trailing.data(), trailing.size());
  queue.commit(header.length);
}

/// The event a record holds (consumer's side); its views point into the record.
[[nodiscard]] inline session_event read_event(std::span<const std::byte> record) noexcept {
  event_record_header header;
  std::memcpy(&header, record.data(), sizeof header);
  session_event event;
  event.kind = header.kind;
  event.id = header.id;
  event.context = header.context;
  event.writable = header.writable;
  const auto* part = record.data() + sizeof header;
  const auto* trailing = part + fixed_part_of(header.kind);
  switch (header.kind) {
    case event_kind::opened: std::memcpy(&event.addresses, part, sizeof event.addresses); break;
    case event_kind::message: event.message = {trailing, header.trailing}; break;
    case event_kind::closed:
    case event_kind::transport_lost:
      std::memcpy(&event.why, part, sizeof event.why);
      event.why.app_reason = {reinterpret_cast<const char*>(trailing), header.trailing};
      break;
    case event_kind::resumed:
      std::memcpy(&event.addresses, part, sizeof event.addresses);
      std::memcpy(&event.resumed, part + sizeof event.addresses, sizeof event.resumed);
      break;
    default: break;
  }
  return event;
}

}  // namespace lifeline::detail
