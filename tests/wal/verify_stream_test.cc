// VerifyStream (one stream's segments verified on several threads) against ScanStream: for a
// clean stream and for each kind of damage, every thread count gives ScanStream's report —
// records, head, torn tail, verdict, file, offset and seq — and the same canonical bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/hash.h"
#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "wal/files.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

namespace fs = std::filesystem;

constexpr char kWriter[] = "w@test";
constexpr char kStream[] = "s";

class VerifyStreamTest : public ::testing::Test {
 protected:
  // `records` records in segments of ~16 KiB; `pad` (one letter) makes a different chain of
  // the same shape.
  void Write(const std::string& root, int records, char pad, const std::string& stream = kStream,
             const std::string& writer = kWriter) {
    WalOptions o;
    o.dir = root;
    o.rotate_bytes = 16 << 10;
    o.allow_small_segments = true;
    auto wal = Wal::Open(o);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    StreamWal* s = wal.value()->GetStream(writer, stream).value();
    Canonicalizer canonicalizer;
    CanonicalRecord record;
    for (int i = 0; i < records; ++i) {
      const std::string draft =
          R"({"kind":"GetServed","actor":{},"subject":{},"reason":"ok","attrs":{"pad":")" +
          std::string(300, pad) + "\"}}";
      const std::string prev = s->HeadText();
      Canonicalizer::DraftContext ctx{writer, stream, s->head_seq() + 1, prev, 1000};
      ASSERT_TRUE(canonicalizer.CanonicalizeDraft(draft, ctx, &record).ok());
      ASSERT_TRUE(wal.value()->Stage(s, record).ok());
      if (i % 10 == 9) {
        ASSERT_TRUE(wal.value()->Commit().ok());
      }
    }
    ASSERT_TRUE(wal.value()->Close().ok());
  }
  std::string Dir(const std::string& root) const { return StreamDir(root, kWriter, kStream); }
  std::vector<std::string> Segments(const std::string& root) const {
    std::vector<std::string> names;
    EXPECT_TRUE(ListDir(Dir(root), &names).ok());
    return names;
  }

  // `ronctl audit verify --dir root --threads T` for each T: "exit code|stdout".
  static std::vector<std::string> RonctlVerdicts(const std::string& root,
                                                 const std::vector<const char*>& threads) {
    std::vector<std::string> out;
    for (const char* t : threads) {
      const auto r = testing::Ronctl({"audit", "verify", "--dir", root, "--threads", t});
      out.push_back(std::to_string(r.exit_code) + "|" + r.out);
    }
    return out;
  }
  // A byte flipped in the first frame of `path` is reported at `path` by every thread count
  // alike; the byte is put back after.
  static void ExpectFlipReportedAlike(const std::string& root, const std::string& path,
                                      const std::vector<const char*>& threads) {
    std::string bytes = testing::ReadFile(path);
    bytes[4096 + 100] ^= 0x01;
    testing::WriteFile(path, bytes);
    const std::vector<std::string> v = RonctlVerdicts(root, threads);
    EXPECT_EQ(v[0].rfind("1|err HashMismatch file " + path, 0), 0u) << v[0];
    for (const std::string& other : v) EXPECT_EQ(other, v[0]);
    bytes[4096 + 100] ^= 0x01;
    testing::WriteFile(path, bytes);
  }

  // ScanStream's report and bytes, then VerifyStream's on 1..8 threads: all the same. `clean`:
  // the runs' report is the one returned on 2 threads or more (else the one scan's).
  void ExpectSameVerdicts(const std::string& root, const std::string& what, bool clean = false) {
    StreamReport expected;
    uint64_t expected_bytes = 0;
    ASSERT_TRUE(ScanStream(Dir(root), kWriter, kStream, Limits(), VerifyLevel::kFull, &expected,
                           [&](const RecordView& r) {
                             expected_bytes += r.json.size();
                             return true;
                           })
                    .ok());
    for (unsigned threads = 1; threads <= 8; ++threads) {
      SCOPED_TRACE(what + ", threads " + std::to_string(threads));
      StreamReport got;
      uint64_t bytes = 0;
      bool in_runs = false;
      ASSERT_TRUE(
          VerifyStream(Dir(root), kWriter, kStream, Limits(), threads, &got, &bytes, &in_runs)
              .ok());
      EXPECT_EQ(in_runs, clean && threads >= 2);
      EXPECT_EQ(bytes, expected_bytes);
      EXPECT_EQ(got.records, expected.records);
      EXPECT_EQ(got.head_seq, expected.head_seq);
      EXPECT_EQ(got.head_hash, expected.head_hash);
      EXPECT_EQ(got.torn_tail, expected.torn_tail);
      EXPECT_EQ(got.torn_offset, expected.torn_offset);
      EXPECT_EQ(got.frozen, expected.frozen);
      EXPECT_EQ(got.problem.ToString(), expected.problem.ToString());
      EXPECT_EQ(got.problem_file, expected.problem_file);
      EXPECT_EQ(got.problem_offset, expected.problem_offset);
      EXPECT_EQ(got.problem_seq, expected.problem_seq);
      ASSERT_EQ(got.segments.size(), expected.segments.size());
      for (size_t i = 0; i < got.segments.size(); ++i) {
        EXPECT_EQ(got.segments[i].path, expected.segments[i].path);
        EXPECT_EQ(got.segments[i].scan.outcome, expected.segments[i].scan.outcome);
      }
    }
  }

  testing::TempDir dir_;
};

TEST_F(VerifyStreamTest, ACleanStreamOnAnyThreadCount) {
  const std::string root = dir_.path() + "/a";
  Write(root, 500, 'p');
  ASSERT_GE(Segments(root).size(), 8u);
  ExpectSameVerdicts(root, "clean", /*clean=*/true);
  StreamReport report;
  uint64_t bytes = 0;
  ASSERT_TRUE(VerifyStream(Dir(root), kWriter, kStream, Limits(), 4, &report, &bytes).ok());
  EXPECT_EQ(report.records, 500u);
  EXPECT_FALSE(report.frozen);
}

// Damage in a middle segment, a segment missing, and segments of another chain of the same
// shape from a segment on (each run clean on its own: only the link between runs tells).
TEST_F(VerifyStreamTest, DamageIsReportedAsOneScanReportsIt) {
  const std::string a = dir_.path() + "/a", b = dir_.path() + "/b";
  Write(a, 500, 'p');
  Write(b, 500, 'q');
  const std::vector<std::string> names = Segments(a);
  ASSERT_EQ(names, Segments(b));
  const size_t n = names.size();
  ASSERT_GE(n, 8u);
  const std::string copy = dir_.path() + "/c";
  const auto fresh = [&] {
    fs::remove_all(copy);
    fs::copy(a, copy, fs::copy_options::recursive);
  };
  // A flipped byte in a record of the middle segment.
  fresh();
  {
    const std::string path = Dir(copy) + "/" + names[n / 2];
    std::string bytes = testing::ReadFile(path);
    bytes[4096 + 100] ^= 0x01;
    testing::WriteFile(path, bytes);
  }
  ExpectSameVerdicts(copy, "flipped byte");
  // A middle segment missing.
  fresh();
  fs::remove(Dir(copy) + "/" + names[n / 2]);
  ExpectSameVerdicts(copy, "missing segment");
  // The other chain from each segment on: a run boundary falls on it for some thread counts.
  for (size_t from = 1; from < n; ++from) {
    fresh();
    for (size_t i = from; i < n; ++i) {
      fs::copy_file(Dir(b) + "/" + names[i], Dir(copy) + "/" + names[i],
                    fs::copy_options::overwrite_existing);
    }
    ExpectSameVerdicts(copy, "fork at segment " + std::to_string(from));
    StreamReport report;
    uint64_t bytes = 0;
    ASSERT_TRUE(VerifyStream(Dir(copy), kWriter, kStream, Limits(), 2, &report, &bytes).ok());
    EXPECT_TRUE(report.frozen) << from;
    EXPECT_EQ(report.problem.code(), Code::kPrevMismatch) << report.problem.ToString();
  }
}

// A sealed segment whose records skip a seq but whose first record names the self_hash of the
// record before the gap: only the seq tells the runs apart from one clean chain.
TEST_F(VerifyStreamTest, ASkippedSeqAtARunBoundaryIsFound) {
  const std::string root = dir_.path() + "/a";
  Write(root, 500, 'p');
  std::vector<std::string> names = Segments(root);
  ASSERT_GE(names.size(), 6u);
  for (size_t i = 5; i < names.size(); ++i) fs::remove(Dir(root) + "/" + names[i]);
  StreamReport before;
  ASSERT_TRUE(
      ScanStream(Dir(root), kWriter, kStream, Limits(), VerifyLevel::kFull, &before).ok());
  ASSERT_FALSE(before.frozen);
  // Segment 6 (sealed): seqs from head + 2 on, the first naming the head's self_hash; segment 7
  // (open) goes on from there.
  Canonicalizer canonicalizer;
  CanonicalRecord record;
  std::string prev = before.HeadText();
  uint64_t seq = before.head_seq + 2;
  for (uint64_t segment_no : {6u, 7u}) {
    segment::SegmentHeader header;
    header.first_seq = seq;
    header.segment_no = segment_no;
    header.count = segment_no == 6 ? 5 : 0;
    std::string bytes(segment::kHeaderBytes, '\0');
    segment::EncodeHeader(header, reinterpret_cast<uint8_t*>(bytes.data()));
    segment::AppendPadding(0, &bytes);
    for (int i = 0; i < 5; ++i, ++seq) {
      const std::string draft =
          R"({"kind":"GetServed","actor":{},"subject":{},"reason":"ok","attrs":{}})";
      Canonicalizer::DraftContext ctx{kWriter, kStream, seq, prev, 1000};
      ASSERT_TRUE(canonicalizer.CanonicalizeDraft(draft, ctx, &record).ok());
      segment::AppendFrame(seq, record.bytes, record.digest, &bytes);
      prev = HashText(record.digest);
    }
    segment::AppendPadding(0, &bytes);
    testing::WriteFile(Dir(root) + "/" + segment::SegmentFileName(segment_no), bytes);
  }
  ExpectSameVerdicts(root, "skipped seq");
  // Six sealed segments on six threads: a run begins at segment 6.
  StreamReport report;
  uint64_t json_bytes = 0;
  ASSERT_TRUE(VerifyStream(Dir(root), kWriter, kStream, Limits(), 6, &report, &json_bytes).ok());
  EXPECT_TRUE(report.frozen);
  EXPECT_EQ(report.problem.code(), Code::kSeqGap) << report.problem.ToString();
  EXPECT_EQ(report.problem_file, Dir(root) + "/" + segment::SegmentFileName(6));
}

// `ronctl audit verify --threads N` splits a lone stream's segments among its threads: the
// same output for every N, clean and damaged.
TEST_F(VerifyStreamTest, RonctlSaysTheSameOnAnyThreadCount) {
  const std::string root = dir_.path() + "/a";
  Write(root, 500, 'p');
  const std::vector<const char*> threads = {"1", "2", "3", "8"};
  const std::vector<std::string> v = RonctlVerdicts(root, threads);
  EXPECT_EQ(v[0], "0|ok 500 records, 1 streams\n");
  for (const std::string& other : v) EXPECT_EQ(other, v[0]);
  ExpectFlipReportedAlike(root, Dir(root) + "/" + Segments(root)[3], threads);
}

// Streams of different sizes: threads beyond one a stream go to the larger one (AllotThreads),
// and every thread count says what one thread says, clean and with damage in either stream.
TEST_F(VerifyStreamTest, RonctlSharesThreadsAmongStreamsOfDifferentSizes) {
  const std::string root = dir_.path() + "/a";
  Write(root, 400, 'p', "big");
  Write(root, 40, 'q', "small");
  const std::vector<const char*> threads = {"1", "2", "3", "4", "5", "8"};
  const std::vector<std::string> v = RonctlVerdicts(root, threads);
  EXPECT_EQ(v[0], "0|ok 440 records, 2 streams\n");
  for (const std::string& other : v) EXPECT_EQ(other, v[0]);
  for (const char* stream : {"small", "big"}) {
    const std::string dir = StreamDir(root, kWriter, stream);
    std::vector<std::string> names;
    ASSERT_TRUE(ListDir(dir, &names).ok());
    ExpectFlipReportedAlike(root, dir + "/" + names[names.size() / 2], threads);
  }
}

// A torn write at the end of the newest, open segment is a note in the last run's report, as
// in the one scan; an older, sealed segment cut short is damage.
TEST_F(VerifyStreamTest, ATornTailIsTheLastRunsNote) {
  const std::string root = dir_.path() + "/a";
  Write(root, 500, 'p');
  const std::vector<std::string> names = Segments(root);
  {
    const std::string path = Dir(root) + "/" + names.back();
    std::string bytes = testing::ReadFile(path);
    for (size_t i = 0; i < 4; ++i) bytes[segment::kHeaderCountOffset + i] = 0;  // open
    bytes.resize(testing::FrameOffsetOf(path, 500) + 20);  // part of the last frame
    testing::WriteFile(path, bytes);
  }
  StreamReport report;
  ASSERT_TRUE(
      ScanStream(Dir(root), kWriter, kStream, Limits(), VerifyLevel::kFull, &report).ok());
  ASSERT_TRUE(report.torn_tail);
  ASSERT_FALSE(report.frozen);
  EXPECT_LT(report.head_seq, 500u);  // the torn batch is not counted
  EXPECT_EQ(report.records, report.head_seq);
  ExpectSameVerdicts(root, "torn newest", /*clean=*/true);
  {
    const std::string path = Dir(root) + "/" + names[names.size() / 2];
    std::string bytes = testing::ReadFile(path);
    bytes.resize(bytes.size() / 2);
    testing::WriteFile(path, bytes);
  }
  ASSERT_TRUE(
      ScanStream(Dir(root), kWriter, kStream, Limits(), VerifyLevel::kFull, &report).ok());
  ASSERT_TRUE(report.frozen);
  ExpectSameVerdicts(root, "cut older segment");
}

// The verifier reads each record's names as views into its bytes where they are written
// plainly; a name written with an escape (a quote, a backslash) is decoded, and a non-ASCII one
// read by the full parser. Streams with each kind of name verify whole, on one thread and on
// several, and a record of such a stream under another name is still caught.
TEST_F(VerifyStreamTest, NamesWithEscapesOrNonAsciiVerify) {
  const std::vector<std::pair<std::string, std::string>> names = {
      {"w@plain", "s"}, {"w\"q\\@test", "s\"1"}, {"caf\xC3\xA9@test", "\xC3\xA9v"}};
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& [writer, stream] = names[i];
    SCOPED_TRACE(writer + " / " + stream);
    const std::string root = dir_.path() + "/" + std::to_string(i);
    Write(root, 300, 'x', stream, writer);
    const std::string dir = StreamDir(root, writer, stream);
    for (unsigned threads : {1u, 4u}) {
      StreamReport report;
      uint64_t bytes = 0;
      ASSERT_TRUE(VerifyStream(dir, writer, stream, Limits(), threads, &report, &bytes).ok());
      EXPECT_TRUE(report.problem.ok()) << report.problem.ToString();
      EXPECT_EQ(report.records, 300u);
    }
    // Judged as another stream's records: the first is refused.
    StreamReport report;
    ASSERT_TRUE(ScanStream(dir, writer, stream + "x", Limits(), VerifyLevel::kFull, &report).ok());
    EXPECT_EQ(report.problem.code(), Code::kPrevMismatch) << report.problem.ToString();
    EXPECT_EQ(report.records, 0u);
  }
}

}  // namespace
}  // namespace ron::wal
