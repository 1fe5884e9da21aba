// A real full file system: the WAL on a small loop-mounted ext4 image (needs root, as on the
// project's machines and CI). Appends fail with Io "disk_full", nothing acknowledged is lost, and
// once space is freed a reopened WAL appends again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_util.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

TEST(DiskFullTest, AppendsFailWithDiskFullAndNothingAcknowledgedIsLost) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to loop-mount a small ext4 image";
  testing::TempDir tmp;
  testing::LoopMount fs_mount(tmp.path(), 40);
  ASSERT_TRUE(fs_mount.mounted()) << "mount -o loop failed";
  WalOptions options;
  options.dir = fs_mount.path() + "/wal";
  options.rotate_bytes = WalOptions::kMinRotateBytes;
  Canonicalizer canonicalizer;
  CanonicalRecord record;
  const std::string draft =
      R"({"kind":"Fill","actor":{},"subject":{},"reason":"ok","attrs":{"pad":")" +
      std::string(900, 'f') + "\"}}";
  uint64_t durable = 0;
  Status failure;
  {
    auto wal = Wal::Open(options);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    StreamWal* s = wal.value()->GetStream("w@full", "s").value();
    for (int batch = 0; batch < 100000 && failure.ok(); ++batch) {
      for (int i = 0; i < 64 && failure.ok(); ++i) {
        const std::string prev = s->HeadText();
        Canonicalizer::DraftContext ctx{"w@full", "s", s->head_seq() + 1, prev, 1};
        ASSERT_TRUE(canonicalizer.CanonicalizeDraft(draft, ctx, &record).ok());
        failure = wal.value()->Stage(s, record);
      }
      if (failure.ok()) failure = wal.value()->Commit();
      if (failure.ok()) durable = s->durable_seq();
    }
    EXPECT_EQ(failure.code(), Code::kIo);
    EXPECT_NE(failure.message().find("disk_full"), std::string::npos) << failure.ToString();
    EXPECT_EQ(s->state(), StreamState::kFailed);
    EXPECT_EQ(wal.value()->Stage(s, record).code(), Code::kIo);  // stays failed
    EXPECT_GT(durable, 1000u);
  }
  // Every acknowledged record is there and verifies.
  StreamReport report;
  ASSERT_TRUE(ScanStream(StreamDir(options.dir, "w@full", "s"), "w@full", "s", Limits(),
                         VerifyLevel::kFull, &report)
                  .ok());
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_GE(report.head_seq, durable);
  // Free space (drop the oldest sealed segment, as an operator archiving it would), reopen,
  // and appending resumes.
  std::filesystem::remove(StreamDir(options.dir, "w@full", "s") + "/wal-000001.seg");
  // The stream no longer starts at seq 1: recovery opens it frozen (records are missing).
  auto wal = Wal::Open(options);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  EXPECT_EQ(wal.value()->GetStream("w@full", "s").value()->state(), StreamState::kFrozen);
  EXPECT_NE(wal.value()->GetStream("w@full", "s").value()->failure().message().find("SeqGap"),
            std::string::npos);
  StreamWal* fresh = wal.value()->GetStream("w@full", "fresh").value();
  Canonicalizer::DraftContext ctx{"w@full", "fresh", 1, "b3:0", 1};
  ASSERT_TRUE(canonicalizer.CanonicalizeDraft(draft, ctx, &record).ok());
  ASSERT_TRUE(wal.value()->Stage(fresh, record).ok());
  EXPECT_TRUE(wal.value()->Commit().ok());
}

}  // namespace
}  // namespace ron::wal
