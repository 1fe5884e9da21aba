// The exact CLI contracts of `ronctl audit canon|merkle|verify-chain` (outside verifiers and
// scripts depend on them), run against the real binary.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "checkpoint/merkle.h"
#include "engine/core/canonical.h"
#include "tests/test_util.h"

namespace ron {
namespace {

using testing::RecordJson;
using testing::RunCommand;

testing::CommandResult Ronctl(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {testing::RonctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

// A sealed chain of n records, one per line.
std::string SealedChain(int n) {
  Canonicalizer c;
  CanonicalRecord r;
  std::string out, prev = "b3:0";
  for (int seq = 1; seq <= n; ++seq) {
    EXPECT_TRUE(
        c.Canonicalize(RecordJson(seq, prev, "{\"n\":" + std::to_string(seq) + "}"), &r).ok());
    out += Seal(r) + "\n";
    prev = HashText(r.digest);
  }
  return out;
}

TEST(RonctlTest, HelpOnEveryCommand) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"audit", "--help"},
                                             {"audit", "canon", "--help"},
                                             {"audit", "merkle", "--help"},
                                             {"audit", "verify-chain", "--help"}}) {
    const auto r = Ronctl(args);
    EXPECT_EQ(r.exit_code, 0) << args.back();
    EXPECT_NE(r.out.find("usage: ronctl"), std::string::npos) << args.back();
  }
}

TEST(RonctlTest, UsageErrorsExitTwoWithOneLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"nope"},
           {"audit"},
           {"audit", "nope"},
           {"audit", "canon", "--bogus"},
           {"audit", "canon", "--max-attrs-bytes"},
           {"audit", "canon", "--max-attrs-bytes", "x"},
           {"audit", "canon", "--max-attrs-bytes", "100"},
           {"audit", "canon", "--max-attrs-bytes", "1024", "--max-record-bytes", "1000"},
           {"audit", "merkle", "extra"}}) {
    const auto r = Ronctl(args);
    EXPECT_EQ(r.exit_code, 2) << (args.empty() ? "" : args.back());
    EXPECT_FALSE(r.err.empty());
  }
  const auto r = Ronctl({"audit", "canon", "--bogus"});
  EXPECT_EQ(testing::SplitLines(r.err).size(), 1u) << r.err;
}

TEST(RonctlTest, CanonPrintsOneLinePerInputLine) {
  const std::string input = RecordJson(1, "b3:0") + "\n" + "{\"v\":1}\n" +
                            RecordJson(1, "b3:0", "{\"x\":1.5}") + "\n\n" +
                            RecordJson(1, "b3:0", "{\"b\":1, \"a\":2}");  // no final LF
  const auto r = Ronctl({"audit", "canon"}, input);
  EXPECT_EQ(r.exit_code, 1);
  const auto lines = testing::SplitLines(r.out);
  ASSERT_EQ(lines.size(), 5u) << r.out;
  Canonicalizer c;
  CanonicalRecord rec;
  ASSERT_TRUE(c.Canonicalize(RecordJson(1, "b3:0"), &rec).ok());
  EXPECT_EQ(lines[0], "ok " + HashText(rec.digest) + " " + rec.bytes);
  EXPECT_EQ(lines[1], "err Schema");
  EXPECT_EQ(lines[2], "err Float");
  EXPECT_EQ(lines[3], "err Schema");  // an empty line is not a record
  EXPECT_NE(lines[4].find("\"attrs\":{\"a\":2,\"b\":1}"), std::string::npos);
}

TEST(RonctlTest, CanonExitsZeroWhenAllOk) {
  const auto r =
      Ronctl({"audit", "canon"}, RecordJson(1, "b3:0") + "\n" + RecordJson(2, "b3:0") + "\n");
  // seq 2 with prev b3:0 is a valid *record*; the genesis rule belongs to chains.
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(testing::SplitLines(r.out).size(), 2u);
  EXPECT_EQ(Ronctl({"audit", "canon"}, "").exit_code, 0);
}

TEST(RonctlTest, CanonHonoursStricterLimits) {
  const std::string attrs = "{\"a\":\"" + std::string(300, 'x') + "\"}";
  EXPECT_EQ(Ronctl({"audit", "canon"}, RecordJson(1, "b3:0", attrs)).out.substr(0, 3), "ok ");
  const auto r = Ronctl({"audit", "canon", "--max-attrs-bytes", "256", "--max-record-bytes", "768"},
                        RecordJson(1, "b3:0", attrs));
  EXPECT_EQ(r.out, "err AttrsTooLarge\n");
  EXPECT_EQ(r.exit_code, 1);
}

TEST(RonctlTest, CanonReportsOverlongLinesAndGoesOn) {
  const std::string input = std::string(70000, ' ') + "\n" + RecordJson(1, "b3:0") + "\n";
  const auto r = Ronctl({"audit", "canon"}, input);
  const auto lines = testing::SplitLines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "err RecordTooLarge");
  EXPECT_EQ(lines[1].substr(0, 3), "ok ");
}

TEST(RonctlTest, MerkleRootOverLines) {
  Canonicalizer c;
  CanonicalRecord rec;
  std::string input;
  std::vector<Digest> digests;
  for (int i = 1; i <= 13; ++i) {
    input += RecordJson(static_cast<uint64_t>(i), "b3:0") + "\n";
    ASSERT_TRUE(c.Canonicalize(RecordJson(static_cast<uint64_t>(i), "b3:0"), &rec).ok());
    digests.push_back(rec.digest);
  }
  const auto r = Ronctl({"audit", "merkle"}, input);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, HashText(MerkleRoot(digests)) + "\n");
  EXPECT_EQ(Ronctl({"audit", "merkle"}, "").out, HashText(Blake3("")) + "\n");
}

TEST(RonctlTest, MerkleStopsAtTheFirstInvalidLine) {
  const std::string input = RecordJson(1, "b3:0") + "\n" + RecordJson(2, "b3:0") + "\n" +
                            RecordJson(3, "b3:0", "{\"f\":1e5}") + "\n" + "garbage\n";
  const auto r = Ronctl({"audit", "merkle"}, input);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "err Float line 3\n");
}

TEST(RonctlTest, VerifyChainOk) {
  const std::string chain = SealedChain(20);
  const auto r = Ronctl({"audit", "verify-chain"}, chain);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto lines = testing::SplitLines(chain);
  EXPECT_EQ(r.out, "ok 20 " + lines.back().substr(lines.back().size() - 69, 67) + "\n");
  EXPECT_EQ(Ronctl({"audit", "verify-chain"}, "").out, "ok 0 b3:0\n");
}

TEST(RonctlTest, VerifyChainNamesTheFirstBadLine) {
  auto lines = testing::SplitLines(SealedChain(10));
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
  };
  auto tampered = lines;
  tampered[6].replace(tampered[6].find("\"n\":7"), 5, "\"n\":8");
  auto r = Ronctl({"audit", "verify-chain"}, join(tampered));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "err HashMismatch line 7\n");
  auto gap = lines;
  gap.erase(gap.begin() + 3);
  r = Ronctl({"audit", "verify-chain"}, join(gap));
  EXPECT_EQ(r.out, "err SeqGap line 4\n");
  auto unsealed = lines;
  unsealed[0] = RecordJson(1, "b3:0");
  r = Ronctl({"audit", "verify-chain"}, join(unsealed));
  EXPECT_EQ(r.out, "err Schema line 1\n");
}

// Peak RSS in KiB of `ronctl <args> < input_path`, measured by GNU time on the ronctl process
// alone (a child forked from the test itself would inherit the test's pages).
long PeakRssKb(const std::string& args, const std::string& input_path, int* exit_code) {
  testing::TempDir dir;
  const std::string rss_path = dir.path() + "/rss";
  const auto r =
      RunCommand({"/bin/sh", "-c",
                  "exec /usr/bin/time -f %M -o " + rss_path + " " + testing::RonctlPath() + " " +
                      args + " < " + input_path + " > /dev/null"},
                 "");
  *exit_code = r.exit_code;
  // GNU time writes "Command exited with non-zero status N" first when the command fails.
  const auto lines = testing::SplitLines(testing::ReadFile(rss_path));
  EXPECT_FALSE(lines.empty()) << r.err;
  return lines.empty() ? -1 : std::stol(lines.back());
}

TEST(RonctlTest, HundredMegabytesStreamInBoundedMemory) {
  // ~100 MB: a 60 MB line (rejected unread) and ~40 MB of 1 KiB records, written in pieces.
  testing::TempDir dir;
  const std::string records_path = dir.path() + "/records.jsonl";
  const std::string mixed_path = dir.path() + "/mixed.jsonl";
  const std::string record =
      RecordJson(1, "b3:0", "{\"p\":\"" + std::string(850, 'p') + "\"}") + "\n";
  std::string block;
  while (block.size() < 1'000'000) block += record;
  {
    std::FILE* records = std::fopen(records_path.c_str(), "w");
    std::FILE* mixed = std::fopen(mixed_path.c_str(), "w");
    ASSERT_TRUE(records != nullptr && mixed != nullptr);
    const std::string x(1'000'000, 'x');
    for (int i = 0; i < 60; ++i) std::fwrite(x.data(), 1, x.size(), mixed);
    std::fputc('\n', mixed);
    for (int i = 0; i < 40; ++i) {
      std::fwrite(block.data(), 1, block.size(), mixed);
      std::fwrite(block.data(), 1, block.size(), records);
    }
    std::fclose(records);
    std::fclose(mixed);
  }
  const bool sanitized = testing::BuildDir().find("san") != std::string::npos;
  const long bound_kb = sanitized ? 160 * 1024 : 24 * 1024;
  int exit_code = 0;
  EXPECT_LT(PeakRssKb("audit canon", mixed_path, &exit_code), bound_kb);
  EXPECT_EQ(exit_code, 1);  // the long line is an err, the rest ok
  EXPECT_LT(PeakRssKb("audit merkle", records_path, &exit_code), bound_kb);
  EXPECT_EQ(exit_code, 0);
}

}  // namespace
}  // namespace ron
