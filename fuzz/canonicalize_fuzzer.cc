// Arbitrary bytes as an unsealed record. Properties checked on every input:
//  - no crash, no out-of-bounds read, no leak (ASan/UBSan);
//  - an accepted record respects the bounds, and its canonical bytes canonicalize to themselves
//    with the same digest (idempotence);
//  - the sealed form of an accepted record verifies;
//  - the canonical fast path (ReadCanonical) accepts only bytes the full path accepts as
//    canonical, with the same record; CheckCanonical (the WAL reader's walk) gives its verdict
//    and record but for attrs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/core/canonical.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ron::Canonicalizer canonicalizer;
  static ron::CanonicalRecord first, second, fast;
  static ron::Record checked;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const bool check = canonicalizer.CheckCanonical(input, &checked);
  if (check != canonicalizer.ReadCanonical(input, &fast)) std::abort();
  if (check) {
    checked.attrs = fast.record.attrs;  // the one field the check leaves out
    if (!(checked == fast.record)) std::abort();
    if (!canonicalizer.Canonicalize(input, &second).ok() || second.bytes != input) std::abort();
    if (fast.record != second.record) std::abort();
  }
  if (!canonicalizer.Canonicalize(input, &first).ok()) return 0;
  if (first.bytes.size() > canonicalizer.limits().max_record_bytes) std::abort();
  if (first.record.attrs.size() > canonicalizer.limits().max_attrs_bytes) std::abort();
  if (!canonicalizer.Canonicalize(first.bytes, &second).ok()) std::abort();
  if (second.bytes != first.bytes || second.digest != first.digest) std::abort();
  if (!canonicalizer.VerifySealed(ron::Seal(first), &second).ok()) std::abort();
  return 0;
}
