#!/usr/bin/env bash
# The operator's peer rig (docs/BENCH_RIG.md): on the disk that holds DIR, prints that disk's
# facts, then runs bench/peers there — ron-audit's durable writes against SQLite, RocksDB and the
# raw device, same run, same disk — and ends with the engine's ratio to the device limit.
#
#   bash tools/bench_rig.sh DIR [peers flags...]     e.g. --seconds 5 --records 300000 --json out.json
#   make bench-rig DIR=/mnt/nvme/scratch [RIG_ARGS="--seconds 5"]
#
# The rig writes only inside a fresh DIR/ron-peers.XXXXXX, removed at the end (--keep keeps the
# cells' files). PEERS names the binary (default: ${BUILD:-build}/bench/peers; make bench-peers
# builds it). Exits non-zero when DIR is unusable or any cell fails.
set -euo pipefail

usage() { echo "usage: tools/bench_rig.sh DIR [peers flags...]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
dir=$1
shift
[[ -n "$dir" ]] || usage
if [[ ! -d "$dir" ]]; then
  echo "bench_rig: $dir does not exist or is not a directory (create it on the disk to measure)" >&2
  exit 2
fi
if [[ ! -w "$dir" ]]; then
  echo "bench_rig: $dir is not writable by $(id -un)" >&2
  exit 2
fi
peers=${PEERS:-${BUILD:-build}/bench/peers}
if [[ ! -x "$peers" ]]; then
  echo "bench_rig: $peers not built: run 'make bench-peers' (or make bench-rig DIR=...)" >&2
  exit 2
fi
dir=$(cd "$dir" && pwd -P)
work=$(mktemp -d "$dir/ron-peers.XXXXXX") || {
  echo "bench_rig: cannot create a directory in $dir" >&2
  exit 2
}
log=$(mktemp)
log_off=$(mktemp)
keep=0
for arg in "$@"; do [[ "$arg" == --keep ]] && keep=1; done
if [[ $keep -eq 1 ]]; then
  trap 'rm -f "$log" "$log_off"; echo "bench_rig: the cells'"'"' files are kept in $work"' EXIT
else
  trap 'rm -rf "$work" "$log" "$log_off"' EXIT
fi

have() { command -v "$1" >/dev/null 2>&1; }
sysval() { [[ -r "$1" ]] && tr -s ' \n' ' ' <"$1" | sed 's/ $//' || echo "?"; }

# The facts of the block device `dev` (a /dev path): what lsblk knows, its queue settings, and for
# stacked or loop devices what lies beneath.
block_facts() {
  local dev=$1 name disk
  name=$(lsblk -ndo KNAME "$dev" 2>/dev/null || true)
  if [[ -z "$name" ]]; then
    echo "  block device:  $dev (lsblk knows nothing of it)"
    return
  fi
  disk=$(lsblk -ndo PKNAME "$dev" 2>/dev/null || true)
  [[ -n "$disk" ]] || disk=$name
  echo "  block device:  $dev (kernel name $name, disk $disk)"
  lsblk -s -o NAME,TYPE,SIZE,MODEL,ROTA,TRAN,SCHED "$dev" 2>/dev/null | sed 's/^/    /' || true
  local q=/sys/block/$disk/queue
  if [[ -d "$q" ]]; then
    echo "  rotational:    $(sysval "$q/rotational") (virtual disks often claim 1)"
    echo "  scheduler:     $(sysval "$q/scheduler")"
    echo "  write cache:   $(sysval "$q/write_cache")   FUA: $(sysval "$q/fua")"
    echo "  block sizes:   logical $(sysval "$q/logical_block_size"), physical $(sysval "$q/physical_block_size")"
  fi
  case $name in
    loop*)
      local back
      back=$(sysval "/sys/block/$name/loop/backing_file")
      echo "  loop device:   backed by $back (its own disk sets the pace)"
      ;;
    vd*) echo "  virtio disk:   a virtual machine's disk; the host's storage and cache mode decide fsync cost" ;;
  esac
}

echo "== device facts for $dir"
if have findmnt; then
  findmnt -T "$dir" -o TARGET,SOURCE,FSTYPE,OPTIONS | sed 's/^/  /'
  src=$(findmnt -no SOURCE -T "$dir" | head -1)
  fstype=$(findmnt -no FSTYPE -T "$dir" | head -1)
else
  src=$(df -P "$dir" | awk 'NR==2 {print $1}')
  fstype="?"
fi
df -hT "$dir" | sed 's/^/  /'
src=${src%%\[*}  # btrfs: /dev/sda2[/subvolume]
case $fstype in
  overlay)
    upper=$(findmnt -no OPTIONS -T "$dir" | tr ',' '\n' | sed -n 's/^upperdir=//p')
    echo "  overlay:       no block device of its own; writes land in upperdir ${upper:-?}"
    if [[ -n "$upper" && -d "$upper" ]]; then
      usrc=$(findmnt -no SOURCE -T "$upper" 2>/dev/null | head -1)
      usrc=${usrc%%\[*}
      echo "  upper dir on:  $usrc ($(findmnt -no FSTYPE -T "$upper" 2>/dev/null | head -1))"
      [[ "$usrc" == /dev/* ]] && have lsblk && block_facts "$usrc"
    fi
    ;;
  tmpfs | ramfs) echo "  memory filesystem: fsync is free here; the rig measures CPU, not a disk" ;;
  *)
    if [[ "$src" == /dev/* ]] && have lsblk; then
      block_facts "$src"
    else
      echo "  block device:  none that lsblk can show (source $src: network, FUSE or pool)"
    fi
    ;;
esac
echo

echo "== bench/peers in $work"
set +e
"$peers" --dir "$work" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
echo
# Zero-filled segments (the default) make each commit's fdatasync carry no metadata, at the
# price of writing the disk twice: which wins depends on the device and the commit's size, so
# ron-audit's rows run again without them (EngineOptions::preallocate_segments = false), in
# their own directory (so that --keep keeps both passes' files), with the device limit to
# compare them with: those of a --systems given (none: no second pass), else both. The other
# flags given come first, overridden by --preallocate off; a --json PATH is the first pass's.
status_off=-
again=()
systems=device,ron-sealed,ron-emit,ron-pipelined
while [[ $# -gt 0 ]]; do
  case "$1" in
    --json) shift 2 || shift; continue ;;
    --systems)
      systems=device
      IFS=, read -ra asked <<< "${2:-}"
      for s in ${asked[@]+"${asked[@]}"}; do
        if [[ "$s" == ron-* ]]; then systems+=",$s"; fi
      done
      shift 2 || shift
      continue
      ;;
  esac
  again+=("$1")
  shift
done
if [[ $status -eq 0 && "$systems" == device ]]; then
  echo "== no ron-audit rows in --systems: no pass without zero-filled segments"
  echo
elif [[ $status -eq 0 ]]; then
  echo "== ron-audit again, segments not zero-filled ahead (--preallocate off)"
  mkdir -m 0700 "$work/off"
  set +e
  "$peers" --dir "$work/off" ${again[@]+"${again[@]}"} --systems "$systems" \
    --preallocate off 2>&1 | tee "$log_off"
  status_off=${PIPESTATUS[0]}
  set -e
  echo
fi
echo "== ron-audit against the device limit on $dir (records/s, same writers and batch)"
grep '^summary: ron-audit' "$log" | sed 's/^summary: /  /' || echo "  (no ron-audit rows ran)"
if [[ -s "$log_off" ]]; then
  echo "== the same without zero-filled segments (EngineOptions::preallocate_segments = false)"
  grep '^summary: ron-audit' "$log_off" | sed 's/^summary: /  /' || echo "  (no rows ran)"
fi
if [[ $status -ne 0 ]]; then
  echo "bench_rig: bench/peers failed (exit $status; the pass without preallocation not run)" >&2
  exit "$status"
fi
if [[ $status_off -ne 0 ]]; then
  echo "bench_rig: bench/peers without preallocation failed (exit $status_off)" >&2
  exit "$status_off"
fi
