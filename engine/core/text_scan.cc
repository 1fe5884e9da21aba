#include "engine/core/text_scan.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstdint>

#include "engine/core/cpu.h"

namespace ron::internal {
namespace {

enum class Kind { kEscape, kEscapeOrNonAscii, kNonAscii };

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
// Bit i set: p[i] is special.
template <Kind kind>
uint32_t Mask16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kind == Kind::kNonAscii) return static_cast<uint32_t>(_mm_movemask_epi8(v));
  const __m128i quote_or_backslash =
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  // Signed, below 0x20 is also every byte >= 0x80; unsigned (min with 0x1F is itself) is not.
  const __m128i low = kind == Kind::kEscapeOrNonAscii
                          ? _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))
                          : _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(quote_or_backslash, low)));
}

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

// end - p >= 32, as FindSse2.
template <Kind kind>
__attribute__((target("avx2"))) const char* FindAvx2(const char* p, const char* end) {
  for (; end - p > 32; p += 32) {
    if (const uint32_t m = Mask32<kind>(p)) return p + __builtin_ctz(m);
  }
  const char* last = end - 32;
  const uint32_t m = Mask32<kind>(last) & (0xFFFFFFFFu << (p - last));
  return m != 0 ? last + __builtin_ctz(m) : end;
}

#endif

template <Kind kind>
const char* Find(const char* p, const char* end) {
#if defined(__SSE2__)
  if (end - p < 16) return FindScalar<kind>(p, end);
#if defined(__x86_64__)
  // A long run: one SSE2 step first (most strings end or escape early), then the wide steps.
  if (end - p >= 64 && CpuHasAvx2()) {
    if (const uint32_t m = Mask16<kind>(p)) return p + __builtin_ctz(m);
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
