#!/usr/bin/env bash
# Bit rot: one random byte changed in (a) a sealed segment, (b) a manifest outside its
# checkpoint, (c) a checkpoint inside a manifest. `ronctl audit verify` must name the file each
# time; on (a) the engine opens that stream frozen (writes refused with Frozen) and keeps serving
# the other streams.
source "$(dirname "$0")/lib.sh"
drill_init bitrot
rounds=$([[ $LONG == 1 ]] && echo 20 || echo 3)
mkdir -m 700 "$WORK/wal" "$WORK/exp"
"$RONCTL" keygen --key-id chaos-1 --out "$WORK/chaos.key" > "$WORK/trusted.keys"
"$RIG" --wal "$WORK/wal" --export "$WORK/exp" --signer-key "$WORK/chaos.key" --streams 2 \
  --seconds 2 --rate 2000 > "$OUT/evidence.log" 2>&1 || fail "could not write the evidence"
verify() {
  "$RONCTL" audit verify --dir "$WORK/wal" --export-dir "$WORK/exp" \
    --trusted-keys "$WORK/trusted.keys" > "$WORK/v.out" 2> "$WORK/v.err"
}
verify || fail "pristine evidence does not verify: $(cat "$WORK/v.out")"
cp -a "$WORK/wal" "$WORK/wal.orig"
cp -a "$WORK/exp" "$WORK/exp.orig"
restore() {
  rm -rf "$WORK/wal" "$WORK/exp"
  cp -a "$WORK/wal.orig" "$WORK/wal"
  cp -a "$WORK/exp.orig" "$WORK/exp"
}
# flip FILE OFFSET: xor one byte with a random non-zero value.
flip() {
  local file=$1 off=$2 old new
  old=$(od -An -tu1 -j "$off" -N1 "$file" | tr -d ' ')
  new=$(((old ^ (RANDOM % 255 + 1)) & 255))
  printf "$(printf '\\%03o' "$new")" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
}
# pick FILE PATTERN: the byte offset of a random match of PATTERN (grep -abo) in FILE.
pick() {
  local n
  n=$(grep -abo "$2" "$1" | wc -l)
  ((n > 0)) || return 1
  grep -abo "$2" "$1" | sed -n "$((RANDOM % n + 1))p" | cut -d: -f1
}
caught=0
for ((r = 1; r <= rounds; r++)); do
  # (a) a byte of a record inside the sealed segment of stream c0
  restore
  seg=$(ls "$WORK"/wal/*/c0/wal-*.seg | head -1)
  off=$(pick "$seg" '"attrs":{"pad":"') || fail "no record found in $seg"
  flip "$seg" $((off + 5 + RANDOM % 10))
  verify
  grep -q "^err .* file $seg " "$WORK/v.out" || fail "segment flip not located: $(head -1 "$WORK/v.out")"
  report "round $r segment: $(head -1 "$WORK/v.out")"
  "$RIG" --wal "$WORK/wal" --streams 2 --seconds 1 --rate 2000 --ack-file "$WORK/acks.$r" \
    --metrics "$OUT/frozen-$r.prom" > "$OUT/frozen-$r.log" 2>&1
  # The metrics an operator alerts on moved: the corruption counted, the stream state frozen.
  grep -Eq '^wal_corrupt_total\{service="[^"]*"\} [1-9]' "$OUT/frozen-$r.prom" || fail "wal_corrupt_total did not move"
  grep -Eq "^wal_stream_state\{.*stream=\"c0\".*\} 1$" "$OUT/frozen-$r.prom" ||
    fail "wal_stream_state of c0 is not 1 (frozen)"
  "$RONCTL" audit inspect --dir "$WORK/wal" > "$WORK/inspect.out"
  grep -q "^stream $WRITER/c0 state frozen" "$WORK/inspect.out" || fail "c0 not frozen"
  grep -q "^stream $WRITER/c1 state ok" "$WORK/inspect.out" || fail "c1 not served"
  grep -q '^c1 ' "$WORK/acks.$r" || fail "no write to c1 was acknowledged"
  ! grep -q '^c0 ' "$WORK/acks.$r" || fail "a write to the frozen c0 was acknowledged"
  grep -q 'Frozen' "$OUT/frozen-$r.log" || fail "writes to c0 did not fail with Frozen"
  # (b) a byte of a manifest outside its checkpoint (segments list or created_ts_ms)
  restore
  man=$(ls "$WORK"/exp/*/c1/manifest-*.json | sed -n "$((RANDOM % 2 + 1))p")
  off=$(pick "$man" '"segments":\[') || fail "no segments in $man"
  flip "$man" $((off + 13 + RANDOM % 40))
  verify
  grep -q "^err .* file $man " "$WORK/v.out" || fail "manifest flip not located: $(head -1 "$WORK/v.out")"
  report "round $r manifest: $(head -1 "$WORK/v.out")"
  # (c) a byte of the checkpoint inside a manifest
  restore
  off=$(pick "$man" '"checkpoints":\[') || fail "no checkpoint in $man"
  flip "$man" $((off + 20 + RANDOM % 200))
  verify
  grep -q "^err .* file $man " "$WORK/v.out" || fail "checkpoint flip not located: $(head -1 "$WORK/v.out")"
  report "round $r checkpoint: $(head -1 "$WORK/v.out")"
  caught=$((caught + 3))
done
pass "rounds=$rounds flips=$caught located=$caught frozen_stream_refused=yes other_streams_served=yes"
