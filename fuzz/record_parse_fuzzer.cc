// Arbitrary bytes as a sealed record (what a verifier reads from a WAL or an export).
// Properties: no crash or UB; a record accepted as sealed is exactly its own re-seal (so no two
// different byte strings verify as the same record), and a chain of it alone verifies;
// VerifySealedMany under Attrs::kLocate (the engine's import path) gives VerifySealed's verdict,
// bytes and digest, and the same attrs text through attrs_text().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "engine/core/canonical.h"
#include "engine/core/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ron::Canonicalizer canonicalizer;
  static ron::CanonicalRecord record, located;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ron::Status verified = canonicalizer.VerifySealed(input, &record);
  ron::Status located_status;
  canonicalizer.VerifySealedMany(std::span(&input, 1), &located, &located_status,
                                 ron::Canonicalizer::Attrs::kLocate);
  if (located_status.code() != verified.code()) std::abort();
  if (!verified.ok()) return 0;
  if (located.bytes != record.bytes || located.digest != record.digest) std::abort();
  if (located.attrs_text() != record.record.attrs) std::abort();
  ron::Record without_attrs = record.record;
  if (located.attrs_bytes != 0) without_attrs.attrs.clear();
  if (!(located.record == without_attrs)) std::abort();
  if (ron::Seal(record) != input) std::abort();
  ron::ChainVerifier verifier;
  const ron::Status status = verifier.Add(input);
  // Only the genesis rule (seq 1 ⇔ prev b3:0) may reject a lone verified record.
  if (!status.ok() && status.code() != ron::Code::kPrevMismatch) std::abort();
  return 0;
}
