#!/usr/bin/env bash
# `make run`: drives the record law end to end on the example drafts and shows what an auditor
# sees. Later issues grow this into the engine's main job.
set -euo pipefail
build=${1:-build}
ronctl="$build/ronctl"
out=data/demo
mkdir -p "$out"
chmod 700 data "$out"

echo "ron-audit demo — canonical records, BLAKE3 chain, Merkle root, offline verification"
echo
echo "1. Canonicalize, hash, seal and chain the drafts in docs/examples/drafts.jsonl:"
"$build/ron_demo" docs/examples/drafts.jsonl "$out"
chmod 600 "$out"/*.jsonl
echo
echo "2. The same Merkle root, recomputed by the CLI from the canonical records:"
echo "   \$ ronctl audit merkle < $out/canonical.jsonl"
echo "   $("$ronctl" audit merkle < "$out/canonical.jsonl")"
echo
echo "3. An auditor verifies the sealed chain offline:"
echo "   \$ ronctl audit verify-chain < $out/chain.jsonl"
echo "   $("$ronctl" audit verify-chain < "$out/chain.jsonl")"
echo
echo "4. Tampering is detected — one byte changed in record 6 (amount 125000 → 925000):"
sed '6s/"amount_minor":125000/"amount_minor":925000/' "$out/chain.jsonl" > "$out/tampered.jsonl"
echo "   \$ ronctl audit verify-chain < $out/tampered.jsonl"
echo "   $("$ronctl" audit verify-chain < "$out/tampered.jsonl" 2>/dev/null || true)"
echo "   … and record 4 deleted:"
sed '4d' "$out/chain.jsonl" > "$out/deleted.jsonl"
echo "   $("$ronctl" audit verify-chain < "$out/deleted.jsonl" 2>/dev/null || true)"
echo
echo "5. Bad input gets a typed error, never a crash:"
printf '%s\n' '{"v":1,"seq":2.0}' '{"v":1,"ts_ms":1,"writer_id":"w","seq":1,"stream":"s","kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"x":"\ud800"},"prev":"b3:0"}' 'not json' \
  | "$ronctl" audit canon | sed 's/^/   /' || true
echo
echo "Files: $out/canonical.jsonl (canonical records), $out/chain.jsonl (sealed chain)."
echo "Next: 'make test' runs every test; 'ronctl audit --help' lists the commands."
