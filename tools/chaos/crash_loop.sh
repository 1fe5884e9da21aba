#!/usr/bin/env bash
# Crash loop: load with fsync=always and checkpoints; SIGKILL at random moments N times. After
# every kill: every acknowledged record is present with its hash, the WAL and its checkpoints
# verify, and the next run resumes the chains. Twelve streams (six per writer thread of a
# 2-core machine): most commits write four files or more, made durable with one syncfs, or, on
# every other run, with the commit journal (--journal-min-streams 4); each run applies and
# removes the journals the killed one left.
source "$(dirname "$0")/lib.sh"
drill_init crash_loop
kills=$([[ $LONG == 1 ]] && echo 100 || echo 8)
mkdir -m 700 "$WORK/wal" "$WORK/exp"
prev_total=0
for ((i = 1; i <= kills; i++)); do
  journal=$((i % 2 == 0 ? 4 : 0))
  "$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 12 --producers 2 --seconds 30 --rate 20000 \
    --journal-min-streams $journal --ack-file "$WORK/acks" --report-ms 200 > "$OUT/run-$i.log" 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9 + 2))"
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  lost=$(lost_acks "$WORK/wal" "$WORK/acks")
  total=$(wc -l < "$WORK/stored.txt")
  acks=$(wc -l < "$WORK/acks")
  journals=$(find "$WORK/wal" -maxdepth 1 -name '#journal-*.jnl' | wc -l)
  # A killed run with the journal leaves one per writer thread; the next run applies them.
  report "kill $i: acknowledged so far $acks, stored $total, lost $lost, journals left $journals"
  [[ $lost == 0 ]] || fail "kill=$i lost=$lost acknowledged records missing"
  verify_ok "$WORK/wal" "$WORK/exp" || fail "kill=$i verify: $(cat "$WORK/verify.out")"
  ((total >= prev_total)) || fail "kill=$i the WAL shrank ($prev_total -> $total)"
  prev_total=$total
done
# A clean run after the last kill resumes every chain and cuts the final checkpoints.
acks_before=$(wc -l < "$WORK/acks")
"$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 12 --seconds 1 --ack-file "$WORK/acks" \
  > "$OUT/final.log" 2>&1 || fail "the final run failed: $(tail -1 "$OUT/final.log")"
why=$(resumed "$OUT/final.log" "$WORK/acks" "$acks_before") || fail "final run did not resume: $why"
[[ -z $(find "$WORK/wal" -maxdepth 1 -name '#journal-*.jnl') ]] || fail "a journal is left after a clean run"
lost=$(lost_acks "$WORK/wal" "$WORK/acks")
[[ $lost == 0 ]] || fail "final lost=$lost"
verify_ok "$WORK/wal" "$WORK/exp" || fail "final verify: $(cat "$WORK/verify.out")"
cp "$WORK/verify.out" "$OUT/verify.out"
pass "kills=$kills acknowledged=$(wc -l < "$WORK/acks") lost=0 stored=$(wc -l < "$WORK/stored.txt") $(head -1 "$WORK/verify.out" | cut -d' ' -f2-)"
