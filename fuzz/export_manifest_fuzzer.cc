// Arbitrary bytes as an export manifest or a checkpoint (what a verifier reads from an export
// directory years later). Properties: no crash or UB; whatever parses is exactly its own
// canonical encoding (so two different byte strings never parse to the same document), and
// re-parsing that encoding gives the same document back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "checkpoint/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ron::Manifest m;
  if (ron::ParseManifest(input, &m).ok()) {
    if (m.Json() != input) std::abort();
    ron::Manifest again;
    if (!ron::ParseManifest(m.Json(), &again).ok() || again.Json() != m.Json()) std::abort();
    for (const ron::Checkpoint& c : m.checkpoints) {
      ron::Checkpoint back;
      if (!ron::ParseCheckpoint(c.Json(), &back).ok() || back.Id() != c.Id()) std::abort();
    }
  }
  ron::Checkpoint c;
  if (ron::ParseCheckpoint(input, &c).ok()) {
    if (c.Json() != input) std::abort();
    if (c.first_seq == 0 || c.first_seq > c.last_seq || c.tree_size != c.last_seq) std::abort();
  }
  return 0;
}
