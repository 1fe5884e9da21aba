#!/usr/bin/env python3
"""Regenerates the example drafts of `make run` (deterministic; run from the repo root).

Three hosts of the seeds, each a stream: a gateway (GetServed, QuotaReject), the lock service of
seed 002 (LOCK_ACQUIRE, LOCK_RELEASE, LEASE_EXPIRE, AUTHZ_DENIED) and the ledger of seed 004
(TransferPosted, with idempotency keys). Only ids, fingerprints and coarsened networks appear:
no secrets, tokens or full IPs (IDB I-5).
"""
import json
import random

rng = random.Random(20261122)


def gateway(i):
    if rng.random() < 0.08:
        return {"kind": "QuotaReject", "actor": {"passport_id": f"u:{rng.randrange(16**4):04x}"},
                "subject": {}, "reason": "quota:exceeded",
                "attrs": {"limit_rps": 200, "window_ms": 1000,
                          "client_net": f"203.0.{rng.randrange(256)}.0/24"}}
    cid = f"{rng.randrange(16**12):012x}"
    return {"kind": "GetServed", "actor": {"passport_id": f"u:{rng.randrange(16**4):04x}"},
            "subject": {"content_id": f"b3:{cid}"}, "reason": "ok",
            "attrs": {"route": f"/o/{cid}", "status": 200, "bytes": rng.randrange(100, 10**6),
                      "cache": rng.choice(["hit", "miss"]), "region": rng.choice(["eu-west", "us-east"])}}


def locks(i):
    name = f"jobs/{rng.choice(['rollup', 'compact', 'export', 'reindex'])}-{rng.randrange(8)}"
    kind = rng.choice(["LOCK_ACQUIRE", "LOCK_ACQUIRE", "LOCK_RELEASE", "LEASE_EXPIRE", "AUTHZ_DENIED"])
    reason = {"LOCK_ACQUIRE": "ok", "LOCK_RELEASE": "ok", "LEASE_EXPIRE": "lease:timeout",
              "AUTHZ_DENIED": "authz:missing_cap"}[kind]
    actor = ({"key_fpr": f"ed25519:{rng.randrange(16**6):06x}"} if kind == "AUTHZ_DENIED"
             else {"cap_id": f"cap:sched-{rng.randrange(4)}"})
    return {"kind": kind, "actor": actor, "subject": {"name": name}, "reason": reason,
            "attrs": {"lease_ms": 30000, "fencing_token": 1000 + i}}


def ledger(i):
    return {"kind": "TransferPosted", "actor": {"cap_id": "cap:ledger-api"},
            "subject": {"ledger_txid": f"tx-{i:06d}"}, "reason": "ok",
            "attrs": {"amount_minor": rng.randrange(1, 10**7), "currency": rng.choice(["EUR", "USD", "CHF"]),
                      "from": f"acct:{rng.randrange(1000, 9999)}", "to": f"acct:{rng.randrange(1000, 9999)}",
                      "idem_key": f"{rng.randrange(16**8):08x}-{i}"}}


for name, make, count in [("gateway", gateway, 2000), ("locks", locks, 1200), ("ledger", ledger, 800)]:
    with open(f"docs/examples/{name}.jsonl", "w") as out:
        for i in range(count):
            out.write(json.dumps(make(i), separators=(",", ":"), ensure_ascii=False) + "\n")
