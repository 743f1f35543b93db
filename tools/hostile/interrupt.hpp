// tools/hostile/interrupt.hpp — Ctrl-C and SIGTERM as a flag every waiting loop checks.
//
// The tool never dies in the middle of a measurement with children left behind: the
// handler only sets a flag; each wait in the tool is sliced (at most 100 ms at a time)
// and returns early once the flag is up, so the subcommand unwinds through its
// destructors, which stop and reap every child process (child_process.hpp). The children
// are in the same process group and get the same Ctrl-C: the echo server stops itself,
// a worker closes its sockets.
//
//   install_interrupt_handlers();
//   while (!interrupted()) { ... sleep_unless_interrupted(100ms); }
#pragma once

#include <chrono>

namespace lifeline::hostile {

/// SIGINT and SIGTERM set the flag (no SA_RESTART: blocking calls return EINTR); SIGPIPE
/// is ignored. Main thread, once, before any other thread starts.
void install_interrupt_handlers();

/// True once SIGINT or SIGTERM arrived. Any thread.
[[nodiscard]] bool interrupted() noexcept;

/// Sleeps `how_long`, in slices of at most 100 ms; false if interrupted meanwhile. Any thread.
bool sleep_unless_interrupted(std::chrono::milliseconds how_long);

}  // namespace lifeline::hostile
