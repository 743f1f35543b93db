#!/usr/bin/env bash
# tools/lobby/lobby_check.sh SERVER BOT WORK_DIR — the lobby demo end to end, as a user runs it
# (ctest: tools.lobby_game_loop).
#
# Starts lifeline_lobby_server on a free port, then two bot processes at once:
#   - 4 bots in room "arena" for 3 s: each must receive states at no less than half the
#     tick rate, and the server must log 4 joins and 4 leaves by the players themselves;
#   - 1 bot in room "hang" that this script freezes (SIGSTOP) for longer than dead_after,
#     then thaws (SIGCONT), as a hung client: the server must log its seat "away" (transport
#     lost, seat held), then "back" in the same seat (its connector resumed the session).
# Then SIGTERM: the server must stop cleanly and print its final summary.
# Why a script and not an in-process test: it is the demo as a user runs it, two real
# programs, real flags and real logs.
set -euo pipefail
server_bin=$1 bot_bin=$2 work=$3
tick_hz=20
rm -rf "$work" && mkdir -p "$work"
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do echo "== $f" >&2; cat "$f" >&2; done
  exit 1
}
children=()
trap 'for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done' EXIT

"$server_bin" --port 0 --threads 2 --tick-hz $tick_hz --seats 8 --heartbeat-ms 200 --dead-after-ms 600 \
  --resume-grace-ms 5000 --stats-every-ms 500 --run-seconds 30 >"$work/server.log" 2>&1 &
server_pid=$!
children+=("$server_pid")
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on .* port \([0-9]*\):.*/\1/p' "$work/server.log")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || fail "the server did not say which port it listens on"

"$bot_bin" --host localhost --port "$port" --bots 4 --room arena --seconds 3 >"$work/arena.log" 2>&1 &
arena_pid=$!
"$bot_bin" --host 127.0.0.1 --port "$port" --bots 1 --room hang --seconds 5 >"$work/hang.log" 2>&1 &
hang_pid=$!
children+=("$arena_pid" "$hang_pid")

# Freeze the hang bot once it has joined, for 1.5 s (dead_after 600 ms: convicted, seat held).
for _ in $(seq 50); do
  grep -q 'join  hang seat 0' "$work/server.log" && break
  sleep 0.1
done
kill -STOP "$hang_pid"
sleep 1.5
kill -CONT "$hang_pid"

wait "$arena_pid" || fail "the arena bots exited with status $?"
wait "$hang_pid" || fail "the hang bot exited with status $?"
# Every player gone: the next summary says so (one every 500 ms).
for _ in $(seq 30); do
  grep -q 'rooms 0, players 0 (0 away), joined 5, left 5' "$work/server.log" && break
  sleep 0.1
done
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server exited with status $?"

# 1. Each arena bot received states at no less than half the tick rate.
lowest=$(sed -n 's/^summary: .* min \([0-9.]*\),.*/\1/p' "$work/arena.log")
[[ -n $lowest ]] || fail "no summary from the arena bots"
awk -v got="$lowest" -v want=$((tick_hz / 2)) 'BEGIN { exit !(got >= want) }' ||
  fail "an arena bot received $lowest states a second, fewer than half of $tick_hz"

# 2. Four players joined the arena, and all four left it on their own, before the stop.
joins=$(grep -c 'join  arena seat' "$work/server.log" || true)
leaves=$(grep -c 'leave arena seat .* (asked)' "$work/server.log" || true)
[[ $joins == 4 ]] || fail "$joins joins of room arena, expected 4"
[[ $leaves == 4 ]] || fail "$leaves leaves of room arena by the players, expected 4"
grep -q 'rooms 0, players 0 (0 away), joined 5, left 5' "$work/server.log" ||
  fail "no summary with every player joined and gone before the stop"

# 3. The frozen bot's seat was held and it came back to it.
away=$(grep -n 'away  hang seat 0 by' "$work/server.log" | head -1 | cut -d: -f1)
back=$(grep -n 'back  hang seat 0 by' "$work/server.log" | head -1 | cut -d: -f1)
[[ -n $away ]] || fail "the frozen bot's seat was never marked away"
[[ -n $back && $back -gt $away ]] || fail "the frozen bot did not come back to its seat after it was away"
grep -q 'resumed in seat 0' "$work/hang.log" || fail "the hang bot did not see its session resume"

# 4. A clean stop, with its final summary.
grep -Eq 'stopped after [0-9]+ ticks: joined 5, left 5, away [1-9][0-9]*, back [1-9][0-9]*' "$work/server.log" ||
  fail "no final summary after SIGTERM"

echo "arena bots: min $lowest states/s (tick $tick_hz Hz); hang bot: away at line $away, back at line $back"
grep -E 'join|leave|away|back|close|stopped' "$work/server.log"
