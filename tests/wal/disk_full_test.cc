// A real full file system: the WAL on a small loop-mounted ext4 image (needs root, as on the
// project's machines and CI). Appends fail with Io "disk_full", nothing acknowledged is lost, and
// once space is freed a reopened WAL appends again.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/test_util.h"
#include "wal/files.h"
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
    EXPECT_TRUE(failure.IsDiskFull()) << failure.ToString() << " errno " << failure.sys_errno();
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

// Every ENOSPC is a disk-full error by its errno, whichever file operation hit it: here the
// atomic file write that manifests and key files use.
TEST(DiskFullTest, AnAtomicFileWriteOnAFullDiskIsDiskFull) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to loop-mount a small ext4 image";
  testing::TempDir tmp;
  testing::LoopMount fs_mount(tmp.path(), 40);
  ASSERT_TRUE(fs_mount.mounted()) << "mount -o loop failed";
  const std::string filler = fs_mount.path() + "/filler";
  {
    // Fill it: write and sync until a 4 KiB write fails right after a sync (delayed
    // allocation can hand reserved blocks back once data is written out).
    const int fd = open(filler.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    const std::string block(4096, 'x');
    for (int full_in_a_row = 0; full_in_a_row < 3;) {
      if (write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size())) {
        full_in_a_row = 0;
        continue;
      }
      ASSERT_EQ(errno, ENOSPC);
      ASSERT_EQ(fsync(fd), 0);
      ++full_in_a_row;
    }
    close(fd);
  }
  const Status written =
      WriteFileAtomic(fs_mount.path() + "/manifest.json", std::string(64 << 10, 'm'));
  EXPECT_EQ(written.code(), Code::kIo);
  EXPECT_TRUE(written.IsDiskFull()) << written.ToString() << " errno " << written.sys_errno();
  EXPECT_EQ(written.message().rfind("disk_full: ", 0), 0u) << written.ToString();
  // Any other failure is not disk-full.
  const Status missing = WriteFileAtomic(fs_mount.path() + "/no/such/dir/m.json", "x");
  EXPECT_EQ(missing.code(), Code::kIo);
  EXPECT_FALSE(missing.IsDiskFull()) << missing.ToString();
}

}  // namespace
}  // namespace ron::wal
