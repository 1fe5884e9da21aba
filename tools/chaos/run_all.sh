#!/usr/bin/env bash
# `make chaos` (LONG=1 for soak lengths): every drill in turn, each printing its verdict line;
# ends with "N passed, N failed" and fails if any drill did. A watchdog bounds every drill
# (DRILL_LIMIT_S; 600 s, or 7200 s with LONG=1): a drill that hangs is killed with its whole
# process group (the engine rig included) and counted as failed.
set -uo pipefail
dir=$(dirname "$0")
LONG=${LONG:-0}
limit=${DRILL_LIMIT_S:-$([[ $LONG == 1 ]] && echo 7200 || echo 600)}
passed=0
failed=0
for drill in crash_loop bitrot disk_full slow_io fd_exhaustion storm torn_write two_writers soak; do
  start=$(date +%s)
  setsid bash "$dir/$drill.sh" &
  pid=$!
  (
    trap 'kill "$s" 2> /dev/null; exit 0' TERM
    sleep "$limit" & s=$!
    wait "$s"
    echo "FAIL $drill timed out after ${limit}s (killed)"
    kill -TERM -- "-$pid" 2> /dev/null
    sleep 5
    kill -KILL -- "-$pid" 2> /dev/null
  ) &
  watchdog=$!
  wait "$pid"
  rc=$?
  kill "$watchdog" 2> /dev/null
  wait "$watchdog" 2> /dev/null
  if ((rc == 0)); then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  echo "   ($drill: $(($(date +%s) - start)) s; report in ${RESULTS:-${BUILD:-build}/chaos-results}/$drill/)"
done
echo "$passed passed, $failed failed"
((failed == 0))
