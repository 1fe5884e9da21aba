// Arbitrary bytes as a proof receipt, checked against one trusted key. Properties: no crash or
// UB; nothing verifies unless it is a canonical receipt whose signature by the trusted key
// holds over a checkpoint that the receipt's paths really lead to — which random bytes cannot
// produce, so an accepted input must be one of the valid seeds (or a re-encoding of one, which
// canonical parsing forbids). Every accepted receipt must re-encode to itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint.h"
#include "checkpoint/receipt.h"
#include "checkpoint/signer.h"

namespace {

// The fixed test key of the seed corpus (seed bytes all 0x01), trusted as "ops-1".
const ron::TrustedKeys& Keys() {
  static const ron::TrustedKeys* keys = [] {
    uint8_t seed[32];
    for (uint8_t& b : seed) b = 1;
    auto signer = ron::Ed25519Signer::FromSeed("ops-1", seed);
    auto* k = new ron::TrustedKeys();
    k->Add("ops-1", signer->public_key());
    return k;
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string summary;
  if (!ron::CheckReceipt(input, Keys(), &summary).ok()) return 0;
  std::string kind;
  ron::InclusionReceipt inclusion;
  ron::ConsistencyReceipt consistency;
  if (!ron::ParseReceipt(input, &kind, &inclusion, &consistency).ok()) std::abort();
  const std::string again = kind == "inclusion" ? inclusion.Json() : consistency.Json();
  if (again != input) std::abort();
  if (summary.rfind("ok ", 0) != 0) std::abort();
  return 0;
}
