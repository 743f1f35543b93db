// FUZZ_CHECK: the fuzz targets' assertion. A property that does not hold prints where and
// what, then traps, so that libFuzzer stops and saves the input as a crash artifact. Not
// assert(): the fuzz preset builds RelWithDebInfo, whose NDEBUG would compile it away.
#pragma once

#include <cstdio>

#define FUZZ_CHECK(cond)                                                                         \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);        \
      __builtin_trap();                                                                          \
    }                                                                                            \
  } while (false)
