// FUZZ_TRACE: what a fuzz target did, step by step, printed only when the environment has
// LIFELINE_FUZZ_TRACE=1. For triage: rerun a saved crash input with it to read the script
// as played and every handler call, e.g.
//   LIFELINE_FUZZ_TRACE=1 build/fuzz/tests/fuzz/session_script_fuzzer crash-<hash>
#pragma once

#include <chrono>
#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace lifeline::fuzz {

inline bool tracing() noexcept {
  static const bool on = [] {
    const char* v = std::getenv("LIFELINE_FUZZ_TRACE");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  return on;
}

/// One whole line per call, stamped with the time since the first, so the fuzzer's thread and the shard's do not interleave.
[[gnu::format(printf, 1, 2)]] inline void trace_line(const char* format, ...) {
  static const auto started = std::chrono::steady_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started);
  char line[512];
  const int prefix = std::snprintf(line, sizeof line, "trace %8.3f ms: ", static_cast<double>(us.count()) / 1000.0);
  va_list args;
  va_start(args, format);
  std::vsnprintf(line + prefix, sizeof line - static_cast<std::size_t>(prefix) - 1, format, args);
  va_end(args);
  std::strcat(line, "\n");
  std::fputs(line, stderr);
}

}  // namespace lifeline::fuzz

#define FUZZ_TRACE(...)                                                 \
  do {                                                                  \
    if (::lifeline::fuzz::tracing()) ::lifeline::fuzz::trace_line(__VA_ARGS__); \
  } while (false)
