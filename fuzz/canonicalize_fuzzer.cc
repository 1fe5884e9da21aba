// Arbitrary bytes as an unsealed record. Properties checked on every input:
//  - no crash, no out-of-bounds read, no leak (ASan/UBSan);
//  - an accepted record respects the bounds, and its canonical bytes canonicalize to themselves
//    with the same digest (idempotence);
//  - the sealed form of an accepted record verifies;
//  - the canonical fast path (ReadCanonical) accepts only bytes the full path accepts as
//    canonical, with the same record.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/core/canonical.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ron::Canonicalizer canonicalizer;
  static ron::CanonicalRecord first, second, fast;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (canonicalizer.ReadCanonical(input, &fast)) {
    if (!canonicalizer.Canonicalize(input, &second).ok() || second.bytes != input) std::abort();
    const ron::Record &a = fast.record, &b = second.record;
    if (a.ts_ms != b.ts_ms || a.writer_id != b.writer_id || a.seq != b.seq ||
        a.stream != b.stream || a.kind != b.kind || a.actor.anon != b.actor.anon ||
        a.actor.cap_id != b.actor.cap_id || a.actor.key_fpr != b.actor.key_fpr ||
        a.actor.passport_id != b.actor.passport_id || a.subject.content_id != b.subject.content_id ||
        a.subject.ledger_txid != b.subject.ledger_txid || a.subject.name != b.subject.name ||
        a.reason != b.reason || a.attrs != b.attrs || a.prev != b.prev) {
      std::abort();
    }
  }
  if (!canonicalizer.Canonicalize(input, &first).ok()) return 0;
  if (first.bytes.size() > canonicalizer.limits().max_record_bytes) std::abort();
  if (first.record.attrs.size() > canonicalizer.limits().max_attrs_bytes) std::abort();
  if (!canonicalizer.Canonicalize(first.bytes, &second).ok()) std::abort();
  if (second.bytes != first.bytes || second.digest != first.digest) std::abort();
  if (!canonicalizer.VerifySealed(ron::Seal(first), &second).ok()) std::abort();
  return 0;
}
