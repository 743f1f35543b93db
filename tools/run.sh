#!/usr/bin/env bash
# The README's commands. Each installs what is missing (Debian packages), builds, and runs.
#   ./tools/run.sh bench [flags]   the main job: the half-open detection benchmark and its report
#   ./tools/run.sh test            every test: unit, package, fault and fuzz suites
#   ./tools/run.sh micro [flags]   the micro-benchmarks (deadline structures, codec)
#   ./tools/run.sh fuzz [seconds]  the long fuzzing run: the frame decoder for 10^7 executions (or `seconds`,
#                                  default 3600, if sooner), then the session state machine for 600 s
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "Flags after 'bench' or 'micro' go to the benchmark (try: ./tools/run.sh bench --help)."
}

# run_fuzzer NAME SECONDS SEEDS [libFuzzer flags...]: runs build/fuzz/tests/fuzz/NAME_fuzzer
# for at most SECONDS from the committed SEEDS into a fresh scratch corpus, build/fuzz/long-run/NAME/
# (log, corpus/, artifacts/ for any crash), shows libFuzzer's progress lines, then its final
# figures. Returns the fuzzer's status (non-zero: it found a crash, saved in artifacts/).
# The RSS limit is twice the CI runs': AddressSanitizer's allocator keeps growing in steps
# over a long run (the decoder passed 1 GB in 10 minutes), which is not a leak.
run_fuzzer() {
  local name=$1 seconds=$2 seeds=$3
  shift 3
  local dir=build/fuzz/long-run/$name
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  echo "== $name: at most $seconds s from $seeds into $dir/corpus (full log: $dir/log)"
  local started=$SECONDS
  set +e
  "build/fuzz/tests/fuzz/${name}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 \
    -artifact_prefix="$dir/artifacts/" "$@" "$dir/corpus" "$seeds" 2>&1 |
    tee "$dir/log" | grep --line-buffered -E "pulse|DONE|ERROR|SUMMARY|fuzz check failed"
  local statuses=("${PIPESTATUS[@]}")
  set -e
  local status=${statuses[0]}
  local executions rate done_line longest
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$dir/log" | tail -1 | sed -E 's/^#[0-9]+[[:space:]]+DONE +//')
  longest=$(find "$dir/corpus" -type f -printf '%s\n' | sort -n | tail -1)
  echo "$name: ${executions:-?} executions in $((SECONDS - started)) s (${rate:-?} exec/s); final: ${done_line:-none}"
  if [[ $name == frame_decoder && ${executions:-0} -lt 10000000 ]]; then
    echo "$name: fewer than 10^7 executions in the time allowed; give it more: ./tools/run.sh fuzz SECONDS"
  fi
  echo "$name: $(find "$dir/corpus" -type f | wc -l) new inputs in the scratch corpus, longest ${longest:-0} bytes;" \
    "$(find "$dir/artifacts" -type f | wc -l) crash/timeout artifacts"
  return "$status"
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
    # clang with libFuzzer: bounded (60 s each) fuzzing runs of the frame decoder and of the
    # session state machine.
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
  fuzz)
    # The same fuzzers and flags as the CI runs (tests/fuzz/CMakeLists.txt), for longer. The
    # decoder stops at 10^7 executions: its rate depends on the inputs a run wanders into
    # (3,000 to 17,000 per second measured on a shared 2-core machine, bench/RESULTS.md,
    # "Fuzzing"), so a time alone would not promise the count. The default cap, an hour,
    # covers the slowest rate measured; it says so if the cap came first.
    seconds=${2:-3600}
    [[ $seconds =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
    bash tools/install-deps.sh
    cmake --preset fuzz >/dev/null
    cmake --build --preset fuzz --parallel "$jobs"
    failed=0
    run_fuzzer frame_decoder "$seconds" tests/fuzz/corpus \
      -runs=10000000 -max_len=69632 -dict=tests/fuzz/frame_headers.dict -timeout=10 || failed=1
    run_fuzzer session_script $((seconds < 600 ? seconds : 600)) tests/fuzz/session_corpus \
      -detect_leaks=0 -dict=tests/fuzz/frame_headers.dict -timeout=30 || failed=1
    exit "$failed"
    ;;
  -h|--help|help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
