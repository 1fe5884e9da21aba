// The text scans of the canonical form (engine/core/text_scan.h) against a byte-by-byte
// reading: every byte value at every place of every length up to 300 (the scalar bytes, the
// 16-, 32- and 64-byte steps and their last, overlapping loads: each path the CPU has), from
// every start offset 0..3; the reader's inline first step too.
#include "engine/core/text_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace ron::internal {
namespace {

bool Escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

const char* Reference(const char* p, const char* end, bool (*special)(unsigned char)) {
  while (p < end && !special(static_cast<unsigned char>(*p))) ++p;
  return p;
}

TEST(TextScanTest, EveryByteAtEveryPlaceAsAByteByByteReading) {
  const auto escape_or_non_ascii = [](unsigned char c) { return Escape(c) || c >= 0x80; };
  const auto non_ascii = [](unsigned char c) { return c >= 0x80; };
  int checked = 0;
  for (int b = 0; b < 256; ++b) {
    for (size_t len = 0; len <= 300; len += (len < 70 ? 1 : 7)) {
      for (size_t at = 0; at <= len; at += (at < 40 || at + 40 > len ? 1 : 5)) {
        for (size_t start = 0; start < 4 && start <= len; ++start) {
          std::string s(len, 'x');
          if (at < len) s[at] = static_cast<char>(b);
          const char* p = s.data() + start;
          const char* end = s.data() + s.size();
          ASSERT_EQ(FindEscape(p, end), Reference(p, end, Escape))
              << "byte " << b << " at " << at << " of " << len << " from " << start;
          ASSERT_EQ(FindEscapeOrNonAscii(p, end), Reference(p, end, escape_or_non_ascii))
              << "byte " << b << " at " << at << " of " << len << " from " << start;
          ASSERT_EQ(FindEscapeOrNonAsciiInline(p, end), Reference(p, end, escape_or_non_ascii))
              << "byte " << b << " at " << at << " of " << len << " from " << start;
          ASSERT_EQ(FindNonAscii(p, end), Reference(p, end, non_ascii))
              << "byte " << b << " at " << at << " of " << len << " from " << start;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000000);
}

}  // namespace
}  // namespace ron::internal
