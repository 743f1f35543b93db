// How many file descriptors this process has open, from /proc/self/fd, for tests that
// prove sessions leave none behind. (The directory's own descriptor, open while it is
// listed, is counted every time, so counts compare exactly.)
#pragma once

#include <cstddef>
#include <filesystem>

namespace lifeline::test {

inline std::size_t open_fd_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace lifeline::test
