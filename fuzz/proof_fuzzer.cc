// Arbitrary bytes as a proof receipt, checked against one trusted key. Properties: no crash or
// UB; nothing verifies unless it is a canonical receipt whose signature by the trusted key
// holds over a checkpoint that the receipt's paths really lead to — which random bytes cannot
// produce, so an accepted input must be one of the valid seeds (or a re-encoding of one, which
// canonical parsing forbids). Both are asserted: an accepted receipt must re-encode to itself,
// and its BLAKE3 must be one of the seeds' (fuzz/corpus/proof_fuzzer/, `b3sum` of each file;
// update the list when the seeds are regenerated).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint.h"
#include "checkpoint/receipt.h"
#include "ron_audit/signer.h"
#include "engine/core/hash.h"

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

bool IsValidSeed(std::string_view input) {
  static constexpr std::string_view kSeeds[] = {
      "b3:be4b2139e426061df3ae2e4720d153402ad9651c889516064c1139c729f1cdb2",  // consistency.json
      "b3:151fac18ff6ff2714a00d78003c569febf939d9137cfc0a596d63105b67809d7",  // inclusion-2100
      "b3:916d94328628991a5ed1778724b544f681651a743f9751fb059d4b27b0ac07f9",  // inclusion-5
  };
  const std::string text = ron::HashText(ron::Blake3(input));
  for (std::string_view seed : kSeeds) {
    if (text == seed) return true;
  }
  return false;
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
  if (!IsValidSeed(input)) std::abort();  // a receipt nobody made verified
  return 0;
}
