#include "engine/core/hash_lanes.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <array>

#include "engine/core/cpu.h"

namespace ron::internal {

#if defined(__x86_64__)
namespace {

// The message word each position of each round takes: round 0 in order, and each next round
// the previous one's words through BLAKE3's message permutation.
constexpr std::array<uint8_t, 16> kPermutation = {2, 6,  3,  10, 7,  0,  4,  13,
                                                  1, 11, 12, 5,  9, 14, 15, 8};
constexpr std::array<std::array<uint8_t, 16>, 7> kSchedule = [] {
  std::array<std::array<uint8_t, 16>, 7> s{};
  for (uint8_t i = 0; i < 16; ++i) s[0][i] = i;
  for (size_t r = 1; r < 7; ++r) {
    for (size_t i = 0; i < 16; ++i) s[r][i] = s[r - 1][kPermutation[i]];
  }
  return s;
}();

#define RON_AVX512 __attribute__((target("avx512f"), always_inline)) inline

// The masked forms with every lane set: the plain ones start from an undefined vector, which
// g++ 12 reports as used uninitialized (its bug 105593).
RON_AVX512 __m512i Ror(__m512i x, int n) {
  switch (n) {
    case 16: return _mm512_mask_ror_epi32(x, 0xFFFF, x, 16);
    case 12: return _mm512_mask_ror_epi32(x, 0xFFFF, x, 12);
    case 8: return _mm512_mask_ror_epi32(x, 0xFFFF, x, 8);
    default: return _mm512_mask_ror_epi32(x, 0xFFFF, x, 7);
  }
}

RON_AVX512 void G(__m512i& a, __m512i& b, __m512i& c, __m512i& d, __m512i x, __m512i y) {
  a = _mm512_add_epi32(_mm512_add_epi32(a, b), x);
  d = Ror(_mm512_xor_si512(d, a), 16);
  c = _mm512_add_epi32(c, d);
  b = Ror(_mm512_xor_si512(b, c), 12);
  a = _mm512_add_epi32(_mm512_add_epi32(a, b), y);
  d = Ror(_mm512_xor_si512(d, a), 8);
  c = _mm512_add_epi32(c, d);
  b = Ror(_mm512_xor_si512(b, c), 7);
}

#undef RON_AVX512

#define RON_AVX2 __attribute__((target("avx2"), always_inline)) inline

// Rotations right: by 16 and 8 a byte shuffle within each word, by 12 and 7 two shifts.
RON_AVX2 __m256i Ror2(__m256i x, int n) {
  switch (n) {
    case 16:
      return _mm256_shuffle_epi8(x, _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15,
                                                     12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9,
                                                     14, 15, 12, 13));
    case 8:
      return _mm256_shuffle_epi8(x, _mm256_setr_epi8(1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14,
                                                     15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8,
                                                     13, 14, 15, 12));
    case 12: return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
    default: return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
  }
}

RON_AVX2 void G2(__m256i& a, __m256i& b, __m256i& c, __m256i& d, __m256i x, __m256i y) {
  a = _mm256_add_epi32(_mm256_add_epi32(a, b), x);
  d = Ror2(_mm256_xor_si256(d, a), 16);
  c = _mm256_add_epi32(c, d);
  b = Ror2(_mm256_xor_si256(b, c), 12);
  a = _mm256_add_epi32(_mm256_add_epi32(a, b), y);
  d = Ror2(_mm256_xor_si256(d, a), 8);
  c = _mm256_add_epi32(c, d);
  b = Ror2(_mm256_xor_si256(b, c), 7);
}

RON_AVX2 __m256i Load8(const uint32_t* row) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(row));
}
RON_AVX2 void Store8(uint32_t* row, __m256i v) {
  _mm256_store_si256(reinterpret_cast<__m256i*>(row), v);
}

// Rows r[0..7] of eight words each become columns: r[i] word w goes to r[w] word i (unpacks of
// words, then of word pairs, then the 128-bit halves exchanged).
RON_AVX2 void Transpose8(__m256i r[8]) {
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  // Rows 0-3 (u0..u3) and 4-7 (u4..u7): words w | w + 4 for w = 0..3.
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  r[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  r[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  r[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  r[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  r[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  r[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  r[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  r[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// Lanes first .. first + 7 of `lanes` (first: 0 or 8, so that rows stay 32-byte aligned).
__attribute__((target("avx2"))) void CompressEightLanes(CompressLanes* lanes, size_t first) {
  // m[w]: word w of every lane's block. Each block's two halves loaded whole and transposed
  // (sixteen gathers were slower: a gather is eight loads, and costs ~10 cycles on AMD's cores).
  __m256i m[16];
  for (int half = 0; half < 2; ++half) {
    for (size_t i = 0; i < 8; ++i) {
      m[8 * half + i] = _mm256_load_si256(
          reinterpret_cast<const __m256i*>(lanes->blocks[first + i] + 32 * half));
    }
    Transpose8(m + 8 * half);
  }
  __m256i v0 = Load8(lanes->cv[0] + first), v1 = Load8(lanes->cv[1] + first);
  __m256i v2 = Load8(lanes->cv[2] + first), v3 = Load8(lanes->cv[3] + first);
  __m256i v4 = Load8(lanes->cv[4] + first), v5 = Load8(lanes->cv[5] + first);
  __m256i v6 = Load8(lanes->cv[6] + first), v7 = Load8(lanes->cv[7] + first);
  __m256i v8 = _mm256_set1_epi32(static_cast<int>(kBlake3Iv[0]));
  __m256i v9 = _mm256_set1_epi32(static_cast<int>(kBlake3Iv[1]));
  __m256i v10 = _mm256_set1_epi32(static_cast<int>(kBlake3Iv[2]));
  __m256i v11 = _mm256_set1_epi32(static_cast<int>(kBlake3Iv[3]));
  __m256i v12 = Load8(lanes->counter_low + first), v13 = Load8(lanes->counter_high + first);
  __m256i v14 = Load8(lanes->block_len + first), v15 = Load8(lanes->flags + first);
  for (const std::array<uint8_t, 16>& s : kSchedule) {
    G2(v0, v4, v8, v12, m[s[0]], m[s[1]]);  // the columns
    G2(v1, v5, v9, v13, m[s[2]], m[s[3]]);
    G2(v2, v6, v10, v14, m[s[4]], m[s[5]]);
    G2(v3, v7, v11, v15, m[s[6]], m[s[7]]);
    G2(v0, v5, v10, v15, m[s[8]], m[s[9]]);  // the diagonals
    G2(v1, v6, v11, v12, m[s[10]], m[s[11]]);
    G2(v2, v7, v8, v13, m[s[12]], m[s[13]]);
    G2(v3, v4, v9, v14, m[s[14]], m[s[15]]);
  }
  Store8(lanes->cv[0] + first, _mm256_xor_si256(v0, v8));
  Store8(lanes->cv[1] + first, _mm256_xor_si256(v1, v9));
  Store8(lanes->cv[2] + first, _mm256_xor_si256(v2, v10));
  Store8(lanes->cv[3] + first, _mm256_xor_si256(v3, v11));
  Store8(lanes->cv[4] + first, _mm256_xor_si256(v4, v12));
  Store8(lanes->cv[5] + first, _mm256_xor_si256(v5, v13));
  Store8(lanes->cv[6] + first, _mm256_xor_si256(v6, v14));
  Store8(lanes->cv[7] + first, _mm256_xor_si256(v7, v15));
}

#undef RON_AVX2

__attribute__((target("avx512f"))) void CompressSixteenLanes(CompressLanes* lanes);

}  // namespace

bool CanCompressInLanes() { return CpuHasAvx512f() || CpuHasAvx2(); }
bool CanCompressInLanesAvx2() { return CpuHasAvx2(); }

void CompressInLanes(CompressLanes* lanes) {
  static const bool avx512 = CpuHasAvx512f();
  if (avx512) {
    CompressSixteenLanes(lanes);
  } else {
    CompressInLanesAvx2(lanes);
  }
}

void CompressInLanesAvx2(CompressLanes* lanes) {
  static_assert(CompressLanes::kLanes == 16);
  CompressEightLanes(lanes, 0);
  CompressEightLanes(lanes, 8);
}

namespace {

__attribute__((target("avx512f"))) void CompressSixteenLanes(CompressLanes* lanes) {
  // Word w of every lane's block: lane i's block starts 16 words after lane i - 1's.
  const __m512i lane_words = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160,
                                               176, 192, 208, 224, 240);
  __m512i m[16];
  for (int w = 0; w < 16; ++w) {
    m[w] = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xFFFF,
                                       _mm512_add_epi32(lane_words, _mm512_set1_epi32(w)),
                                       lanes->blocks, 4);
  }
  __m512i v0 = _mm512_load_si512(lanes->cv[0]), v1 = _mm512_load_si512(lanes->cv[1]);
  __m512i v2 = _mm512_load_si512(lanes->cv[2]), v3 = _mm512_load_si512(lanes->cv[3]);
  __m512i v4 = _mm512_load_si512(lanes->cv[4]), v5 = _mm512_load_si512(lanes->cv[5]);
  __m512i v6 = _mm512_load_si512(lanes->cv[6]), v7 = _mm512_load_si512(lanes->cv[7]);
  __m512i v8 = _mm512_set1_epi32(static_cast<int>(kBlake3Iv[0]));
  __m512i v9 = _mm512_set1_epi32(static_cast<int>(kBlake3Iv[1]));
  __m512i v10 = _mm512_set1_epi32(static_cast<int>(kBlake3Iv[2]));
  __m512i v11 = _mm512_set1_epi32(static_cast<int>(kBlake3Iv[3]));
  __m512i v12 = _mm512_load_si512(lanes->counter_low);
  __m512i v13 = _mm512_load_si512(lanes->counter_high);
  __m512i v14 = _mm512_load_si512(lanes->block_len);
  __m512i v15 = _mm512_load_si512(lanes->flags);
  for (const std::array<uint8_t, 16>& s : kSchedule) {
    G(v0, v4, v8, v12, m[s[0]], m[s[1]]);  // the columns
    G(v1, v5, v9, v13, m[s[2]], m[s[3]]);
    G(v2, v6, v10, v14, m[s[4]], m[s[5]]);
    G(v3, v7, v11, v15, m[s[6]], m[s[7]]);
    G(v0, v5, v10, v15, m[s[8]], m[s[9]]);  // the diagonals
    G(v1, v6, v11, v12, m[s[10]], m[s[11]]);
    G(v2, v7, v8, v13, m[s[12]], m[s[13]]);
    G(v3, v4, v9, v14, m[s[14]], m[s[15]]);
  }
  _mm512_store_si512(lanes->cv[0], _mm512_xor_si512(v0, v8));
  _mm512_store_si512(lanes->cv[1], _mm512_xor_si512(v1, v9));
  _mm512_store_si512(lanes->cv[2], _mm512_xor_si512(v2, v10));
  _mm512_store_si512(lanes->cv[3], _mm512_xor_si512(v3, v11));
  _mm512_store_si512(lanes->cv[4], _mm512_xor_si512(v4, v12));
  _mm512_store_si512(lanes->cv[5], _mm512_xor_si512(v5, v13));
  _mm512_store_si512(lanes->cv[6], _mm512_xor_si512(v6, v14));
  _mm512_store_si512(lanes->cv[7], _mm512_xor_si512(v7, v15));
}

}  // namespace
#else
bool CanCompressInLanes() { return false; }
bool CanCompressInLanesAvx2() { return false; }
void CompressInLanes(CompressLanes*) {}
void CompressInLanesAvx2(CompressLanes*) {}
#endif

}  // namespace ron::internal
