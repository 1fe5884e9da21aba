// Scans of text for the canonical form, 16 bytes a step (SSE2), then, for runs of 64 bytes or
// more, 32 (AVX2) or 64 (AVX-512BW) on CPUs that have them; byte by byte elsewhere. Each
// returns the first byte at or after `p` of its kind, or `end`. Exact: the caller needs no
// scan of its own after them.
#ifndef ENGINE_CORE_TEXT_SCAN_H_
#define ENGINE_CORE_TEXT_SCAN_H_

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstdint>

namespace ron::internal {

// A byte a JSON string must escape: below 0x20, '"' or backslash (the writer's escaping).
const char* FindEscape(const char* p, const char* end);
// FindEscape's bytes and every byte >= 0x80 (the reader's fast path, which leaves non-ASCII
// text to the full path).
const char* FindEscapeOrNonAscii(const char* p, const char* end);
// A byte >= 0x80.
const char* FindNonAscii(const char* p, const char* end);

namespace scan {

enum class Kind { kEscape, kEscapeOrNonAscii, kNonAscii };

#if defined(__SSE2__)
// 16 bytes: bit i set if p[i] is of the kind.
template <Kind kind>
inline uint32_t Mask16(const char* p) {
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
#endif

}  // namespace scan

// FindEscapeOrNonAscii with its first 16-byte step inline, for the reader's strings, most of
// which end within it (a call per string was ~6 % of a verify).
inline const char* FindEscapeOrNonAsciiInline(const char* p, const char* end) {
#if defined(__SSE2__)
  if (end - p >= 16) {
    if (const uint32_t m = scan::Mask16<scan::Kind::kEscapeOrNonAscii>(p)) {
      return p + __builtin_ctz(m);
    }
    return FindEscapeOrNonAscii(p + 16, end);
  }
#endif
  return FindEscapeOrNonAscii(p, end);
}

}  // namespace ron::internal

#endif  // ENGINE_CORE_TEXT_SCAN_H_
