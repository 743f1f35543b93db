#include "worker.hpp"

#include "echo_server_process.hpp"
#include "worker_roles.hpp"

#include <arpa/inet.h>
#include <sys/resource.h>

#include <cstdio>
#include <sstream>

namespace lifeline::hostile {

std::vector<std::string> worker_options::command_line() const {
  return {own_directory() + "/lifeline_hostile", "worker",
          "--role", role,
          "--port", std::to_string(port),
          "--sources", sources,
          "--sessions", std::to_string(sessions),
          "--heartbeat-ms", std::to_string(heartbeat_ms),
          "--dead-after-ms", std::to_string(dead_after_ms),
          "--connect-rate", std::to_string(connect_rate),
          "--in-flight", std::to_string(in_flight),
          "--open-timeout-ms", std::to_string(open_timeout_ms),
          "--frame-bytes", std::to_string(frame_bytes),
          "--send-bytes", std::to_string(send_bytes),
          "--echo-interval-ms", std::to_string(echo_interval_ms),
          "--samples", samples,
          "--flood", flood,
          "--payload-bytes", std::to_string(payload_bytes),
          "--receive-buffer", std::to_string(receive_buffer),
          "--nice", std::to_string(nice)};
}

CLI::App* add_worker_command(CLI::App& app, worker_options& o) {
  auto* w = app.add_subcommand("worker", "internal: one attacking process, driven over stdin/stdout");
  w->group("");  // hidden from --help
  w->add_option("--role", o.role)->required()->check(CLI::IsMember({"holder", "echo", "flooder", "lurker", "drencher"}));
  w->add_option("--port", o.port)->required();
  w->add_option("--sources", o.sources);
  w->add_option("--sessions", o.sessions)->required();
  w->add_option("--heartbeat-ms", o.heartbeat_ms)->check(CLI::PositiveNumber);
  w->add_option("--dead-after-ms", o.dead_after_ms)->check(CLI::PositiveNumber);
  w->add_option("--connect-rate", o.connect_rate)->check(CLI::NonNegativeNumber);
  w->add_option("--in-flight", o.in_flight)->check(CLI::PositiveNumber);
  w->add_option("--open-timeout-ms", o.open_timeout_ms)->check(CLI::PositiveNumber);
  w->add_option("--frame-bytes", o.frame_bytes);
  w->add_option("--send-bytes", o.send_bytes);
  w->add_option("--echo-interval-ms", o.echo_interval_ms)->check(CLI::PositiveNumber);
  w->add_option("--samples", o.samples);
  w->add_option("--flood", o.flood)->check(CLI::IsMember({"beats", "echo"}));
  w->add_option("--payload-bytes", o.payload_bytes);
  w->add_option("--receive-buffer", o.receive_buffer);
  w->add_option("--nice", o.nice)->check(CLI::Range(0, 19));
  return w;
}

int run_worker(const worker_options& o) {
  if (o.nice != 0) ::setpriority(PRIO_PROCESS, 0, ::getpriority(PRIO_PROCESS, 0) + o.nice);
  raw_pool_settings settings;
  settings.server.sin_family = AF_INET;
  settings.server.sin_port = htons(o.port);
  ::inet_pton(AF_INET, "127.0.0.1", &settings.server.sin_addr);
  std::istringstream list(o.sources);
  for (std::string address; std::getline(list, address, ',');) {
    sockaddr_in source{};
    source.sin_family = AF_INET;
    if (::inet_pton(AF_INET, address.c_str(), &source.sin_addr) != 1) {
      std::fprintf(stderr, "lifeline_hostile worker: --sources: not an IPv4 address: %s\n", address.c_str());
      return 2;
    }
    settings.sources.push_back(source);
  }
  settings.sessions = o.sessions;
  settings.heartbeat = milliseconds{o.heartbeat_ms};
  settings.dead_after = milliseconds{o.dead_after_ms};
  settings.connect_rate = o.connect_rate;
  settings.connects_in_flight = o.in_flight;
  settings.open_timeout = milliseconds{o.open_timeout_ms};
  settings.receive_buffer = o.receive_buffer;
  settings.handshake = o.role != "lurker";
  settings.beat = o.role != "lurker";

  std::unique_ptr<worker_role> role;
  if (o.role == "holder") role = make_holder_role(o);
  else if (o.role == "echo") role = make_echo_role(o);
  else if (o.role == "flooder") role = make_flooder_role(o);
  else if (o.role == "lurker") role = make_lurker_role(o);
  else role = make_drencher_role(o);
  raw_pool pool(settings, *role);
  role->attach(pool);
  return pool.run();
}

}  // namespace lifeline::hostile
