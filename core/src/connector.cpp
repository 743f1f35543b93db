#include <lifeline/connector.hpp>

#include "engine.hpp"

#include <stdexcept>

namespace lifeline {

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

void connector::connect(const endpoint& where, void* context) {
  std::error_code ec;
  const auto remote_address = asio::ip::make_address(where.address, ec);
  if (ec) throw std::invalid_argument("address: not a numeric IP address: '" + where.address + "'");
  std::optional<asio::ip::tcp::endpoint> local;
  if (!where.local_address.empty()) {
    const auto local_address = asio::ip::make_address(where.local_address, ec);
    if (ec) throw std::invalid_argument("local_address: not a numeric IP address: '" + where.local_address + "'");
    local.emplace(local_address, 0);
  }
  engine_->connect({remote_address, where.port}, local, context);
}

std::error_code connector::send(session_id id, std::span<const std::byte> message) { return engine_->send(id, message); }
std::error_code connector::close(session_id id) { return engine_->close(id); }
std::error_code connector::close(session_id id, std::uint16_t app_code, std::string_view app_reason) {
  return engine_->close(id, app_code, app_reason);
}
server_stats connector::stats() const { return engine_->stats(); }
std::error_code connector::set_user_context(session_id id, void* context) { return engine_->set_user_context(id, context); }
void* connector::user_context(session_id id) const { return engine_->user_context(id); }
std::error_code connector::round_trip_time(session_id id, std::chrono::microseconds& rtt) const {
  return engine_->round_trip_time(id, rtt);
}
std::error_code connector::kernel_info(session_id id, tcp_kernel_info& info) const {
  return engine_->kernel_info(id, info);
}

}  // namespace lifeline
