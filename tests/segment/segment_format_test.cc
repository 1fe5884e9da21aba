#include "segment/segment_format.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>

namespace ron::segment {
namespace {

TEST(SegmentFormatTest, HeaderRoundTripIsLittleEndian) {
  SegmentHeader h;
  h.count = 0x01020304;
  h.first_seq = 0x1122334455667788ULL;
  h.segment_no = 42;
  uint8_t bytes[kHeaderBytes];
  EncodeHeader(h, bytes);
  EXPECT_EQ(std::memcmp(bytes, "RON-AUD\x01", 8), 0);
  EXPECT_EQ(bytes[12], 0x04);
  EXPECT_EQ(bytes[15], 0x01);
  EXPECT_EQ(bytes[16], 0x88);
  EXPECT_EQ(bytes[24], 42);
  SegmentHeader back;
  ASSERT_EQ(DecodeHeader(std::string_view(reinterpret_cast<char*>(bytes), kHeaderBytes), &back),
            HeaderStatus::kOk);
  EXPECT_EQ(back.count, h.count);
  EXPECT_EQ(back.first_seq, h.first_seq);
  EXPECT_EQ(back.segment_no, 42u);
}

TEST(SegmentFormatTest, HeaderProblems) {
  SegmentHeader h;
  h.first_seq = 1;
  uint8_t bytes[kHeaderBytes];
  EncodeHeader(h, bytes);
  std::string good(reinterpret_cast<char*>(bytes), kHeaderBytes);
  SegmentHeader out;
  EXPECT_EQ(DecodeHeader(good.substr(0, 31), &out), HeaderStatus::kShort);
  EXPECT_EQ(DecodeHeader(std::string(32, '\0'), &out), HeaderStatus::kAllZero);
  std::string bad = good;
  bad[7] = 2;  // format version 2
  EXPECT_EQ(DecodeHeader(bad, &out), HeaderStatus::kBadMagic);
  bad = good;
  bad[8] = 1;  // flags
  EXPECT_EQ(DecodeHeader(bad, &out), HeaderStatus::kBadFields);
  bad = good;
  bad[16] = 0;  // first_seq 0
  EXPECT_EQ(DecodeHeader(bad, &out), HeaderStatus::kBadFields);
}

TEST(SegmentFormatTest, FrameRoundTripAndLayout) {
  const std::string json = R"({"v":1})";
  const Digest hash = Blake3(json);
  std::string bytes;
  AppendFrame(7, json, hash, &bytes);
  ASSERT_EQ(bytes.size(), FrameBytes(json.size()));
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), json.size());
  EXPECT_EQ(bytes[4], 1);
  EXPECT_EQ(bytes[5], 7);
  EXPECT_EQ(bytes.substr(13, json.size()), json);
  FrameView frame;
  ASSERT_EQ(DecodeFrame(bytes, 0, 4096, &frame), FrameStatus::kOk);
  EXPECT_EQ(frame.seq, 7u);
  EXPECT_EQ(frame.json, json);
  EXPECT_EQ(frame.self_hash, hash);
  EXPECT_EQ(frame.size, bytes.size());
}

// The frame checksum is XXH3-64 with seed 0 (docs/FORMAT.md §3) whichever SIMD code the
// library picks for this CPU: held to the library's portable entry point at every length
// around its short, medium and striped paths, and around the lengths of stored records.
TEST(SegmentFormatTest, FrameChecksumIsXxh3OfTheCheckedBytes) {
  std::string bytes(4200, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + (i >> 7));
  for (size_t size = 0; size <= bytes.size(); ++size) {
    const std::string_view view(bytes.data(), size);
    ASSERT_EQ(FrameChecksum(view), XXH3_64bits(view.data(), view.size())) << size;
  }
  std::string frame;
  AppendFrame(3, std::string(1100, 'a'), Digest{}, &frame);
  const size_t checked = frame.size() - kFrameChecksumBytes;
  uint64_t stored = 0;
  for (size_t i = 0; i < 8; ++i)
    stored |= uint64_t{static_cast<uint8_t>(frame[checked + i])} << (8 * i);
  EXPECT_EQ(stored, XXH3_64bits(frame.data(), checked));
}

TEST(SegmentFormatTest, FrameDamageIsClassified) {
  const std::string json = R"({"v":1})";
  std::string bytes;
  AppendFrame(1, json, Blake3(json), &bytes);
  FrameView frame;
  EXPECT_EQ(DecodeFrame(bytes.substr(0, bytes.size() - 1), 0, 4096, &frame),
            FrameStatus::kTruncated);
  EXPECT_EQ(DecodeFrame(bytes, 0, json.size() - 1, &frame), FrameStatus::kTooLong);
  for (size_t i = 4; i < bytes.size(); ++i) {  // every byte after len is covered
    std::string bad = bytes;
    bad[i] ^= 0x10;
    EXPECT_EQ(DecodeFrame(bad, 0, 4096, &frame), FrameStatus::kChecksum) << i;
  }
  EXPECT_EQ(DecodeFrame(std::string(8, '\0'), 0, 4096, &frame), FrameStatus::kEnd);
  EXPECT_EQ(DecodeFrame(std::string(2, '\0'), 0, 4096, &frame), FrameStatus::kEnd);
  EXPECT_EQ(DecodeFrame(std::string("\xFF\xFF\xFF\xFF", 4), 0, 4096, &frame),
            FrameStatus::kPadding);
}

TEST(SegmentFormatTest, PaddingReachesTheNextBoundary) {
  for (uint64_t base : {32ull, 4090ull, 4093ull, 4095ull, 8191ull}) {
    std::string out;
    AppendPadding(base, &out);
    EXPECT_EQ((base + out.size()) % kPaddingAlignBytes, 0u) << base;
    EXPECT_EQ(base + out.size(), AfterPadding(base)) << base;
  }
  std::string none;
  AppendPadding(4096, &none);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(AfterPadding(4093), 8192u);  // the 4-byte marker does not fit before 4096
  EXPECT_EQ(AfterPadding(4092), 4096u);
}

TEST(SegmentFormatTest, FileNamesAndEscaping) {
  EXPECT_EQ(SegmentFileName(42), "wal-000042.seg");
  EXPECT_EQ(SegmentFileName(1234567), "wal-1234567.seg");
  uint64_t no = 0;
  EXPECT_TRUE(ParseSegmentFileName("wal-000042.seg", &no));
  EXPECT_EQ(no, 42u);
  EXPECT_FALSE(ParseSegmentFileName("wal-42.seg", &no));
  EXPECT_FALSE(ParseSegmentFileName("wal-0000042.seg", &no));
  EXPECT_FALSE(ParseSegmentFileName("wal-000042.seg.tmp", &no));
  EXPECT_EQ(EscapePathComponent("svc-gw@inst_1.a"), "svc-gw@inst_1.a");
  EXPECT_EQ(EscapePathComponent("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(EscapePathComponent("caf\xC3\xA9"), "caf%C3%A9");
  EXPECT_EQ(EscapePathComponent("."), "%2E");
  EXPECT_EQ(EscapePathComponent(".."), "%2E%2E");
  std::string name;
  for (const char* s : {"a/b c", "caf\xC3\xA9", ".", "..", "x%y"}) {
    ASSERT_TRUE(UnescapePathComponent(EscapePathComponent(s), &name));
    EXPECT_EQ(name, s);
  }
  EXPECT_FALSE(UnescapePathComponent("a%2f", &name));  // lowercase hex is not canonical
  EXPECT_FALSE(UnescapePathComponent("a b", &name));
  EXPECT_FALSE(UnescapePathComponent("%41", &name));  // 'A' must not be escaped
}

}  // namespace
}  // namespace ron::segment
