// tools/loadgen/report.cpp — the end: every socket reset, the report written (load_generator.hpp).
#include "load_generator.hpp"

namespace lifeline::loadgen {

// Abortive closes (RST): a normal close from our side would leave every session's
// ephemeral port in TIME_WAIT for 60 s, and back-to-back runs would then pay for a port
// search through tens of thousands of them on every connect.
// The stream, per the header, counted at STOP before the sockets go: a session that
// ended before (not resumed, or lost) takes its messages with it.
void load_generator::tally_stream() {
  for (const auto& s : sessions_) {
    if (s->stream_sent == 0) continue;
    if (s->state == session_state::ended) {
      stream_.ended += s->stream_sent;
      continue;
    }
    stream_.sent += s->stream_sent;
    const std::uint64_t highest_back = s->stream_next - 1;
    stream_.echoed += highest_back - s->stream_missing;
    stream_.missing += s->stream_missing + (s->stream_sent - highest_back);
    stream_.duplicated += s->stream_duplicated;
  }
}

void load_generator::close_all() {
  stopping_ = true;
  const linger abort_on_close{.l_onoff = 1, .l_linger = 0};
  for (auto& s : sessions_) {
    if (s->fd < 0) continue;
    ::setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    close_socket(*s);
  }
}

bool load_generator::write_report() const {
  if (options_.report_path.empty()) return true;
  std::FILE* out = std::fopen(options_.report_path.c_str(), "w");
  if (out == nullptr) {
    std::fprintf(stderr, "lifeline_loadgen: error: cannot write %s: %s\n", options_.report_path.c_str(), std::strerror(errno));
    return false;
  }
  const auto source_text = [](const session& s) {
    std::array<char, INET_ADDRSTRLEN> address{};
    ::inet_ntop(AF_INET, &s.source.sin_addr, address.data(), address.size());
    return std::string(address.data()) + ":" + std::to_string(ntohs(s.source.sin_port));
  };
  for (const auto& s : sessions_) {
    if (s->killed_at)
      std::fprintf(out, "kill %016llx %lld %u %s\n", static_cast<unsigned long long>(s->server_id),
                   static_cast<long long>(monotonic_ns(*s->killed_at)), static_cast<unsigned>(s->killed_by),
                   source_text(*s).c_str());
  }
  for (const auto& lost : lost_)
    std::fprintf(out, "lost %016llx %lld %s %s\n", static_cast<unsigned long long>(sessions_[lost.index]->server_id),
                 static_cast<long long>(lost.ns), lost.how.c_str(), source_text(*sessions_[lost.index]).c_str());
  for (const auto& r : resumed_)
    std::fprintf(out, "resumed %016llx %lld %lld %d %s %lld\n", static_cast<unsigned long long>(sessions_[r.index]->server_id),
                 static_cast<long long>(r.dialled_ns), static_cast<long long>(r.welcomed_ns), r.state_lost ? 1 : 0,
                 source_text(*sessions_[r.index]).c_str(), static_cast<long long>(r.hello_ns));
  for (const auto& u : unresumed_)
    std::fprintf(out, "unresumed %016llx %lld %s %s\n", static_cast<unsigned long long>(sessions_[u.index]->server_id),
                 static_cast<long long>(u.ns), u.why.c_str(), source_text(*sessions_[u.index]).c_str());
  for (const auto& echo : echoes_)
    std::fprintf(out, "echo %lld %lld\n", static_cast<long long>(echo.sent_ns), static_cast<long long>(echo.round_trip_ns));
  std::fprintf(out,
               "summary sessions=%zu doomed=%zu live_lost=%zu connect_failed=%zu stream_sent=%llu stream_echoed=%llu "
               "stream_missing=%llu stream_duplicated=%llu stream_ended=%llu\n",
               sessions_.size(), options_.doomed, lost_.size(), failed_, static_cast<unsigned long long>(stream_.sent),
               static_cast<unsigned long long>(stream_.echoed), static_cast<unsigned long long>(stream_.missing),
               static_cast<unsigned long long>(stream_.duplicated), static_cast<unsigned long long>(stream_.ended));
  const bool ok = std::ferror(out) == 0;
  if (std::fclose(out) != 0 || !ok) {
    std::fprintf(stderr, "lifeline_loadgen: error: writing %s failed\n", options_.report_path.c_str());
    return false;
  }
  return true;
}

void load_generator::print_line(const std::string& line) const {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}


}  // namespace lifeline::loadgen
