#!/usr/bin/env bash
# `make run`: the main job. Writes a real WAL in ./data with fsync=always from three example
# hosts, verifies it, and shows what an auditor sees. Later issues grow this into the engine's
# multi-threaded main job.
set -euo pipefail
build=${1:-build}
ronctl="$build/ronctl"
wal=data/wal
mkdir -p data/demo
chmod 700 data data/demo

echo "ron-audit — tamper-evident audit log: canonical records, BLAKE3 chains, an io_uring WAL"
echo
echo "1. The record law on docs/examples/drafts.jsonl (canonicalize, hash, seal, chain):"
"$build/ron_demo" docs/examples/drafts.jsonl data/demo | sed -n '1,3p;$p'
echo "   … ronctl audit verify-chain: $("$ronctl" audit verify-chain < data/demo/chain.jsonl)"
chmod 600 data/demo/*.jsonl

echo
echo "2. Append the example hosts' records to the WAL in $wal (fsync=always, group commit):"
for host in gateway locks ledger; do
  drafts=docs/examples/$host.jsonl
  summary=$("$ronctl" audit append --dir "$wal" --stream "$host" --writer-id "svc-$host@demo" \
              --fsync always --metrics "data/metrics-$host.prom" < "$drafts" 2>&1 >/dev/null)
  printf '   %-8s %s\n' "$host" "${summary#ronctl audit append: }"
done

echo
echo "3. Verify every frame checksum, self_hash and link, from the files alone:"
echo "   \$ ronctl audit verify --dir $wal"
verify_err=$(mktemp)
echo "   $("$ronctl" audit verify --dir "$wal" 2>"$verify_err")  ($(sed 's/^ronctl audit verify: //' "$verify_err"))"
rm -f "$verify_err"

echo
echo "4. What is on disk (ronctl audit inspect --dir $wal):"
"$ronctl" audit inspect --dir "$wal" | grep '^stream' | sed 's/^/   /'

echo
echo "5. Tampering is found and located — one byte of a ledger amount changed in a copy:"
rm -rf data/tampered && cp -a "$wal" data/tampered
segment=$(ls data/tampered/svc-ledger@demo/ledger/wal-*.seg | head -1)
offset=$(grep -abo '"amount_minor":' "$segment" | sed -n '10p' | cut -d: -f1)
printf '9' | dd of="$segment" bs=1 seek=$((offset + 15)) conv=notrunc status=none
echo "   \$ ronctl audit verify --dir data/tampered"
echo "   $("$ronctl" audit verify --dir data/tampered 2>/dev/null || true)"

echo
echo "Metrics (Prometheus text) are in data/metrics-*.prom; 'make run' again resumes every chain."
echo "Next: 'make test' runs every test; 'build/ronctl audit --help' lists the commands."
