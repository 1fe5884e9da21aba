#!/usr/bin/env bash
# Disk full: the WAL on a small loop-mounted ext4 image (needs root). Fill it: appends fail with
# Io "disk_full" (no crash, nothing acknowledged lost) and readiness goes false; free space:
# appends resume by themselves (disk_full_action=suspend).
source "$(dirname "$0")/lib.sh"
drill_init disk_full
[[ $(id -u) == 0 ]] || fail "needs root to loop-mount an ext4 image"
command -v mkfs.ext4 > /dev/null || fail "mkfs.ext4 missing (make deps installs e2fsprogs)"
mnt=$WORK/mnt
mkdir -p "$mnt"
truncate -s 40M "$WORK/fs.img"
mkfs.ext4 -q -F "$WORK/fs.img" || fail "mkfs.ext4 failed"
mount -o loop "$WORK/fs.img" "$mnt" || fail "loop mount failed"
CLEANUP_HOOK='umount "$mnt" 2>/dev/null'
chmod 700 "$mnt"
mkdir -m 700 "$mnt/wal"
head -c $((12 << 20)) /dev/zero | tr '\0' 'f' > "$mnt/filler"  # space to free later
secs=$([[ $LONG == 1 ]] && echo 60 || echo 12)
"$RIG" --wal "$mnt/wal" --rotate-bytes $((8 << 20)) --disk-full-action suspend --streams 1 \
  --seconds "$secs" --rate 8000 --report-ms 200 --ack-file "$WORK/acks" > "$OUT/rig.log" 2>&1 &
pid=$!
# Wait for the disk to fill: readiness false.
for ((i = 0; i < 100; i++)); do
  grep -q '"ready":false' "$OUT/rig.log" && break
  sleep 0.2
done
grep -q '"ready":false' "$OUT/rig.log" || { kill "$pid"; wait "$pid"; fail "readiness never went false"; }
full_line=$(grep '"ready":false' "$OUT/rig.log" | head -1)
report "full: $full_line"
sleep 1
acked_full=$(json_num "$(tail -1 "$OUT/rig.log")" acked)
rm -f "$mnt/filler"  # the operator frees space
resumed=""
for ((i = 0; i < 100; i++)); do
  last=$(tail -1 "$OUT/rig.log")
  if [[ $(json_str "$last" ready) == "" && $last == *'"ready":true'* ]] &&
    (($(json_num "$last" acked) > acked_full)); then
    resumed=$last
    break
  fi
  sleep 0.2
done
wait "$pid"  # the rig stops by itself after $secs seconds
rc=$?
[[ -n $resumed ]] || fail "appends did not resume after space was freed"
report "resumed: $resumed"
grep -q 'disk_full' <<< "$full_line$(grep -h disk_full "$OUT/rig.log" | head -1)" ||
  fail "the refusals did not say disk_full"
((rc < 128)) || fail "the rig died with a signal ($rc)"
lost=$(lost_acks "$mnt/wal" "$WORK/acks")
[[ $lost == 0 ]] || fail "lost=$lost acknowledged records missing"
verify_ok "$mnt/wal" || fail "verify: $(cat "$WORK/verify.out")"
pass "acked_before_full=$acked_full acked_total=$(wc -l < "$WORK/acks") lost=0 readiness_false_then_true=yes $(head -1 "$WORK/verify.out")"
