#include <lifeline/server.hpp>

#include "engine.hpp"

namespace lifeline {

server::server(server_config config, session_handlers handlers) : config_listen_address_(config.listen_address), config_port_(config.port), config_share_port_(config.share_port) {
  config.validate();
  engine_ = std::make_unique<detail::engine>(detail::session_role::server, config.worker_threads, config.max_sessions,
                                             config.liveness, reconnect_config{}, std::chrono::milliseconds{0},
                                             std::move(handlers), config.admission);
}

server::server(server_config config, polled_events_t)
    : config_listen_address_(config.listen_address), config_port_(config.port), config_share_port_(config.share_port) {
  config.validate();
  engine_ = std::make_unique<detail::engine>(detail::session_role::server, config.worker_threads, config.max_sessions,
                                             config.liveness, reconnect_config{}, std::chrono::milliseconds{0},
                                             session_handlers{}, config.admission, /*polled=*/true);
}

server::~server() = default;

std::size_t server::poll_with(void (*call)(void*, const session_event&), void* handler, std::size_t max_events) {
  return engine_->poll(call, handler, max_events);
}
std::error_code server::queued_bytes(session_id id, std::size_t& bytes) const { return engine_->queued_bytes(id, bytes); }
std::error_code server::addresses(session_id id, session_addresses& where) const { return engine_->addresses(id, where); }

void server::start() { engine_->start(&config_listen_address_, config_port_, config_share_port_); }
void server::stop(std::chrono::milliseconds flush_deadline) { engine_->stop(flush_deadline); }
std::uint16_t server::port() const noexcept { return engine_->port(); }
std::error_code server::send(session_id id, std::span<const std::byte> message) { return engine_->send(id, message); }
broadcast_result server::broadcast(std::span<const session_id> to, std::span<const std::byte> message) {
  return engine_->broadcast(to, message);
}
std::error_code server::close(session_id id) { return engine_->close(id); }
std::error_code server::close(session_id id, std::uint16_t app_code, std::string_view app_reason) {
  return engine_->close(id, app_code, app_reason);
}
server_stats server::stats() const { return engine_->stats(); }
std::error_code server::set_user_context(session_id id, void* context) { return engine_->set_user_context(id, context); }
void* server::user_context(session_id id) const { return engine_->user_context(id); }
std::error_code server::round_trip_time(session_id id, std::chrono::microseconds& rtt) const {
  return engine_->round_trip_time(id, rtt);
}
std::error_code server::kernel_info(session_id id, tcp_kernel_info& info) const { return engine_->kernel_info(id, info); }

}  // namespace lifeline
