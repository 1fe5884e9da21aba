# Shared by the chaos drills (sourced). Each drill is bounded and self-stopping, prints exactly one
# verdict line on stdout ("PASS <drill> k=v …" or "FAIL <drill> why …") and writes report.txt and
# its raw logs into $RESULTS/<drill>/. LONG=1 selects soak lengths.
set -uo pipefail

BUILD=${BUILD:-build}
RONCTL=$BUILD/ronctl
RIG=$BUILD/ron_chaos
LONG=${LONG:-0}
RESULTS=${RESULTS:-$BUILD/chaos-results}
WRITER=svc-chaos@rig

# drill_init NAME: a fresh private work directory $WORK and result directory $OUT.
drill_init() {
  DRILL=$1
  OUT=$RESULTS/$DRILL
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ron-chaos-$DRILL.XXXXXX")
  chmod 700 "$WORK"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  : > "$OUT/report.txt"
  trap 'drill_cleanup' EXIT
}
drill_cleanup() {
  [[ -n "${CLEANUP_HOOK:-}" ]] && eval "$CLEANUP_HOOK"
  rm -rf "$WORK"
}
report() { echo "$*" >> "$OUT/report.txt"; }
pass() {
  echo "PASS $DRILL $*"
  report "PASS $*"
  exit 0
}
fail() {
  echo "FAIL $DRILL $*"
  report "FAIL $*"
  exit 1
}

# json_num LINE KEY: the number KEY has in a one-line JSON object.
json_num() { sed -nE "s/.*\"$2\":(-?[0-9.]+).*/\1/p" <<< "$1"; }
json_str() { sed -nE "s/.*\"$2\":\"([^\"]*)\".*/\1/p" <<< "$1"; }
summary_of() { grep '"summary":true' "$1" | tail -1; }

# stored_records WAL: "<stream> <seq> <self_hash>" for every record the WAL holds (verified).
stored_records() {
  local wal=$1 stream
  for stream in $("$RONCTL" audit inspect --dir "$wal" | sed -nE "s|^stream $WRITER/([^ ]+) .*|\1|p"); do
    "$RONCTL" audit range --dir "$wal" --stream "$stream" --writer-id "$WRITER" |
      sed -E "s/.*\"seq\":([0-9]+),.*\"self_hash\":\"([^\"]+)\".*/$stream \1 \2/"
  done
}

# lost_acks WAL ACKFILE: how many acknowledged records are missing or different in the WAL.
lost_acks() {
  stored_records "$1" > "$WORK/stored.txt"
  awk 'NR == FNR { have[$1 " " $2] = $3; next }
       { if (!(($1 " " $2) in have) || have[$1 " " $2] != $3) lost++ }
       END { print lost + 0 }' "$WORK/stored.txt" "$2"
}

# verify_ok WAL [EXPORT]: ronctl audit verify succeeds (tails are fine). The drills' rig cuts
# unsigned checkpoints (bitrot.sh signs and checks its own), so signatures are waived
# explicitly: the roots, manifests and chains are what these drills hold to.
verify_ok() {
  if [[ $# -ge 2 ]]; then
    "$RONCTL" audit verify --dir "$1" --export-dir "$2" --no-signatures > "$WORK/verify.out" \
      2> "$WORK/verify.err"
  else
    "$RONCTL" audit verify --dir "$1" > "$WORK/verify.out" 2> "$WORK/verify.err"
  fi
}

# resumed LOG ACKFILE ACKS_BEFORE: the run whose output is LOG appended without an error and
# acknowledged new records (the chains resumed where they stood). Prints why not, else nothing.
resumed() {
  local line errors acks
  line=$(summary_of "$1")
  errors=$(json_num "$line" errors)
  acks=$(wc -l < "$2")
  [[ -n $errors && $errors == 0 ]] || { echo "errors=${errors:-none} ($(json_str "$line" last_error))"; return 1; }
  ((acks > $3)) || { echo "no new acknowledgements ($3 before, $acks after)"; return 1; }
}
