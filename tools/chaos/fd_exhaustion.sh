#!/usr/bin/env bash
# File descriptor exhaustion: the engine under a tiny `ulimit -n` with many streams. At 24
# descriptors, 32 streams all append without an error: idle streams' segment files are closed
# and reopened within a budget derived from the limit. With a budget set above the limit
# (--segment-fd-budget 64), streams that cannot get a file fail with clean Io errors (EMFILE). Either way the rig neither
# crashes nor leaks fds (fds at the end == fds at the start), nothing acknowledged is lost, and
# with the limit lifted every stream appends again and the WAL verifies.
source "$(dirname "$0")/lib.sh"
drill_init fd_exhaustion
mkdir -m 700 "$WORK/wal"
: > "$WORK/acks"
# run_limited LIMIT NAME [RIG FLAGS]: the rig under `ulimit -n LIMIT`; checks what holds at
# any limit.
run_limited() {
  local limit=$1 name=$2
  shift 2
  (
    ulimit -n "$limit"
    "$RIG" --wal "$WORK/wal" --streams 32 --producers 2 --seconds 2 --rate 4000 \
      --ack-file "$WORK/acks.$name" "$@" > "$OUT/$name.log" 2>&1
  )
  local rc=$?
  summary=$(summary_of "$OUT/$name.log")
  report "ulimit -n $limit $*: rc=$rc $summary"
  ((rc < 128)) || fail "the rig died with a signal under ulimit -n $limit (rc=$rc)"
  [[ -n $summary ]] || fail "no summary under ulimit -n $limit: $(tail -2 "$OUT/$name.log")"
  [[ $(json_num "$summary" fds_end) == $(json_num "$summary" fds_start) ]] ||
    fail "fd leak under ulimit -n $limit: $(json_num "$summary" fds_start) at start, $(json_num "$summary" fds_end) at the end"
  cat "$WORK/acks.$name" >> "$WORK/acks"
  lost=$(lost_acks "$WORK/wal" "$WORK/acks")
  [[ $lost == 0 ]] || fail "lost=$lost acknowledged records missing after ulimit -n $limit"
}
run_limited 24 budgeted
budgeted_errors=$(json_num "$summary" errors)
[[ $budgeted_errors == 0 ]] ||
  fail "errors under ulimit -n 24 with 32 streams: $budgeted_errors ($(json_str "$summary" last_error))"
budgeted_streams=$(cut -d' ' -f1 "$WORK/acks.budgeted" | sort -u | wc -l)
((budgeted_streams == 32)) || fail "only $budgeted_streams of 32 streams appended under ulimit -n 24"
run_limited 24 tight --segment-fd-budget 64
errors=$(json_num "$summary" errors)
((errors > 0)) || fail "expected Io errors with a segment-fd budget above ulimit -n 24, got none"
grep -q 'Too many open files\|EMFILE\|Io' <<< "$(json_str "$summary" last_error)" ||
  fail "the errors were not clean Io errors: $(json_str "$summary" last_error)"
# Recovery: a normal limit, every stream appends again.
"$RIG" --wal "$WORK/wal" --streams 32 --producers 2 --seconds 1 --rate 4000 \
  --ack-file "$WORK/acks2" > "$OUT/recovered.log" 2>&1 || fail "the recovery run failed"
after=$(summary_of "$OUT/recovered.log")
report "recovered: $after"
[[ $(json_num "$after" errors) == 0 ]] || fail "errors after recovery: $(json_str "$after" last_error)"
streams_acked=$(cut -d' ' -f1 "$WORK/acks2" | sort -u | wc -l)
((streams_acked == 32)) || fail "only $streams_acked of 32 streams appended after recovery"
verify_ok "$WORK/wal" || fail "verify: $(cat "$WORK/verify.out")"
pass "streams_at_24_fds=$budgeted_streams errors_at_24_fds=0 errors_over_budget=$errors fds_leaked=0 lost=0 recovered_streams=$streams_acked $(head -1 "$WORK/verify.out")"
