// BLAKE3-256 digests and their "b3:<64 lowercase hex>" text form (docs/FORMAT.md §1).
//
// Thread-safety: all functions are pure and thread-safe.
#ifndef ENGINE_CORE_HASH_H_
#define ENGINE_CORE_HASH_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ron_audit/types.h"

namespace ron {

// "b3:" + 64 lowercase hex digits.
inline constexpr size_t kHashTextBytes = 3 + 2 * kDigestBytes;
static_assert(kHashTextBytes == 67);
// The genesis `prev`.
inline constexpr std::string_view kGenesisPrev = "b3:0";

// BLAKE3-256 of `data` (official C implementation, SIMD dispatched at run time).
Digest Blake3(std::string_view data);
Digest Blake3(const uint8_t* data, size_t size);

// Incremental BLAKE3 for hashing several pieces without concatenating them.
class Blake3Hasher {
 public:
  Blake3Hasher();
  void Update(const void* data, size_t size);
  Digest Finalize() const;

 private:
  alignas(8) unsigned char state_[1920];  // >= sizeof(blake3_hasher); checked in hash.cc
};

// Lowercase hex of a digest (64 chars).
std::string ToHex(const Digest& digest);
// "b3:" + ToHex(digest), written into `out` (kHashTextBytes chars).
void FormatHashText(const Digest& digest, char* out);
// HashText and ParseHashText are public (ron_audit/types.h).

// True for "b3:0" or a valid ParseHashText text.
bool IsValidPrev(std::string_view text);

}  // namespace ron

#endif  // ENGINE_CORE_HASH_H_
