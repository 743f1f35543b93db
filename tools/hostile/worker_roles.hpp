// tools/hostile/worker_roles.hpp — the roles a worker's raw_pool can play (worker.hpp lists
// them); one file each.
#pragma once

#include "raw_sessions.hpp"
#include "worker.hpp"

#include <memory>

namespace lifeline::hostile {

class worker_role : public raw_role {
 public:
  explicit worker_role(const worker_options& options) : options_(options) {}
  void attach(raw_pool& pool) noexcept { pool_ = &pool; }

 protected:
  /// READY <open> <failed> [how=count ...] once every session has settled.
  void announce_ready() const;
  const worker_options& options_;
  raw_pool* pool_ = nullptr;
};

std::unique_ptr<worker_role> make_holder_role(const worker_options& options);
std::unique_ptr<worker_role> make_echo_role(const worker_options& options);
std::unique_ptr<worker_role> make_flooder_role(const worker_options& options);
std::unique_ptr<worker_role> make_lurker_role(const worker_options& options);
std::unique_ptr<worker_role> make_drencher_role(const worker_options& options);

}  // namespace lifeline::hostile
