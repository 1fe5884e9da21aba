// Arbitrary bytes as a sealed record (what a verifier reads from a WAL or an export).
// Properties: no crash or UB; a record accepted as sealed is exactly its own re-seal (so no two
// different byte strings verify as the same record), and a chain of it alone verifies.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/core/canonical.h"
#include "engine/core/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ron::Canonicalizer canonicalizer;
  static ron::CanonicalRecord record;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (!canonicalizer.VerifySealed(input, &record).ok()) return 0;
  if (ron::Seal(record) != input) std::abort();
  ron::ChainVerifier verifier;
  const ron::Status status = verifier.Add(input);
  // Only the genesis rule (seq 1 ⇔ prev b3:0) may reject a lone verified record.
  if (!status.ok() && status.code() != ron::Code::kPrevMismatch) std::abort();
  return 0;
}
