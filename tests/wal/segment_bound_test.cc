// A segment never ends past rotate_bytes (wal/wal.h): readers refuse a segment file longer
// than kMaxSegmentBytes, the largest rotate_bytes, as damage. The case that once broke it:
// emptying the commit journal at the start of a commit (here forced by journal_max_batch_bytes:
// a commit over it syncs the journaled streams first) pads a journaled stream's last block
// under frames already staged, and the commit then pads again; staging had kept room for one
// padding only.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "wal/files.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

constexpr char kWriter[] = "w@bound";
constexpr uint64_t kRotate = 64 << 10;

class SegmentBoundTest : public ::testing::Test {
 protected:
  // Stages on `stream` a record whose frame is exactly `frame_bytes` long.
  void StageFrame(Wal* wal, const std::string& stream, size_t frame_bytes) {
    StreamWal* s = wal->GetStream(kWriter, stream).value();
    const std::string prev = s->HeadText();
    const Canonicalizer::DraftContext ctx{kWriter, stream, s->head_seq() + 1, prev, 1};
    const auto draft = [](size_t pad) {
      return R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"p":")" +
             std::string(pad, 'p') + "\"}}";
    };
    ASSERT_TRUE(canonicalizer_.CanonicalizeDraft(draft(0), ctx, &record_).ok());
    const size_t base = segment::FrameBytes(record_.bytes.size());
    ASSERT_GE(frame_bytes, base);
    ASSERT_TRUE(canonicalizer_.CanonicalizeDraft(draft(frame_bytes - base), ctx, &record_).ok());
    ASSERT_EQ(segment::FrameBytes(record_.bytes.size()), frame_bytes);
    ASSERT_TRUE(wal->Stage(s, record_).ok());
  }
  // Every segment file of `stream` at most kRotate bytes; how many there are.
  size_t CheckSegments(const std::string& stream) {
    const std::string sdir = StreamDir(options_.dir, kWriter, stream);
    std::vector<std::string> names;
    EXPECT_TRUE(ListDir(sdir, &names).ok());
    for (const std::string& name : names) {
      struct stat st {};
      EXPECT_EQ(stat((sdir + "/" + name).c_str(), &st), 0);
      EXPECT_LE(static_cast<uint64_t>(st.st_size), kRotate) << stream << "/" << name;
    }
    return names.size();
  }

  // Stages on `stream` records whose frames add up to `total` bytes (at least 300), each
  // between 300 and 1200 bytes (what the default attrs bound allows).
  void StageFrames(Wal* wal, const std::string& stream, uint64_t total) {
    for (uint64_t left = total; left > 0;) {
      const uint64_t frame = left <= 1200 ? left : left - 1000 < 300 ? left - 300 : 1000;
      StageFrame(wal, stream, static_cast<size_t>(frame));
      left -= frame;
    }
  }

  testing::TempDir dir_;
  WalOptions options_;
  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
};

TEST_F(SegmentBoundTest, EmptyingTheJournalUnderStagedFramesStaysWithinRotateBytes) {
  options_.dir = dir_.path() + "/wal";
  options_.journal_min_files = 2;
  options_.journal_max_batch_bytes = 10000;
  options_.allow_small_segments = true;
  options_.rotate_bytes = kRotate;
  options_.preallocate = false;  // a segment file is then exactly as long as what was written
  auto opened = Wal::Open(options_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Wal> wal = std::move(opened).value();
  if (wal->journal_path().empty()) {  // no journal where syncfs cannot back it: nothing to pad
    EXPECT_FALSE(testing::SyncfsExpected(dir_.path()));
    return;
  }
  // Round 1, through the journal (two files, 4.4 KB): a's segment (frames start at its second
  // block) ends unpadded at 8193, one byte into its third block.
  constexpr uint64_t kEnd = 2 * segment::kPaddingAlignBytes + 1;
  StageFrames(wal.get(), "a", kEnd - segment::kPaddingAlignBytes);
  StageFrame(wal.get(), "b", 300);
  ASSERT_TRUE(wal->Commit().ok());
  ASSERT_EQ(wal->counters().journal_commits, 1u);
  ASSERT_TRUE(wal->has_journaled_records());
  // Round 2, over journal_max_batch_bytes: a gets frames up to rotate_bytes less one block
  // (what staging used to allow), so that padding 8193 to 12288 first leaves the commit's own
  // padding past rotate_bytes.
  StageFrames(wal.get(), "a", kRotate - segment::kPaddingAlignBytes - kEnd);
  StageFrame(wal.get(), "b", 300);
  ASSERT_TRUE(wal->Commit().ok());  // staging now rotates a first, a block earlier
  CheckSegments("a");
  CheckSegments("b");
  // And on: more rounds, every file still within bounds, every stream read back whole.
  for (int round = 0; round < 40; ++round) {
    for (const char* stream : {"a", "b"}) {
      for (int n = 0; n < 1 + round % 4; ++n) StageFrame(wal.get(), stream, 700 + 97 * n);
    }
    ASSERT_TRUE(wal->Commit().ok());
    CheckSegments("a");
    CheckSegments("b");
  }
  ASSERT_TRUE(wal->Close().ok());
  for (const char* stream : {"a", "b"}) {
    StreamReport report;
    ASSERT_TRUE(ScanStream(StreamDir(options_.dir, kWriter, stream), kWriter, stream, Limits(),
                           VerifyLevel::kFull, &report)
                    .ok());
    EXPECT_FALSE(report.frozen) << stream << ": " << report.problem.ToString();
  }
}

}  // namespace
}  // namespace ron::wal
