// The baseline servers of the detection benchmark (see baseline_server.hpp for why they
// exist). The I/O mirrors lifeline's session layer on purpose, so that a difference in
// the measurements is a difference in liveness tracking, not in reading or writing.
#include "baseline_server.hpp"

#include <lifeline/detail/overloaded.hpp>
#include <lifeline/frame_decoder.hpp>
#include <lifeline/frame_encoder.hpp>

#include <asio/error.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <sys/socket.h>

#include <atomic>
#include <optional>
#include <span>
#include <utility>
#include <variant>

namespace lifeline::bench {
namespace {

using clock = std::chrono::steady_clock;
using time_point = clock::time_point;
using asio::ip::tcp;

constexpr std::size_t read_buffer_size = 64 * 1024;     // as a lifeline shard's
constexpr std::size_t write_queue_limit = 1024 * 1024;  // as lifeline's default
constexpr int max_reads_per_wakeup = 4;                 // fairness between a thread's sessions, as lifeline
constexpr auto accept_retry_delay = std::chrono::milliseconds{50};

// Each counter has one writer, its thread; readers only need each value to be whole, so
// no read-modify-write (and no locked instruction) on the I/O path.
void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

close_reason classify(std::error_code ec) noexcept {
  if (ec == asio::error::eof) return close_reason::peer_closed;
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) return close_reason::peer_reset;
  if (ec == asio::error::host_unreachable || ec == asio::error::network_unreachable) return close_reason::unreachable;
  if (ec == asio::error::timed_out) return close_reason::user_timeout;  // no keepalive here: only data times out
  return close_reason::socket_error;
}

}  // namespace

class baseline_server::worker {
 public:
  worker(const baseline_config& config, const baseline_close_handler& on_closed, unsigned index)
      : config_(config), on_closed_(on_closed), index_(index), encoder_(default_max_frame_size + 64),
        read_buffer_(read_buffer_size) {}

  std::uint16_t listen(const tcp::endpoint& where);
  void run() { io_.run(); }  // returns once shut down and every session is reclaimed
  void post_shutdown() { asio::post(io_, [this] { begin_shutdown(); }); }
  [[nodiscard]] baseline_counters counters() const noexcept {
    return {open_.load(std::memory_order_relaxed), bytes_in_.load(std::memory_order_relaxed),
            bytes_out_.load(std::memory_order_relaxed), beats_out_.load(std::memory_order_relaxed)};
  }

 private:
  class session;

  void accept();
  void adopt(tcp::socket socket);
  void scan_at(time_point at);
  void reclaim_later(session& s);
  void begin_shutdown();

  const baseline_config& config_;
  const baseline_close_handler& on_closed_;
  unsigned index_;
  asio::io_context io_{1};  // one thread runs it, as a lifeline shard
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  asio::steady_timer scan_timer_{io_};
  frame_encoder encoder_;                           // one per thread, reused for every frame
  std::vector<std::byte> read_buffer_;              // one per thread: idle sessions hold none
  std::vector<std::unique_ptr<session>> sessions_;  // dense for the scan; a session knows its index
  std::uint64_t sessions_made_ = 0;
  bool shutting_down_ = false;
  std::atomic<std::uint64_t> open_{0}, bytes_in_{0}, bytes_out_{0}, beats_out_{0};
};

// One connection. Lives until it is closed and none of its handlers is pending; then the
// worker frees it from a posted call, never inside the session's own call stack.
class baseline_server::worker::session {
 public:
  session(worker& owner, std::uint64_t id, tcp::socket socket, time_point now)
      : owner_(owner), id_(id), socket_(std::move(socket)), last_heard_(now), last_sent_(now) {
    if (owner.config_.strategy == baseline_strategy::asio_timer) {
      death_timer_.emplace(owner.io_);
      beat_timer_.emplace(owner.io_);
    }
  }

  void start() {
    wait_readable();
    if (death_timer_) {
      // From accept: a peer that never says hello is silent too.
      death_timer_->expires_after(owner_.config_.dead_after);
      wait_for_death();
    }
  }

  // full_scan: one visit of the periodic scan.
  void check(time_point now) {
    if (closed_) return;
    if (now - last_heard_ >= owner_.config_.dead_after) return close_with(close_reason::heartbeat_timeout, now);
    if (open_ && now - last_sent_ >= owner_.config_.server_heartbeat_interval) send_beat(now);
  }

  void close_with(close_reason why, time_point now) {
    if (closed_) return;
    closed_ = true;
    if (open_) owner_.on_closed_(owner_.index_, id_, why, now, last_heard_);
    std::error_code ignored;
    if (why == close_reason::shutdown && !write_waiting_) {
      // Tell the peer why, best effort, as lifeline does: one frame if the socket takes it now.
      const auto bytes = owner_.encoder_.encode(close_frame{.code = close_code::shutdown, .detail = "shutdown"}, ignored);
      if (!ignored) socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ignored);
    } else if (why != close_reason::peer_closed) {
      // Dead, reset or hostile: nobody to say goodbye to. Free the connection at once (RST)
      // instead of leaving it to FIN_WAIT against a peer that will never answer.
      const linger abort_on_close{1, 0};
      ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    socket_.close(ignored);  // pending waits complete with operation_aborted
    if (death_timer_) death_timer_->cancel();
    if (beat_timer_) beat_timer_->cancel();
    std::vector<std::byte>().swap(outbound_);
    handler_done();
  }

  std::size_t index = 0;  // in the worker's sessions_

 private:
  void wait_readable() {
    ++pending_;
    // Wait for readability rather than read into a buffer of our own, as lifeline: the
    // bytes land in the thread's one buffer when they arrive.
    socket_.async_wait(tcp::socket::wait_read, [this](std::error_code ec) {
      --pending_;
      if (!closed_) on_readable(ec);
      handler_done();
    });
  }

  void on_readable(std::error_code ec) {
    const auto now = clock::now();
    if (ec) return close_with(classify(ec), now);
    auto& buffer = owner_.read_buffer_;
    for (int reads = 0; reads < max_reads_per_wakeup; ++reads) {
      const std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block) break;
      if (ec) return close_with(classify(ec), now);
      add(owner_.bytes_in_, n);
      last_heard_ = now;  // any bytes, even part of a frame, prove the peer alive
      decoder_.feed(std::span<const std::byte>(buffer.data(), n));
      std::error_code frame_ec;
      bool whole_frame = false;
      while (auto f = decoder_.next(frame_ec)) {
        whole_frame = true;
        handle_frame(*f, now);
        if (closed_) return;
      }
      if (frame_ec) return close_with(close_reason::protocol_error, now);
      if (!whole_frame) heard();  // part of a frame: the deadline moves as last_heard did
      if (n < buffer.size()) break;  // drained what the kernel had
    }
    wait_readable();
  }

  void handle_frame(const frame& f, time_point now) {
    heard();
    std::visit(detail::overloaded{
                   [&](const hello_frame&) {
                     if (open_) return close_with(close_reason::protocol_error, now);
                     open_ = true;
                     send_frame(welcome_frame{.heartbeat_interval = owner_.config_.heartbeat_interval,
                                              .dead_after = owner_.config_.dead_after,
                                              .session_id = id_,
                                              .server_heartbeat_interval = owner_.config_.server_heartbeat_interval,
                                              .server_dead_after = owner_.config_.server_dead_after},
                                now);
                     if (beat_timer_ && !closed_) wait_for_beat();
                   },
                   [&](const data_frame& d) {
                     if (!open_) return close_with(close_reason::protocol_error, now);
                     send_frame(data_frame{.payload = d.payload}, now);  // the echo
                   },
                   [&](const beat_frame&) {
                     if (!open_) close_with(close_reason::protocol_error, now);
                   },
                   [&](const welcome_frame&) { close_with(close_reason::protocol_error, now); },
                   [&](const close_frame&) { close_with(close_reason::peer_closed, now); },
               },
               f);
  }

  // asio_timer: as in Asio's timeouts examples, every frame moves the deadline. That
  // cancels the pending wait; its handler sees the expiry still ahead and waits again.
  void heard() {
    if (death_timer_) death_timer_->expires_after(owner_.config_.dead_after);
  }

  void wait_for_death() {
    ++pending_;
    death_timer_->async_wait([this](std::error_code) {
      --pending_;
      if (!closed_) {
        // Woken by the expiry or by a cancel from expires_after(): only expiry() tells which.
        const auto now = clock::now();
        if (death_timer_->expiry() <= now) close_with(close_reason::heartbeat_timeout, now);
        else wait_for_death();
      }
      handler_done();
    });
  }

  void wait_for_beat() {
    ++pending_;
    beat_timer_->async_wait([this](std::error_code) {
      --pending_;
      if (!closed_) {
        const auto now = clock::now();
        if (beat_timer_->expiry() <= now) send_beat(now);  // which moves the expiry H ahead
        if (!closed_) wait_for_beat();
      }
      handler_done();
    });
  }

  void send_beat(time_point now) {
    // Only sent_at: the driver measures detection, not round-trip time (echo 0 means "none yet").
    send_frame(beat_frame{.sent_at = to_wire_timestamp(now), .echo_of_peer = {}, .held_for = {}}, now);
    add(owner_.beats_out_, 1);
  }

  void send_frame(const frame& f, time_point now) {
    std::error_code ec;
    auto bytes = owner_.encoder_.encode(f, ec);
    if (ec) return;  // only a payload above the maximum, which the decoder already refused
    add(owner_.bytes_out_, bytes.size());
    last_sent_ = now;
    if (beat_timer_) beat_timer_->expires_after(owner_.config_.server_heartbeat_interval);  // quiet-only beats
    if (!write_waiting_) {
      // Nothing queued: write straight from the encoder; copy only what the socket refuses.
      const std::size_t n = socket_.write_some(asio::buffer(bytes.data(), bytes.size()), ec);
      if (ec && ec != asio::error::would_block) return close_with(classify(ec), now);
      bytes = bytes.subspan(n);
      if (bytes.empty()) return;
    }
    if (outbound_.size() - outbound_sent_ + bytes.size() > write_queue_limit)
      return close_with(close_reason::write_stalled, now);
    if (outbound_sent_ > 0 && outbound_sent_ >= outbound_.size() / 2) {
      // A peer reading slower than we write never lets the queue drain: keep only the unsent.
      outbound_.erase(outbound_.begin(), outbound_.begin() + static_cast<std::ptrdiff_t>(outbound_sent_));
      outbound_sent_ = 0;
    }
    outbound_.insert(outbound_.end(), bytes.begin(), bytes.end());
    wait_writable();
  }

  void wait_writable() {
    if (write_waiting_) return;
    write_waiting_ = true;
    ++pending_;
    socket_.async_wait(tcp::socket::wait_write, [this](std::error_code ec) {
      --pending_;
      write_waiting_ = false;
      if (!closed_) {
        if (ec) close_with(classify(ec), clock::now());
        else flush();
      }
      handler_done();
    });
  }

  void flush() {
    while (outbound_sent_ < outbound_.size()) {
      std::error_code ec;
      const auto n = socket_.write_some(
          asio::buffer(outbound_.data() + outbound_sent_, outbound_.size() - outbound_sent_), ec);
      if (ec == asio::error::would_block) return wait_writable();
      if (ec) return close_with(classify(ec), clock::now());
      outbound_sent_ += n;
    }
    std::vector<std::byte>().swap(outbound_);  // drained: an idle session holds no write buffer
    outbound_sent_ = 0;
  }

  void handler_done() {
    if (closed_ && pending_ == 0 && !reclaim_posted_) {
      reclaim_posted_ = true;
      owner_.reclaim_later(*this);
    }
  }

  worker& owner_;
  std::uint64_t id_;
  tcp::socket socket_;
  frame_decoder decoder_;
  std::optional<asio::steady_timer> death_timer_, beat_timer_;  // asio_timer only
  std::vector<std::byte> outbound_;                             // queued while the socket is full
  std::size_t outbound_sent_ = 0;
  time_point last_heard_, last_sent_;
  int pending_ = 0;  // handlers Asio still holds for this session
  bool open_ = false, closed_ = false, write_waiting_ = false, reclaim_posted_ = false;
};

std::uint16_t baseline_server::worker::listen(const tcp::endpoint& where) {
  acceptor_.open(where.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  const int one = 1;
  ::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  acceptor_.bind(where);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  accept();
  if (config_.strategy == baseline_strategy::full_scan) scan_at(clock::now() + config_.scan_period);
  return acceptor_.local_endpoint().port();
}

void baseline_server::worker::accept() {
  acceptor_.async_accept([this](std::error_code ec, tcp::socket socket) {
    if (shutting_down_ || ec == asio::error::operation_aborted) return;
    if (!ec) {
      adopt(std::move(socket));
    } else if (ec != asio::error::connection_aborted) {
      // Out of descriptors or memory: back off instead of spinning on a failing accept.
      accept_retry_.expires_after(accept_retry_delay);
      accept_retry_.async_wait([this](std::error_code wait_ec) {
        if (!wait_ec && !shutting_down_) accept();
      });
      return;
    }
    accept();
  });
}

void baseline_server::worker::adopt(tcp::socket socket) {
  std::error_code ec;
  socket.non_blocking(true, ec);
  if (!ec) socket.set_option(tcp::no_delay(true), ec);  // as lifeline: a small frame leaves at once
  if (ec) return;                                        // the socket closes as it goes
  // Unique in the process: the thread's index above a count of its own, as lifeline's
  // session ids carry their shard.
  const std::uint64_t id = (std::uint64_t{index_} << 56) | ++sessions_made_;
  sessions_.push_back(std::make_unique<session>(*this, id, std::move(socket), clock::now()));
  sessions_.back()->index = sessions_.size() - 1;
  open_.store(sessions_.size(), std::memory_order_relaxed);
  sessions_.back()->start();
}

void baseline_server::worker::scan_at(time_point at) {
  scan_timer_.expires_at(at);
  scan_timer_.async_wait([this, at](std::error_code ec) {
    if (ec || shutting_down_) return;
    const auto now = clock::now();
    // Safe to close during the visit: a closed session leaves sessions_ later, from a post.
    for (const auto& s : sessions_) s->check(now);
    // A fixed rate, as a wheel ticks; after a stall, go on from now rather than catch up.
    const auto next = at + config_.scan_period;
    scan_at(next > now ? next : now + config_.scan_period);
  });
}

void baseline_server::worker::reclaim_later(session& s) {
  asio::post(io_, [this, &s] {
    // Swap with the last: O(1), and sessions_ stays dense for the scan.
    const std::size_t i = s.index;
    std::swap(sessions_[i], sessions_.back());
    sessions_[i]->index = i;
    sessions_.pop_back();
    open_.store(sessions_.size(), std::memory_order_relaxed);
  });
}

void baseline_server::worker::begin_shutdown() {
  shutting_down_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  scan_timer_.cancel();
  const auto now = clock::now();
  for (const auto& s : sessions_) s->close_with(close_reason::shutdown, now);
  // Nothing is left to wait for once the sessions are reclaimed: run() then returns.
}

baseline_server::baseline_server(baseline_config config, baseline_close_handler on_closed)
    : config_(std::move(config)), on_closed_(std::move(on_closed)) {
  for (unsigned i = 0; i < std::max(1u, config_.threads); ++i)
    workers_.push_back(std::make_unique<worker>(config_, on_closed_, i));
}

baseline_server::~baseline_server() { stop(); }

void baseline_server::start() {
  const tcp::endpoint where(asio::ip::make_address(config_.listen_address), config_.port);
  // The first thread picks the port (0: any free one); the others join it through
  // SO_REUSEPORT, so the kernel spreads connections over the threads as for lifeline.
  port_ = workers_.front()->listen(where);
  for (std::size_t i = 1; i < workers_.size(); ++i) workers_[i]->listen({where.address(), port_});
  for (auto& w : workers_) threads_.emplace_back([&w = *w] { w.run(); });
}

void baseline_server::stop() {
  for (auto& w : workers_) w->post_shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

baseline_counters baseline_server::counters() const noexcept {
  baseline_counters sum;
  for (const auto& w : workers_) {
    const auto c = w->counters();
    sum.sessions_open += c.sessions_open;
    sum.bytes_received += c.bytes_received;
    sum.bytes_sent += c.bytes_sent;
    sum.heartbeats_sent += c.heartbeats_sent;
  }
  return sum;
}

}  // namespace lifeline::bench
