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

// --sealed keeps records in flight like drafts: two streams interleaved, with a changed record,
// a gap and a duplicate among them, get one verdict per line in line order, the same ones a
// record-at-a-time import gives, and the copy is byte for byte the original.
TEST_F(WalCliTest, SealedImportIsPipelinedWithOneVerdictPerLineInOrder) {
  for (const char* stream : {"a", "b"}) {
    ASSERT_EQ(Ronctl({"audit", "append", "--dir", Dir(), "--stream", stream, "--writer-id", "w"},
                     Drafts(300))
                  .exit_code,
              0);
  }
  const auto a = SplitLines(Ronctl({"audit", "range", "--dir", Dir(), "--stream", "a"}).out);
  const auto b = SplitLines(Ronctl({"audit", "range", "--dir", Dir(), "--stream", "b"}).out);
  ASSERT_EQ(a.size(), 300u);
  ASSERT_EQ(b.size(), 300u);
  std::string input;
  for (size_t i = 0; i < 300; ++i) input += a[i] + "\n" + b[i] + "\n";
  std::string changed = a[0];
  changed[changed.find("\"n\":1") + 4] = '2';  // the body changed: its hash no longer holds
  input = changed + "\n" + input + a[299] + "\n" + b[5] + "\n";  // then a duplicate, and another
  const std::string copy = tmp_.path() + "/copy";
  const auto r = Ronctl({"audit", "append", "--dir", copy, "--sealed", "--ack"}, input);
  EXPECT_EQ(r.exit_code, 1) << r.err;  // one line refused
  const auto acks = SplitLines(r.out);
  ASSERT_EQ(acks.size(), 602u) << r.err;
  EXPECT_EQ(acks[0].substr(0, 2), "1 ");  // a1 (line 2)
  EXPECT_EQ(acks[1].substr(0, 2), "1 ");  // b1
  EXPECT_EQ(acks[599].substr(0, 4), "300 ");
  const std::string a300_hash = a[299].substr(a[299].find("b3:", a[299].find("self_hash")), 67);
  EXPECT_EQ(acks[600], "300 " + a300_hash + " duplicate");
  EXPECT_EQ(acks[601].substr(0, 2), "6 ");
  EXPECT_EQ(acks[601].substr(acks[601].size() - 10), " duplicate");
  for (size_t i = 0; i < 600; ++i) {
    EXPECT_EQ(acks[i].substr(acks[i].size() - 9), " appended") << i;
  }
  EXPECT_NE(r.err.find("err HashMismatch line 1\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("600 records appended, 2 duplicates, 1 rejected"), std::string::npos)
      << r.err;
  EXPECT_EQ(Ronctl({"audit", "range", "--dir", copy, "--stream", "a"}).out,
            Ronctl({"audit", "range", "--dir", Dir(), "--stream", "a"}).out);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", copy}).out, "ok 600 records, 2 streams\n");
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

// --preallocate: on (default), a stream past 2 MiB that commits a few records at a time has its
// next segment zero-filled ahead, which the metrics count; one that commits more than 16 KiB at
// a time (a bulk import: as much as the queue holds) appends; off, nothing is zero-filled. The
// records are the same every way.
TEST_F(WalCliTest, PreallocationCanBeTurnedOff) {
  std::string input;
  const std::string pad(900, 'p');
  for (int i = 0; i < 20000; ++i) {  // ~19 MiB: the zero-fill asked for at 2 MiB has begun
    input += R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"p":")" + pad +
             "\"}}\n";
  }
  struct Case {
    const char* mode;
    const char* queue_depth;  // records in flight at most: what one commit holds at most
    bool zero_filled;
  };
  for (const Case& c : {Case{"on", "8", true}, Case{"on", "8192", false},
                        Case{"off", "8", false}}) {
    SCOPED_TRACE(std::string(c.mode) + ", queue depth " + c.queue_depth);
    const std::string dir = Dir() + "-" + c.mode + "-" + c.queue_depth, metrics = dir + ".prom";
    const auto r = Ronctl({"audit", "append", "--dir", dir, "--stream", "s", "--writer-id", "w",
                           "--queue-depth", c.queue_depth, "--preallocate",
                           c.mode, "--metrics", metrics},
                          input);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string page = testing::ReadFile(metrics);
    const double zeros = testing::MetricValue(page, "wal_zero_filled_bytes_total");
    if (c.zero_filled) {
      EXPECT_GT(zeros, 0) << "successors (16 MiB, then 32) were zero-filled ahead";
    } else {
      EXPECT_EQ(zeros, 0);
      // Not for want of commits: a bulk import's average well over 16 KiB.
      const double written = testing::MetricValue(page, "wal_written_bytes_total");
      const double syncs = testing::MetricValue(page, "wal_fsync_total");
      if (std::string(c.queue_depth) == "8192") {
        EXPECT_GT(written, 16 * 1024 * syncs);
      }
    }
    EXPECT_EQ(Ronctl({"audit", "verify", "--dir", dir}).out, "ok 20000 records, 1 streams\n");
  }
  EXPECT_EQ(Ronctl({"audit", "append", "--dir", Dir(), "--stream", "s", "--preallocate", "yes"},
                   "")
                .exit_code,
            2);
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
  EXPECT_EQ(r.exit_code, 1);  // a frozen stream is damage, in the exit code too
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
  // Every sample carries the service label (docs/OBSERVABILITY.md), the WAL's and the
  // export's included.
  EXPECT_NE(text.find("wal_io_backend{service=\"ron-audit\",backend=\"pwritev\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("wal_records_written_total{service=\"ron-audit\"} 3"), std::string::npos);
  for (const std::string& line : testing::SplitLines(text)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_NE(line.find("{service=\"ron-audit\""), std::string::npos) << line;
  }
  // One durable commit per group: 1 to 3 of them for 3 records, depending on how the writer
  // thread's rounds fell.
  const int commits =
      static_cast<int>(testing::MetricValue(text, "wal_fsync_seconds_count", "service=\"ron-audit\""));
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
  EXPECT_NE(testing::ReadFile(metrics).find("wal_io_backend{service=\"ron-audit\",backend=\"pwritev\"} 1"),
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

// Streams are verified in parallel without exports too, and the output (stdout, and stderr
// without the speed line, which names the thread count) is the same for any thread count:
// clean, with a torn tail, and with damage in the second of several streams.
TEST_F(WalCliTest, VerifyOnManyThreadsSaysWhatOneThreadSays) {
  for (int s = 0; s < 6; ++s) {
    ASSERT_EQ(Ronctl({"audit", "append", "--dir", Dir(), "--stream", "s" + std::to_string(s),
                      "--writer-id", "svc@test"},
                     Drafts(20 + s))
                  .exit_code,
              0);
  }
  const auto verdicts = [&] {
    std::vector<std::string> out;
    for (const char* threads : {"1", "2", "4", "16"}) {
      const auto r = Ronctl({"audit", "verify", "--dir", Dir(), "--threads", threads});
      // The speed line, after a clean run only, names the thread count it ran with.
      const std::string speed_end =
          std::string(", ") + threads + (std::string(threads) == "1" ? " thread" : " threads");
      std::string err;
      int speed_lines = 0;
      for (const std::string& line : SplitLines(r.err)) {
        if (line.find("records/s") == std::string::npos) {
          err += line + "\n";
          continue;
        }
        ++speed_lines;
        EXPECT_TRUE(line.size() > speed_end.size() &&
                    line.compare(line.size() - speed_end.size(), speed_end.size(), speed_end) == 0)
            << line;
      }
      EXPECT_EQ(speed_lines, r.exit_code == 0 ? 1 : 0) << r.err;
      out.push_back(std::to_string(r.exit_code) + "|" + r.out + "|" + err);
    }
    return out;
  };
  auto v = verdicts();
  EXPECT_EQ(v[0], "0|ok 135 records, 6 streams\n|");
  for (const std::string& other : v) EXPECT_EQ(other, v[0]);
  // A torn tail (a half frame after the last one of an open segment) is a note, not an error.
  const std::string s4 = Dir() + "/svc@test/s4/wal-000001.seg";
  {
    std::string bytes = testing::ReadFile(s4);
    bytes[12] = bytes[13] = bytes[14] = bytes[15] = 0;  // header count 0: the segment is open
    const size_t end = bytes.rfind(std::string(4, '\xff'));
    ASSERT_NE(end, std::string::npos);
    const size_t at = (end + 4 + 4095) / 4096 * 4096;
    // Half of the first frame (len at its start, little endian; 53 bytes of overhead).
    const size_t len = static_cast<uint8_t>(bytes[4096]) | static_cast<uint8_t>(bytes[4097]) << 8;
    const size_t half = (53 + len) / 2;
    bytes.resize(std::max(bytes.size(), at + 4096), '\0');
    bytes.replace(at, half, bytes.substr(4096, half));
    testing::WriteFile(s4, bytes);
  }
  v = verdicts();
  EXPECT_NE(v[0].find("torn final write"), std::string::npos) << v[0];
  for (const std::string& other : v) EXPECT_EQ(other, v[0]);
  // Damage in two streams: every thread count reports the first in stream order.
  for (const char* stream : {"s1", "s3"}) {
    const std::string seg = Dir() + "/svc@test/" + stream + "/wal-000001.seg";
    std::string bytes = testing::ReadFile(seg);
    bytes[4096 + 40] ^= 0x01;
    testing::WriteFile(seg, bytes);
  }
  v = verdicts();
  EXPECT_EQ(v[0].rfind("1|err HashMismatch file " + Dir() + "/svc@test/s1/wal-000001.seg", 0), 0u)
      << v[0];
  for (const std::string& other : v) EXPECT_EQ(other, v[0]);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", Dir(), "--threads", "0"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", Dir(), "--trusted-keys", "k"}).exit_code, 2);
}

// A file read faster than the disk writes is held back (at most a queue's worth in flight),
// never refused: no Busy, so not one audit.append.reject line, and every record lands.
TEST_F(WalCliTest, AppendWaitsForRoomInsteadOfMeetingBusy) {
  std::string drafts;
  const std::string pad(700, 'x');
  for (int i = 0; i < 5000; ++i) {
    drafts += R"({"kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{"n":)" +
              std::to_string(i) + R"(,"pad":")" + pad + "\"}}\n";
  }
  const std::string file = tmp_.path() + "/drafts.jsonl";
  testing::WriteFile(file, drafts);
  // A queue of 16: a reader that did not wait would meet Busy within the first batch.
  const auto r = testing::RonctlFromFile({"audit", "append", "--dir", Dir(), "--stream", "bulk",
                                          "--writer-id", "svc@test", "--queue-depth", "16"},
                                         file);
  EXPECT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  EXPECT_EQ(r.err.find("audit.append.reject"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("5000 records appended, 0 rejected"), std::string::npos) << r.err;
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", Dir()}).out, "ok 5000 records, 1 streams\n");
  EXPECT_EQ(Ronctl({"audit", "append", "--dir", Dir(), "--stream", "bulk", "--queue-depth", "0"})
                .exit_code,
            2);
  // The same records imported sealed, through the same 16-deep queue: no Busy met either.
  const auto range = Ronctl({"audit", "range", "--dir", Dir(), "--stream", "bulk"});
  ASSERT_EQ(range.exit_code, 0) << range.err;
  testing::WriteFile(file, range.out);
  const std::string copy = tmp_.path() + "/copy";
  const auto sealed = testing::RonctlFromFile(
      {"audit", "append", "--dir", copy, "--sealed", "--queue-depth", "16"}, file);
  EXPECT_EQ(sealed.exit_code, 0) << sealed.err.substr(0, 2000);
  EXPECT_EQ(sealed.err.find("audit.append.reject"), std::string::npos)
      << sealed.err.substr(0, 2000);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", copy}).out, "ok 5000 records, 1 streams\n");
}

// --max-batch caps the records a writer thread commits at once (the engine's
// max_batch_records): at 1, every record is a batch of its own, though the 600 lines reach the
// engine up to 256 at a time; drafts and sealed records alike. Out of range: a usage error.
TEST_F(WalCliTest, MaxBatchCapsTheRecordsACommitHolds) {
  const std::string drafts = Drafts(600), metrics = tmp_.path() + "/m.prom";
  const auto r = Ronctl({"audit", "append", "--dir", Dir(), "--stream", "s", "--writer-id", "w",
                         "--max-batch", "1", "--metrics", metrics},
                        drafts);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string page = testing::ReadFile(metrics);
  EXPECT_EQ(testing::MetricValue(page, "audit_batch_records_total"), 600);
  EXPECT_EQ(testing::MetricValue(page, "audit_batch_seconds_count", R"(phase="stage")"), 600);
  const auto range = Ronctl({"audit", "range", "--dir", Dir(), "--stream", "s"});
  ASSERT_EQ(range.exit_code, 0) << range.err;
  const std::string copy = tmp_.path() + "/copy";
  const auto sealed = Ronctl({"audit", "append", "--dir", copy, "--sealed", "--max-batch", "2",
                              "--metrics", metrics},
                             range.out);
  ASSERT_EQ(sealed.exit_code, 0) << sealed.err;
  page = testing::ReadFile(metrics);
  EXPECT_EQ(testing::MetricValue(page, "audit_batch_records_total"), 600);
  EXPECT_GE(testing::MetricValue(page, "audit_batch_seconds_count", R"(phase="stage")"), 300);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", copy}).out, "ok 600 records, 1 streams\n");
  for (const char* bad : {"0", "65537", "x"}) {
    const auto refused =
        Ronctl({"audit", "append", "--dir", Dir(), "--stream", "s", "--max-batch", bad}, "");
    EXPECT_EQ(refused.exit_code, 2) << bad;
    EXPECT_NE(refused.err.find("--max-batch takes a number from 1 to 65536"), std::string::npos)
        << refused.err;
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
