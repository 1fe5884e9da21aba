#!/usr/bin/env bash
# `make run` (PROFILE=macronode, the default): the main job. One engine with a WAL in ./data
# (fsync=always) fed by three example hosts at once, then verified from the files alone, and a
# tampered copy caught. `make run PROFILE=micronode` runs the same hosts on the RAM profile.
set -euo pipefail
build=${1:-build}
profile=${2:-macronode}
ronctl="$build/ronctl"
wal=data/wal
mkdir -p data/demo
chmod 700 data data/demo
[[ -d "$wal" ]] || mkdir -m 700 "$wal"

echo "ron-audit — tamper-evident audit log: canonical records, BLAKE3 chains, an io_uring WAL"
echo
echo "1. The record law on docs/examples/drafts.jsonl (canonicalize, hash, seal, chain):"
"$build/ron_demo" docs/examples/drafts.jsonl data/demo | sed -n '1,3p;$p'
chain=$("$ronctl" audit verify-chain < data/demo/chain.jsonl)  # set -e: a failure stops make run
echo "   … ronctl audit verify-chain: $chain"
chmod 600 data/demo/*.jsonl

echo
if [[ "$profile" == micronode ]]; then
  echo "2. Three hosts at once on the Micronode profile (RAM only: the engine writes no file;"
  echo "   this demo saves the metrics page of the running engine to data/metrics.prom itself):"
  "$build/ron_hosts" --profile micronode --metrics data/metrics.prom
  chmod 600 data/metrics.prom
  echo
  echo "Metrics (Prometheus text): data/metrics.prom. 'make run' shows the WAL (Macronode) profile."
  exit 0
fi
exp=data/export
keys=data/keys
[[ -d "$exp" ]] || mkdir -m 700 "$exp"
[[ -d "$keys" ]] || mkdir -m 700 "$keys"
if [[ ! -f "$keys/demo-ops-1.key" ]]; then
  echo "2. A signing key for checkpoints (ronctl keygen; the private key file is 0600):"
  "$ronctl" keygen --key-id demo-ops-1 --out "$keys/demo-ops-1.key" > "$keys/trusted.keys"
  echo "   trusted key: $(cut -c1-60 "$keys/trusted.keys")…"
else
  echo "2. Signing key: $keys/demo-ops-1.key (trusted: $keys/trusted.keys)"
fi

echo
echo "3. Three hosts at once through one engine (2 writer threads, WAL in $wal, fsync=always):"
echo "   a gateway and a lock service emit; the ledger appends sealed transfers, retrying 1 in 5"
"$build/ron_hosts" --profile macronode --wal "$wal" --metrics data/metrics.prom \
  --export "$exp" --signer-key "$keys/demo-ops-1.key" --key-id demo-ops-1
chmod 600 data/metrics.prom

echo
echo "4. Verify from the files alone: every frame, self_hash and link; every segment, range and"
echo "   tree root rebuilt against the manifests; the checkpoint chain and its signatures:"
echo "   \$ ronctl audit verify --dir $wal --export-dir $exp --trusted-keys $keys/trusted.keys"
verify_err=$(mktemp)
"$ronctl" audit verify --dir "$wal" --export-dir "$exp" --trusted-keys "$keys/trusted.keys" \
  2>"$verify_err" | sed 's/^/   /'
echo "   ($(grep 'records/s' "$verify_err" | sed 's/^ronctl audit verify: //'))"
rm -f "$verify_err"

echo
echo "5. A receipt for one ledger transfer, checked offline with nothing but the trusted keys:"
echo "   \$ ronctl audit prove --dir $wal --export-dir $exp --stream ledger --seq 10 > data/receipt.json"
"$ronctl" audit prove --dir "$wal" --export-dir "$exp" --stream ledger --seq 10 > data/receipt.json
chmod 600 data/receipt.json
echo "   \$ ronctl audit check-proof data/receipt.json --trusted-keys $keys/trusted.keys"
proof=$("$ronctl" audit check-proof data/receipt.json --trusted-keys "$keys/trusted.keys")
echo "   $proof"

echo
echo "6. What is on disk (ronctl audit inspect --dir $wal):"
"$ronctl" audit inspect --dir "$wal" | grep '^stream' | sed 's/^/   /'

echo
echo "7. Tampering is found and located — one byte of a ledger amount changed in a copy:"
rm -rf data/tampered && cp -a "$wal" data/tampered
segment=$(ls data/tampered/svc-ledger@demo/ledger/wal-*.seg | head -1)
offset=$(grep -abo '"amount_minor":' "$segment" | sed -n '10p' | cut -d: -f1)
printf '9' | dd of="$segment" bs=1 seek=$((offset + 15)) conv=notrunc status=none
echo "   \$ ronctl audit verify --dir data/tampered"
# verify must fail here: a copy that verifies means tampering went unnoticed.
if caught=$("$ronctl" audit verify --dir data/tampered 2>/dev/null); then
  echo "   NOT DETECTED: $caught"; exit 1
fi
[[ $caught == err* ]] || { echo "   unexpected: $caught"; exit 1; }
echo "   $caught"
echo "   …and the first gateway manifest deleted from a copy of the export:"
rm -rf data/tampered-export && cp -a "$exp" data/tampered-export
rm "$(ls data/tampered-export/svc-hosts@demo/gateway/manifest-*.json | head -1)"
echo "   \$ ronctl audit verify --dir $wal --export-dir data/tampered-export --trusted-keys $keys/trusted.keys"
if caught=$("$ronctl" audit verify --dir "$wal" --export-dir data/tampered-export \
    --trusted-keys "$keys/trusted.keys" 2>/dev/null); then
  echo "   NOT DETECTED: $caught"; exit 1
fi
[[ $caught == err* ]] || { echo "   unexpected: $caught"; exit 1; }
echo "   $caught"

echo
echo "Metrics (Prometheus text): data/metrics.prom. 'make run' again resumes every chain;"
echo "'make run PROFILE=micronode' shows the RAM profile; 'make test' runs every test."
