#!/usr/bin/env bash
# Two writers and a reader: while one engine writes a WAL (fsync=always, checkpoints), a second
# engine, a `ronctl audit append` and a second recovery racing it are all refused at once,
# naming the holder (the directory's writer lock); readers beside the live writer (verify, range,
# inspect, in a loop) never fault and never report damage that is not there. Afterwards every
# acknowledged record is stored exactly once, the WAL and its checkpoints verify, and the lock
# has gone with the writer (the next run resumes).
source "$(dirname "$0")/lib.sh"
drill_init two_writers
seconds=$([[ $LONG == 1 ]] && echo 60 || echo 6)
mkdir -m 700 "$WORK/wal" "$WORK/exp"
# A first run so that readers have sealed segments as well as the live one.
"$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 2 --seconds 1 --rate 5000 \
  --ack-file "$WORK/acks" > "$OUT/first.log" 2>&1 || fail "first run failed: $(tail -1 "$OUT/first.log")"
"$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 2 --producers 2 --seconds "$seconds" \
  --rate 20000 --ack-file "$WORK/acks" --report-ms 500 > "$OUT/writer.log" 2>&1 &
writer=$!
CLEANUP_HOOK='kill -9 $writer 2> /dev/null'
# Wait (bounded) until the writer holds the directory.
for ((i = 0; i < 100; i++)); do
  grep -q '"t_s"' "$OUT/writer.log" 2> /dev/null && break
  sleep 0.05
done
kill -0 "$writer" 2> /dev/null || fail "the writer died: $(tail -1 "$OUT/writer.log")"
refusals=0
for attempt in 1 2 3; do
  "$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 2 --seconds 1 \
    --ack-file "$WORK/acks2" > "$OUT/second-$attempt.log" 2>&1 &&
    fail "a second engine opened the WAL a live writer holds"
  grep -q 'in use by another writer (pid '"$writer"' ' "$OUT/second-$attempt.log" ||
    fail "second engine: no refusal naming pid $writer: $(tail -1 "$OUT/second-$attempt.log")"
  refusals=$((refusals + 1))
done
[[ ! -s $WORK/acks2 ]] || fail "the refused engine acknowledged records"
echo '{"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{}}' |
  "$RONCTL" audit append --dir "$WORK/wal" --stream c0 --writer-id "$WRITER" --ack \
    > "$OUT/append.out" 2> "$OUT/append.err" && fail "ronctl audit append wrote beside the writer"
[[ ! -s $OUT/append.out ]] || fail "ronctl audit append acknowledged beside the writer"
grep -q 'in use by another writer' "$OUT/append.err" || fail "append: $(cat "$OUT/append.err")"
refusals=$((refusals + 1))
# Readers beside the writer until it stops: exit 0 (a torn tail on the live segment is a note,
# not an error), never a signal, never an err line.
reads=0
while kill -0 "$writer" 2> /dev/null; do
  "$RONCTL" audit verify --dir "$WORK/wal" > "$WORK/r.out" 2> "$WORK/r.err"
  rc=$?
  ((rc == 0)) || fail "verify beside the writer: exit $rc: $(head -1 "$WORK/r.out") $(tail -1 "$WORK/r.err")"
  "$RONCTL" audit range --dir "$WORK/wal" --stream c0 --writer-id "$WRITER" > /dev/null 2> "$WORK/r.err"
  rc=$?
  ((rc == 0)) || fail "range beside the writer: exit $rc: $(tail -1 "$WORK/r.err")"
  "$RONCTL" audit inspect --dir "$WORK/wal" > "$WORK/r.out" 2> "$WORK/r.err"
  rc=$?
  ((rc == 0)) || fail "inspect beside the writer: exit $rc"
  grep -q 'state frozen' "$WORK/r.out" && fail "inspect beside the writer: $(grep -A3 frozen "$WORK/r.out")"
  reads=$((reads + 1))
done
wait "$writer" || fail "the writer failed: $(tail -1 "$OUT/writer.log")"
why=$(resumed "$OUT/writer.log" "$WORK/acks" 0) || fail "writer: $why"
lost=$(lost_acks "$WORK/wal" "$WORK/acks")
[[ $lost == 0 ]] || fail "lost=$lost acknowledged records missing"
dups=$(awk '{print $1, $2}' "$WORK/acks" | sort | uniq -d | wc -l)
[[ $dups == 0 ]] || fail "$dups seqs acknowledged twice"
verify_ok "$WORK/wal" "$WORK/exp" || fail "verify: $(cat "$WORK/verify.out")"
acks_before=$(wc -l < "$WORK/acks")
"$RIG" --wal "$WORK/wal" --export "$WORK/exp" --streams 2 --seconds 1 --ack-file "$WORK/acks" \
  > "$OUT/after.log" 2>&1 || fail "the lock outlived its writer: $(tail -1 "$OUT/after.log")"
why=$(resumed "$OUT/after.log" "$WORK/acks" "$acks_before") || fail "after: $why"
pass "refusals=$refusals reads_beside_writer=$reads acknowledged=$(wc -l < "$WORK/acks") lost=0 $(head -1 "$WORK/verify.out" | cut -d' ' -f2-)"
