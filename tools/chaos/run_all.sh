#!/usr/bin/env bash
# `make chaos` (LONG=1 for soak lengths): every drill in turn, each printing its verdict line;
# ends with "N passed, N failed" and fails if any drill did.
set -uo pipefail
dir=$(dirname "$0")
passed=0
failed=0
for drill in crash_loop bitrot disk_full slow_io fd_exhaustion storm torn_write soak; do
  start=$(date +%s)
  if bash "$dir/$drill.sh"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  echo "   ($drill: $(($(date +%s) - start)) s; report in ${RESULTS:-${BUILD:-build}/chaos-results}/$drill/)"
done
echo "$passed passed, $failed failed"
((failed == 0))
