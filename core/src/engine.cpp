#include "engine.hpp"

#include "socket_options.hpp"

#include <asio/post.hpp>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <string>
#include <stdexcept>
#include <system_error>

namespace lifeline::detail {

engine::engine(session_role role, unsigned threads, std::size_t max_sessions, liveness_config liveness,
               reconnect_config reconnect, std::chrono::milliseconds connect_timeout, session_handlers handlers,
               admission_limits admission, bool polled)
    : max_sessions_(max_sessions),
      addresses_(admission.max_sessions_per_address, admission.max_handshakes_per_address),
      liveness_(liveness),
      backstop_(derive_kernel_backstop(liveness)),
      reconnect_(reconnect),
      connect_timeout_(connect_timeout),
      handlers_(std::move(handlers)),
      resume_keys_(liveness_.resume.keys),
      polled_(polled) {
  // Session ids hold 8 bits of shard index: at most 256 shards.
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 1u, 256u);
  // The kernel spreads connections over the shards evenly on average; twice the even
  // share (and at least 1,024) leaves room for its unevenness without every shard
  // reserving slots for all max_sessions.
  const std::size_t per_shard = std::min(max_sessions, 2 * (max_sessions / threads) + 1024);
  shard_count_ = threads;
  // What the server can hold at once: max_sessions, or what its descriptors allow.
  std::size_t capacity = max_sessions;
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY && files.rlim_cur > 128)
    capacity = std::min<std::size_t>(capacity, static_cast<std::size_t>(files.rlim_cur) - 64);
  // At least 64 a thread (within capacity): a small server still lets a burst of players in.
  const auto share = static_cast<std::size_t>(admission.handshaking_share * static_cast<double>(capacity)) / threads;
  handshakes_per_shard_ = std::max<std::size_t>({1, share, std::min<std::size_t>(64, capacity / threads)});
  // The memory budget is split between the threads; each share must hold one session's
  // frame and queue, or a single slow reader would be over it.
  const auto one_session = liveness_.max_frame_size + liveness_.write_queue_limit;
  if (liveness_.buffer_budget / threads < one_session)
    throw std::invalid_argument("liveness.buffer_budget: split between " + std::to_string(threads) +
                                " worker threads, each share must hold max_frame_size + write_queue_limit (" +
                                std::to_string(one_session) + " bytes), got " + std::to_string(liveness_.buffer_budget));
  for (unsigned i = 0; i < threads; ++i) shards_.push_back(std::make_unique<shard>(*this, i, role, per_shard));
  if (polled_) poller_ = std::make_unique<event_poller>(*this);
}

std::size_t engine::poll(event_poller::handler_call call, void* handler, std::size_t max_events) {
  if (!poller_) throw std::logic_error("poll: this server or connector calls handlers; make it with polled_events to poll");
  return poller_->poll(call, handler, max_events);
}

engine::~engine() {
  stop(std::chrono::milliseconds{0});
}

namespace {

// A listener already on the port, found with a plain socket (no SO_REUSEPORT) bound to it:
// the kernel refuses the bind while any socket listens there. Closed again before the
// shards bind (they could not join it), so a listener that comes in between is missed;
// this is a check for the mistake of starting a server twice, not a lock.
void refuse_a_port_in_use(const asio::ip::tcp::endpoint& where) {
  if (where.port() == 0) return;  // any free port: free by definition
  const int fd = ::socket(where.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "listen: socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a TIME_WAIT left behind is no listener
  const int bound = ::bind(fd, where.data(), static_cast<socklen_t>(where.size()));
  const int error = errno;
  ::close(fd);
  if (bound != 0)
    throw std::system_error(error, std::system_category(),
                            "listen on " + where.address().to_string() + ":" + std::to_string(where.port()) +
                                (error == EADDRINUSE ? " (another socket listens there; server_config::share_port "
                                                       "shares a port on purpose)"
                                                     : ""));
}

}  // namespace

void engine::start(const std::string* listen_address, std::uint16_t port, bool share_port) {
  std::lock_guard lock(lifecycle_);
  if (stopped_) throw std::logic_error("start: stopped, and a stopped server or connector cannot be restarted; make a new one");
  if (started_) throw std::logic_error("start: already started");
  if (listen_address != nullptr) {
    const asio::ip::tcp::endpoint where(asio::ip::make_address(*listen_address), port);
    if (!share_port) refuse_a_port_in_use(where);
    // The first shard picks the port (port 0: any free one); the others join it through
    // SO_REUSEPORT, so the kernel spreads incoming connections across the shards.
    port_ = shards_.front()->listen(where);
    for (std::size_t i = 1; i < shards_.size(); ++i) shards_[i]->listen({where.address(), port_});
  }
  started_ = true;
  running_ = true;
  live_threads_ = static_cast<unsigned>(shards_.size());
  for (auto& s : shards_)
    threads_.emplace_back([this, &shard = *s] {
      shard.run();
      live_threads_.fetch_sub(1, std::memory_order_release);
    });
}

void engine::stop(std::chrono::milliseconds flush_deadline) {
  running_ = false;
  stopped_ = true;
  bool on_a_shard_thread = false;
  for (auto& s : shards_) {
    s->drop_waiting_sends();  // stop() must not wait behind them (its flush deadline)
    on_a_shard_thread = on_a_shard_thread || s->runs_on_this_thread();
    asio::post(s->io(), [&shard = *s, flush_deadline] { shard.begin_shutdown(flush_deadline); });
  }
  if (on_a_shard_thread) return;  // a handler asked: the shutdown is under way; ~engine joins
  std::lock_guard lock(lifecycle_);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  if (!started_) {
    // Never started: run the shutdown here so sockets close and nothing is left queued.
    for (auto& s : shards_) {
      s->io().restart();
      s->io().run();
    }
  }
}

bool engine::try_admit() noexcept {
  auto open = open_sessions_.load(std::memory_order_relaxed);
  do {
    if (open >= max_sessions_) return false;
  } while (!open_sessions_.compare_exchange_weak(open, open + 1, std::memory_order_relaxed));
  return true;
}

void engine::try_admit_anyway() noexcept { open_sessions_.fetch_add(1, std::memory_order_relaxed); }

shard* engine::shard_of(session_id id) const noexcept {
  return id.shard() < shards_.size() ? shards_[id.shard()].get() : nullptr;
}

std::error_code engine::send(session_id id, std::span<const std::byte> message) {
  if (!running_) return session_error::not_running;
  if (message.size() > max_data_payload(liveness_.max_frame_size)) return session_error::message_too_large;
  auto* s = shard_of(id);
  if (s == nullptr || !s->is_live(id)) return session_error::unknown_session;
  if (s->runs_on_this_thread()) {
    // Queued at once. If that overflows the write queue the session closes right here
    // (its on_closed runs before send returns), which the caller hears as queue_full.
    auto* target = s->find(id);
    if (target == nullptr) return s->keep_for_lingering(id, message) ? std::error_code{} : session_error::unknown_session;
    if (!target->send_message(message, s->now())) return session_error::unknown_session;
    return target->is_open() ? std::error_code{} : make_error_code(session_error::queue_full);
  }
  // Bound what is on its way to one session, from game threads and in its write queue, as
  // the queue itself is bounded: a peer that stops reading must cost an error here, not
  // unbounded memory.
  // Counted as the frame it becomes. Game threads alone keep a session's queue within its
  // limit this way; a handler's sends on the session's own shard come on top (each is
  // checked against the queue it finds), so together they may reach about twice it.
  const auto frame_bytes = message.size() + max_data_frame_overhead;
  if (s->would_pass_budget(frame_bytes)) return session_error::queue_full;  // buffer_budget
  auto& pending = s->bytes_pending(id.slot());
  if (pending.fetch_add(frame_bytes, std::memory_order_relaxed) + frame_bytes > liveness_.write_queue_limit) {
    pending.fetch_sub(frame_bytes, std::memory_order_relaxed);
    return session_error::queue_full;
  }
  s->send_from_another_thread(id, message);
  return {};
}

// One shared copy of the message; per shard, its sessions' ids in one inbox item (or, on
// that shard's own thread, queued at once, as send() does there).
broadcast_result engine::broadcast(std::span<const session_id> to, std::span<const std::byte> message) {
  broadcast_result out;
  if (!running_) {
    out.error = session_error::not_running;
    return out;
  }
  if (message.size() > max_data_payload(liveness_.max_frame_size)) {
    out.error = session_error::message_too_large;
    return out;
  }
  thread_local std::vector<std::vector<session_id>> by_shard;  // kept: no allocation per broadcast
  by_shard.resize(std::max(by_shard.size(), shards_.size()));
  for (auto& ids : by_shard) ids.clear();
  const auto frame_bytes = message.size() + max_data_frame_overhead;
  for (const auto id : to) {
    auto* s = shard_of(id);
    if (s == nullptr || !s->is_live(id)) {
      ++out.unknown;
      continue;
    }
    if (s->would_pass_budget(frame_bytes)) {  // buffer_budget
      ++out.queue_full;
      continue;
    }
    auto& pending = s->bytes_pending(id.slot());
    if (pending.fetch_add(frame_bytes, std::memory_order_relaxed) + frame_bytes > liveness_.write_queue_limit) {
      pending.fetch_sub(frame_bytes, std::memory_order_relaxed);
      ++out.queue_full;
      continue;
    }
    by_shard[id.shard()].push_back(id);
    ++out.queued;
  }
  std::shared_ptr<const std::byte[]> shared;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    const auto& ids = by_shard[i];
    if (ids.empty()) continue;
    auto& s = *shards_[i];
    if (s.runs_on_this_thread()) {
      s.deliver_to_members(ids, message, s.now());
      continue;
    }
    if (!shared) {
      auto copy = std::make_shared<std::byte[]>(message.size());
      std::copy(message.begin(), message.end(), copy.get());
      shared = std::move(copy);
    }
    s.send_group_from_another_thread(ids, shared, message.size());
  }
  return out;
}

std::error_code engine::close(session_id id, std::uint16_t app_code, std::string_view app_reason) {
  if (!running_) return session_error::not_running;
  auto* s = shard_of(id);
  if (s == nullptr || !s->is_live(id)) return session_error::unknown_session;
  // The reason travels in the close frame: bounded, so a frame always holds it.
  const auto reason = app_reason.substr(0, max_app_reason_bytes);
  if (s->runs_on_this_thread()) {
    close_info why{close_reason::closed_locally, {}};
    why.app_code = app_code;
    why.app_reason = reason;
    if (auto* target = s->wake(id)) target->close_with(why, s->now());
  } else {
    // Through the inbox, behind this thread's sends: "send a farewell, then close" must
    // deliver the farewell (a post of its own could overtake a drain under way).
    s->close_from_another_thread(id, app_code, reason);
  }
  return {};
}

// The ticket is made here, on the caller's thread, so connect() returns at once; the chain
// itself is the shard's (connect_chain.hpp).
connect_ticket engine::connect(connect_target target, void* context) {
  if (stopped_) return {};
  const auto index = next_connect_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size();
  auto& s = *shards_[index];
  const auto ticket = tickets_.issue(static_cast<unsigned>(index));
  asio::post(s.io(), [&s, ticket, target = std::move(target), context]() mutable {
    s.begin_connect(ticket, std::move(target), context);
  });
  return ticket;
}

// Always posted, even on the chain's own thread: its begin_connect() may still be queued.
std::error_code engine::cancel(connect_ticket ticket) {
  if (!running_) return session_error::not_running;
  const auto index = connect_tickets::shard_of(ticket);
  if (!ticket || index >= shards_.size() || !tickets_.is_live(ticket)) return session_error::unknown_session;
  auto& s = *shards_[index];
  asio::post(s.io(), [&s, ticket] { s.cancel_connect(ticket); });
  return {};
}

bool engine::gather(std::vector<shard_counts>& per_shard) const {
  bool complete = true;
  const bool threads_finished = live_threads_.load(std::memory_order_acquire) == 0;
  bool on_a_shard_thread = false;
  for (const auto& s : shards_) on_a_shard_thread = on_a_shard_thread || s->runs_on_this_thread();
  const auto copy_of = [](const shard& s) {
    shard_counts counts{s.stats(), s.connect_counts()};
    // Poll mode: what waits for the game, read from any thread.
    if (const auto* events = s.events()) counts.sessions.event_backlog_bytes = events->bytes_held();
    return counts;
  };
  for (const auto& s : shards_) {
    auto& copy = per_shard.emplace_back();
    if (threads_finished || s->runs_on_this_thread()) {
      copy = copy_of(*s);
    } else if (on_a_shard_thread) {
      complete = false;  // a handler must not wait on another shard (it may be waiting on us)
    } else {
      auto answer = std::make_shared<std::promise<shard_counts>>();
      auto future = answer->get_future();
      asio::post(s->io(), [answer, &shard = *s, copy_of] { answer->set_value(copy_of(shard)); });
      if (future.wait_for(std::chrono::seconds{5}) == std::future_status::ready) copy = future.get();
      else complete = false;  // stopping: its loop no longer runs
    }
  }
  return complete;
}

server_stats engine::stats() const {
  std::vector<shard_counts> per_shard;
  server_stats out;
  out.complete = gather(per_shard);
  for (const auto& copy : per_shard) {
    out.sessions_per_shard.push_back(copy.sessions.sessions_open);
    out.total += copy.sessions;
  }
  return out;
}

connector_stats engine::client_stats() const {
  std::vector<shard_counts> per_shard;
  connector_stats out;
  out.complete = gather(per_shard);
  for (const auto& copy : per_shard) {
    out.sessions_per_shard.push_back(copy.sessions.sessions_open);
    out.total += copy.sessions;
    out.connects += copy.connects;
  }
  return out;
}

}  // namespace lifeline::detail
