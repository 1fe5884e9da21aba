#!/usr/bin/env bash
# Regenerates the interop vectors in this directory with build/ronctl. The files are checked
# in; tests/vectors/vectors_test.cc recomputes every expected output and b3sum cross-checks the
# hashes, so running this must leave `git diff` empty unless the law itself changed (which needs
# a new major version, docs/FORMAT.md).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ronctl=${RONCTL:-$here/../../../build/ronctl}
cd "$here"

canon() { "$ronctl" audit canon || true; }

genesis='{"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}'
printf '%s\n' "$genesis" > record.genesis.json
g_hash=$(canon < record.genesis.json | cut -d' ' -f2)
printf 'self_hash=%s\ndedupe_key=%s\n' "$g_hash" "${g_hash#b3:}" > record.genesis.expected

next='{"v":1,"ts_ms":1730246400100,"writer_id":"svc-gateway@inst-1","seq":2,"stream":"ingress","kind":"QuotaReject","actor":{"passport_id":"u:abcd"},"subject":{"content_id":"b3:1111"},"reason":"audit_backpressure","attrs":{"q":"work"},"prev":"'$g_hash'"}'
printf '%s\n' "$next" > record.next.json
n_hash=$(canon < record.next.json | cut -d' ' -f2)
printf 'self_hash=%s\ndedupe_key=%s\nverify_link(genesis,next)=Ok\n' "$n_hash" "${n_hash#b3:}" > record.next.expected

# The four "evil" inputs.
printf '%s\n' '{"v":1,"ts_ms":1730246400000,"writer_id":"s\u0065\u0301rver","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}' > evil.nfd.json
printf '%s\n' '{"v":1,"ts_ms":1730246400100,"writer_id":"svc-gateway@inst-1","seq":2.0,"stream":"ingress","kind":"QuotaReject","actor":{},"subject":{},"reason":"ok","attrs":{},"prev":"b3:0"}' > evil.float.json
printf '%s\n' '{"prev":"b3:0","attrs":{},"reason":"ok","subject":{},"actor":{"anon":true},"kind":"GetServed","stream":"ingress","seq":1,"writer_id":"svc-gateway@inst-1","ts_ms":1730246400000,"v":1}' > evil.key_order.json
big=$(head -c 1100 /dev/zero | tr '\0' 'x')
printf '%s\n' '{"v":1,"ts_ms":1730246400000,"writer_id":"svc-gateway@inst-1","seq":1,"stream":"ingress","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{"blob":"'$big'"},"prev":"b3:0"}' > evil.oversize_attrs.json
for f in evil.*.json; do canon < "$f" > "${f%.json}.canon.expected"; done

# A batch of seq 100..199 of one chain, and a twin with one byte changed.
prev=b3:0
: > merkle.batch.jsonl
for seq in $(seq 1 199); do
  rec='{"v":1,"ts_ms":'$((1730246400000 + seq * 10))',"writer_id":"svc-gateway@inst-1","seq":'$seq',"stream":"ingress","kind":"GetServed","actor":{"cap_id":"cap:'$((seq % 7))'"},"subject":{"content_id":"b3:'$(printf '%04x' "$seq")'"},"reason":"ok","attrs":{"bytes":'$((seq * 37))',"path":"/o/'$seq'"},"prev":"'$prev'"}'
  line=$(printf '%s\n' "$rec" | canon)
  prev=$(cut -d' ' -f2 <<<"$line")
  if (( seq >= 100 )); then cut -d' ' -f3- <<<"$line" >> merkle.batch.jsonl; fi
done
sed '51s|"path":"/o/150"|"path":"/o/151"|' merkle.batch.jsonl > merkle.tampered.jsonl
"$ronctl" audit merkle < merkle.batch.jsonl > merkle.batch.root
"$ronctl" audit merkle < merkle.tampered.jsonl > merkle.tampered.root
