#include "engine/core/text_scan.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cstdint>

#include "engine/core/cpu.h"

namespace ron::internal {
namespace {

using scan::Kind;

template <Kind kind>
bool IsSpecial(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  const bool escape = c < 0x20 || c == '"' || c == '\\';
  if constexpr (kind == Kind::kEscape) return escape;
  if constexpr (kind == Kind::kEscapeOrNonAscii) return escape || c >= 0x80;
  return c >= 0x80;
}

template <Kind kind>
const char* FindScalar(const char* p, const char* end) {
  while (p < end && !IsSpecial<kind>(*p)) ++p;
  return p;
}

#if defined(__SSE2__)
using scan::Mask16;

// end - p >= 16. The last 16 bytes are loaded where they end, overlapping bytes already seen.
template <Kind kind>
const char* FindSse2(const char* p, const char* end) {
  for (; end - p > 16; p += 16) {
    if (const uint32_t m = Mask16<kind>(p)) return p + __builtin_ctz(m);
  }
  const char* last = end - 16;
  const uint32_t m = Mask16<kind>(last) & (0xFFFFu << (p - last));
  return m != 0 ? last + __builtin_ctz(m) : end;
}
#endif

#if defined(__x86_64__)
template <Kind kind>
__attribute__((target("avx2"))) uint32_t Mask32(const char* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (kind == Kind::kNonAscii) return static_cast<uint32_t>(_mm256_movemask_epi8(v));
  const __m256i quote_or_backslash = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                                                     _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
  const __m256i low = kind == Kind::kEscapeOrNonAscii
                          ? _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v)
                          : _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1F)), v);
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(quote_or_backslash, low)));
}

// end - p >= 32, as FindSse2. Long runs 64 bytes a step (one test and branch for two loads).
template <Kind kind>
__attribute__((target("avx2"))) const char* FindAvx2(const char* p, const char* end) {
  for (; end - p > 64; p += 64) {
    const uint32_t a = Mask32<kind>(p), b = Mask32<kind>(p + 32);
    if ((a | b) != 0) return a != 0 ? p + __builtin_ctz(a) : p + 32 + __builtin_ctz(b);
  }
  for (; end - p > 32; p += 32) {
    if (const uint32_t m = Mask32<kind>(p)) return p + __builtin_ctz(m);
  }
  const char* last = end - 32;
  const uint32_t m = Mask32<kind>(last) & (0xFFFFFFFFu << (p - last));
  return m != 0 ? last + __builtin_ctz(m) : end;
}

// 64 bytes: bit i set if p[i] is special.
template <Kind kind>
__attribute__((target("avx512bw"))) uint64_t Mask64(const char* p) {
  const __m512i v = _mm512_loadu_si512(p);
  if constexpr (kind == Kind::kNonAscii) return _mm512_movepi8_mask(v);
  const uint64_t quote_or_backslash = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"')) |
                                      _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\'));
  // As Mask16: signed, below 0x20 is also every byte >= 0x80.
  const uint64_t low = kind == Kind::kEscapeOrNonAscii
                           ? _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x20))
                           : _mm512_cmplt_epu8_mask(v, _mm512_set1_epi8(0x20));
  return quote_or_backslash | low;
}

// end - p >= 64, as FindSse2.
template <Kind kind>
__attribute__((target("avx512bw"))) const char* FindAvx512(const char* p, const char* end) {
  for (; end - p > 64; p += 64) {
    if (const uint64_t m = Mask64<kind>(p)) return p + __builtin_ctzll(m);
  }
  const char* last = end - 64;
  const uint64_t m = Mask64<kind>(last) & (~uint64_t{0} << (p - last));
  return m != 0 ? last + __builtin_ctzll(m) : end;
}

// Asked once, at load: a load of a flag per scan instead of a call. A scan that runs before
// this file's initialization (another file's static initializer) sees false: SSE2, as exact.
const bool kHasAvx2 = CpuHasAvx2();
const bool kHasAvx512bw = CpuHasAvx512bw();

#endif

template <Kind kind>
const char* Find(const char* p, const char* end) {
#if defined(__SSE2__)
  if (end - p < 16) return FindScalar<kind>(p, end);
#if defined(__x86_64__)
  // A long run: one SSE2 step first (most strings end or escape early), then the wide steps.
  if (end - p >= 64 && kHasAvx2) {
    if (const uint32_t m = Mask16<kind>(p)) return p + __builtin_ctz(m);
    if (end - p >= 16 + 64 && kHasAvx512bw) return FindAvx512<kind>(p + 16, end);
    return FindAvx2<kind>(p + 16, end);
  }
#endif
  return FindSse2<kind>(p, end);
#else
  return FindScalar<kind>(p, end);
#endif
}

}  // namespace

const char* FindEscape(const char* p, const char* end) { return Find<Kind::kEscape>(p, end); }
const char* FindEscapeOrNonAscii(const char* p, const char* end) {
  return Find<Kind::kEscapeOrNonAscii>(p, end);
}
const char* FindNonAscii(const char* p, const char* end) { return Find<Kind::kNonAscii>(p, end); }

}  // namespace ron::internal
