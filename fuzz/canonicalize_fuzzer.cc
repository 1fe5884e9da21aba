// Arbitrary bytes as an unsealed record. Properties checked on every input:
//  - no crash, no out-of-bounds read, no leak (ASan/UBSan);
//  - an accepted record respects the bounds, and its canonical bytes canonicalize to themselves
//    with the same digest (idempotence);
//  - the sealed form of an accepted record verifies;
//  - the canonical fast path (ReadCanonical) accepts only bytes the full path accepts as
//    canonical, with the same record; CheckCanonical (the WAL reader's walk) gives its verdict
//    and record but for attrs; CheckChain's views give the chain fields where it accepts;
//  - the same bytes as a draft: PrepareDraft with its one-pass reading of host-written drafts
//    gives the full parser's verdict, error, bytes and record.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/core/canonical.h"

namespace {

void DraftsAgree(std::string_view input) {
  static ron::Canonicalizer fast, full;
  full.UseDraftFastPath(false);
  static ron::CanonicalRecord a, b;
  // Names the engine assigns (mostly), and names it refuses or normalizes, by input length.
  static constexpr std::string_view kOdd[] = {"", "x\x01", "e\xCC\x81", "\xff"};
  const size_t k = input.size() % 16, j = input.size() / 16 % 16;
  const ron::Canonicalizer::DraftContext ctx{k < 12 ? "svc-gw@inst-1" : kOdd[k - 12],
                                             j < 12 ? "ingress" : kOdd[j - 12], 1, "b3:0", 1};
  const ron::Status expected = full.PrepareDraft(input, ctx, &a);
  const ron::Status got = fast.PrepareDraft(input, ctx, &b);
  if (got.code() != expected.code() || got.message() != expected.message()) std::abort();
  if (got.ok() && (a.bytes != b.bytes || !(a.record == b.record))) std::abort();
}

}  // namespace

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
  static ron::ChainView views;
  if (canonicalizer.CheckChain(input, &views)) {
    const ron::Record& r = fast.record;
    if (!check || views.ts_ms != r.ts_ms || views.seq != r.seq || views.writer_id != r.writer_id ||
        views.stream != r.stream || views.kind != r.kind || views.prev != r.prev) {
      std::abort();
    }
  }
  DraftsAgree(input);
  if (!canonicalizer.Canonicalize(input, &first).ok()) return 0;
  if (first.bytes.size() > canonicalizer.limits().max_record_bytes) std::abort();
  if (first.record.attrs.size() > canonicalizer.limits().max_attrs_bytes) std::abort();
  if (!canonicalizer.Canonicalize(first.bytes, &second).ok()) std::abort();
  if (second.bytes != first.bytes || second.digest != first.digest) std::abort();
  if (!canonicalizer.VerifySealed(ron::Seal(first), &second).ok()) std::abort();
  return 0;
}
