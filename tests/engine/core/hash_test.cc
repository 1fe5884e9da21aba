#include "engine/core/hash.h"

#include <gtest/gtest.h>

#include <random>

#include "ron_audit/status.h"
#include "tests/test_util.h"

namespace ron {
namespace {

TEST(HashTest, Blake3KnownAnswers) {
  // The empty-input and "abc" digests published with the BLAKE3 reference implementation.
  EXPECT_EQ(ToHex(Blake3("")), "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262");
  EXPECT_EQ(ToHex(Blake3("abc")),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
}

TEST(HashTest, IncrementalEqualsOneShot) {
  std::string data(5000, '\0');
  std::mt19937 rng(7);
  for (char& c : data) c = static_cast<char>(rng());
  Blake3Hasher hasher;
  hasher.Update(data.data(), 1);
  hasher.Update(data.data() + 1, 1999);
  hasher.Update(data.data() + 2000, 3000);
  EXPECT_EQ(hasher.Finalize(), Blake3(data));
}

// Blake3() of a message of one chunk compresses its blocks itself (not through the hasher):
// every length 0..1025 against the library's own incremental hasher.
TEST(HashTest, OneChunkPathEqualsTheHasherForEveryLength) {
  std::mt19937 rng(13);
  std::string data(1025, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t size = 0; size <= data.size(); ++size) {
    Blake3Hasher hasher;
    hasher.Update(data.data(), size);
    ASSERT_EQ(Blake3(std::string_view(data.data(), size)), hasher.Finalize()) << size;
  }
}

// b3sum is the Rust BLAKE3 CLI: an implementation independent of the C one we link.
TEST(HashTest, AgreesWithB3sumOnManySizes) {
  testing::TempDir dir;
  std::mt19937 rng(11);
  for (size_t size : {0u, 1u, 63u, 64u, 65u, 1023u, 1024u, 1025u, 2048u, 4096u, 65536u, 100001u}) {
    std::string data(size, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    const std::string path = dir.path() + "/in.bin";
    testing::WriteFile(path, data);
    const auto result = testing::RunCommand({"/usr/bin/b3sum", "--no-names", path}, "");
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, ToHex(Blake3(data)) + "\n") << "size " << size;
  }
}

TEST(HashTest, HashTextRoundTrip) {
  const Digest d = Blake3("x");
  const std::string text = HashText(d);
  EXPECT_EQ(text.size(), kHashTextBytes);
  Digest back{};
  ASSERT_TRUE(ParseHashText(text, &back));
  EXPECT_EQ(back, d);
}

// ParseHashText (16 digits at a time where SSE2 is there) against a plain digit-by-digit
// reading: every byte value at every digit position, accepted exactly when it is [0-9a-f],
// with the same digest.
TEST(HashTest, ParseHashTextAgreesWithADigitByDigitReading) {
  const auto reference = [](std::string_view text, Digest* d) {
    if (text.size() != kHashTextBytes || text.substr(0, 3) != "b3:") return false;
    const auto value = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    for (size_t i = 0; i < kDigestBytes; ++i) {
      const int hi = value(text[3 + 2 * i]), lo = value(text[4 + 2 * i]);
      if (hi < 0 || lo < 0) return false;
      (*d)[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
  };
  std::mt19937 rng(3);
  const char digits[] = "0123456789abcdef";
  for (int round = 0; round < 4; ++round) {
    std::string text = "b3:";
    for (size_t i = 0; i < 2 * kDigestBytes; ++i) text.push_back(digits[rng() % 16]);
    for (size_t pos = 3; pos < text.size(); ++pos) {
      for (int b = 0; b < 256; ++b) {
        std::string t = text;
        t[pos] = static_cast<char>(b);
        Digest got{}, want{};
        const bool ok = ParseHashText(t, &got);
        ASSERT_EQ(ok, reference(t, &want)) << "byte " << b << " at " << pos;
        if (ok) {
          ASSERT_EQ(got, want) << "byte " << b << " at " << pos;
        }
      }
    }
  }
}

// HashText (32 digits at a time where SSE2 is there) against ToHex's byte-by-byte digits: every
// byte value at every position of the digest.
TEST(HashTest, HashTextWritesEveryByteAsToHexDoes) {
  for (size_t pos = 0; pos < kDigestBytes; ++pos) {
    for (int b = 0; b < 256; ++b) {
      Digest d = Blake3(std::to_string(pos));
      d[pos] = static_cast<uint8_t>(b);
      ASSERT_EQ(HashText(d), "b3:" + ToHex(d)) << "byte " << b << " at " << pos;
    }
  }
  char buf[kHashTextBytes];
  EXPECT_EQ(HeadText(0, Digest{}, buf), kGenesisPrev);
  EXPECT_EQ(HeadText(1, Digest{}, buf), "b3:" + std::string(64, '0'));
}

TEST(HashTest, ParseHashTextRejectsNonCanonicalForms) {
  Digest d{};
  const std::string hex(64, 'a');
  EXPECT_FALSE(ParseHashText("b3:" + std::string(64, 'A'), &d));
  EXPECT_FALSE(ParseHashText("b3:" + hex.substr(1), &d));
  EXPECT_FALSE(ParseHashText("b3:" + hex + "0", &d));
  EXPECT_FALSE(ParseHashText("B3:" + hex, &d));
  EXPECT_FALSE(ParseHashText("b3:0", &d));
  EXPECT_FALSE(ParseHashText("b3:" + std::string(63, 'a') + "g", &d));
  EXPECT_TRUE(IsValidPrev("b3:0"));
  EXPECT_TRUE(IsValidPrev("b3:" + hex));
  EXPECT_FALSE(IsValidPrev("b3:00"));
}

// IsValidPrev checks the 64 digits without decoding them: every digit position, with each byte
// just outside [0-9a-f] and a few further off, is refused; ParseHashText agrees.
TEST(HashTest, IsValidPrevRefusesABadDigitAtEveryPosition) {
  const std::string good = "b3:" + std::string("0123456789abcdef0123456789abcdef") +
                           "fedcba9876543210fedcba9876543210";
  ASSERT_TRUE(IsValidPrev(good));
  Digest d{};
  for (size_t at = 3; at < good.size(); ++at) {
    for (const char c : {'/', ':', '`', 'g', 'A', 'F', ' ', '\0', '\x7f', '\x80', '\xff'}) {
      std::string bad = good;
      bad[at] = c;
      EXPECT_FALSE(IsValidPrev(bad)) << "position " << at << " byte " << int(c);
      EXPECT_FALSE(ParseHashText(bad, &d)) << "position " << at << " byte " << int(c);
    }
  }
  EXPECT_FALSE(IsValidPrev("b4:" + good.substr(3)));
  EXPECT_FALSE(IsValidPrev(good + "0"));
  EXPECT_FALSE(IsValidPrev(good.substr(0, good.size() - 1)));
}

// IsHashTextOf compares without writing the text out: it must say text == HashText(digest)
// for every digest and every near miss (each byte changed, the prefix, the length).
TEST(HashTest, IsHashTextOfEqualsComparingTheWrittenText) {
  std::mt19937_64 rng(14);
  for (int round = 0; round < 200; ++round) {
    Digest d;
    for (auto& b : d) b = static_cast<uint8_t>(rng());
    if (round == 0) d.fill(0x00);
    if (round == 1) d.fill(0xFF);
    const std::string text = HashText(d);
    ASSERT_TRUE(IsHashTextOf(text, d));
    EXPECT_TRUE(IsPrevOf(text, 7, d));
    for (size_t at = 0; at < text.size(); ++at) {
      for (const char c : {'0', '9', 'a', 'f', 'A', 'g', ':', '\0', '\xff'}) {
        std::string other = text;
        other[at] = c;
        EXPECT_EQ(IsHashTextOf(other, d), other == text) << "position " << at << " byte " << int(c);
      }
    }
    Digest near = d;
    near[rng() % near.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    EXPECT_FALSE(IsHashTextOf(text, near));
    EXPECT_FALSE(IsHashTextOf(text + "0", d));
    EXPECT_FALSE(IsHashTextOf(text.substr(0, text.size() - 1), d));
    EXPECT_FALSE(IsHashTextOf(text.substr(3), d));
    EXPECT_FALSE(IsHashTextOf(kGenesisPrev, d));
    EXPECT_FALSE(IsPrevOf(kGenesisPrev, 7, d));
    EXPECT_FALSE(IsPrevOf(text, 0, d));
  }
  EXPECT_TRUE(IsPrevOf(kGenesisPrev, 0, Digest{}));
}

TEST(StatusTest, CodeNamesAreStableAndRoundTrip) {
  const char* names[] = {"Schema",         "Float",        "Utf8",         "AttrsTooLarge",
                         "RecordTooLarge", "HashMismatch", "PrevMismatch", "SeqGap",
                         "Conflict",       "Busy",         "Frozen",       "Io",
                         "Closed"};
  for (const char* name : names) {
    Code code = Code::kOk;
    ASSERT_TRUE(ParseCodeName(name, &code)) << name;
    EXPECT_EQ(CodeName(code), name);
  }
  Code code = Code::kOk;
  EXPECT_FALSE(ParseCodeName("schema", &code));
  EXPECT_EQ(Status(Code::kIo, "disk_full").ToString(), "Io: disk_full");
  EXPECT_EQ(Status().ToString(), "Ok");
  Result<int> r = Status(Code::kBusy);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kBusy);
  Result<int> v = 5;
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.value(), 5);
}

}  // namespace
}  // namespace ron
