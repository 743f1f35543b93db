// A connector's attempt (see session.hpp for the whole picture): the lookup of a host name,
// dialling its addresses in turn, and the hello.
//
// A numeric address is dialled at once. A host name is looked up with Asio's resolver on
// the shard's io_context: Asio (1.22) runs getaddrinfo() on an internal thread of that
// io_context's own and posts the answer back, so neither the game's thread nor the shard's
// loop ever blocks on DNS. (That needs an io_context whose scheduler locks, as the shard's
// does: with ASIO_CONCURRENCY_HINT_UNSAFE Asio refuses the lookup, operation_not_supported.)
// The addresses are tried in the resolver's order (RFC 6724's: "localhost" may give ::1
// before 127.0.0.1), each until one connects, so a server that listens on one family only
// is still reached; all within connect_timeout. The session counts the lookup as one of
// its pending handlers: it is freed only once the answer has come back, even if it closed
// before (getaddrinfo() cannot be interrupted).
#include "portable_error.hpp"
#include "session.hpp"
#include "shard.hpp"
#include "socket_options.hpp"

#include <asio/error.hpp>

#include <string>

namespace lifeline::detail {

void session::start_client(time_point now) {
  stage_deadline_ = now + shard_.connect_timeout();  // the lookup and the TCP connect, together
  rearm(now);
  auto& c = *client;
  if (c.target.numeric) {
    c.candidates.emplace_back(*c.target.numeric, c.target.port);
    return dial_next(now);
  }
  c.resolver.emplace(shard_.io());
  c.looking_up = true;
  ++pending_handlers_;
  c.resolver->async_resolve(c.target.host, std::to_string(c.target.port), asio::ip::resolver_base::numeric_service,
                            [this](std::error_code ec, const asio::ip::tcp::resolver::results_type& results) {
                              --pending_handlers_;
                              on_resolved(ec, results, shard_.now());
                              handler_done();
                            });
}

void session::on_resolved(std::error_code ec, const asio::ip::tcp::resolver::results_type& results, time_point now) {
  client->looking_up = false;
  if (state_ != session_state::connecting) return;  // closed meanwhile: cancelled, timed out, stop()
  if (!ec && results.empty()) ec = asio::error::host_not_found;
  if (ec) return close_with({close_reason::name_not_resolved, portable(ec)}, now);
  const auto& local = client->target.local;
  for (const auto& entry : results)
    if (!local || local->protocol() == entry.endpoint().protocol()) client->candidates.push_back(entry.endpoint());
  if (client->candidates.empty())  // only addresses of another family than local_address
    return close_with({close_reason::connect_failed, std::make_error_code(std::errc::address_family_not_supported)}, now);
  dial_next(now);
}

// Dials the next address not yet tried; when none is left, the attempt has failed, with
// the last address's error.
void session::dial_next(time_point now) {
  auto& c = *client;
  std::error_code ec;
  while (c.next_candidate < c.candidates.size()) {
    c.remote = c.candidates[c.next_candidate++];
    std::error_code ignored;
    socket_.close(ignored);  // the previous address's socket, if any
    ec = {};
    socket_.open(c.remote.protocol(), ec);
    if (!ec && c.target.local) socket_.bind(*c.target.local, ec);
    if (ec) continue;  // e.g. no IPv6 on this host: the next address may do
    ++pending_handlers_;
    socket_.async_connect(c.remote, [this, generation = transport_](std::error_code connect_ec) {
      --pending_handlers_;
      if (generation == transport_) on_connected(connect_ec, shard_.now());
      handler_done();
    });
    return;
  }
  close_with({close_reason::connect_failed, portable(ec)}, now);
}

// connect_timeout passed before the server accepted (or before the name was found).
void session::give_up_connecting(time_point now) {
  const auto timed_out = std::make_error_code(std::errc::timed_out);
  close_with({client && client->looking_up ? close_reason::name_not_resolved : close_reason::connect_failed, timed_out}, now);
}

void session::on_connected(std::error_code ec, time_point now) {
  if (state_ != session_state::connecting) return;
  const bool resuming = resume_ && resume_->attempting;  // a resume dials its one server again
  if (ec && !resuming && client->next_candidate < client->candidates.size()) return dial_next(now);
  if (!ec) socket_.non_blocking(true, ec);
  if (!ec) ec = apply_session_options(socket_.native_handle(), shard_.backstop());
  if (ec) return close_with({close_reason::connect_failed, portable(ec)}, now);
  state_ = session_state::handshaking;
  stage_deadline_ = now + shard_.config().handshake_timeout;
  last_heard_ = now;
  const auto& cfg = shard_.config();
  auto hello = hello_frame{.heartbeat_interval = cfg.heartbeat_interval, .dead_after = cfg.dead_after};
  if (resuming) {
    // Coming back: which session, how much of the server's we have, the oldest of ours we have.
    hello.resume_token = resume_->token;
    hello.received = resume_->received;
    hello.replay_from = resume_->replay.first();
  }
  send_frame(hello, now);
  if (state_ != session_state::handshaking) return;
  wait_readable();
  rearm(now);  // from the connect deadline to the handshake deadline
}

}  // namespace lifeline::detail
