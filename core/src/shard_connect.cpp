// A connector's connect() calls on their shard (see connect_chain.hpp): each attempt a
// session, what follows its end (a new attempt after the backoff, or the chain's end), the
// attempt limit, cancel(), and the counts connector::stats() reports.
#include "engine.hpp"
#include "shard.hpp"

#include <lifeline/close_code.hpp>

#include <algorithm>
#include <random>

namespace lifeline::detail {

void connect_chain::on_retry_due(time_point) { owner.start_attempt(*this); }

void shard::begin_connect(connect_ticket ticket, connect_target target, void* context) {
  if (shutting_down_) return engine_.retire_ticket(ticket);  // stop() came first: nothing is attempted
  auto chain = std::make_unique<connect_chain>(*this, ticket, std::move(target), context);
  auto& first = *chain;
  chains_.emplace(ticket.value, std::move(chain));
  start_attempt(first);  // may end the chain before it returns
}

// One attempt: a new session that looks the name up (if it is one), dials, says hello.
void shard::start_attempt(connect_chain& chain) {
  const auto id = slots_.acquire();
  // No slot: this worker's share of max_sessions is taken (admission usually fails first,
  // below). Without a session there is no id to tell the game of: the chain ends unheard.
  if (!id) return end_chain(chain.ticket);
  ++connects_.attempts;
  auto& s = adopt(*id, asio::ip::tcp::socket(io_), session_role::client, chain.context);
  if (!engine_.try_admit()) {
    // The connector is full: the attempt is refused here, reported as any failed attempt
    // so the game hears of it, and not tried again (only a close would make room).
    engine_.try_admit_anyway();
    ++connects_.failures;
    const auto ticket = chain.ticket;
    s.close_with({close_reason::server_full, {}}, now());  // no client side: end_attempt() leaves the chain
    return end_chain(ticket);
  }
  s.client = std::make_unique<session::client_side>(session::client_side{.target = chain.target, .chain = chain.ticket});
  chain.attempt = *id;
  s.start_client(now());  // may end the attempt, and the chain, before it returns
}

// The reconnect policy's capped exponential backoff, with jitter, after `attempt` failed
// attempts in a row (new sessions, and a lingering connector's attempts to resume).
std::chrono::milliseconds shard::reconnect_delay(unsigned attempt) const {
  const auto& policy = engine_.reconnect();
  auto delay = policy.initial_delay;
  for (unsigned i = 0; i < attempt && delay < policy.max_delay; ++i) delay *= 2;
  delay = std::min(delay, policy.max_delay);
  thread_local std::minstd_rand random{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(1.0 - policy.jitter, 1.0 + policy.jitter);
  return std::chrono::duration_cast<std::chrono::milliseconds>(delay * jitter(random));
}

reconnect_plan shard::end_attempt(const session& s) {
  if (!s.client) return reconnect_plan::none;  // refused here, or the attempt cancel() ended before it began
  const auto found = chains_.find(s.client->chain.value);
  if (found == chains_.end() || found->second->attempt != s.id()) return reconnect_plan::none;  // stop() ended it
  auto& chain = *found->second;
  chain.attempt = {};
  const auto& why = s.why_closed();
  const auto r = why.reason;
  const bool games_doing = r == close_reason::closed_locally || r == close_reason::handler_error;
  if (!s.was_opened() && !games_doing && r != close_reason::shutdown) {
    ++connects_.failures;
    if (r == close_reason::name_not_resolved) ++connects_.resolution_failures;
  }
  chain.failures = s.was_opened() ? 0 : chain.failures + 1;
  const auto& policy = engine_.reconnect();
  const bool kicked = why.detail == close_code::application && !policy.after_application_close;
  if (chain.cancelled) ++connects_.cancelled;
  if (!policy.enabled || shutting_down_ || chain.cancelled || games_doing || r == close_reason::shutdown || kicked) {
    end_chain(chain.ticket);
    return reconnect_plan::none;
  }
  if (policy.max_attempts != 0 && chain.failures >= policy.max_attempts) {
    ++connects_.given_up;
    end_chain(chain.ticket);
    return reconnect_plan::given_up;
  }
  chain.context = s.user_context;  // as the game left it
  schedule(chain.retry, now() + reconnect_delay(chain.failures));
  ++connects_.reconnects_scheduled;
  return reconnect_plan::scheduled;
}

void shard::end_chain(connect_ticket ticket) {
  engine_.retire_ticket(ticket);
  chains_.erase(ticket.value);  // its wait, if scheduled, leaves the wheel with it
}

void shard::cancel_connect(connect_ticket ticket) {
  const auto found = chains_.find(ticket.value);
  if (found == chains_.end()) return;  // over already (it ended as cancel() was called)
  auto& chain = *found->second;
  chain.cancelled = true;
  if (chain.attempt) {
    if (auto* s = wake(chain.attempt)) return s->close_with({close_reason::closed_locally, {}}, now());
  }
  // Waiting to try again: the attempt that was due ends before it begins, so that the
  // game hears the end of its connect() as it would have from the attempt itself.
  cancel(chain.retry);
  ++connects_.cancelled;
  const auto context = chain.context;
  end_chain(ticket);
  if (const auto id = slots_.acquire()) {
    auto& s = adopt(*id, asio::ip::tcp::socket(io_), session_role::client, context);
    engine_.try_admit_anyway();  // balanced by its retire()
    s.close_with({close_reason::closed_locally, {}}, now());
  }
}

}  // namespace lifeline::detail
