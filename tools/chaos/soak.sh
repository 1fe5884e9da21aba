#!/usr/bin/env bash
# Soak: the engine rig at a steady half of its capacity with checkpoints, reporting RSS and open
# fds every second; both must stay flat (the second half of the run within bounds of the first
# quarter). LONG=1 runs 30 minutes; the default is a 20-second smoke.
source "$(dirname "$0")/lib.sh"
drill_init soak
secs=$([[ $LONG == 1 ]] && echo 1800 || echo 20)
mkdir -m 700 "$WORK/wal" "$WORK/exp"
"$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 8 --producers 2 --seconds "$secs" \
  --rate 10000 --rotate-bytes $((8 << 20)) --report-ms 1000 > "$OUT/rig.log" 2>&1 ||
  fail "the rig failed: $(tail -1 "$OUT/rig.log")"
grep -v summary "$OUT/rig.log" | sed -nE 's/.*"t_s":([0-9.]+).*"rss_kb":([0-9]+),"fds":([0-9]+).*/\1 \2 \3/p' \
  > "$OUT/rss_fds.tsv"
n=$(wc -l < "$OUT/rss_fds.tsv")
((n >= 8)) || fail "too few samples ($n)"
read -r _ rss_q fds_q < <(sed -n "$((n / 4))p" "$OUT/rss_fds.tsv")
rss_max=$(tail -n $((n / 2)) "$OUT/rss_fds.tsv" | awk 'm < $2 { m = $2 } END { print m }')
fds_max=$(tail -n $((n / 2)) "$OUT/rss_fds.tsv" | awk 'm < $3 { m = $3 } END { print m }')
report "samples=$n rss_kb quarter=$rss_q max_second_half=$rss_max fds quarter=$fds_q max_second_half=$fds_max"
((rss_max - rss_q < 32768)) || fail "RSS grew: ${rss_q} KiB at a quarter, ${rss_max} KiB later"
((fds_max - fds_q <= 4)) || fail "open fds grew: $fds_q at a quarter, $fds_max later"
s=$(summary_of "$OUT/rig.log")
[[ $(json_num "$s" errors) == 0 ]] || fail "errors: $(json_str "$s" last_error)"
verify_ok "$WORK/wal" "$WORK/exp" || fail "verify: $(cat "$WORK/verify.out")"
pass "seconds=$secs acked=$(json_num "$s" acked) rss_kb=${rss_q}..${rss_max} fds=${fds_q}..${fds_max} $(head -1 "$WORK/verify.out")"
