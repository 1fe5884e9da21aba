// Frames held back by the commit journal (WalOptions::journal_hold_bytes): a journaled commit
// leaves a stream's frames out of its segment until it has enough of them for one larger write.
// They are acknowledged (durable in the journal), recovery puts them back after a crash, and
// every path that needs them in the segment writes them first: the limit, a reader's request,
// an idle owner, the journal's emptying, a seal, a park, and a stream that fails.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "tests/wal/wal_test_util.h"
#include "wal/journal.h"
#include "wal/metrics.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

constexpr char kWriter[] = "w@hold";

std::string Name(int i) { return "h" + std::to_string(i); }

// Fails the writes whose numbers (counted from FailWrites) it is given, with `err`.
class WriteFaults : public FaultInjector {
 public:
  int OnWrite(int, size_t) override {
    ++writes;
    return failing.count(writes) != 0 ? -err : 0;
  }
  int OnFsync(int) override { return 0; }
  void FailWrites(std::set<int> nth, int with = EIO) {
    failing.clear();
    for (const int n : nth) failing.insert(writes + n);
    err = with;
  }
  int writes = 0, err = EIO;
  std::set<int> failing;
};

class JournalHoldTest : public ::testing::Test {
 protected:
  WalOptions Options() {
    WalOptions o;
    o.dir = dir_.path() + "/wal";
    o.faults = &faults_;
    o.journal_min_files = 2;
    o.journal_hold_bytes = 4096;  // ~8 of these records
    o.preallocate = false;
    return o;
  }
  std::unique_ptr<Wal> Open(const WalOptions& o) { return testing::OpenWalOrFail(o); }
  // Stages `per_stream` records on each of streams [first, last), then commits.
  Status Round(Wal* wal, int first, int last, int per_stream) {
    for (int i = first; i < last; ++i) {
      RON_RETURN_IF_ERROR(
          testing::StageRecords(wal, &canonicalizer_, &record_, kWriter, Name(i), per_stream));
    }
    const Status committed = wal->Commit();
    for (int i = first; i < last; ++i) {
      const StreamWal* s = wal->FindStream(kWriter, Name(i));
      if (s->state() == StreamState::kOk) acked_[Name(i)] = s->durable_seq();
    }
    return committed;
  }
  // Whether this file system gets a journal; where it does not, that no WAL writes one.
  bool JournalHere() {
    if (testing::SyncfsExpected(dir_.path())) return true;
    EXPECT_TRUE(Open(Options())->journal_path().empty()) << "a journal where syncfs cannot back it";
    return false;
  }
  // The newest seq of the stream's segments, as a reader of the files finds it.
  uint64_t InFiles(int i) {
    StreamReport report;
    EXPECT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", kWriter, Name(i)), kWriter, Name(i),
                           Limits(), VerifyLevel::kFull, &report)
                    .ok());
    EXPECT_FALSE(report.frozen) << Name(i) << ": " << report.problem.ToString();
    return report.head_seq;
  }
  // Every acknowledged record is in the segments and the stream is at its head.
  void ExpectEveryAcknowledgedRecord(Wal* wal) {
    for (const auto& [stream, seq] : acked_) {
      const StreamWal* s = wal->FindStream(kWriter, stream);
      ASSERT_NE(s, nullptr) << stream;
      EXPECT_EQ(s->state(), StreamState::kOk) << stream << ": " << s->failure().ToString();
      EXPECT_EQ(s->head_seq(), seq) << stream;
      EXPECT_EQ(InFiles(std::stoi(stream.substr(1))), seq) << stream;
    }
  }

  testing::TempDir dir_;
  WriteFaults faults_;
  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
  std::map<std::string, uint64_t> acked_;  // stream -> newest acknowledged seq
};

// Held frames are acknowledged but not in the segment; once a stream has journal_hold_bytes of
// them they go in with one write; a crash loses none of them.
TEST_F(JournalHoldTest, HeldFramesAreWrittenAtTheLimitAndRecoveredAfterACrash) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    ASSERT_FALSE(wal->journal_path().empty());
    ASSERT_TRUE(Round(wal.get(), 0, 4, 2).ok());
    EXPECT_GT(wal->held_bytes(), 0u);
    EXPECT_NE(MetricsText(*wal).find("\nwal_journal_held_bytes " +
                                     std::to_string(wal->held_bytes()) + "\n"),
              std::string::npos);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(acked_[Name(i)], 2u);
      EXPECT_EQ(InFiles(i), 0u) << "held: acknowledged, not written";
    }
    ASSERT_TRUE(Round(wal.get(), 0, 4, 1).ok());
    // Stream 0 passes the limit: its held frames and the new ones go in, in one write.
    ASSERT_TRUE(Round(wal.get(), 0, 2, 8).ok());
    EXPECT_EQ(InFiles(0), acked_[Name(0)]);
    EXPECT_EQ(InFiles(1), acked_[Name(1)]);
    EXPECT_EQ(InFiles(2), 0u);
    ASSERT_TRUE(Round(wal.get(), 0, 4, 1).ok());
    EXPECT_LT(InFiles(0), acked_[Name(0)]);
  }  // a crash: no Close
  auto wal = Open(Options());
  ASSERT_NE(wal, nullptr);
  EXPECT_GT(wal->journal_records_applied(), 0u);
  ExpectEveryAcknowledgedRecord(wal.get());
  ASSERT_TRUE(Round(wal.get(), 0, 4, 3).ok());  // the chains go on
  ASSERT_TRUE(wal->Close().ok());
  wal.reset();
  ExpectEveryAcknowledgedRecord(Open(Options()).get());
}

// A reader's request writes one stream's held frames; an idle owner's ReleaseBuffers writes
// them all; Sync writes them before it empties the journal.
TEST_F(JournalHoldTest, AReaderAnIdleOwnerAndSyncWriteHeldFrames) {
  if (!JournalHere()) return;
  auto wal = Open(Options());
  ASSERT_TRUE(Round(wal.get(), 0, 3, 2).ok());
  ASSERT_TRUE(wal->WriteOutHeld(kWriter, Name(1)).ok());
  EXPECT_EQ(InFiles(0), 0u);
  EXPECT_EQ(InFiles(1), 2u);
  EXPECT_TRUE(wal->WriteOutHeld(kWriter, "no-such-stream").ok());
  // Staged, not committed: a write-out leaves them staged, and the commit writes them after.
  ASSERT_TRUE(testing::StageRecords(wal.get(), &canonicalizer_, &record_, kWriter, Name(0), 1)
                  .ok());
  ASSERT_TRUE(wal->WriteOutHeld(kWriter, Name(0)).ok());
  EXPECT_EQ(InFiles(0), 2u);
  ASSERT_TRUE(Round(wal.get(), 0, 3, 1).ok());
  EXPECT_EQ(acked_[Name(0)], 4u);
  wal->ReleaseBuffers();
  EXPECT_EQ(wal->held_bytes(), 0u);
  EXPECT_NE(MetricsText(*wal).find("\nwal_journal_held_bytes 0\n"), std::string::npos);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(InFiles(i), acked_[Name(i)]);
  ASSERT_TRUE(Round(wal.get(), 0, 3, 1).ok());
  EXPECT_GT(wal->held_bytes(), 0u);
  ASSERT_TRUE(wal->Sync().ok());
  EXPECT_EQ(wal->held_bytes(), 0u);
  EXPECT_FALSE(wal->has_journaled_records());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(InFiles(i), acked_[Name(i)]);
  // Synced in place: a crash now needs nothing from the journal.
  wal.reset();
  auto reopened = Open(Options());
  EXPECT_EQ(reopened->journal_records_applied(), 0u);
  ExpectEveryAcknowledgedRecord(reopened.get());
}

// The held frames of a WAL stay within journal_hold_total_bytes: past it, commits write.
TEST_F(JournalHoldTest, TheWalHoldsNoMoreThanItsTotal) {
  if (!JournalHere()) return;
  WalOptions o = Options();
  o.journal_hold_total_bytes = 6000;
  auto wal = Open(o);
  const auto written = [&] {
    int n = 0;
    for (int i = 0; i < 8; ++i) n += InFiles(i) > 0 ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(Round(wal.get(), 0, 8, 1).ok());
  EXPECT_EQ(written(), 0) << "8 records fit";
  ASSERT_TRUE(Round(wal.get(), 0, 8, 1).ok());
  EXPECT_GT(written(), 0) << "16 do not";
  EXPECT_LT(written(), 8);
  for (int round = 0; round < 6; ++round) {
    ASSERT_TRUE(Round(wal.get(), 0, 8, 1).ok());
    EXPECT_LE(wal->held_bytes(), o.journal_hold_total_bytes);
  }
  wal.reset();  // a crash
  ExpectEveryAcknowledgedRecord(Open(o).get());
}

// A segment that fills while frames are held is sealed with them all; a parked stream's file
// gets them before its fd closes.
TEST_F(JournalHoldTest, ASealAndAParkWriteHeldFramesFirst) {
  if (!JournalHere()) return;
  WalOptions o = Options();
  o.allow_small_segments = true;
  o.rotate_bytes = 16 << 10;
  o.max_open_segments = 3;
  {
    auto wal = Open(o);
    for (int round = 0; round < 60; ++round) ASSERT_TRUE(Round(wal.get(), 0, 6, 1).ok());
    EXPECT_GT(wal->counters().segments_created, 6u) << "segments were sealed";
    EXPECT_GT(wal->counters().segment_fds_parked, 0u);
    // The journal is emptied with streams parked: what they held must be in their files.
    ASSERT_TRUE(wal->Sync().ok());
    EXPECT_FALSE(wal->has_journaled_records());
    EXPECT_EQ(wal->held_bytes(), 0u);
  }  // a crash
  auto wal = Open(o);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->journal_records_applied(), 0u) << "nothing was left to the journal";
  ExpectEveryAcknowledgedRecord(wal.get());
}

// Two streams holding frames are parked (their fds closed for the budget) by two more: each
// writes what it held before its fd closes, so the journal's emptying finds them in the files.
TEST_F(JournalHoldTest, AParkedStreamWritesWhatItHeldFirst) {
  if (!JournalHere()) return;
  WalOptions o = Options();
  o.max_open_segments = 2;
  {
    auto wal = Open(o);
    ASSERT_TRUE(Round(wal.get(), 0, 2, 1).ok());
    EXPECT_EQ(InFiles(0), 0u) << "held";
    ASSERT_TRUE(Round(wal.get(), 2, 4, 1).ok());  // streams 0 and 1 parked
    EXPECT_EQ(wal->counters().segment_fds_parked, 2u);
    EXPECT_EQ(InFiles(0), 1u);
    EXPECT_EQ(InFiles(1), 1u);
    ASSERT_TRUE(wal->Sync().ok());
    EXPECT_EQ(wal->held_bytes(), 0u);
  }  // a crash after the journal was emptied
  auto wal = Open(o);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->journal_records_applied(), 0u);
  ExpectEveryAcknowledgedRecord(wal.get());
}

// A stream whose write fails while it holds acknowledged frames writes them before it stops;
// when even that fails, the journal is kept for the next open, which puts them back.
TEST_F(JournalHoldTest, AFailedStreamKeepsItsHeldFrames) {
  if (!JournalHere()) return;
  for (const int failing : {1, 2}) {
    SCOPED_TRACE(failing);
    acked_.clear();
    std::filesystem::remove_all(dir_.path() + "/wal");
    {
      auto wal = Open(Options());
      ASSERT_TRUE(Round(wal.get(), 0, 3, 2).ok());  // held
      const uint64_t held_seq = acked_[Name(1)];
      // Stream 1 passes the limit and writes (the others hold): the journal's write is the
      // first, stream 1's the second, the journal's again without stream 1's frames the third,
      // and the write-out of stream 1's held frames as it fails the fourth.
      faults_.FailWrites(failing == 1 ? std::set<int>{2} : std::set<int>{2, 4});
      for (const int i : {1, 0, 2}) {
        ASSERT_TRUE(testing::StageRecords(wal.get(), &canonicalizer_, &record_, kWriter, Name(i),
                                          i == 1 ? 12 : 1)
                        .ok());
      }
      EXPECT_FALSE(wal->Commit().ok());
      for (const int i : {0, 2}) acked_[Name(i)] = wal->FindStream(kWriter, Name(i))->durable_seq();
      EXPECT_EQ(acked_[Name(0)], 3u);
      const StreamWal* s = wal->FindStream(kWriter, Name(1));
      EXPECT_EQ(s->state(), StreamState::kFailed);
      EXPECT_EQ(s->durable_seq(), held_seq);
      acked_[Name(1)] = held_seq;
      if (failing == 1) {
        EXPECT_EQ(InFiles(1), held_seq) << "written before it stopped";
      } else {
        EXPECT_EQ(InFiles(1), 0u) << "only the journal has them";
      }
      faults_.FailWrites({});
    }  // a crash
    auto wal = Open(Options());
    ASSERT_NE(wal, nullptr);
    ExpectEveryAcknowledgedRecord(wal.get());
  }
}

// A full disk met writing held frames out of a commit (an idle owner here) stops the stream
// with them in the kept journal, and the next commit says disk_full (so that the engine suspends
// and reopens, applying the journal) for every stream with records in it; nothing is lost.
TEST_F(JournalHoldTest, AFullDiskOutsideACommitIsReportedAsAFullDisk) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    ASSERT_TRUE(Round(wal.get(), 0, 3, 2).ok());
    faults_.FailWrites({1, 2}, ENOSPC);  // stream 0's write-out, and its retry as it stops
    wal->ReleaseBuffers();
    EXPECT_EQ(wal->FindStream(kWriter, Name(0))->state(), StreamState::kFailed);
    EXPECT_TRUE(wal->FindStream(kWriter, Name(0))->failure().IsDiskFull());
    EXPECT_EQ(wal->held_bytes(), 0u);
    EXPECT_TRUE(wal->WriteOutHeld(kWriter, Name(0)).IsDiskFull()) << "a reader hears why";
    for (const int i : {1, 2}) {
      ASSERT_TRUE(testing::StageRecords(wal.get(), &canonicalizer_, &record_, kWriter, Name(i),
                                        1)
                      .ok());
    }
    const Status committed = wal->Commit();
    EXPECT_TRUE(committed.IsDiskFull()) << committed.ToString();
    EXPECT_EQ(wal->FindStream(kWriter, Name(1))->state(), StreamState::kFailed);
    faults_.FailWrites({});
  }  // the reopen (the engine's, once space returns)
  auto wal = Open(Options());
  ASSERT_NE(wal, nullptr);
  EXPECT_GT(wal->journal_records_applied(), 0u);
  ExpectEveryAcknowledgedRecord(wal.get());
}

}  // namespace
}  // namespace ron::wal
