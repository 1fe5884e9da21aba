// BLAKE3's compression function in 16 SIMD lanes (AVX-512F; with AVX2, two passes of eight),
// one independent block per lane, each with its own chaining value, counter, block length and
// flags: what Blake3Batch needs for the final block of each message's last chunk (1..64 bytes,
// so not a job for blake3_hash_many, which compresses whole 64-byte blocks only). Written from
// the BLAKE3 specification (§2.2: the G function, the round's columns then diagonals, the
// message permutation, seven rounds); tests/engine/core/hash_batch_test.cc holds Blake3Batch
// with and without it to the one-message Blake3 for every length 0..4096.
#ifndef ENGINE_CORE_HASH_LANES_H_
#define ENGINE_CORE_HASH_LANES_H_

#include <cstddef>
#include <cstdint>

namespace ron::internal {

// BLAKE3's initialization vector (the specification's Table 1, SHA-256's).
inline constexpr uint32_t kBlake3Iv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                          0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

// Sixteen compressions, structure of arrays: lane i is cv[.][i], blocks[i], counter_low[i], ...
struct CompressLanes {
  static constexpr size_t kLanes = 16;
  alignas(64) uint32_t cv[8][kLanes];  // in: the chaining value; out: the compression's output
  alignas(64) uint32_t counter_low[kLanes];
  alignas(64) uint32_t counter_high[kLanes];
  alignas(64) uint32_t block_len[kLanes];
  alignas(64) uint32_t flags[kLanes];
  alignas(64) uint8_t blocks[kLanes][64];  // zero-padded after block_len bytes
};

// Whether CompressInLanes can run here (AVX-512F or AVX2, asked once).
bool CanCompressInLanes();

// Replaces every lane's cv with the first eight words of its compression's output (what
// blake3_compress_in_place leaves): a chunk's chaining value, or the first 32 bytes of the
// root output when flags hold ROOT. All 16 lanes are computed; unused lanes are ignored.
// Only when CanCompressInLanes(). AVX-512F where the CPU has it, else CompressInLanesAvx2.
void CompressInLanes(CompressLanes* lanes);

// The AVX2 form alone (tests hold it to the specification on CPUs that have AVX-512 too).
// Only when CanCompressInLanesAvx2().
bool CanCompressInLanesAvx2();
void CompressInLanesAvx2(CompressLanes* lanes);

}  // namespace ron::internal

#endif  // ENGINE_CORE_HASH_LANES_H_
