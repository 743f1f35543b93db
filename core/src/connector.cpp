#include <lifeline/connector.hpp>

#include "engine.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string_view>

namespace lifeline {
namespace {

// A host name as DNS spells it (RFC 1123, with '_' as some zones use): labels of letters,
// digits, '-' and '_' (neither first nor last a '-'), 1 to 63 characters, joined by dots,
// 253 characters at most, an optional final dot; and not all digits in its last label
// (that is a malformed IPv4 address, which getaddrinfo() would read in odd ways: "1.2.3"
// as 1.2.0.3). Anything else is refused before it reaches a resolver.
bool is_host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::string_view last;
  while (!name.empty()) {
    const auto dot = name.find('.');
    const auto label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (const char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    last = label;
    name = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
  }
  return !std::all_of(last.begin(), last.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

// Checked on the caller's thread, so a mistake is an exception naming the field, not an
// on_closed later.
detail::connect_target checked_target(const endpoint& where) {
  detail::connect_target target{.host = where.address, .numeric = {}, .port = where.port, .local = {}};
  std::error_code ec;
  const auto numeric = asio::ip::make_address(where.address, ec);
  if (!ec) target.numeric = numeric;
  else if (!is_host_name(where.address))
    throw std::invalid_argument("address: neither a numeric IP address nor a host name: '" + where.address + "'");
  if (where.port == 0) throw std::invalid_argument("port: must not be 0 (the server's port)");
  if (!where.local_address.empty()) {
    const auto local_address = asio::ip::make_address(where.local_address, ec);
    if (ec) throw std::invalid_argument("local_address: not a numeric IP address: '" + where.local_address + "'");
    target.local.emplace(local_address, 0);
  }
  return target;
}

}  // namespace

connector::connector(connector_config config, session_handlers handlers) {
  config.validate();
  engine_ = std::make_unique<detail::engine>(detail::session_role::client, config.worker_threads, config.max_sessions,
                                             config.liveness, config.reconnect, config.connect_timeout,
                                             std::move(handlers));
}

connector::connector(connector_config config, polled_events_t) {
  config.validate();
  engine_ = std::make_unique<detail::engine>(detail::session_role::client, config.worker_threads, config.max_sessions,
                                             config.liveness, config.reconnect, config.connect_timeout,
                                             session_handlers{}, admission_limits{}, /*polled=*/true);
}

connector::~connector() = default;

std::size_t connector::poll_with(void (*call)(void*, const session_event&), void* handler, std::size_t max_events) {
  return engine_->poll(call, handler, max_events);
}
std::error_code connector::queued_bytes(session_id id, std::size_t& bytes) const { return engine_->queued_bytes(id, bytes); }
std::error_code connector::addresses(session_id id, session_addresses& where) const {
  return engine_->addresses(id, where);
}

void connector::start() { engine_->start(); }
void connector::stop(std::chrono::milliseconds flush_deadline) { engine_->stop(flush_deadline); }

connect_ticket connector::connect(const endpoint& where, void* context) {
  return engine_->connect(checked_target(where), context);
}
std::error_code connector::cancel(connect_ticket ticket) { return engine_->cancel(ticket); }

std::error_code connector::send(session_id id, std::span<const std::byte> message) { return engine_->send(id, message); }
std::error_code connector::close(session_id id) { return engine_->close(id); }
std::error_code connector::close(session_id id, std::uint16_t app_code, std::string_view app_reason) {
  return engine_->close(id, app_code, app_reason);
}
connector_stats connector::stats() const { return engine_->client_stats(); }
std::error_code connector::set_user_context(session_id id, void* context) { return engine_->set_user_context(id, context); }
void* connector::user_context(session_id id) const { return engine_->user_context(id); }
std::error_code connector::round_trip_time(session_id id, std::chrono::microseconds& rtt) const {
  return engine_->round_trip_time(id, rtt);
}
std::error_code connector::kernel_info(session_id id, tcp_kernel_info& info) const {
  return engine_->kernel_info(id, info);
}
std::error_code connector::liveness(session_id id, effective_liveness& out) const {
  return engine_->liveness_in_use(id, out);
}

}  // namespace lifeline
