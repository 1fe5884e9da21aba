// Segments zero-filled ahead of need (wal/wal_prealloc.cc): when a stream's successor is asked
// for, how large it is, when a segment is sealed, the budget of prepared files, and what is left
// on disk. Under every WAL I/O configuration (the preallocator itself always writes O_DIRECT).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "tests/wal/wal_test_util.h"
#include "wal/files.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

namespace fs = std::filesystem;

constexpr char kWriter[] = "w@test";
constexpr uint64_t kMiB = 1 << 20;

class PreallocTest : public ::testing::TestWithParam<testing::WalParam> {
 protected:
  WalOptions Options(uint64_t rotate_bytes) {
    WalOptions o;
    o.dir = dir_.path() + "/wal";
    o.backend = GetParam().backend;
    o.write_mode = GetParam().mode;
    o.inline_write_max_bytes = GetParam().inline_bytes;
    o.rotate_bytes = rotate_bytes;
    o.allow_small_segments = true;
    // The zero-fill itself, whatever the commits' size (some commit 256 records, ~120 KiB);
    // which streams get it by their commits' size is LargeCommitsAppend's.
    o.zero_fill_max_write_bytes = 0;
    return o;
  }
  std::unique_ptr<Wal> OpenWal(const WalOptions& o) {
    auto r = Wal::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  // Stages n records of ~480 bytes on `stream`, continuing its chain, then commits.
  Status Append(Wal* wal, const std::string& stream, int n) {
    RON_RETURN_IF_ERROR(
        testing::StageRecords(wal, &canonicalizer_, &record_, kWriter, stream, n));
    return wal->Commit();
  }
  std::string SegmentPath(const std::string& stream, uint64_t segment_no) {
    return StreamDir(dir_.path() + "/wal", kWriter, stream) + "/" +
           segment::SegmentFileName(segment_no);
  }
  size_t PreparedOnDisk() {
    size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path() + "/wal")) {
      n += e.path().string().ends_with(".prealloc");
    }
    return n;
  }
  // Waits (bounded) until the preallocator has prepared `n` files in all.
  void WaitPrepared(Wal* wal, uint64_t n) {
    for (int i = 0; i < 2000 && wal->segments_prepared() < n; ++i) usleep(5000);
    ASSERT_EQ(wal->segments_prepared(), n);
  }
  // If a commit asked for a successor that is not ready yet, waits until it is, so that the
  // writer never outruns the zero-fill (every segment is then sealed at its zone's end).
  void LetSuccessorBeReady(Wal* wal) {
    const uint64_t prepared = wal->segments_prepared();
    const uint64_t ready = prepared - wal->counters().segments_preallocated;  // not taken yet
    const uint64_t ahead = wal->segments_ahead();
    if (ahead > ready) WaitPrepared(wal, prepared + (ahead - ready));
  }

  testing::TempDir dir_;
  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
};

TEST_P(PreallocTest, NextSegmentIsZeroFilledAheadOfNeed) {
  const uint64_t rotate = 64 * 1024;
  auto wal = OpenWal(Options(rotate));
  // A stream's successor is asked for once its segment holds a quarter of its zone (here
  // rotate_bytes, under kUnpreallocatedRotateBytes): 16 KiB after the header.
  const std::string first = SegmentPath("a", 1);
  ASSERT_TRUE(Append(wal.get(), "a", 10).ok());
  ASSERT_LT(fs::file_size(first), 4096 + rotate / 4);
  usleep(100000);
  EXPECT_EQ(PreparedOnDisk(), 0u) << "asked for before a quarter";
  while (fs::file_size(first) < 4096 + rotate / 4) ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
  EXPECT_EQ(wal->counters().segments_preallocated, 0u);  // a stream's first is never ahead
  WaitPrepared(wal.get(), 1);                              // segment 2, ahead of need
  while (wal->counters().segments_created < 2) ASSERT_TRUE(Append(wal.get(), "a", 10).ok());
  EXPECT_EQ(wal->counters().segments_preallocated, 1u);
  // The renamed segment keeps its zero-filled size (twice the zone, up to rotate_bytes);
  // frames overwrite it in place …
  const std::string second = SegmentPath("a", 2);
  EXPECT_EQ(fs::file_size(second), rotate);
  for (int i = 0; wal->segments_ahead() == 0; ++i) {
    ASSERT_LT(i, 100) << "segment 3 is never asked for";
    ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
  }
  WaitPrepared(wal.get(), 2);  // segment 3, which the stream will not reach
  EXPECT_EQ(PreparedOnDisk(), 1u);
  ASSERT_EQ(wal->counters().segments_created, 2u);
  ASSERT_TRUE(wal->Close().ok());
  // … and sealing it at close gives the unused zeros back; the preallocator's thread is
  // stopped, and what it prepared for segment 3 is removed.
  EXPECT_LT(fs::file_size(second), rotate);
  EXPECT_EQ(fs::file_size(second) % 4096, 0u);
  EXPECT_EQ(PreparedOnDisk(), 0u);
  wal.reset();
  StreamReport report;
  ASSERT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", kWriter, "a"), kWriter, "a", Limits(),
                         VerifyLevel::kFull, &report)
                  .ok());
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.segments.back().scan.outcome, segment::ScanOutcome::kCleanEnd);
}

// Successors double from the first segment's 8 MiB up to rotate_bytes, and a segment is sealed
// as soon as it passes its zero-filled size with its successor ready: a stream that stops
// leaves zeros of at most twice what its last segment held when it asked.
TEST_P(PreallocTest, SuccessorsDoubleUpToRotateBytes) {
  const uint64_t rotate = 32 * kMiB;
  auto wal = OpenWal(Options(rotate));
  // Sizes the stream's segments 1..4 get: appended to 8 MiB, then zero-filled 16, 32, 32.
  const uint64_t zone[] = {0, 8 * kMiB, 16 * kMiB, 32 * kMiB};
  while (wal->counters().segments_created < 4) {
    ASSERT_TRUE(Append(wal.get(), "a", 256).ok());
    LetSuccessorBeReady(wal.get());
  }
  for (uint64_t n = 1; n <= 3; ++n) {  // sealed: within one commit of its zone's end
    SCOPED_TRACE("segment " + std::to_string(n));
    EXPECT_LE(fs::file_size(SegmentPath("a", n)), zone[n]);
    EXPECT_GT(fs::file_size(SegmentPath("a", n)), zone[n] - 256 * 1024);
  }
  EXPECT_EQ(fs::file_size(SegmentPath("a", 4)), rotate);  // active: 2 × 32 MiB, capped
  EXPECT_EQ(wal->counters().segments_preallocated, 3u);
  ASSERT_TRUE(wal->Close().ok());
}

// A zero-filled segment still open at a crash is reopened as one: its zone is its file size,
// so it is sealed there once its successor (twice that) is ready.
TEST_P(PreallocTest, AZeroFilledSegmentKeepsItsZoneAcrossACrash) {
  const uint64_t rotate = 64 * kMiB;
  for (const bool torn : {false, true}) {
    SCOPED_TRACE(torn ? "torn tail" : "clean end");
    fs::remove_all(dir_.path() + "/wal");
    {
      auto wal = OpenWal(Options(rotate));
      while (wal->counters().segments_created < 2) {
        ASSERT_TRUE(Append(wal.get(), "a", 256).ok());
        LetSuccessorBeReady(wal.get());
      }
      ASSERT_TRUE(Append(wal.get(), "a", 256).ok());  // into segment 2: 16 MiB of zeros
    }  // no Close: segment 2 stays as a crash leaves it, unsealed and untrimmed
    const std::string second = SegmentPath("a", 2);
    ASSERT_EQ(fs::file_size(second), 16 * kMiB);
    if (torn) {  // the next batch's write, begun and never completed: bytes in the zeros
      const std::string bytes = testing::ReadFile(second);
      const size_t end = bytes.find_last_not_of('\0') + 1;  // the records (padded to 4 KiB)
      const int fd = open(second.c_str(), O_WRONLY);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(pwrite(fd, "torn!", 5, static_cast<off_t>((end + 4095) / 4096 * 4096)), 5);
      close(fd);
    }
    auto wal = OpenWal(Options(rotate));
    while (wal->counters().segments_created < 1) {
      ASSERT_TRUE(Append(wal.get(), "a", 256).ok());
      LetSuccessorBeReady(wal.get());
    }
    // Clean: the zeros are its zone (16 MiB), its successor twice that. Torn: cut back to
    // its records, it counts as a segment that was not zero-filled (sealed at 8 MiB).
    const uint64_t zone = torn ? 8 * kMiB : 16 * kMiB;
    EXPECT_LE(fs::file_size(second), zone);
    EXPECT_GT(fs::file_size(second), zone - 256 * 1024);
    EXPECT_EQ(fs::file_size(SegmentPath("a", 3)), 2 * zone);
    ASSERT_TRUE(wal->Close().ok());
  }
}

// rotate_bytes need not be a whole number of 4 KiB blocks; the files zero-filled ahead (with
// O_DIRECT) always are.
TEST_P(PreallocTest, AnUnalignedRotateBytesStillGetsZeroFilledSegments) {
  const uint64_t rotate = 64 * 1024 + 1000;
  auto wal = OpenWal(Options(rotate));
  while (wal->counters().segments_created < 3) {
    ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
    LetSuccessorBeReady(wal.get());
  }
  EXPECT_EQ(wal->counters().segments_preallocated, 2u);
  EXPECT_EQ(fs::file_size(SegmentPath("a", 3)), 64 * 1024u);
  ASSERT_TRUE(wal->Close().ok());
}

// Disk ahead of need is budgeted: streams that write little hold no zero-filled file at all,
// and however many streams are active, at most max_prepared_segments files wait on disk.
TEST_P(PreallocTest, ZeroFilledSegmentsAheadOfNeedAreBudgeted) {
  WalOptions o = Options(256 * 1024);  // active past 64 KiB
  o.max_prepared_segments = 3;
  auto wal = OpenWal(o);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Append(wal.get(), "quiet" + std::to_string(i), 1).ok());
  usleep(100000);
  EXPECT_EQ(PreparedOnDisk(), 0u);
  EXPECT_EQ(wal->segments_prepared(), 0u);
  for (const auto& e : fs::recursive_directory_iterator(dir_.path() + "/wal")) {
    if (e.path().extension() == ".seg") {
      EXPECT_LE(e.file_size(), 8192u) << e.path();
    }
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Append(wal.get(), "busy" + std::to_string(i), 200).ok());
  WaitPrepared(wal.get(), 3);
  usleep(100000);
  EXPECT_EQ(PreparedOnDisk(), 3u);
}

TEST_P(PreallocTest, SegmentsThatWereNotZeroFilledRotateEarly) {
  WalOptions o = Options(32 * kMiB);
  o.allow_small_segments = false;
  o.preallocate = false;
  {
    auto wal = OpenWal(o);  // segment 1 written without preallocation
    ASSERT_TRUE(Append(wal.get(), "a", 10).ok());
  }
  o.preallocate = true;
  auto wal = OpenWal(o);
  // Past a quarter of 8 MiB the stream counts as active and a zero-filled segment 2 is asked for.
  const std::string first = SegmentPath("a", 1);
  while (fs::file_size(first) < 3 * kMiB) ASSERT_TRUE(Append(wal.get(), "a", 256).ok());
  WaitPrepared(wal.get(), 1);
  while (wal->counters().segments_created < 1) ASSERT_TRUE(Append(wal.get(), "a", 256).ok());
  // Segment 1 was sealed at 8 MiB, not 32 MiB, because a zero-filled successor was ready.
  EXPECT_LE(fs::file_size(first), WalOptions::kUnpreallocatedRotateBytes);
  EXPECT_GT(fs::file_size(first), WalOptions::kUnpreallocatedRotateBytes - 256 * 1024);
  EXPECT_EQ(wal->counters().segments_preallocated, 1u);
  EXPECT_EQ(fs::file_size(SegmentPath("a", 2)), 16 * kMiB);  // twice the zone it follows
}

// Which streams get a zero-filled successor, by the size of their writes
// (WalOptions::zero_fill_max_write_bytes, default 16 KiB): one committing 256 records (~120 KiB)
// at a time appends, past its quarter and on into a second segment; one committing 5 (~2.4
// KiB) at a time gets its successor. After a reopen a stream is judged by what it writes from
// then on, not by the bytes its segment held before.
TEST_P(PreallocTest, LargeCommitsAppend) {
  WalOptions o = Options(2 * kMiB);  // a zone of 2 MiB: a successor is asked for past 512 KiB
  o.zero_fill_max_write_bytes = WalOptions::kDefaultZeroFillMaxWriteBytes;
  {
    auto wal = OpenWal(o);
    while (wal->counters().segments_created < 2) {
      ASSERT_TRUE(Append(wal.get(), "bulk", 256).ok());
    }
    while (fs::file_size(SegmentPath("bulk", 2)) < 4096 + kMiB) {
      ASSERT_TRUE(Append(wal.get(), "bulk", 256).ok());
    }
    usleep(100000);
    EXPECT_EQ(wal->segments_prepared(), 0u);
    EXPECT_EQ(PreparedOnDisk(), 0u);
    EXPECT_EQ(wal->counters().segments_preallocated, 0u);
    EXPECT_LE(fs::file_size(SegmentPath("bulk", 1)), 2 * kMiB);  // sealed at rotate_bytes
    do {
      ASSERT_TRUE(Append(wal.get(), "few", 5).ok());
    } while (fs::file_size(SegmentPath("few", 1)) < 4096 + 512 * 1024);
    WaitPrepared(wal.get(), 1);
    EXPECT_EQ(PreparedOnDisk(), 1u);
  }
  auto wal = OpenWal(o);  // what "few" had prepared is removed; nothing is asked for yet
  usleep(100000);
  EXPECT_EQ(wal->segments_prepared(), 0u);
  EXPECT_EQ(PreparedOnDisk(), 0u);
  // One small commit: "bulk" (past its quarter, 1 MiB in large writes) now gets a successor.
  ASSERT_TRUE(Append(wal.get(), "bulk", 1).ok());
  WaitPrepared(wal.get(), 1);
}

TEST_P(PreallocTest, LeftoverPreparedSegmentsAreRemovedOnOpen) {
  {
    auto wal = OpenWal(Options(WalOptions::kDefaultRotateBytes));
    ASSERT_TRUE(Append(wal.get(), "a", 1).ok());
  }
  const std::string leftover = PreallocPath(SegmentPath("a", 7));
  testing::WriteFile(leftover, std::string(100, '\0'));
  auto wal = OpenWal(Options(WalOptions::kDefaultRotateBytes));
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_EQ(wal->GetStream(kWriter, "a").value()->head_seq(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, PreallocTest, testing::AllWalParams(),
                         testing::WalParamName);

}  // namespace
}  // namespace ron::wal
