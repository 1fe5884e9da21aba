#include "engine/core/unicode.h"

#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "engine/core/text_scan.h"

namespace ron {

bool IsAscii(std::string_view s) {
  return internal::FindNonAscii(s.data(), s.data() + s.size()) == s.data() + s.size();
}

size_t ValidUtf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const size_t left = s.size() - i;
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  // Ranges from the Unicode Standard, Table 3-7 (well-formed UTF-8 byte sequences).
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    return left >= 2 && (byte(i + 1) & 0xC0) == 0x80 ? 2 : 0;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 3) return 0;
    const unsigned char b1 = byte(i + 1);
    const unsigned char lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned char hi = b0 == 0xED ? 0x9F : 0xBF;  // 0xED A0..BF would be a surrogate
    if (b1 < lo || b1 > hi || (byte(i + 2) & 0xC0) != 0x80) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 4) return 0;
    const unsigned char b1 = byte(i + 1);
    const unsigned char lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned char hi = b0 == 0xF4 ? 0x8F : 0xBF;
    if (b1 < lo || b1 > hi || (byte(i + 2) & 0xC0) != 0x80 || (byte(i + 3) & 0xC0) != 0x80) {
      return 0;
    }
    return 4;
  }
  return 0;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = ValidUtf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool NfcNormalize(std::string_view s, std::string* scratch, std::string_view* out) {
  if (IsAscii(s)) {  // NFC never changes ASCII text
    *out = s;
    return true;
  }
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return false;
  scratch->assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  *out = *scratch;
  return true;
}

bool HasControlCharacter(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x20 || b == 0x7F) return true;
    // U+0080..U+009F are encoded C2 80..C2 9F.
    if (b == 0xC2 && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

}  // namespace ron
