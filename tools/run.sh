#!/usr/bin/env bash
# The README's two commands. Each installs what is missing (Debian packages), builds, and runs.
#   ./tools/run.sh bench [flags]   the main job: the half-open detection benchmark and its report
#   ./tools/run.sh test            every test: unit, package, fault and fuzz suites
#   ./tools/run.sh micro [flags]   the micro-benchmarks (deadline structures, codec)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  sed -n '2,5p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "Flags after 'bench' or 'micro' go to the benchmark (try: ./tools/run.sh bench --help)."
}

jobs=$(nproc)
case "${1:-}" in
  bench)
    shift
    bash tools/install-deps.sh
    cmake --preset release >/dev/null
    cmake --build --preset release --parallel "$jobs" --target lifeline_detection_bench
    exec ./build/release/bench/lifeline_detection_bench --out build/release/detection-results "$@"
    ;;
  micro)
    shift
    bash tools/install-deps.sh
    cmake --preset release >/dev/null
    cmake --build --preset release --parallel "$jobs" --target lifeline_micro_bench
    exec ./build/release/bench/lifeline_micro_bench "$@"
    ;;
  test)
    bash tools/install-deps.sh
    # clang with libFuzzer: a bounded (60 s) fuzzing run of the frame decoder.
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz --parallel "$jobs"
    ctest --preset fuzz
    # ThreadSanitizer: game threads calling into a 4-shard server concurrently.
    cmake --preset tsan >/dev/null
    cmake --build --preset tsan --parallel "$jobs"
    ctest --preset tsan
    # Debug with AddressSanitizer and UndefinedBehaviorSanitizer: unit, package and bench
    # smoke tests. Last, so its summary is the run's closing line.
    cmake --preset dev >/dev/null
    cmake --build --preset dev --parallel "$jobs"
    ctest --preset dev --parallel "$jobs"
    ;;
  -h|--help|help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
