#!/usr/bin/env bash
# Torn write: each run is killed (-9) while it writes, so its newest segment is still open
# (header count 0); then that segment gets a torn batch after its last acknowledged frame (half
# a frame at the next 4 KiB boundary, as a write cut short by power loss leaves it), or garbage
# there. The next open truncates it and counts it (wal_torn_tail_total), nothing acknowledged is
# lost, and the chain resumes. Last, the same damage after a *sealed* segment (a clean close)
# is corruption, never a torn write: the stream opens frozen and nothing is cut.
source "$(dirname "$0")/lib.sh"
drill_init torn_write
rounds=$([[ $LONG == 1 ]] && echo 30 || echo 4)
mkdir -m 700 "$WORK/wal"
torn_total=0
touch "$WORK/acks"
for ((r = 1; r <= rounds; r++)); do
  acks_before=$(wc -l < "$WORK/acks")
  "$RIG" --wal "$WORK/wal" --streams 1 --seconds 30 --rate 5000 --ack-file "$WORK/acks" \
    --report-ms 200 > "$OUT/run-$r.log" 2>&1 &
  pid=$!
  sleep 1.$((RANDOM % 5))
  kill -9 "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  grep -q '"errors":0' "$OUT/run-$r.log" || fail "run $r: $(tail -1 "$OUT/run-$r.log")"
  (($(wc -l < "$WORK/acks") > acks_before)) || fail "run $r did not resume (no new acknowledgements)"
  # Recovery at this run's open truncated the previous round's damage, or verify below would
  # find it mid-log now that this run wrote after it.
  seg=$(ls "$WORK"/wal/*/c0/wal-*.seg | tail -1)
  end=$("$RONCTL" audit inspect --dir "$WORK/wal" | grep " $(basename "$seg") " |
    sed -nE 's/.* count 0 frames [0-9]+ end ([0-9]+) .*/\1/p')
  [[ -n $end ]] || fail "round $r: the newest segment $seg is not open after kill -9"
  at=$(((end + 4095) / 4096 * 4096))
  if ((r % 2 == 1)); then  # half of a real frame, from the oldest segment (the newest may
    # hold none yet: the kill can land right after a rotation)
    dd if="$(ls "$WORK"/wal/*/c0/wal-*.seg | head -1)" of="$WORK/frame" bs=1 skip=4096 \
      count=600 status=none
  else  # garbage
    head -c 700 /dev/urandom > "$WORK/frame"
  fi
  dd if="$WORK/frame" of="$seg" bs=1 seek="$at" conv=notrunc status=none
  "$RONCTL" audit verify --dir "$WORK/wal" > "$WORK/v.out" 2> "$WORK/v.err" ||
    fail "round $r: verify calls a torn write in an open segment damage: $(cat "$WORK/v.out")"
  grep -q 'torn final write' "$WORK/v.err" || fail "round $r: verify did not see the torn write"
  report "round $r: damage at $seg offset $at; verify before recovery: $(cat "$WORK/v.out") / $(grep -o 'torn.*' "$WORK/v.err" | head -1)"
  lost=$(lost_acks "$WORK/wal" "$WORK/acks")
  [[ $lost == 0 ]] || fail "round $r: lost=$lost acknowledged records missing"
  torn_total=$((torn_total + 1))
done
# The last damage is recovered by one more open, which closes cleanly (its segment sealed).
acks_before=$(wc -l < "$WORK/acks")
"$RIG" --wal "$WORK/wal" --streams 1 --seconds 1 --rate 1000 --ack-file "$WORK/acks" \
  > "$OUT/final.log" 2>&1 || fail "final run failed"
why=$(resumed "$OUT/final.log" "$WORK/acks" "$acks_before") || fail "final run did not resume: $why"
t=$(json_num "$(summary_of "$OUT/final.log")" torn_tails)
((t >= 1)) || fail "final run: torn tail not counted"
lost=$(lost_acks "$WORK/wal" "$WORK/acks")
[[ $lost == 0 ]] || fail "lost=$lost acknowledged records missing"
verify_ok "$WORK/wal" || fail "verify: $(cat "$WORK/verify.out")"
verified=$(head -1 "$WORK/verify.out")
# The same damage after the sealed newest segment: corruption. The stream opens frozen, nothing
# is cut, no seq is reused, and verify says where.
seg=$(ls "$WORK"/wal/*/c0/wal-*.seg | tail -1)
size=$(stat -c %s "$seg")
dd if="$WORK/frame" of="$seg" bs=1 seek="$size" conv=notrunc status=none
size=$(stat -c %s "$seg")
"$RONCTL" audit verify --dir "$WORK/wal" > "$WORK/v.out" 2> "$WORK/v.err" &&
  fail "verify accepted bytes after a sealed segment"
grep -q "^err .* file $seg offset " "$WORK/v.out" || fail "verify: $(cat "$WORK/v.out")"
acks_before=$(wc -l < "$WORK/acks")
"$RIG" --wal "$WORK/wal" --streams 1 --seconds 1 --rate 1000 --ack-file "$WORK/acks" \
  > "$OUT/sealed.log" 2>&1
(($(wc -l < "$WORK/acks") == acks_before)) || fail "records acknowledged on a damaged sealed segment"
grep -q 'Frozen' "$OUT/sealed.log" || fail "the stream did not open frozen: $(tail -1 "$OUT/sealed.log")"
(($(stat -c %s "$seg") == size)) || fail "the damaged sealed segment was cut"
pass "rounds=$rounds torn_tails_truncated=$torn_total lost=0 sealed_damage=frozen $verified"
