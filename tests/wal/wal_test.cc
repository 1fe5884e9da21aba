// The WAL under every I/O backend: group commit, rotation, recovery rows, fatal I/O errors,
// permissions. Each test runs once per backend (TEST_P).
#include "wal/wal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "tests/wal/wal_test_util.h"
#include "wal/files.h"

namespace ron::wal {
namespace {

namespace fs = std::filesystem;

// Fails the n-th write or fsync (1-based; 0 = never) with `error`, and counts calls.
class ScriptedFaults : public FaultInjector {
 public:
  int OnWrite(int, size_t) override { return ++writes == fail_write_at ? -error : 0; }
  int OnFsync(int) override {
    const int n = ++fsyncs;
    return n == fail_fsync_at || n == fail_fsync_also_at ? -error : 0;
  }
  std::atomic<int> writes{0}, fsyncs{0};
  int fail_write_at = 0, fail_fsync_at = 0, fail_fsync_also_at = 0, error = EIO;
};

using testing::WalParam;

class WalTest : public ::testing::TestWithParam<WalParam> {
 protected:
  WalOptions Options(uint64_t rotate_bytes = WalOptions::kDefaultRotateBytes) {
    WalOptions o;
    o.dir = dir_.path() + "/wal";
    o.backend = GetParam().backend;
    o.write_mode = GetParam().mode;
    o.direct_batch_bytes = 8192;  // several chunks in flight per commit
    o.inline_write_max_bytes = GetParam().inline_bytes;
    o.rotate_bytes = rotate_bytes;
    o.allow_small_segments = true;
    o.faults = &faults_;
    return o;
  }
  std::unique_ptr<Wal> OpenWal(const WalOptions& o) {
    auto r = Wal::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    EXPECT_EQ(r.value()->backend_name(),
              GetParam().backend == IoBackendKind::kPwritev ? "pwritev" : "io_uring");
    return std::move(r).value();
  }
  // Stages n records on (w, s) continuing its chain, then commits.
  Status Append(Wal* wal, const std::string& stream, int n, const std::string& writer = "w@test") {
    RON_RETURN_IF_ERROR(StageRecords(wal, stream, n, writer));
    return wal->Commit();
  }
  // Stages n records on (w, s) continuing its chain.
  Status StageRecords(Wal* wal, const std::string& stream, int n,
                      const std::string& writer = "w@test") {
    return testing::StageRecords(wal, &canonicalizer_, &record_, writer, stream, n);
  }
  StreamReport Scan(const std::string& stream, const std::string& writer = "w@test") {
    StreamReport report;
    EXPECT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", writer, stream), writer, stream,
                           Limits(), VerifyLevel::kFull, &report)
                    .ok());
    return report;
  }
  std::string NewestSegment(const std::string& stream, const std::string& writer = "w@test") {
    std::vector<std::string> names;
    EXPECT_TRUE(ListDir(StreamDir(dir_.path() + "/wal", writer, stream), &names).ok());
    return StreamDir(dir_.path() + "/wal", writer, stream) + "/" + names.back();
  }

  testing::TempDir dir_;
  ScriptedFaults faults_;
  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
};

TEST_P(WalTest, AppendCommitReopenResumesTheChain) {
  std::string head_a;
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 50).ok());
    ASSERT_TRUE(Append(wal.get(), "b", 20).ok());
    ASSERT_TRUE(Append(wal.get(), "a", 25).ok());
    head_a = wal->GetStream("w@test", "a").value()->HeadText();
    EXPECT_EQ(wal->counters().records_written, 95u);
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenWal(Options());
  StreamWal* a = wal->GetStream("w@test", "a").value();
  EXPECT_EQ(a->head_seq(), 75u);
  EXPECT_EQ(a->HeadText(), head_a);
  ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
  ASSERT_TRUE(wal->Close().ok());
  const StreamReport report = Scan("a");
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.records, 80u);
  EXPECT_EQ(report.segments.size(), 2u);  // Close sealed the first; the reopen started a new one
  EXPECT_EQ(Scan("b").records, 20u);
}

TEST_P(WalTest, FilesAndDirectoriesArePrivate) {
  auto wal = OpenWal(Options());
  ASSERT_TRUE(Append(wal.get(), "a", 1).ok());
  struct stat st {};
  ASSERT_EQ(stat((dir_.path() + "/wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(StreamDir(dir_.path() + "/wal", "w@test", "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(NewestSegment("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(WalTest, RotationSealsSegmentsAndKeepsTheChain) {
  {
    auto wal = OpenWal(Options(64 * 1024));
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(Append(wal.get(), "a", 97).ok());
    EXPECT_GT(wal->counters().segments_created, 5u);
    ASSERT_TRUE(wal->Close().ok());
  }
  const StreamReport report = Scan("a");
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.records, 970u);
  uint64_t total = 0;
  for (const SegmentReport& seg : report.segments) {
    EXPECT_LE(seg.file_bytes, 64u * 1024);
    EXPECT_EQ(seg.scan.header.count, seg.scan.frames);  // every segment sealed
    total += seg.scan.frames;
  }
  EXPECT_EQ(total, 970u);
  auto wal = OpenWal(Options(64 * 1024));
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->head_seq(), 970u);
}

TEST_P(WalTest, TornTailIsTruncatedCountedAndAppendsResume) {
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 10).ok());
  }  // no Close: the newest segment stays open, as after a crash
  const std::string path = NewestSegment("a");
  const auto size_before = fs::file_size(path);
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    std::string partial;
    segment::AppendFrame(11, R"({"torn":true})", Blake3("x"), &partial);
    out << partial.substr(0, partial.size() / 2);  // half a frame
  }
  auto wal = OpenWal(Options());
  EXPECT_EQ(wal->counters().torn_tail_total, 1u);
  EXPECT_EQ(wal->counters().corrupt_total, 0u);
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->head_seq(), 10u);
  EXPECT_EQ(fs::file_size(path), size_before);  // truncated, padding restored
  ASSERT_TRUE(Append(wal.get(), "a", 3).ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(Scan("a").records, 13u);
}

// A sealed segment's count says every frame in it was acknowledged, and nothing is written to it
// after the seal: bytes after its last frame are not a torn write of ours but damage. The
// stream opens frozen and the bytes stay for the operator to inspect.
TEST_P(WalTest, BytesAfterASealedSegmentFreezeTheStream) {
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 10).ok());
    ASSERT_TRUE(wal->Close().ok());  // sealed
  }
  const std::string path = NewestSegment("a");
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    std::string partial;
    segment::AppendFrame(11, R"({"torn":true})", Blake3("x"), &partial);
    out << partial.substr(0, partial.size() / 2);
  }
  const auto size_before = fs::file_size(path);
  auto wal = OpenWal(Options());
  EXPECT_EQ(wal->counters().torn_tail_total, 0u);
  EXPECT_EQ(wal->counters().corrupt_total, 1u);
  EXPECT_EQ(fs::file_size(path), size_before);  // nothing cut
  StreamWal* s = wal->GetStream("w@test", "a").value();
  EXPECT_EQ(s->state(), StreamState::kFrozen);
  EXPECT_EQ(s->head_seq(), 10u);
  EXPECT_EQ(Append(wal.get(), "a", 1).code(), Code::kFrozen);
}

// A sealed segment cut short, or with a changed last frame, loses acknowledged records: never
// treated as a torn tail (that would cut them and reuse their seqs).
TEST_P(WalTest, ASealedSegmentCutShortOrChangedFreezesTheStream) {
  for (const bool cut : {true, false}) {
    SCOPED_TRACE(cut ? "cut" : "changed");
    const std::string stream = cut ? "cut" : "changed";
    {
      auto wal = OpenWal(Options());
      ASSERT_TRUE(Append(wal.get(), stream, 10).ok());
      ASSERT_TRUE(wal->Close().ok());  // sealed, and the newest segment
    }
    const std::string path = NewestSegment(stream);
    const auto size = fs::file_size(path);
    if (cut) {
      fs::resize_file(path, 4200);
    } else {
      uint64_t last_offset = 0;
      StreamReport report;
      ASSERT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", "w@test", stream), "w@test", stream,
                             Limits(), VerifyLevel::kFull, &report, [&](const RecordView& r) {
                               last_offset = r.offset;
                               return true;
                             }).ok());
      ASSERT_EQ(report.records, 10u);
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(last_offset + 20));
      f.put('#');
    }
    auto wal = OpenWal(Options());
    EXPECT_EQ(wal->counters().torn_tail_total, 0u);
    StreamWal* s = wal->GetStream("w@test", stream).value();
    EXPECT_EQ(s->state(), StreamState::kFrozen) << s->failure().ToString();
    EXPECT_EQ(Append(wal.get(), stream, 1).code(), Code::kFrozen);
    EXPECT_EQ(fs::file_size(path), cut ? 4200u : size);
  }
}

TEST_P(WalTest, GarbageTailIsTorn) {
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 4).ok());
  }
  {
    std::ofstream out(NewestSegment("a"), std::ios::app | std::ios::binary);
    out << "\x12\x00\x00\x00 definitely not a frame";
  }
  auto wal = OpenWal(Options());
  EXPECT_EQ(wal->counters().torn_tail_total, 1u);
  ASSERT_TRUE(Append(wal.get(), "a", 1).ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(Scan("a").records, 5u);
}

TEST_P(WalTest, ZeroedTailIsNotTorn) {
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 4).ok());
  }
  {
    std::ofstream out(NewestSegment("a"), std::ios::app | std::ios::binary);
    out << std::string(3 * 4096, '\0');
  }
  auto wal = OpenWal(Options());
  EXPECT_EQ(wal->counters().torn_tail_total, 0u);
  ASSERT_TRUE(Append(wal.get(), "a", 2).ok());
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(Scan("a").records, 6u);
}

TEST_P(WalTest, FlippedByteMidLogFreezesOnlyThatStream) {
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
    // Later batches after the damage, spanning more than the O_DIRECT torn window (32 × 8 KiB
    // here): within that window a direct-mode WAL must take damage for a torn last commit.
    ASSERT_TRUE(Append(wal.get(), "a", 1000).ok());
    ASSERT_TRUE(Append(wal.get(), "b", 5).ok());
  }
  // Damage the second frame of the first batch.
  const std::string file = testing::ReadFile(NewestSegment("a"));
  const uint64_t second_frame = 4096 + segment::FrameBytes(static_cast<uint8_t>(file[4096]) |
                                                           static_cast<uint8_t>(file[4097]) << 8);
  {
    std::fstream f(NewestSegment("a"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(second_frame + 40));
    f.put('#');
  }
  auto wal = OpenWal(Options());
  EXPECT_EQ(wal->counters().corrupt_total, 1u);
  StreamWal* a = wal->GetStream("w@test", "a").value();
  EXPECT_EQ(a->state(), StreamState::kFrozen);
  EXPECT_EQ(Append(wal.get(), "a", 1).code(), Code::kFrozen);
  ASSERT_TRUE(Append(wal.get(), "b", 2).ok());  // other streams are fine
  const StreamReport report = Scan("a");
  EXPECT_TRUE(report.frozen);
  EXPECT_EQ(report.records, 1u);  // the healthy record before the damage stays readable
  EXPECT_EQ(report.problem_offset, second_frame);
}

TEST_P(WalTest, WriteErrorIsFatalForTheStream) {
  auto wal = OpenWal(Options());
  ASSERT_TRUE(Append(wal.get(), "a", 3).ok());
  const uint64_t durable = wal->GetStream("w@test", "a").value()->durable_seq();
  faults_.fail_write_at = faults_.writes + 1;
  const Status failed = Append(wal.get(), "a", 2);
  EXPECT_EQ(failed.code(), Code::kIo);
  StreamWal* a = wal->GetStream("w@test", "a").value();
  EXPECT_EQ(a->state(), StreamState::kFailed);
  EXPECT_EQ(a->durable_seq(), durable);
  EXPECT_EQ(Append(wal.get(), "a", 1).code(), Code::kIo);  // and stays failed
  EXPECT_EQ(wal->counters().io_errors_total, 1u);
  wal.reset();
  wal = OpenWal(Options());  // reopening runs recovery and clears the state
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->head_seq(), durable);
  EXPECT_TRUE(Append(wal.get(), "a", 1).ok());
}

// A stream that fills its segment commits what every stream staged before sealing it: a write
// error there fails the stream it hit, not the record being staged on the other one.
TEST_P(WalTest, AnotherStreamsWriteErrorAtASegmentsEndFailsThatStreamAlone) {
  auto wal = OpenWal(Options(64 * 1024));
  ASSERT_TRUE(StageRecords(wal.get(), "b", 1).ok());  // both segments created before the fault
  ASSERT_TRUE(StageRecords(wal.get(), "a", 1).ok());
  faults_.fail_write_at = faults_.writes + 1;  // the next write: b's, in a's segment-end commit
  int staged = 1;
  while (wal->counters().segments_created < 3) {  // b's, a's first, and a's next
    ASSERT_LT(staged, 1000);
    const Status st = StageRecords(wal.get(), "a", 1);
    ASSERT_TRUE(st.ok()) << "record " << staged + 1 << " of a: " << st.ToString();
    ++staged;
  }
  EXPECT_EQ(wal->GetStream("w@test", "b").value()->state(), StreamState::kFailed);
  EXPECT_EQ(StageRecords(wal.get(), "b", 1).code(), Code::kIo);
  EXPECT_EQ(wal->Commit().code(), Code::kIo);  // b's error is the batch's, reported once
  ASSERT_TRUE(wal->Commit().ok());
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->durable_seq(), static_cast<uint64_t>(staged));
  ASSERT_TRUE(wal->Close().ok());
  const StreamReport report = Scan("a");
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.records, static_cast<uint64_t>(staged));
}

// A batch publishes and commits what it touched, not every stream of the WAL: the changed list
// names each stream whose head or state moved once, and the stream-set version moves only when
// a stream is added or changes state.
TEST_P(WalTest, ChangedStreamsAreWhatMovedSinceTheLastTake) {
  const auto names = [](const std::vector<const StreamWal*>& streams) {
    std::vector<std::string> out;
    for (const StreamWal* s : streams) out.push_back(s->stream());
    std::sort(out.begin(), out.end());
    return out;
  };
  {
    auto wal = OpenWal(Options());
    ASSERT_TRUE(Append(wal.get(), "a", 2).ok());
    ASSERT_TRUE(Append(wal.get(), "b", 2).ok());
    ASSERT_TRUE(Append(wal.get(), "c", 2).ok());
    ASSERT_TRUE(wal->Close().ok());
  }
  auto wal = OpenWal(Options());
  EXPECT_EQ(names(wal->TakeChangedStreams()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(wal->TakeChangedStreams().empty());
  const uint64_t version = wal->stream_set_version();

  ASSERT_TRUE(Append(wal.get(), "b", 3).ok());  // one stream, several records: listed once
  EXPECT_EQ(names(wal->TakeChangedStreams()), (std::vector<std::string>{"b"}));
  EXPECT_EQ(wal->stream_set_version(), version);  // appends leave the set as it was

  ASSERT_TRUE(wal->GetStream("w@test", "d").ok());  // a new stream
  EXPECT_EQ(names(wal->TakeChangedStreams()), (std::vector<std::string>{"d"}));
  EXPECT_GT(wal->stream_set_version(), version);

  const uint64_t before_freeze = wal->stream_set_version();
  wal->Freeze(wal->GetStream("w@test", "a").value(), Status(Code::kHashMismatch, "test"));
  EXPECT_EQ(names(wal->TakeChangedStreams()), (std::vector<std::string>{"a"}));
  EXPECT_GT(wal->stream_set_version(), before_freeze);

  // A failed commit: the stream's head goes back, and it is listed as changed.
  const uint64_t before_failure = wal->stream_set_version();
  faults_.fail_write_at = faults_.writes + 1;
  EXPECT_EQ(Append(wal.get(), "c", 2).code(), Code::kIo);
  EXPECT_EQ(names(wal->TakeChangedStreams()), (std::vector<std::string>{"c"}));
  EXPECT_EQ(wal->GetStream("w@test", "c").value()->head_seq(), 2u);
  EXPECT_GT(wal->stream_set_version(), before_failure);

  // The other streams commit on their own, and only theirs is written.
  const uint64_t written = wal->counters().records_written;
  ASSERT_TRUE(Append(wal.get(), "b", 1).ok());
  EXPECT_EQ(wal->counters().records_written, written + 1);
  EXPECT_EQ(wal->GetStream("w@test", "b").value()->durable_seq(), 6u);
  ASSERT_TRUE(wal->Close().ok());
  EXPECT_EQ(Scan("b").records, 6u);
}

TEST_P(WalTest, FsyncErrorIsNeverRetried) {
  auto wal = OpenWal(Options());
  ASSERT_TRUE(Append(wal.get(), "a", 3).ok());
  faults_.fail_fsync_at = faults_.fsyncs + 1;
  EXPECT_EQ(Append(wal.get(), "a", 1).code(), Code::kIo);
  const int fsyncs = faults_.fsyncs;
  EXPECT_EQ(Append(wal.get(), "a", 1).code(), Code::kIo);
  EXPECT_EQ(wal->Commit().code(), Code::kOk);  // nothing staged on a failed stream
  EXPECT_EQ(faults_.fsyncs, fsyncs);           // no second fsync was attempted
}

TEST_P(WalTest, DiskFullIsReportedAsSuch) {
  auto wal = OpenWal(Options());
  ASSERT_TRUE(Append(wal.get(), "a", 1).ok());
  faults_.error = ENOSPC;
  faults_.fail_write_at = faults_.writes + 1;
  const Status status = Append(wal.get(), "a", 1);
  EXPECT_EQ(status.code(), Code::kIo);
  EXPECT_NE(status.message().find("disk_full"), std::string::npos) << status.ToString();
}

TEST_P(WalTest, FsyncPolicies) {
  WalOptions o = Options();
  o.fsync = FsyncPolicy::kNever;
  {
    auto wal = OpenWal(o);
    ASSERT_TRUE(Append(wal.get(), "never", 10).ok());
    EXPECT_EQ(wal->counters().fsync_total, 0u);
    EXPECT_EQ(wal->fsync_histogram().count(), 0u);
  }
  o.fsync = FsyncPolicy::kOnCheckpoint;
  {
    auto wal = OpenWal(o);
    ASSERT_TRUE(Append(wal.get(), "cp", 10).ok());
    EXPECT_EQ(wal->counters().fsync_total, 0u);  // commits do not sync …
    ASSERT_TRUE(wal->Sync().ok());               // … a checkpoint does
    EXPECT_GE(wal->counters().fsync_total, 1u);
    EXPECT_EQ(wal->GetStream("w@test", "cp").value()->durable_seq(), 10u);
  }
  o.fsync = FsyncPolicy::kAlways;
  auto wal = OpenWal(o);
  ASSERT_TRUE(Append(wal.get(), "always", 10).ok());
  ASSERT_TRUE(Append(wal.get(), "always", 10).ok());
  EXPECT_GE(wal->counters().fsync_total, 2u);
  EXPECT_EQ(wal->fsync_histogram().count(), 2u);
  EXPECT_EQ(Scan("never").records, 10u);
  EXPECT_EQ(Scan("cp").records, 10u);
}

TEST_P(WalTest, StageChecksTheChain) {
  auto wal = OpenWal(Options());
  ASSERT_TRUE(Append(wal.get(), "a", 2).ok());
  StreamWal* a = wal->GetStream("w@test", "a").value();
  const std::string head = a->HeadText();
  Canonicalizer::DraftContext ctx{"w@test", "a", 5, head, 1};
  ASSERT_TRUE(
      canonicalizer_
          .CanonicalizeDraft(R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{}})",
                             ctx, &record_)
          .ok());
  EXPECT_EQ(wal->Stage(a, record_).code(), Code::kSeqGap);
  ctx.seq = 3;
  ctx.prev = "b3:0";
  ASSERT_TRUE(
      canonicalizer_
          .CanonicalizeDraft(R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{}})",
                             ctx, &record_)
          .ok());
  EXPECT_EQ(wal->Stage(a, record_).code(), Code::kPrevMismatch);
}

TEST_P(WalTest, LooseOrForeignDirectoriesAreRefused) {
  const std::string root = dir_.path() + "/wal";
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  auto r = Wal::Open(Options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("0755"), std::string::npos) << r.status().ToString();
  ASSERT_EQ(chmod(root.c_str(), 0700), 0);
  if (geteuid() == 0) {  // only root can hand the directory to another owner
    ASSERT_EQ(chown(root.c_str(), 65534, 65534), 0);
    r = Wal::Open(Options());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("owned by uid 65534"), std::string::npos);
    ASSERT_EQ(chown(root.c_str(), 0, 0), 0);
  }
  EXPECT_TRUE(Wal::Open(Options()).ok());
}

TEST_P(WalTest, OptionsAreValidated) {
  WalOptions o = Options(1 << 20);
  o.allow_small_segments = false;
  EXPECT_EQ(Wal::Open(o).code(), Code::kSchema);  // rotate_bytes < 8 MiB
  o.dir = "";
  EXPECT_EQ(Wal::Open(o).code(), Code::kSchema);
}

// Descriptors are budgeted: past max_open_segments the least recently written idle stream's
// segment is closed (synced first unless fsync=always) and reopened when it writes again;
// nothing fails, and every record is where it belongs after Close and a reopen.
TEST_P(WalTest, SegmentFdsStayWithinTheirBudget) {
  for (const FsyncPolicy policy : {FsyncPolicy::kAlways, FsyncPolicy::kOnCheckpoint}) {
    SCOPED_TRACE(policy == FsyncPolicy::kAlways ? "always" : "on_checkpoint");
    fs::remove_all(dir_.path() + "/wal");
    WalOptions o = Options();
    o.fsync = policy;
    o.max_open_segments = 4;
    o.preallocate = false;
    const auto open_segment_fds = [&] {
      size_t n = 0;
      for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        std::error_code error;
        const auto target = fs::read_symlink(e.path(), error);
        n += !error && target.string().ends_with(".seg");
      }
      return n;
    };
    {
      auto wal = OpenWal(o);
      for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 20; ++i) {
          ASSERT_TRUE(Append(wal.get(), "s" + std::to_string(i), 2).ok());
          EXPECT_LE(open_segment_fds(), 4u);
        }
      }
      EXPECT_GT(wal->counters().segment_fds_parked, 0u);
      ASSERT_TRUE(wal->Sync().ok());
      ASSERT_TRUE(wal->Close().ok());
    }
    auto wal = OpenWal(o);  // recovery opens them within the budget too
    EXPECT_LE(open_segment_fds(), 4u);
    for (int i = 0; i < 20; ++i) {
      const StreamReport report = Scan("s" + std::to_string(i));
      EXPECT_FALSE(report.frozen) << report.problem.ToString();
      EXPECT_EQ(report.records, 6u);
      EXPECT_EQ(report.segments.size(), 1u);  // parking never rotated a segment
    }
    ASSERT_TRUE(Append(wal.get(), "s3", 1).ok());
    EXPECT_EQ(wal->GetStream("w@test", "s3").value()->head_seq(), 7u);
  }
}

TEST_P(WalTest, OnlyTheContiguousDurablePrefixIsAcknowledged) {
  auto wal = OpenWal(Options());
  ASSERT_TRUE(Append(wal.get(), "a", 2).ok());
  StreamWal* a = wal->GetStream("w@test", "a").value();
  const bool direct = GetParam().mode == WriteMode::kDirect;
  // Direct: the third chunk of the next commit fails. Buffered: its only write fails.
  faults_.fail_write_at = faults_.writes + (direct ? 3 : 1);
  EXPECT_EQ(Append(wal.get(), "a", 100).code(), Code::kIo);
  const uint64_t durable = a->durable_seq();
  if (direct) {
    // 8 KiB chunks of ~300-byte frames: two chunks made it, the third did not.
    EXPECT_GT(durable, 2u + 20u);
    EXPECT_LT(durable, 2u + 100u);
  } else {
    EXPECT_EQ(durable, 2u);  // one write per commit: all or nothing
  }
  // The failed batch is cut at once: the file ends with the durable prefix (chunks written
  // behind the failed one were never acknowledged), so no reader sees them.
  const StreamReport cut = Scan("a");
  EXPECT_FALSE(cut.frozen) << cut.problem.ToString();
  EXPECT_EQ(cut.records, durable);
  wal.reset();
  wal = OpenWal(Options());
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->head_seq(), durable);
  ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
  ASSERT_TRUE(wal->Close().ok());
  const StreamReport report = Scan("a");
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.records, durable + 5);
}

// A direct-mode run that dies with chunks durable behind a lost one (zeros where the lost
// chunk should be, valid frames after it), reopened in either mode: both cut from the hole,
// and every reader agrees. (A write that fails while the run goes on leaves no such hole: the
// failed batch is cut at once, OnlyTheContiguousDurablePrefixIsAcknowledged.)
TEST_P(WalTest, ChunksBehindALostOneAreCutWhateverTheNextRunsMode) {
  WalOptions direct = Options();
  direct.write_mode = WriteMode::kDirect;
  {
    auto r = Wal::Open(direct);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto wal = std::move(r).value();
    ASSERT_TRUE(Append(wal.get(), "a", 2).ok());
    ASSERT_TRUE(Append(wal.get(), "a", 100).ok());  // one commit, 8 KiB chunks
  }  // no Close: the segment stays open, as after kill -9
  // Where the commit's chunks start: frames at 4 KiB boundaries after the first commit.
  std::vector<std::pair<uint64_t, uint64_t>> starts;  // (offset, seq)
  StreamReport scanned;
  ASSERT_TRUE(ScanStream(StreamDir(dir_.path() + "/wal", "w@test", "a"), "w@test", "a", Limits(),
                         VerifyLevel::kFull, &scanned, [&](const RecordView& r) {
                           if (r.seq > 2 && r.offset % 4096 == 0) starts.emplace_back(r.offset, r.seq);
                           return true;
                         }).ok());
  ASSERT_GE(starts.size(), 4u);
  // The third chunk is lost: zeros from its start to the fourth's.
  const std::string path = NewestSegment("a");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(starts[2].first));
    const std::string zeros(starts[3].first - starts[2].first, '\0');
    f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  const uint64_t durable = starts[2].second - 1;
  const StreamReport offline = Scan("a");
  EXPECT_FALSE(offline.frozen) << offline.problem.ToString();
  EXPECT_TRUE(offline.torn_tail);
  EXPECT_EQ(offline.records, durable);
  auto wal = OpenWal(Options());  // this test's mode: buffered or direct
  EXPECT_EQ(wal->counters().corrupt_total, 0u);
  EXPECT_EQ(wal->counters().torn_tail_total, 1u);
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->head_seq(), durable);
  ASSERT_TRUE(Append(wal.get(), "a", 5).ok());
  ASSERT_TRUE(wal->Close().ok());
  const StreamReport report = Scan("a");
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.records, durable + 5);
}

// A durable batch leaves the page cache (buffered writes; O_DIRECT never fills it), unless the
// WAL is asked to keep it; either way every record reads back.
TEST_P(WalTest, SyncedBatchesLeaveThePageCacheUnlessKept) {
  const bool buffered = GetParam().mode == WriteMode::kBuffered;
  for (const bool keep : {false, true}) {
    const std::string stream = keep ? "kept" : "dropped";
    WalOptions o = Options();
    o.drop_synced_pages = !keep;
    auto wal = OpenWal(o);
    ASSERT_TRUE(Append(wal.get(), stream, 40).ok());  // ~11 KiB of frames: 3 pages and more
    ASSERT_TRUE(Append(wal.get(), stream, 40).ok());
    const size_t cached = testing::CachedPages(NewestSegment(stream), segment::kPaddingAlignBytes);
    if (buffered && keep) {
      EXPECT_GE(cached, 5u) << stream;
    } else {
      EXPECT_EQ(cached, 0u) << stream;
    }
    ASSERT_TRUE(wal->Close().ok());
    const StreamReport report = Scan(stream);
    EXPECT_FALSE(report.frozen) << report.problem.ToString();
    EXPECT_EQ(report.records, 80u) << stream;
  }
}

// A commit its caller waits for alone (Commit(true)) writes and syncs its one file on the
// calling thread whatever its size, where the backend may (io_uring with inline writes,
// buffered: a kDirect commit is several chunks); otherwise a commit over 64 KiB goes through
// the ring. pwritev always writes on the caller. Every record is durable either way.
TEST_P(WalTest, ACommitItsCallerWaitsForAloneRunsOnTheCallingThread) {
  const bool pwritev = GetParam().backend == IoBackendKind::kPwritev;
  const bool small_inline = pwritev || GetParam().inline_bytes > 0;
  const bool large_inline_if_alone =
      pwritev || (GetParam().inline_bytes > 0 && GetParam().mode == WriteMode::kBuffered);
  auto wal = OpenWal(Options());
  ASSERT_NE(wal, nullptr);
  ASSERT_TRUE(StageRecords(wal.get(), "a", 300).ok());  // ~144 KB, over the 64 KiB of a write
  ASSERT_TRUE(wal->Commit(/*alone=*/false).ok());
  uint64_t expected = pwritev ? 1 : 0;
  EXPECT_EQ(wal->counters().commits_on_caller, expected);
  ASSERT_TRUE(StageRecords(wal.get(), "a", 300).ok());
  ASSERT_TRUE(wal->Commit(/*alone=*/true).ok());
  expected += large_inline_if_alone ? 1 : 0;
  EXPECT_EQ(wal->counters().commits_on_caller, expected);
  ASSERT_TRUE(StageRecords(wal.get(), "a", 2).ok());  // ~1 KB
  ASSERT_TRUE(wal->Commit(/*alone=*/false).ok());
  expected += small_inline ? 1 : 0;
  EXPECT_EQ(wal->counters().commits_on_caller, expected);
  EXPECT_EQ(wal->GetStream("w@test", "a").value()->durable_seq(), 602u);
  ASSERT_TRUE(wal->Close().ok());
  const StreamReport report = Scan("a");
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_EQ(report.records, 602u);
}

// A commit that writes many segment files makes them durable with one syncfs (buffered writes,
// fsync=always, where syncfs reports what fdatasync would), not one fdatasync each. After a
// syncfs error each file gets its own fdatasync: only the streams whose own sync fails fail,
// and a reopen holds exactly what was acknowledged.
TEST_P(WalTest, ManyFilesInOneCommitAreSyncedTogether) {
  const bool buffered = GetParam().mode == WriteMode::kBuffered;
  constexpr int kStreams = 6;
  const bool syncfs_here = testing::SyncfsExpected(dir_.path());  // the WAL is made under it
  for (const size_t min_files : {size_t{0}, WalOptions::kDefaultSyncfsMinFiles}) {
    const bool together = buffered && min_files > 0 && syncfs_here;
    const auto name = [&](int i) {
      return "m" + std::to_string(min_files) + "-" + std::to_string(i);
    };
    WalOptions o = Options();
    o.syncfs_min_files = min_files;
    std::vector<uint64_t> expected(kStreams, 0);  // acknowledged head of each stream
    {
      auto wal = OpenWal(o);
      // One commit: stage on every stream still writable, commit, note what became durable.
      const auto commit_all = [&](int fail_at, int fail_also_at) {
        std::vector<bool> staged(kStreams, false);
        for (int i = 0; i < kStreams; ++i) {
          if (wal->GetStream("w@test", name(i)).value()->state() != StreamState::kOk) continue;
          EXPECT_TRUE(StageRecords(wal.get(), name(i), 1).ok());
          staged[i] = true;
        }
        faults_.fail_fsync_at = fail_at == 0 ? 0 : faults_.fsyncs + fail_at;
        faults_.fail_fsync_also_at = fail_also_at == 0 ? 0 : faults_.fsyncs + fail_also_at;
        const uint64_t before = wal->counters().fsync_total;
        const Status committed = wal->Commit();
        faults_.fail_fsync_at = faults_.fail_fsync_also_at = 0;
        int failed = 0;  // in this commit
        for (int i = 0; i < kStreams; ++i) {
          const StreamWal* s = wal->GetStream("w@test", name(i)).value();
          if (!staged[i]) continue;  // failed before
          if (s->state() == StreamState::kOk) {
            EXPECT_EQ(s->durable_seq(), expected[i] + 1) << name(i);
            expected[i] = s->durable_seq();
          } else {
            ++failed;
            EXPECT_EQ(s->head_seq(), expected[i]) << name(i);  // back to what was acknowledged
          }
        }
        EXPECT_EQ(committed.ok(), failed == 0) << committed.ToString();
        return std::make_pair(failed, wal->counters().fsync_total - before);
      };
      // No fault: one syncfs, or one fdatasync per file.
      auto [failed, syncs] = commit_all(0, 0);
      EXPECT_EQ(failed, 0);
      EXPECT_EQ(syncs, together ? 1u : uint64_t{kStreams}) << "min_files " << min_files;
      // The sync the commit waited for is reported, syncfs included.
      if (buffered) {
        EXPECT_GT(wal->last_fsync_seconds(), 0.0) << "min_files " << min_files;
      }
      // The syncfs fails, every file's own fdatasync succeeds: nothing fails (the error was
      // someone else's). Without syncfs, the first fdatasync fails: its stream.
      std::tie(failed, syncs) = commit_all(1, 0);
      EXPECT_EQ(failed, together ? 0 : 1) << "min_files " << min_files;
      if (together) {
        EXPECT_EQ(syncs, uint64_t{kStreams});  // each file's own; the failed syncfs is not
      }
      // The syncfs fails and so does the second file's own fdatasync: that stream alone. (Without
      // syncfs: the first and third fdatasync, two streams.)
      std::tie(failed, syncs) = commit_all(1, 3);
      EXPECT_EQ(failed, together ? 1 : 2) << "min_files " << min_files;
      // Counted: the flushes that succeeded, each failed stream's own after its batch was cut
      // included (together: 5 own + 1 after the cut; apart: 3 + 2 of the 5 streams left).
      EXPECT_EQ(syncs, together ? uint64_t{kStreams} : kStreams - 1u) << min_files;
      ASSERT_TRUE(wal->Close().ok());
    }
    auto reopened = OpenWal(o);
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(reopened->GetStream("w@test", name(i)).value()->head_seq(), expected[i]) << name(i);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, WalTest, testing::AllWalParams(), testing::WalParamName);

}  // namespace
}  // namespace ron::wal
