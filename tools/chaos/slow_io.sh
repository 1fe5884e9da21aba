#!/usr/bin/env bash
# Slow I/O: 20 ms ± 10 ms injected before every WAL write and fsync (the rig's FaultInjector),
# with more load offered than that can absorb. p95 fsync must rise to the injected latency,
# every shed record must be counted (Busy seen by the producers == audit_drop_total ==
# busy_rejections_total), and memory must stay bounded.
source "$(dirname "$0")/lib.sh"
drill_init slow_io
secs=$([[ $LONG == 1 ]] && echo 120 || echo 6)
mkdir -m 700 "$WORK/fast" "$WORK/slow"
"$RIG" --wal "$WORK/fast" --streams 4 --seconds 2 --rate 20000 > "$OUT/baseline.log" 2>&1 ||
  fail "baseline run failed"
base=$(summary_of "$OUT/baseline.log")
"$RIG" --wal "$WORK/slow" --streams 4 --seconds "$secs" --rate 60000 --slow-io-ms 20 \
  --jitter-ms 10 --queue-depth 512 --window 4096 > "$OUT/slow.log" 2>&1 || fail "slow run failed"
s=$(summary_of "$OUT/slow.log")
report "baseline: $base"
report "slow:     $s"
p95_base=$(json_num "$base" fsync_p95_ms)
p95=$(json_num "$s" fsync_p95_ms)
busy=$(json_num "$s" busy)
drops=$(json_num "$s" drop_backpressure)
rejections=$(json_num "$s" busy_rejections)
rss_growth=$(($(json_num "$s" rss_kb_max) - $(json_num "$s" rss_kb_start)))
awk -v p="$p95" 'BEGIN { exit !(p >= 10) }' || fail "fsync p95 ${p95} ms did not rise (baseline ${p95_base} ms)"
((busy > 0)) || fail "nothing was shed at 60k/s offered with 20 ms I/O"
[[ $busy == "$drops" && $busy == "$rejections" ]] ||
  fail "shedding not counted: producers saw $busy Busy, audit_drop_total $drops, busy_rejections_total $rejections"
((rss_growth < 262144)) || fail "RSS grew by ${rss_growth} KiB"
[[ $(json_num "$s" errors) == 0 ]] || fail "errors: $(json_str "$s" last_error)"
pass "fsync_p95_ms=${p95} (baseline ${p95_base}) shed=$busy counted=$drops acked=$(json_num "$s" acked) rss_growth_kib=$rss_growth"
