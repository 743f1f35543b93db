// A shard's door (see shard.hpp): listening, accepting, admission under a flood of
// handshakes and per-address caps (DESIGN.md §9), and refusals that tell the peer why.
#include "engine.hpp"
#include "shard.hpp"

#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/socket_base.hpp>

#include <algorithm>
#include <cstdio>

namespace lifeline::detail {
namespace {

constexpr auto accept_retry_delay = std::chrono::milliseconds{50};  // after EMFILE and the like

}  // namespace

std::uint16_t shard::listen(const asio::ip::tcp::endpoint& where) {
  acceptor_.emplace(io_);
  acceptor_->open(where.protocol());
  acceptor_->set_option(asio::socket_base::reuse_address(true));
  const int one = 1;
  ::setsockopt(acceptor_->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  acceptor_->bind(where);
  acceptor_->listen(asio::socket_base::max_listen_connections);
  accept();
  return acceptor_->local_endpoint().port();
}

void shard::accept() {
  acceptor_->async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) { on_accepted(ec, std::move(socket)); });
}

void shard::on_accepted(std::error_code ec, asio::ip::tcp::socket socket) {
  if (ec == asio::error::operation_aborted || shutting_down_) return;
  if (ec == asio::error::connection_aborted) return accept();  // that peer gave up: next
  if (ec) {
    // Out of descriptors or memory: back off instead of spinning on a failing accept.
    accept_retry_.expires_after(accept_retry_delay);
    accept_retry_.async_wait([this](std::error_code wait_ec) {
      if (!wait_ec && !shutting_down_) accept();
    });
    return;
  }
  asio::ip::address from;
  if (!admit(socket, from)) return accept();
  make_room_for_a_handshake();
  const bool admitted = engine_.try_admit();
  const auto id = admitted ? slots_.acquire() : std::nullopt;
  if (!id) {
    // Full: tell the peer why, best effort, and hang up. The game never saw this session.
    if (engine_.addresses().enabled()) engine_.addresses().ended(from, false);
    refuse(socket, close_reason::server_full, close_code::server_full, "server full");
    if (admitted) engine_.release_admission();
  } else {
    auto& s = adopt(*id, std::move(socket), session_role::server, nullptr);
    // Kept, not asked of the socket later: after a reset the kernel no longer knows it.
    if (engine_.addresses().enabled()) admitted_from_[s.id().value] = from;
    handshakes_.push_back(s.id());
    ++handshaking_;
    s.start_server(now());
  }
  accept();
}

// Per-address caps (admission_limits): a connection from an address over one is refused.
bool shard::admit(asio::ip::tcp::socket& socket, asio::ip::address& from) {
  auto& table = engine_.addresses();
  if (!table.enabled()) return true;
  std::error_code ec;
  from = socket.remote_endpoint(ec).address();
  if (!ec && table.admit(from)) return true;
  refuse(socket, close_reason::admission_refused, close_code::admission_refused, "too many connections from your address");
  return false;
}

void shard::refuse(asio::ip::tcp::socket& socket, close_reason why, close_code code, std::string_view detail) {
  std::error_code ignored;
  const auto bytes = encoder_.encode(close_frame{.code = code, .detail = detail}, ignored);
  socket.non_blocking(true, ignored);
  socket.write_some(asio::buffer(bytes.data(), bytes.size()), ignored);
  socket.close(ignored);
  ++stats_.closes_by_reason[static_cast<std::size_t>(why)];
}

// A flood of connections that never say hello must not lock players out: past this
// shard's share of handshaking sockets, the oldest one goes (a player's hello comes at
// once; a flood's never does).
void shard::make_room_for_a_handshake() {
  const auto t = now();
  while (handshaking_ >= engine_.handshakes_per_shard() && !handshakes_.empty()) {
    const auto oldest = handshakes_.front();
    handshakes_.pop_front();
    auto* s = find(oldest);
    if (s != nullptr && s->state() == session_state::handshaking) s->close_with({close_reason::admission_refused, {}}, t);
  }
}

void shard::handshake_ended(session& s, bool opened) {
  if (handshaking_ > 0) --handshaking_;
  // Ids of sessions that moved on stay in the queue until met; keep it near the live count.
  if (handshakes_.size() > 2 * handshaking_ + 64)
    std::erase_if(handshakes_, [this](session_id id) {
      const auto* h = find(id);
      return h == nullptr || h->state() != session_state::handshaking;
    });
  const auto it = admitted_from_.find(s.id().value);
  if (it == admitted_from_.end()) return;
  if (opened) {
    engine_.addresses().opened(it->second);
  } else {
    engine_.addresses().ended(it->second, false);
    admitted_from_.erase(it);
  }
}

void shard::open_session_ended(session& s) {
  const auto it = admitted_from_.find(s.id().value);
  if (it == admitted_from_.end()) return;
  engine_.addresses().ended(it->second, true);
  admitted_from_.erase(it);
}

session& shard::adopt(session_id id, asio::ip::tcp::socket socket, session_role role, void* context) {
  const auto slot = id.slot();
  sessions_[slot] = std::make_unique<session>(*this, id, role, std::move(socket), now());
  sessions_[slot]->user_context = context;
  round_trip_us_[slot].store(0, std::memory_order_relaxed);
  live_ids_[slot].store(id.value, std::memory_order_release);
  ++stats_.sessions_open;
  return *sessions_[slot];
}

}  // namespace lifeline::detail
