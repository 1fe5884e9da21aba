#!/usr/bin/env bash
# File descriptor exhaustion: the engine under a tiny `ulimit -n` with many streams. Streams that
# cannot get a file fail with clean Io errors (EMFILE), the rig neither crashes nor leaks fds
# (fds at the end == fds at the start), nothing acknowledged is lost, and with the limit lifted
# every stream appends again and the WAL verifies.
source "$(dirname "$0")/lib.sh"
drill_init fd_exhaustion
mkdir -m 700 "$WORK/wal"
(
  ulimit -n 24
  "$RIG" --wal "$WORK/wal" --streams 32 --producers 2 --seconds 2 --rate 4000 \
    --ack-file "$WORK/acks" > "$OUT/tight.log" 2>&1
)
rc=$?
tight=$(summary_of "$OUT/tight.log")
report "ulimit -n 24: rc=$rc $tight"
((rc < 128)) || fail "the rig died with a signal under ulimit -n 24 (rc=$rc)"
[[ -n $tight ]] || fail "no summary under the tight limit: $(tail -2 "$OUT/tight.log")"
errors=$(json_num "$tight" errors)
((errors > 0)) || fail "expected Io errors under ulimit -n 24, got none"
grep -q 'Too many open files\|EMFILE\|Io' <<< "$(json_str "$tight" last_error)" ||
  fail "the errors were not clean Io errors: $(json_str "$tight" last_error)"
[[ $(json_num "$tight" fds_end) == $(json_num "$tight" fds_start) ]] ||
  fail "fd leak: $(json_num "$tight" fds_start) at start, $(json_num "$tight" fds_end) at the end"
lost=$(lost_acks "$WORK/wal" "$WORK/acks")
[[ $lost == 0 ]] || fail "lost=$lost acknowledged records missing"
# Recovery: a normal limit, every stream appends again.
"$RIG" --wal "$WORK/wal" --streams 32 --producers 2 --seconds 1 --rate 4000 \
  --ack-file "$WORK/acks2" > "$OUT/recovered.log" 2>&1 || fail "the recovery run failed"
after=$(summary_of "$OUT/recovered.log")
report "recovered: $after"
[[ $(json_num "$after" errors) == 0 ]] || fail "errors after recovery: $(json_str "$after" last_error)"
streams_acked=$(cut -d' ' -f1 "$WORK/acks2" | sort -u | wc -l)
((streams_acked == 32)) || fail "only $streams_acked of 32 streams appended after recovery"
verify_ok "$WORK/wal" || fail "verify: $(cat "$WORK/verify.out")"
pass "tight_errors=$errors fds_leaked=0 lost=0 recovered_streams=$streams_acked $(head -1 "$WORK/verify.out")"
