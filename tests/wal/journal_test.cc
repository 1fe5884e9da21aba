// The commit journal (wal/journal.h): commits of many streams made durable by one journal
// append, and recovery that puts every acknowledged record back into its segment when the
// segments lost what was never synced (a power loss: the page cache writes back in any order,
// or not at all), whatever shape that loss takes; damage the journal does not cover still
// freezes the stream.
#include "wal/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "tests/wal/wal_test_util.h"
#include "wal/files.h"
#include "wal/metrics.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

constexpr char kWriter[] = "w@journal";
constexpr int kStreams = 6;

std::string Name(int i) { return "s" + std::to_string(i); }

// Fails the n-th fsync from now (syncfs, fdatasync and the journal's alike; 0 = never).
class Faults : public FaultInjector {
 public:
  int OnWrite(int fd, size_t size) override {
    events.push_back({fd, static_cast<long>(size)});
    return ++writes == fail_write_at ? -EIO : 0;
  }
  void FailNthWrite(int n) { fail_write_at = writes + n; }
  int writes = 0, fail_write_at = 0;
  int OnFsync(int fd) override {
    events.push_back({fd, -1});
    ++fsyncs;
    return fail_at != 0 && fsyncs >= fail_at && fsyncs < fail_at + fail_count ? -EIO : 0;
  }
  std::vector<std::pair<int, long>> events;  // (fd, bytes written), or (fd, -1) for a sync
  // Fails `count` fsyncs in a row, the first being the n-th from now.
  void FailNthFsync(int n, int count = 1) {
    fail_at = fsyncs + n;
    fail_count = count;
  }
  int fsyncs = 0, fail_at = 0, fail_count = 1;
};

class JournalTest : public ::testing::Test {
 protected:
  WalOptions Options() {
    WalOptions o;
    o.dir = dir_.path() + "/wal";
    o.faults = &faults_;
    o.journal_min_files = 2;
    // Every journaled commit writes its segments: these tests look at what each one wrote.
    // Frames held back instead are JournalHoldTest's.
    o.journal_hold_bytes = 0;
    o.preallocate = false;
    return o;
  }
  std::unique_ptr<Wal> Open(const WalOptions& o) { return testing::OpenWalOrFail(o); }
  // One commit of `per_stream` records on each of streams [first, last).
  void CommitRound(Wal* wal, int first, int last, int per_stream) {
    for (int i = first; i < last; ++i) {
      const std::string stream = Name(i);
      StreamWal* s = wal->GetStream(kWriter, stream).value();
      for (int n = 0; n < per_stream; ++n) {
        const std::string draft =
            R"({"kind":"GetServed","actor":{},"subject":{},"reason":"ok","attrs":{"pad":")" +
            std::string(300 + 37 * (i + n), 'p') + "\"}}";
        const std::string prev = s->HeadText();
        Canonicalizer::DraftContext ctx{kWriter, stream, s->head_seq() + 1, prev, 1000};
        ASSERT_TRUE(canonicalizer_.CanonicalizeDraft(draft, ctx, &record_).ok());
        ASSERT_TRUE(wal->Stage(s, record_).ok());
      }
    }
    const Status committed = wal->Commit();
    ASSERT_EQ(committed.ok(), expect_commit_ok_) << committed.ToString();
    for (int i = first; i < last; ++i) {
      const StreamWal* s = wal->FindStream(kWriter, Name(i));
      if (s->state() == StreamState::kOk) heads_[Name(i)] = {s->durable_seq(), s->HeadText()};
    }
  }
  // Whether this file system gets a journal; where it does not, that no WAL writes one.
  bool JournalHere() {
    if (testing::SyncfsExpected(dir_.path())) return true;
    auto wal = Open(Options());
    EXPECT_TRUE(wal->journal_path().empty()) << "a journal where syncfs cannot back it";
    return false;
  }
  // Every stream at the head its last commit acknowledged, its segments whole.
  void ExpectEveryAcknowledgedRecord(Wal* wal) {
    for (const auto& [stream, head] : heads_) {
      const StreamWal* s = wal->FindStream(kWriter, stream);
      ASSERT_NE(s, nullptr) << stream;
      EXPECT_EQ(s->state(), StreamState::kOk) << stream << ": " << s->failure().ToString();
      EXPECT_EQ(s->head_seq(), head.first) << stream;
      EXPECT_EQ(s->HeadText(), head.second) << stream;
      StreamReport report;
      ASSERT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", kWriter, stream), kWriter, stream,
                             Limits(), VerifyLevel::kFull, &report)
                      .ok());
      EXPECT_FALSE(report.frozen) << stream << ": " << report.problem.ToString();
      EXPECT_EQ(report.head_seq, head.first) << stream;
    }
  }
  std::vector<std::string> Journals() {
    std::vector<std::string> paths;
    EXPECT_TRUE(ListJournals(dir_.path() + "/wal", &paths).ok());
    return paths;
  }
  // Where each record of stream i starts in its segments, in seq order (one segment here).
  std::vector<uint64_t> Offsets(int i) {
    StreamReport report;
    std::vector<uint64_t> offsets;
    EXPECT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", kWriter, Name(i)), kWriter, Name(i),
                           Limits(), VerifyLevel::kFull, &report,
                           [&](const RecordView& r) {
                             offsets.push_back(r.offset);
                             return true;
                           })
                    .ok());
    return offsets;
  }
  std::string Segment(int i) {
    const std::string dir = StreamDir(dir_.path() + "/wal", kWriter, Name(i));
    std::vector<std::string> names;
    EXPECT_TRUE(ListDir(dir, &names).ok());
    return dir + "/" + names.back();
  }
  static void Write(const std::string& path, const std::string& bytes) {
    const std::string tmp = path + ".t";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    std::fclose(f);
    chmod(tmp.c_str(), 0600);
    std::filesystem::rename(tmp, path);
  }

  testing::TempDir dir_;
  Faults faults_;
  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
  std::map<std::string, std::pair<uint64_t, std::string>> heads_;
  bool expect_commit_ok_ = true;
};

// A batch is its header (magic, checksum, length, generation), its frames, then zeros to whole
// blocks; a reader takes it only whole.
TEST(JournalFormatTest, ABatchFillsWholeBlocksAndIsReadOnlyWhole) {
  for (const size_t frames : {size_t{0}, size_t{100}, size_t{4072}, size_t{4073}, size_t{9000}}) {
    std::string batch;
    BeginJournalBatch(&batch);
    batch.append(frames, 'f');
    EndJournalBatch(&batch, 7);
    EXPECT_EQ(batch.size() % 4096, 0u) << frames;
    EXPECT_GE(batch.size(), frames + kJournalBatchHeaderBytes);
    EXPECT_LT(batch.size(), frames + kJournalBatchHeaderBytes + 4096);
    EXPECT_EQ(std::memcmp(batch.data(), kJournalBatchMagic, 8), 0);
    uint64_t length = 0, checksum = 0, generation = 0;
    std::memcpy(&checksum, batch.data() + 8, 8);
    std::memcpy(&length, batch.data() + 16, 8);
    std::memcpy(&generation, batch.data() + 24, 8);
    EXPECT_EQ(length, frames);
    EXPECT_EQ(generation, 7u);
    EXPECT_EQ(checksum, segment::FrameChecksum(std::string_view(batch).substr(16, 16 + frames)));
  }
  EXPECT_TRUE(IsJournalFileName("#journal-0123456789abcdef.jnl"));
  EXPECT_FALSE(IsJournalFileName("#journal-0123456789ABCDEF.jnl"));
  EXPECT_FALSE(IsJournalFileName("#journal-0123456789abcde.jnl"));
  EXPECT_FALSE(IsJournalFileName("journal-0123456789abcdef.jnl"));
  EXPECT_FALSE(IsJournalFileName("#journal-0123456789abcdef.jnl.t"));
  EXPECT_FALSE(IsJournalFileName("#journal-0123456789abcdef.jnl.frozen"));
}

// A commit of many streams is one journal append; Close syncs the segments, seals them and
// removes the journal.
TEST_F(JournalTest, ManyStreamsCommitThroughTheJournalAndCloseRemovesIt) {
  const bool expected = testing::SyncfsExpected(dir_.path());
  auto wal = Open(Options());
  EXPECT_EQ(!wal->journal_path().empty(), expected);
  const uint64_t fsyncs = wal->counters().fsync_total;
  CommitRound(wal.get(), 0, kStreams, 3);
  if (expected) {
    EXPECT_EQ(wal->counters().fsync_total - fsyncs, 1u) << "one journal append, no other sync";
    EXPECT_EQ(wal->counters().journal_commits, 1u);
    EXPECT_NE(MetricsText(*wal).find("wal_journal_commits_total 1\n"), std::string::npos);
    EXPECT_EQ(Journals().size(), 1u);
    EXPECT_GT(testing::ReadFile(wal->journal_path()).size(), kJournalHeaderBytes);
  }
  CommitRound(wal.get(), 0, 1, 2);  // one file: below journal_min_files, its own fdatasync
  ASSERT_TRUE(wal->Close().ok());
  wal.reset();
  EXPECT_TRUE(Journals().empty());
  auto reopened = Open(Options());
  EXPECT_EQ(reopened->journal_records_applied(), 0u);
  ExpectEveryAcknowledgedRecord(reopened.get());
}

// The segments lose what was never synced, in each shape a power loss can leave; the journal
// puts every acknowledged record back, and the stream goes on from its head.
TEST_F(JournalTest, RecoveryRestoresWhatTheSegmentsLost) {
  if (!testing::SyncfsExpected(dir_.path())) {
    auto wal = Open(Options());
    EXPECT_TRUE(wal->journal_path().empty()) << "no journal where syncfs cannot back it";
    return;
  }
  enum Loss { kAllData, kFirstBlockZeroed, kMiddleBlockGarbled, kLastBlockGone, kNone };
  for (const Loss loss :
       {kAllData, kFirstBlockZeroed, kMiddleBlockGarbled, kLastBlockGone, kNone}) {
    SCOPED_TRACE(static_cast<int>(loss));
    heads_.clear();
    std::filesystem::remove_all(dir_.path() + "/wal");
    std::string old_journal;
    {
      auto wal = Open(Options());
      for (int round = 0; round < 8; ++round) CommitRound(wal.get(), 0, kStreams, 1 + round % 3);
      old_journal = wal->journal_path();
      // A crash: no Close. What the segments lost is made below.
    }
    for (int i = 0; i < kStreams; ++i) {
      std::string seg = testing::ReadFile(Segment(i));
      // Journaled batches are not padded: the frames run on across blocks.
      ASSERT_GE(seg.size(), 4096u * 3);
      switch (loss) {
        case kAllData:
          seg.resize(4096);
          break;
        case kFirstBlockZeroed:
          std::fill(seg.begin() + 4096, seg.begin() + 8192, '\0');
          break;
        case kMiddleBlockGarbled:
          std::fill(seg.begin() + 8192 + 100, seg.begin() + 8192 + 300, 'x');
          break;
        case kLastBlockGone:
          seg.resize(seg.size() - 4096);
          break;
        case kNone:
          break;
      }
      Write(Segment(i), seg);
    }
    auto wal = Open(Options());
    ASSERT_NE(wal, nullptr);
    ExpectEveryAcknowledgedRecord(wal.get());
    EXPECT_EQ(wal->journal_records_applied() > 0, loss != kNone);
    EXPECT_NE(MetricsText(*wal).find("wal_journal_records_applied_total " +
                                     std::to_string(wal->journal_records_applied()) + "\n"),
              std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(old_journal)) << "applied, then removed";
    CommitRound(wal.get(), 0, kStreams, 1);  // the chains go on
    ASSERT_TRUE(wal->Close().ok());
    wal.reset();
    auto again = Open(Options());
    ExpectEveryAcknowledgedRecord(again.get());
  }
}

// Once the journal holds journal_max_bytes the segments are synced and the journal emptied;
// what was acknowledged before and after is all there after a crash.
TEST_F(JournalTest, AFullJournalIsEmptiedOnceTheSegmentsAreSynced) {
  if (!JournalHere()) return;
  WalOptions o = Options();
  o.journal_max_bytes = 1 << 20;
  {
    auto wal = Open(o);
    uint64_t largest = 0;
    for (int round = 0; round < 40; ++round) {
      CommitRound(wal.get(), 0, kStreams, 8);
      largest = std::max<uint64_t>(largest, testing::ReadFile(wal->journal_path()).size());
    }
    EXPECT_LT(largest, o.journal_max_bytes + (256u << 10)) << "emptied each time it filled";
  }  // a crash: the rounds since the last emptying are in the journal
  ASSERT_EQ(Journals().size(), 1u);
  const JournalContents journal = [&] {
    JournalContents c;
    EXPECT_TRUE(ReadJournal(Journals()[0], Limits().max_record_bytes, &c).ok());
    return c;
  }();
  ASSERT_FALSE(journal.frames.empty());
  const uint64_t first_journaled = journal.frames.front().seq;
  EXPECT_GT(first_journaled, 1u) << "the records before the last emptying are in the segments";
  auto wal = Open(o);
  ExpectEveryAcknowledgedRecord(wal.get());
}

// Damage before what the journal covers (a record synced long ago) is corruption: the stream
// freezes, nothing is cut.
TEST_F(JournalTest, DamageTheJournalDoesNotCoverFreezesTheStream) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, 1, 1);  // one stream: synced by its own fdatasync
    // Through the journal: enough that the damage below lies within the journal's window, so
    // that the scan calls it torn and the check against the journal must refuse the cut.
    for (int round = 0; round < 3; ++round) CommitRound(wal.get(), 0, kStreams, 3);
  }
  std::string seg = testing::ReadFile(Segment(0));
  seg[4096 + 60] ^= 1;  // the first record, synced before the journal
  Write(Segment(0), seg);
  const std::string old_journal = Journals().at(0);
  auto wal = Open(Options());
  const StreamWal* s = wal->FindStream(kWriter, Name(0));
  EXPECT_EQ(s->state(), StreamState::kFrozen);
  EXPECT_EQ(testing::ReadFile(Segment(0)), seg) << "a frozen stream's segment is left as it is";
  for (int i = 1; i < kStreams; ++i) {
    EXPECT_EQ(wal->FindStream(kWriter, Name(i))->state(), StreamState::kOk);
  }
  // The journal may hold the frozen stream's only copy of records: set aside, never applied
  // again (nor deleted).
  EXPECT_TRUE(std::filesystem::exists(old_journal + ".frozen"));
  EXPECT_EQ(Journals(), std::vector<std::string>{wal->journal_path()});
}

// A power loss can lose an acknowledged journaled block of a segment while a later block, of a
// commit that never returned, was written back: the damage is a torn write the journal
// repairs, not corruption (the stream goes on, without the unacknowledged records).
TEST_F(JournalTest, AnUnacknowledgedLaterWriteDoesNotFreezeWhatTheJournalHolds) {
  if (!JournalHere()) return;
  std::string journal_bytes, path;
  std::map<std::string, std::pair<uint64_t, std::string>> acknowledged;
  {
    auto wal = Open(Options());
    for (int round = 0; round < 6; ++round) CommitRound(wal.get(), 0, kStreams, 3);
    path = wal->journal_path();
    journal_bytes = testing::ReadFile(path);
    acknowledged = heads_;
    CommitRound(wal.get(), 0, kStreams, 3);  // its journal append is undone below
  }
  Write(path, journal_bytes);  // as if the crash came before the last append reached the disk
  heads_ = acknowledged;
  for (int i = 0; i < kStreams; ++i) {
    std::string seg = testing::ReadFile(Segment(i));
    ASSERT_GE(seg.size(), 4096u * 4);  // the unacknowledged frames lie past the lost block
    std::fill(seg.begin() + 4096, seg.begin() + 8192, '\0');  // acknowledged, lost
    Write(Segment(i), seg);
  }
  auto wal = Open(Options());
  ASSERT_NE(wal, nullptr);
  ExpectEveryAcknowledgedRecord(wal.get());
  CommitRound(wal.get(), 0, kStreams, 1);
  ASSERT_TRUE(wal->Close().ok());
}

// While a stream's records are durable only in the journal, its commits go through the journal
// even when they touch fewer files than journal_min_files: a commit synced by the stream's own
// fdatasync would make the earlier journaled block durable too, and damage to it found later
// would be corruption the journal must not vouch for. So any damage the journal covers loses
// no acknowledged record.
TEST_F(JournalTest, AJournaledStreamCommitsThroughTheJournalUntilItIsSynced) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 2);
    const uint64_t commits = wal->counters().journal_commits;
    CommitRound(wal.get(), 0, 1, 2);  // one file
    EXPECT_EQ(wal->counters().journal_commits, commits + 1) << "through the journal";
    ASSERT_TRUE(wal->Sync().ok());
    CommitRound(wal.get(), 0, 1, 2);  // synced: its own fdatasync again
    EXPECT_EQ(wal->counters().journal_commits, commits + 1);
    CommitRound(wal.get(), 0, kStreams, 2);
    CommitRound(wal.get(), 0, 1, 2);
    EXPECT_EQ(wal->counters().journal_commits, commits + 3);
  }
  // The first journaled record since the Sync damaged: the journal holds it and every record
  // after it, so the cut loses nothing.
  std::string seg = testing::ReadFile(Segment(0));
  const std::vector<uint64_t> offsets = Offsets(0);
  ASSERT_EQ(offsets.size(), 10u);
  seg[offsets[6] + 60] ^= 1;  // seq 7: the first of the second journaled round
  Write(Segment(0), seg);
  auto wal = Open(Options());
  ExpectEveryAcknowledgedRecord(wal.get());
  EXPECT_GE(wal->journal_records_applied(), 4u);
}

// A commit whose journaled frames would be more than one batch may hold (readers take a longer
// batch for damage) syncs the streams with frames only in the journal, then each file of its
// own: the journal is left empty, and never holds a batch over the bound.
TEST_F(JournalTest, ACommitTooLargeForOneBatchSyncsEachFileInstead) {
  if (!JournalHere()) return;
  WalOptions o = Options();
  o.journal_max_batch_bytes = 8192;
  o.syncfs_min_files = 0;  // each file its own fdatasync, to be seen below
  std::map<std::string, int> fds;  // segment path -> fd
  {
    auto wal = Open(o);
    CommitRound(wal.get(), 0, kStreams, 1);  // ~4 KiB: one batch
    EXPECT_EQ(wal->counters().journal_commits, 1u);
    ASSERT_TRUE(wal->has_journaled_records());
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(entry.path(), ec);
      if (!ec) fds[target.string()] = std::stoi(entry.path().filename().string());
    }
    const size_t seen = faults_.events.size();
    CommitRound(wal.get(), 0, kStreams, 4);  // ~16 KiB
    EXPECT_EQ(wal->counters().journal_commits, 1u) << "not through the journal";
    EXPECT_FALSE(wal->has_journaled_records());
    const auto syncs_of = [&](const std::string& path) {
      EXPECT_EQ(fds.count(path), 1u) << path;
      size_t syncs = 0;
      for (size_t e = seen; e < faults_.events.size(); ++e) {
        syncs += faults_.events[e] == std::pair<int, long>{fds[path], -1};
      }
      return syncs;
    };
    // The journaled round synced where it is (a syncfs through the journal's fd), the journal
    // emptied (its own fsync), then each segment with its own fdatasync.
    EXPECT_GE(syncs_of(wal->journal_path()), 2u);
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_GE(syncs_of(Segment(i)), 1u) << Segment(i) << " synced with its own fdatasync";
    }
    JournalContents c;
    ASSERT_TRUE(ReadJournal(wal->journal_path(), Limits().max_record_bytes, &c).ok());
    EXPECT_TRUE(c.frames.empty()) << "emptied, and the large commit not in it";
    CommitRound(wal.get(), 0, kStreams, 1);
    EXPECT_EQ(wal->counters().journal_commits, 2u) << "small commits journaled again";
    ASSERT_TRUE(ReadJournal(wal->journal_path(), Limits().max_record_bytes, &c).ok());
    ASSERT_EQ(c.batches.size(), 1u);
    EXPECT_LE(c.batches[0].size(), o.journal_max_batch_bytes);
  }  // a crash: the last round is in the journal
  auto wal = Open(o);
  ExpectEveryAcknowledgedRecord(wal.get());
  o.journal_max_batch_bytes = kMaxJournalBatchBytes + 1;
  EXPECT_EQ(Wal::Open(o).status().code(), Code::kSchema);
}

// A WAL dropped without Close (a failed open, a writer thread reopening after a full disk)
// leaves no empty journal behind; one that holds records stays for the next Open.
TEST_F(JournalTest, ADroppedWalRemovesItsJournalOnlyWhenItHoldsNothing) {
  if (!JournalHere()) return;
  { auto wal = Open(Options()); }
  EXPECT_TRUE(Journals().empty());
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 1);
  }
  EXPECT_EQ(Journals().size(), 1u);
}

// A stream frozen while its journal was applied (here seq 2, synced long ago, was damaged, and
// the journal holds seqs 3 and 4) stays frozen at every later open while the journal set aside
// holds records it lacks: going on, it would reissue their seqs.
TEST_F(JournalTest, AFreezeFromTheJournalOutlivesTheOpenThatFoundIt) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 2);
    ASSERT_TRUE(wal->Sync().ok());
    CommitRound(wal.get(), 0, kStreams, 2);  // seqs 3 and 4, only in the journal
  }
  const std::vector<uint64_t> offsets = Offsets(0);
  ASSERT_GE(offsets.size(), 2u);
  std::string seg = testing::ReadFile(Segment(0));
  seg.resize(offsets[1] + 20);  // seq 2 cut short, nothing after: a torn tail to the scan
  Write(Segment(0), seg);
  const std::string journal = Journals().at(0);
  for (int open = 0; open < 2; ++open) {
    auto wal = Open(Options());
    ASSERT_NE(wal, nullptr);
    StreamWal* s = wal->FindStream(kWriter, Name(0));
    EXPECT_EQ(s->state(), StreamState::kFrozen) << "open " << open << ", head " << s->head_seq();
    EXPECT_NE(s->failure().message().find(journal), std::string::npos) << s->failure().ToString();
    EXPECT_EQ(wal->FindStream(kWriter, Name(1))->state(), StreamState::kOk);
    EXPECT_TRUE(std::filesystem::exists(journal + ".frozen"));
    ASSERT_TRUE(wal->Close().ok());
  }
}

// A stream whose directory is gone while a journal holds its records stays frozen at every
// open; the operator gives the records up by moving the journal set aside out of the WAL.
TEST_F(JournalTest, AMissingStreamStaysFrozenUntilItsJournalIsMovedOut) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 2);
  }
  const std::string journal = Journals().at(0);
  std::filesystem::remove_all(StreamDir(dir_.path() + "/wal", kWriter, Name(0)));
  for (int open = 0; open < 2; ++open) {
    auto wal = Open(Options());
    ASSERT_NE(wal, nullptr);
    const StreamWal* s = wal->FindStream(kWriter, Name(0));
    ASSERT_NE(s, nullptr) << "open " << open;
    EXPECT_EQ(s->state(), StreamState::kFrozen) << "open " << open;
  }
  std::filesystem::rename(journal + ".frozen", dir_.path() + "/evidence.jnl");
  auto wal = Open(Options());
  EXPECT_EQ(wal->FindStream(kWriter, Name(0)), nullptr) << "a fresh stream, once given up";
  EXPECT_EQ(wal->FindStream(kWriter, Name(1))->state(), StreamState::kOk);
}

// Only unacknowledged frames damaged: the block holding the last acknowledged frames was
// written back early (on disk: those frames, then zeros), then the last commit, whose journal
// append never completed, rewrote it and wrote a later block; the later block reached the
// disk, the rewrite did not. Nothing acknowledged is lost, so nothing freezes.
TEST_F(JournalTest, DamageToUnacknowledgedFramesAloneIsATornWrite) {
  if (!JournalHere()) return;
  std::string journal_bytes, path;
  std::map<std::string, std::pair<uint64_t, std::string>> acknowledged;
  std::vector<std::string> before(kStreams);
  {
    auto wal = Open(Options());
    for (int round = 0; round < 2; ++round) CommitRound(wal.get(), 0, kStreams, 3);
    path = wal->journal_path();
    journal_bytes = testing::ReadFile(path);
    acknowledged = heads_;
    for (int i = 0; i < kStreams; ++i) before[i] = testing::ReadFile(Segment(i));
    CommitRound(wal.get(), 0, kStreams, 12);  // its journal append is undone below
  }
  Write(path, journal_bytes);
  heads_ = acknowledged;
  for (int i = 0; i < kStreams; ++i) {
    std::string seg = testing::ReadFile(Segment(i));
    const size_t acked_end = before[i].size();
    const size_t block_end = (acked_end + 4095) / 4096 * 4096;
    ASSERT_GT(seg.size(), block_end + 2048);
    std::fill(seg.begin() + static_cast<long>(acked_end),
              seg.begin() + static_cast<long>(block_end), '\0');
    Write(Segment(i), seg);
  }
  auto wal = Open(Options());
  ASSERT_NE(wal, nullptr);
  ExpectEveryAcknowledgedRecord(wal.get());
}

// The engine retires the journals its WALs applied: removed, or set aside when a WAL found a
// frozen stream's records in one.
TEST(JournalFormatTest, RetireJournalsRemovesOrSetsAside) {
  testing::TempDir dir;
  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    auto journal = JournalWriter::Create(dir.path(), nullptr);
    ASSERT_TRUE(journal.ok()) << journal.status().ToString();
    paths.push_back(journal.value()->path());
  }
  ASSERT_TRUE(RetireJournals(dir.path(), {paths[0]}, {paths[1]}).ok());
  EXPECT_TRUE(std::filesystem::exists(paths[0]));
  EXPECT_FALSE(std::filesystem::exists(paths[1]));
  EXPECT_TRUE(std::filesystem::exists(paths[1] + ".frozen"));
  EXPECT_FALSE(std::filesystem::exists(paths[2]));
  std::vector<std::string> listed;
  ASSERT_TRUE(ListJournals(dir.path(), &listed).ok());
  EXPECT_EQ(listed, std::vector<std::string>{paths[0]});
}

// A journal whose last batch was cut short held nothing acknowledged in that batch; a damaged
// batch with a complete one after it is refused, never skipped.
TEST_F(JournalTest, ATornJournalTailIsDroppedAndDamageBeforeABatchIsRefused) {
  if (!JournalHere()) return;
  std::string path;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 1);
    CommitRound(wal.get(), 0, kStreams, 3);  // several blocks
    path = wal->journal_path();
  }
  const std::string whole = testing::ReadFile(path);
  JournalContents c;
  ASSERT_TRUE(ReadJournal(path, Limits().max_record_bytes, &c).ok());
  ASSERT_EQ(c.frames.size(), 4u * kStreams);
  EXPECT_FALSE(c.torn);
  EXPECT_EQ(c.batch_of.back(), 1u);
  // The second batch cut in the middle of a frame.
  Write(path, whole.substr(0, c.frames[kStreams + 2].offset + 10));
  ASSERT_TRUE(ReadJournal(path, Limits().max_record_bytes, &c).ok());
  EXPECT_TRUE(c.torn);
  EXPECT_EQ(c.frames.size(), size_t{kStreams}) << "the whole cut batch is left out";
  // The second batch's first block lost, its later blocks written: still a torn batch, even
  // with a whole frame and a batch end of the old kind at a block boundary inside it.
  {
    std::string torn = whole;
    const size_t second =
        (c.frames[kStreams - 1].offset + c.frames[kStreams - 1].size + 4095) / 4096 * 4096;
    std::fill(torn.begin() + static_cast<long>(second),
              torn.begin() + static_cast<long>(second) + 4096, '\0');
    const std::string frame = whole.substr(c.frames[0].offset, c.frames[0].size);
    ASSERT_GT(torn.size(), second + 8192);
    torn.replace(second + 4096, frame.size(), frame);
    torn.replace(second + 4096 + frame.size(), 4, "\xff\xff\xff\xff");
    Write(path, torn);
    JournalContents t;
    const Status read = ReadJournal(path, Limits().max_record_bytes, &t);
    ASSERT_TRUE(read.ok()) << read.ToString();
    EXPECT_TRUE(t.torn);
    EXPECT_EQ(t.frames.size(), size_t{kStreams});
  }
  // A byte of the first batch changed, the second whole: refused.
  std::string damaged = whole;
  damaged[c.frames[1].offset + 20] ^= 1;
  Write(path, damaged);
  const Status read = ReadJournal(path, Limits().max_record_bytes, &c);
  EXPECT_EQ(read.code(), Code::kIo) << read.ToString();
  auto opened = Wal::Open(Options());
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find(path), std::string::npos) << opened.status().ToString();
}

// A failed journal append fails the commit's streams and is cut back out of the journal: a
// reopen holds exactly what was acknowledged. The journal takes no more batches; once what it
// held is synced (each failed stream synced its own) it is removed. A failed syncfs when the
// journal is emptied falls back to each stream's own fdatasync, which fails no one here.
TEST_F(JournalTest, AFailedJournalSyncIsNeverAcknowledgedNorRecovered) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 2);
    faults_.FailNthFsync(1);  // the syncfs of Sync's emptying
    ASSERT_TRUE(wal->Sync().ok());
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(wal->FindStream(kWriter, Name(i))->state(), StreamState::kOk);
    }
    CommitRound(wal.get(), 0, kStreams, 2);
    faults_.FailNthFsync(1);  // the journal append of the next commit
    expect_commit_ok_ = false;
    CommitRound(wal.get(), 0, kStreams, 1);
    for (int i = 0; i < kStreams; ++i) {
      const StreamWal* s = wal->FindStream(kWriter, Name(i));
      EXPECT_EQ(s->state(), StreamState::kFailed);
      EXPECT_EQ(s->head_seq(), 4u) << "back to what was acknowledged";
    }
    EXPECT_TRUE(wal->Close().ok());
    EXPECT_TRUE(Journals().empty()) << "every record it held is synced in the segments";
  }
  auto wal = Open(Options());
  ExpectEveryAcknowledgedRecord(wal.get());
}

// A commit's journal append runs while its segments are written. When a segment write fails
// after the journal took the batch, the batch is cut back out and appended again without that
// stream's frames: its ticket failed, so no reopen may put its record back; the others' records
// are acknowledged and survive.
TEST_F(JournalTest, ASegmentWriteThatFailsLeavesNothingOfItsStreamInTheJournal) {
  if (!JournalHere()) return;
  // Through the journal's own ring, and synchronously (a WAL told to use pwritev).
  for (const IoBackendKind backend : {IoBackendKind::kAuto, IoBackendKind::kPwritev}) {
    SCOPED_TRACE(static_cast<int>(backend));
    std::filesystem::remove_all(dir_.path() + "/wal");
    heads_.clear();
    expect_commit_ok_ = true;
    WalOptions o = Options();
    o.backend = backend;
    {
      auto wal = Open(o);
      CommitRound(wal.get(), 0, kStreams, 2);
      const uint64_t journal_commits = wal->counters().journal_commits;
      faults_.FailNthWrite(3);  // the journal's write first, then s0's segment, then s1's
      expect_commit_ok_ = false;
      CommitRound(wal.get(), 0, kStreams, 1);
      EXPECT_EQ(wal->counters().journal_commits, journal_commits + 1);
      for (int i = 0; i < kStreams; ++i) {
        const StreamWal* s = wal->FindStream(kWriter, Name(i));
        EXPECT_EQ(s->state(), i == 1 ? StreamState::kFailed : StreamState::kOk) << i;
        EXPECT_EQ(s->durable_seq(), i == 1 ? 2u : 3u) << i;
      }
    }  // a crash: the segments keep what the page cache holds; the journal is applied
    auto wal = Open(o);
    ExpectEveryAcknowledgedRecord(wal.get());
    EXPECT_EQ(wal->FindStream(kWriter, Name(1))->head_seq(), 2u) << "the failed record stays out";
  }
}

// A stream that fails before its journaled frames are synced (its own fdatasync fails too)
// may have them only in the journal: the journal is kept as it is for the next open, and the
// other streams with records in it stop at their next commit (going on without it, they would
// sync records it could later vouch for cutting). The reopen holds every acknowledged record.
TEST_F(JournalTest, AJournalKeptForAFailedStreamStopsTheStreamsWithRecordsInIt) {
  if (!JournalHere()) return;
  std::string path;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 2);
    path = wal->journal_path();
    faults_.FailNthFsync(1, 2);  // the journal append, then the first failed stream's fdatasync
    expect_commit_ok_ = false;
    CommitRound(wal.get(), 0, 3, 1);
    CommitRound(wal.get(), kStreams - 1, kStreams, 1);  // a stream with records in the journal
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(wal->FindStream(kWriter, Name(i))->state(), StreamState::kFailed) << i;
      EXPECT_EQ(wal->FindStream(kWriter, Name(i))->head_seq(), 2u) << i;
    }
    EXPECT_NE(wal->FindStream(kWriter, Name(kStreams - 1))->failure().message().find(
                  "commit journal is kept"),
              std::string::npos)
        << wal->FindStream(kWriter, Name(kStreams - 1))->failure().ToString();
    (void)wal->Close();
    EXPECT_EQ(Journals(), std::vector<std::string>{path}) << "kept for the next open";
  }
  auto wal = Open(Options());
  ExpectEveryAcknowledgedRecord(wal.get());
  EXPECT_FALSE(std::filesystem::exists(path));
}

// Sync empties the journal once the segments are synced; each journaled stream's last block is
// padded first, so the next write starts on a new block and never touches frames that have
// left the journal.
TEST_F(JournalTest, EmptyingTheJournalPadsEachStreamsLastBlock) {
  if (!JournalHere()) return;
  auto wal = Open(Options());
  CommitRound(wal.get(), 0, kStreams, 1);
  const uint64_t length = testing::ReadFile(wal->journal_path()).size();
  ASSERT_TRUE(wal->Sync().ok());
  // Emptied by a new generation in its header: no batch counts, the file keeps its blocks.
  JournalContents contents;
  ASSERT_TRUE(ReadJournal(wal->journal_path(), Limits().max_record_bytes, &contents).ok());
  EXPECT_TRUE(contents.batches.empty());
  EXPECT_FALSE(contents.torn);
  EXPECT_EQ(testing::ReadFile(wal->journal_path()).size(), length);
  CommitRound(wal.get(), 0, kStreams, 1);
  ASSERT_TRUE(ReadJournal(wal->journal_path(), Limits().max_record_bytes, &contents).ok());
  EXPECT_EQ(contents.batches.size(), 1u) << "the next batch overwrites the first block";
  EXPECT_EQ(contents.frames.size(), size_t{kStreams});
  for (int i = 0; i < kStreams; ++i) {
    const std::vector<uint64_t> offsets = Offsets(i);
    ASSERT_EQ(offsets.size(), 2u);
    EXPECT_EQ(offsets[1] % 4096, 0u) << Name(i);
  }
}

// A segment that rotates while its frames are durable only in the journal is synced before its
// header is rewritten as sealed (one write-back lands in any order; a sealed segment must hold
// every frame it counts), and a reopen after a crash finds every segment whole.
TEST_F(JournalTest, ASegmentIsSyncedBeforeItIsSealed) {
  if (!JournalHere()) return;
  WalOptions o = Options();
  o.rotate_bytes = 64 << 10;
  o.allow_small_segments = true;
  {
    auto wal = Open(o);
    for (int round = 0; round < 120; ++round) CommitRound(wal.get(), 0, 3, 2);
    ASSERT_GT(wal->counters().segments_created, 6u) << "the segments rotated";
    // A header block (4096 bytes at offset 0: a creation or a seal) is never written to a file
    // with frames written since its last sync.
    std::map<int, bool> unsynced;
    int headers = 0;
    for (const auto& [fd, bytes] : faults_.events) {
      if (bytes == 4096) {
        ++headers;
        EXPECT_FALSE(unsynced[fd]) << "a header written over unsynced frames, event " << headers;
      }
      unsynced[fd] = bytes > 0;  // a sync (-1) clears it
    }
    EXPECT_GT(headers, 12) << "every creation and seal";
  }
  auto wal = Open(o);
  ExpectEveryAcknowledgedRecord(wal.get());
}

// A WAL that owns some streams applies their frames only, and leaves a journal that holds other
// streams' frames for their owner; journals another WAL writes now are not read.
TEST_F(JournalTest, AWalAppliesOnlyWhatItOwns) {
  if (!JournalHere()) return;
  {
    auto wal = Open(Options());
    CommitRound(wal.get(), 0, kStreams, 1);
  }
  for (int i = 0; i < kStreams; ++i) {
    std::string seg = testing::ReadFile(Segment(i));
    seg.resize(4096);
    Write(Segment(i), seg);
  }
  const std::string journal = Journals().at(0);
  WalOptions o = Options();
  o.journal_min_files = 0;
  o.owns = [](const std::string&, const std::string& stream) { return stream == "s1"; };
  {
    WalOptions live = o;
    live.live_journal = [&](const std::string& p) { return p == journal; };
    auto wal = Open(live);
    EXPECT_EQ(wal->journal_records_applied(), 0u) << "a live journal is not read";
  }
  {
    auto wal = Open(o);
    EXPECT_EQ(wal->journal_records_applied(), 1u);
    EXPECT_EQ(wal->FindStream(kWriter, "s1")->head_seq(), 1u);
  }
  EXPECT_TRUE(std::filesystem::exists(journal)) << "other streams' records are still only there";
  auto all = Open(Options());
  EXPECT_EQ(all->journal_records_applied(), size_t{kStreams - 1});
  ExpectEveryAcknowledgedRecord(all.get());
  EXPECT_FALSE(std::filesystem::exists(journal));
}

}  // namespace
}  // namespace ron::wal
