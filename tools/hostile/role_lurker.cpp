// The lurker: sockets that connect and never say hello (never-hello). Each is re-opened as
// soon as it ends (the server closing it, its connect failing or timing out), so the
// process keeps --sessions descriptors busy at the server for as long as it runs; a
// connect that fails at once (no port, refused) waits 50 ms first, so a dead server is not
// met with a busy loop. Once a second: `STATUS connected=<now> pending=<connecting now>
// connects=<completed, total> closed=<ended by the server, total> failed=<total>`; `READY`
// once every socket has been started.
#include "worker_roles.hpp"

#include <map>

namespace lifeline::hostile {
namespace {

class lurker_role final : public worker_role {
 public:
  using worker_role::worker_role;

  void on_ended(raw_session& s, raw_state was, const std::string& how, time_point now) override {
    if (was == raw_state::open) {
      ++closed_;
      ++closed_by_[how];
      pool_->reopen(s, now);
    } else if (how.rfind("connect:", 0) == 0 || how.rfind("bind:", 0) == 0 || how.rfind("socket:", 0) == 0) {
      pool_->schedule(s, now + milliseconds{50});
    } else {
      pool_->reopen(s, now);  // a connect that timed out: try again at once
    }
  }

  void on_timer(raw_session& s, time_point now) override {
    if (s.state == raw_state::ended) pool_->reopen(s, now);
  }

  void on_second(time_point) override {
    if (!ready_ && pool_->connects_started() >= pool_->sessions().size()) {
      ready_ = true;
      pool_->emit("READY " + std::to_string(pool_->open_now()) + " 0");
    }
    std::uint64_t failed = 0;
    for (const auto& [how, count] : pool_->failures()) failed += count;
    pool_->emit("STATUS connected=" + std::to_string(pool_->open_now()) + " pending=" + std::to_string(pool_->in_flight()) +
                " connects=" + std::to_string(pool_->connects_done()) + " closed=" + std::to_string(closed_) +
                " failed=" + std::to_string(failed));
  }

  void finish() override {
    std::string text = "SUMMARY connects=" + std::to_string(pool_->connects_done()) + " closed=" + std::to_string(closed_);
    for (const auto& [how, count] : closed_by_) text += " closed:" + how + "=" + std::to_string(count);
    for (const auto& [how, count] : pool_->failures()) text += " failed:" + how + "=" + std::to_string(count);
    pool_->emit(text);
  }

 private:
  bool ready_ = false;
  std::uint64_t closed_ = 0;
  std::map<std::string, std::uint64_t> closed_by_;
};

}  // namespace

std::unique_ptr<worker_role> make_lurker_role(const worker_options& options) {
  return std::make_unique<lurker_role>(options);
}

}  // namespace lifeline::hostile
