// How many file descriptors this process has open, from /proc/self/fd, for tests that
// prove sessions leave none behind. (The directory's own descriptor, open while it is
// listed, is counted every time, so counts compare exactly.)
//
// Pipes are not counted. lifeline never makes one, but the sanitizer runtime does: a
// thread that starts (and sometimes one that unwinds) opens and closes a pipe to probe
// whether memory is readable, so a count taken while a shard thread starts could include
// two descriptors that are gone a moment later (seen in CI: 18 "running", 16 after).
// A descriptor listed but closed before its link is read is not counted either.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace lifeline::test {

inline std::size_t open_fd_count() {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code closed_meanwhile;
    const auto target = std::filesystem::read_symlink(entry.path(), closed_meanwhile).string();
    if (closed_meanwhile || std::string_view(target).starts_with("pipe:")) continue;
    ++n;
  }
  return n;
}

}  // namespace lifeline::test
