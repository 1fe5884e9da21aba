// Equality of a constant number of bytes, compared in whole words inline, and of short texts:
// a memcmp call per compare showed in the profiles of the readers (grammar literals, 32-byte
// digests, 67-byte hash texts, names).
#ifndef ENGINE_CORE_EQUAL_BYTES_H_
#define ENGINE_CORE_EQUAL_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ron::internal {

template <typename T>
T LoadWord(const void* p) {
  T word;
  std::memcpy(&word, p, sizeof(word));
  return word;
}

// The n bytes at a and b are equal. Words overlap where n is not a multiple of the word.
template <size_t n>
bool EqualBytes(const void* a_bytes, const void* b_bytes) {
  const auto* a = static_cast<const unsigned char*>(a_bytes);
  const auto* b = static_cast<const unsigned char*>(b_bytes);
  if constexpr (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  } else if constexpr (n <= 8) {  // two words, overlapping when n < 8
    return LoadWord<uint32_t>(a) == LoadWord<uint32_t>(b) &&
           LoadWord<uint32_t>(a + n - 4) == LoadWord<uint32_t>(b + n - 4);
  } else {  // no early exit: the words' differences are or-ed, one branch in all
    uint64_t diff = 0;
    for (size_t i = 0; i + 8 < n; i += 8) {
      diff |= LoadWord<uint64_t>(a + i) ^ LoadWord<uint64_t>(b + i);
    }
    return (diff | (LoadWord<uint64_t>(a + n - 8) ^ LoadWord<uint64_t>(b + n - 8))) == 0;
  }
}

// a == b, byte by byte in a loop: for short texts (keys, names), where operator== called memcmp
// (1-2 % of a verify).
inline bool SameText(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace ron::internal

#endif  // ENGINE_CORE_EQUAL_BYTES_H_
