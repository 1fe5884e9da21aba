#!/usr/bin/env bash
# Torn write: between runs, the newest segment gets a torn batch after its last acknowledged
# frame (half a frame at the next 4 KiB boundary, as a write cut short by power loss leaves it),
# or garbage there. The next open truncates it and counts it (wal_torn_tail_total), nothing
# acknowledged is lost, and the chain resumes.
source "$(dirname "$0")/lib.sh"
drill_init torn_write
rounds=$([[ $LONG == 1 ]] && echo 30 || echo 4)
mkdir -m 700 "$WORK/wal"
torn_total=0
touch "$WORK/acks"
for ((r = 1; r <= rounds; r++)); do
  acks_before=$(wc -l < "$WORK/acks")
  "$RIG" --wal "$WORK/wal" --streams 1 --seconds 1 --rate 5000 --ack-file "$WORK/acks" \
    --metrics "$OUT/metrics.$r.prom" > "$OUT/run-$r.log" 2>&1 || fail "run $r failed"
  why=$(resumed "$OUT/run-$r.log" "$WORK/acks" "$acks_before") || fail "run $r did not resume: $why"
  if ((r > 1)); then  # this run's recovery must have truncated the previous damage
    t=$(json_num "$(summary_of "$OUT/run-$r.log")" torn_tails)
    ((t >= 1)) || fail "run $r: the torn tail was not counted (wal_torn_tail_total=$t)"
    torn_total=$((torn_total + t))
  fi
  seg=$(ls "$WORK"/wal/*/c0/wal-*.seg | tail -1)
  end=$("$RONCTL" audit inspect --dir "$WORK/wal" | grep " $(basename "$seg") " |
    sed -nE 's/.* end ([0-9]+) .*/\1/p')
  [[ -n $end ]] || fail "no end offset for $seg"
  at=$(((end + 4095) / 4096 * 4096))
  if ((r % 2 == 1)); then  # half of a real frame
    dd if="$seg" of="$WORK/frame" bs=1 skip=4096 count=600 status=none
  else  # garbage
    head -c 700 /dev/urandom > "$WORK/frame"
  fi
  dd if="$WORK/frame" of="$seg" bs=1 seek="$at" conv=notrunc status=none
  "$RONCTL" audit verify --dir "$WORK/wal" > "$WORK/v.out" 2> "$WORK/v.err"
  report "round $r: damage at $seg offset $at; verify before recovery: $(cat "$WORK/v.out") / $(grep -o 'torn.*' "$WORK/v.err" | head -1)"
done
# The last damage is recovered by one more open.
acks_before=$(wc -l < "$WORK/acks")
"$RIG" --wal "$WORK/wal" --streams 1 --seconds 1 --rate 1000 --ack-file "$WORK/acks" \
  > "$OUT/final.log" 2>&1 || fail "final run failed"
why=$(resumed "$OUT/final.log" "$WORK/acks" "$acks_before") || fail "final run did not resume: $why"
t=$(json_num "$(summary_of "$OUT/final.log")" torn_tails)
((t >= 1)) || fail "final run: torn tail not counted"
torn_total=$((torn_total + t))
lost=$(lost_acks "$WORK/wal" "$WORK/acks")
[[ $lost == 0 ]] || fail "lost=$lost acknowledged records missing"
verify_ok "$WORK/wal" || fail "verify: $(cat "$WORK/verify.out")"
pass "rounds=$rounds torn_tails_truncated=$torn_total lost=0 $(head -1 "$WORK/verify.out")"
