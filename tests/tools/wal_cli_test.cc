// The contracts of `ronctl audit append | range | inspect | verify`, run against the binary.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ron {
namespace {

using testing::RunCommand;
using testing::SplitLines;

const char kDraft[] =
    R"({"kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{"n":1}})";

testing::CommandResult Ronctl(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {testing::RonctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

std::string Drafts(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(kDraft) + "\n";
  return s;
}

class WalCliTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.path() + "/wal"; }
  testing::CommandResult Append(const std::string& input, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit",   "append",      "--dir",    Dir(),  "--stream",
                                     "ingress", "--writer-id", "svc@test", "--ack"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ronctl(args, input);
  }
  testing::TempDir tmp_;
};

TEST_F(WalCliTest, AppendAcksEveryDurableRecordAndResumes) {
  auto r = Append(Drafts(5));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].substr(0, 5), "1 b3:");
  EXPECT_EQ(lines[4].size(), 2 + 67u);
  EXPECT_NE(r.err.find("5 records appended"), std::string::npos) << r.err;
  r = Append(Drafts(2));
  lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 2), "6 ");
}

// The recovery path of docs/RUNBOOK.md: the healthy records of a stream (`range`) imported as
// they are into a new WAL (`append --sealed`), where they keep their seqs and hashes; a second
// import is all duplicates, a changed record a Conflict.
TEST_F(WalCliTest, SealedRecordsImportAsTheyAreAndRetriesAreDuplicates) {
  ASSERT_EQ(Append(Drafts(6)).exit_code, 0);
  const auto range = Ronctl({"audit", "range", "--dir", Dir(), "--stream", "ingress", "--to", "4"});
  ASSERT_EQ(range.exit_code, 0) << range.err;
  ASSERT_EQ(SplitLines(range.out).size(), 4u);
  const std::string copy = tmp_.path() + "/copy";
  auto r = Ronctl({"audit", "append", "--dir", copy, "--sealed", "--ack"}, range.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto acks = SplitLines(r.out);
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks[3].substr(acks[3].size() - 9), " appended");
  r = Ronctl({"audit", "append", "--dir", copy, "--sealed", "--ack"}, range.out);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(SplitLines(r.out).size(), 4u);
  EXPECT_EQ(SplitLines(r.out)[0].substr(0, 2), "1 ");
  EXPECT_EQ(SplitLines(r.out)[0].substr(SplitLines(r.out)[0].size() - 10), " duplicate");
  // The copy holds the same sealed records, byte for byte.
  const auto copied = Ronctl({"audit", "range", "--dir", copy, "--stream", "ingress"});
  EXPECT_EQ(copied.out, range.out);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", copy}).out, "ok 4 records, 1 streams\n");
  // Record 2 with one byte of its body changed no longer verifies: refused, that line only.
  std::string changed = SplitLines(range.out)[1];
  changed[changed.find("\"n\":1") + 4] = '2';
  r = Ronctl({"audit", "append", "--dir", copy, "--sealed"}, changed + "\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("\nerr HashMismatch line 1\n"), std::string::npos) << r.err;
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", copy}).out, "ok 4 records, 1 streams\n");
}

TEST_F(WalCliTest, BadLinesAreReportedAndSkipped) {
  const std::string input =
      std::string(kDraft) + "\n" + "{\"kind\":\"X\",\"seq\":9}\n" +
      R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"f":1.5}})"
      "\n" +
      std::string(kDraft) + "\n";
  const auto r = Append(input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("err Schema line 2\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("err Float line 3\n"), std::string::npos) << r.err;
  const auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].substr(0, 2), "2 ");  // no seq was burnt on the bad lines
}

TEST_F(WalCliTest, EveryBackendAndWriteModeWrites) {
  for (const char* backend : {"io_uring", "pwritev"}) {
    for (const char* mode : {"buffered", "direct"}) {
      const auto r = Append(Drafts(3), {"--io-backend", backend, "--write-mode", mode});
      EXPECT_EQ(r.exit_code, 0) << backend << " " << mode << " " << r.err;
      EXPECT_NE(r.err.find(std::string("backend ") + backend), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", Dir()}).out, "ok 12 records, 1 streams\n");
}

TEST_F(WalCliTest, RangeVerifiesAndPrintsSealedRecords) {
  ASSERT_EQ(Append(Drafts(10)).exit_code, 0);
  auto r = Ronctl({"audit", "range", "--dir", Dir(), "--stream", "ingress"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(SplitLines(r.out).size(), 10u);
  // What range prints is a chain verify-chain accepts.
  const auto chain = Ronctl({"audit", "verify-chain"}, r.out);
  EXPECT_EQ(chain.out.substr(0, 5), "ok 10");
  r = Ronctl({"audit", "range", "--dir", Dir(), "--stream", "ingress", "--from", "4", "--to", "6"});
  const auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"seq\":4,"), std::string::npos);
  EXPECT_EQ(Ronctl({"audit", "range", "--dir", Dir(), "--stream", "nope"}).exit_code, 1);
}

TEST_F(WalCliTest, TamperingIsNamedByRangeInspectAndVerify) {
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);  // a second segment
  const std::string segment = Dir() + "/svc@test/ingress/wal-000001.seg";
  {
    // Change one byte inside record 2's JSON ("n":1 → "n":7): its checksum no longer holds.
    std::string bytes = testing::ReadFile(segment);
    const size_t first = bytes.find("\"n\":1");
    const size_t second = bytes.find("\"n\":1", first + 1);
    ASSERT_NE(second, std::string::npos);
    bytes[second + 4] = '7';
    testing::WriteFile(segment, bytes);
  }
  auto r = Ronctl({"audit", "verify", "--dir", Dir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.substr(0, r.out.find(" file ")), "err HashMismatch");
  EXPECT_NE(r.out.find("wal-000001.seg offset "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" stream svc@test/ingress seq 2\n"), std::string::npos) << r.out;
  r = Ronctl({"audit", "range", "--dir", Dir(), "--stream", "ingress"});
  EXPECT_EQ(r.exit_code, 1);
  const auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 2u);  // the healthy record, then the error
  EXPECT_EQ(lines[1], "err HashMismatch seq 2");
  r = Ronctl({"audit", "inspect", "--dir", Dir()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("stream svc@test/ingress state frozen records 1"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("scan corrupt_mid_log"), std::string::npos) << r.out;
  // The engine refuses to append to the frozen stream.
  r = Append(Drafts(1));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Frozen"), std::string::npos) << r.err;
}

TEST_F(WalCliTest, InspectShowsSegmentsAndHeads) {
  ASSERT_EQ(Append(Drafts(4)).exit_code, 0);
  const auto r = Ronctl({"audit", "inspect", "--dir", Dir()});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("stream svc@test/ingress state ok records 4 head 4 b3:"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("wal-000001.seg bytes "), std::string::npos);
  EXPECT_NE(r.out.find("first_seq 1 count 4 frames 4 end "), std::string::npos) << r.out;
}

TEST_F(WalCliTest, MetricsArePrometheusTextAndPrivate) {
  const std::string metrics = tmp_.path() + "/metrics.prom";
  ASSERT_EQ(Append(Drafts(3), {"--io-backend", "pwritev", "--metrics", metrics}).exit_code, 0);
  const std::string text = testing::ReadFile(metrics);
  EXPECT_NE(text.find("wal_io_backend{backend=\"pwritev\"} 1"), std::string::npos);
  EXPECT_NE(text.find("wal_records_written_total 3"), std::string::npos);
  // One durable commit per group: 1 to 3 of them for 3 records, depending on how the writer
  // thread's rounds fell.
  const size_t at = text.find("wal_fsync_seconds_count ");
  ASSERT_NE(at, std::string::npos) << text;
  const int commits = std::stoi(text.substr(at + 24));
  EXPECT_GE(commits, 1);
  EXPECT_LE(commits, 3);
  const auto check = RunCommand({"/usr/bin/promtool", "check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  struct stat st {};
  ASSERT_EQ(stat(metrics.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// When the kernel refuses io_uring (as Docker's seccomp profile or kernel.io_uring_disabled do),
// auto falls back to pwritev and says so once; a forced io_uring fails clearly.
TEST_F(WalCliTest, IoUringRefusedFallsBackToPwritev) {
  const char* knob = "/proc/sys/kernel/io_uring_disabled";
  if (geteuid() != 0 || access(knob, W_OK) != 0) {
    GTEST_SKIP() << "needs root and " << knob << " to make the kernel refuse io_uring";
  }
  const std::string before = testing::ReadFile(knob);
  testing::WriteFile(knob, "2\n");
  const std::string metrics = tmp_.path() + "/metrics.prom";
  const auto fallback = Append(Drafts(2), {"--metrics", metrics});
  const auto forced = Append(Drafts(1), {"--io-backend", "io_uring"});
  testing::WriteFile(knob, before);  // restore before asserting anything
  EXPECT_EQ(fallback.exit_code, 0) << fallback.err;
  EXPECT_NE(fallback.err.find("io_uring_queue_init failed"), std::string::npos) << fallback.err;
  EXPECT_NE(fallback.err.find("backend pwritev"), std::string::npos);
  EXPECT_NE(testing::ReadFile(metrics).find("wal_io_backend{backend=\"pwritev\"} 1"),
            std::string::npos);
  EXPECT_EQ(forced.exit_code, 1);
  EXPECT_NE(forced.err.find("io_uring_queue_init failed"), std::string::npos) << forced.err;
}

TEST_F(WalCliTest, UsageErrors) {
  EXPECT_EQ(Ronctl({"audit", "append", "--stream", "s"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "append", "--dir", Dir(), "--stream", "s", "--fsync", "sometimes"})
                .exit_code,
            2);
  EXPECT_EQ(
      Ronctl({"audit", "append", "--dir", Dir(), "--stream", "s", "--io-backend", "aio"}).exit_code,
      2);
  EXPECT_EQ(Ronctl({"audit", "range", "--dir", Dir(), "--stream", "s", "--from", "x"}).exit_code,
            2);
  EXPECT_EQ(Ronctl({"audit", "verify"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "inspect", "--dir"}).exit_code, 2);
  for (const char* command : {"append", "range", "inspect", "verify"}) {
    const auto r = Ronctl({"audit", command, "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("usage: ronctl audit"), std::string::npos);
  }
}

TEST_F(WalCliTest, LooseDirectoryIsRefused) {
  ASSERT_EQ(mkdir(Dir().c_str(), 0777), 0);
  chmod(Dir().c_str(), 0777);
  const auto r = Append(Drafts(1));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("must be 0700"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ron
