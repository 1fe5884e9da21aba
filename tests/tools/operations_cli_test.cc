// What an operator meets following the docs literally: results that say what was checked,
// key rotation that cannot silently lose its cross-signature, a default writer id that warns
// before it starts a second chain, errors instead of empty answers, and help that lists every
// command.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace ron {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::Ronctl;
using testing::RunCommand;

std::string Drafts(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"i":)" + std::to_string(i) +
         "}}\n";
  }
  return s;
}

class OperationsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal_ = tmp_.path() + "/wal";
    exp_ = tmp_.path() + "/exp";
    keys_ = tmp_.path() + "/trusted.keys";
    std::string trusted;
    for (const char* id : {"k1", "k2"}) {
      const CommandResult r = Ronctl({"keygen", "--key-id", id, "--out", Key(id)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      trusted += r.out;
    }
    testing::WriteFile(keys_, trusted);
  }
  std::string Key(const std::string& id) const { return tmp_.path() + "/" + id + ".key"; }
  CommandResult Append(const std::vector<std::string>& extra, int n = 5) {
    std::vector<std::string> args = {"audit", "append", "--dir", wal_, "--stream", "s"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ronctl(args, Drafts(n));
  }
  std::vector<std::string> Signed(const std::string& id) {
    return {"--writer-id", "w", "--export-dir", exp_, "--signer-key", Key(id), "--key-id", id};
  }
  testing::TempDir tmp_;
  std::string wal_, exp_, keys_;
};

// `verify --export-dir` without --trusted-keys never says a bare "ok" about checkpoints whose
// signatures it did not check; --no-signatures is the explicit opt-out.
TEST_F(OperationsCliTest, VerifyWithoutTrustedKeysSaysTheSignaturesWereNotChecked) {
  ASSERT_EQ(Append(Signed("k1")).exit_code, 0);
  const std::vector<std::string> base = {"audit", "verify", "--dir", wal_, "--export-dir", exp_};
  CommandResult r = Ronctl(base);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out,
            "unchecked 5 records, 1 streams, 1 checkpoints, 1 manifests: signatures not checked "
            "(--trusted-keys KEYS checks them; --no-signatures accepts this)\n");
  std::vector<std::string> args = base;
  args.push_back("--no-signatures");
  r = Ronctl(args);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "ok 5 records, 1 streams, 1 checkpoints, 1 manifests, signatures not checked\n");
  args = base;
  args.insert(args.end(), {"--trusted-keys", keys_});
  r = Ronctl(args);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "ok 5 records, 1 streams, 1 checkpoints, 1 manifests\n");
  args.push_back("--no-signatures");
  EXPECT_EQ(Ronctl(args).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", wal_, "--no-signatures"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", wal_}).out, "ok 5 records, 1 streams\n");
}

// A new key without the old one to cross-sign is refused while a stream was last signed by
// another key (nothing is appended); the old key, or the explicit opt-out, lets it through.
TEST_F(OperationsCliTest, ARotationWithoutThePreviousKeyIsRefused) {
  ASSERT_EQ(Append(Signed("k1")).exit_code, 0);
  CommandResult r = Append(Signed("k2"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stream w/s was last signed by key 'k1', not 'k2'"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--previous-signer-key"), std::string::npos) << r.err;
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", wal_}).out, "ok 5 records, 1 streams\n");
  std::vector<std::string> vouched = Signed("k2");
  vouched.insert(vouched.end(), {"--previous-signer-key", Key("k1")});
  r = Append(vouched);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Ronctl({"audit", "verify", "--dir", wal_, "--export-dir", exp_, "--trusted-keys", keys_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Back to k1 with the key k2 lost: only with the explicit opt-out, and auditors see it.
  EXPECT_EQ(Append(Signed("k1")).exit_code, 1);
  std::vector<std::string> unvouched = Signed("k1");
  unvouched.push_back("--rotate-without-cross-signature");
  EXPECT_EQ(Append(unvouched).exit_code, 0);
  r = Ronctl({"audit", "verify", "--dir", wal_, "--export-dir", exp_, "--trusted-keys", keys_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("reason missing_cross_signature"), std::string::npos) << r.out;
  EXPECT_EQ(Append({"--rotate-without-cross-signature"}).exit_code, 2);  // needs --export-dir
}

// keygen into a directory that does not exist yet (a fresh host's /etc/ron-audit).
TEST_F(OperationsCliTest, KeygenCreatesMissingDirectoriesPrivate) {
  const std::string key = tmp_.path() + "/etc/ron-audit/ops.key";
  const CommandResult r = Ronctl({"keygen", "--key-id", "ops", "--out", key});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("created directory " + tmp_.path() + "/etc/ron-audit (mode 0700)"),
            std::string::npos)
      << r.err;
  for (const std::string& dir : {tmp_.path() + "/etc", tmp_.path() + "/etc/ron-audit"}) {
    EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all) << dir;
  }
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(r.out.rfind("ops ed25519 ", 0), 0u) << r.out;
}

// The default writer id is the host's: a run from another host, or without the --writer-id a
// stream was written with, starts a new chain. It warns; with the chain its own, it does not.
TEST_F(OperationsCliTest, TheDefaultWriterIdWarnsBeforeStartingASecondChain) {
  ASSERT_EQ(Append({"--writer-id", "svc@old-host"}).exit_code, 0);
  CommandResult r = Append({});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: stream 's' exists under writer id svc@old-host but not under"),
            std::string::npos)
      << r.err;
  r = Append({});
  EXPECT_EQ(r.err.find("warning:"), std::string::npos) << r.err;
  r = Append({"--writer-id", "svc@old-host"});
  EXPECT_EQ(r.err.find("warning:"), std::string::npos) << r.err;
}

// A range the stream does not reach is an error naming where it ends, after what exists.
TEST_F(OperationsCliTest, RangePastTheHeadIsAnError) {
  ASSERT_EQ(Append({"--writer-id", "w"}, 8).exit_code, 0);
  const std::vector<std::string> base = {"audit", "range", "--dir", wal_, "--stream", "s"};
  const auto range = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return Ronctl(args);
  };
  CommandResult r = range({"--from", "10", "--to", "20"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "err SeqGap seq 9\n");
  EXPECT_NE(r.err.find("the stream ends at seq 8"), std::string::npos) << r.err;
  r = range({"--from", "7", "--to", "20"});
  EXPECT_EQ(r.exit_code, 1);
  const auto lines = testing::SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[2], "err SeqGap seq 9");
  r = range({"--from", "9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "err SeqGap seq 9\n");
  r = range({"--from", "2", "--to", "8"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(testing::SplitLines(r.out).size(), 7u);
  EXPECT_EQ(range({"--from", "8"}).exit_code, 0);
}

// inspect is a report, and a frozen stream in it is damage: exit 1, like verify.
TEST_F(OperationsCliTest, InspectExitsOneOnAFrozenStream) {
  ASSERT_EQ(Append({"--writer-id", "w"}, 8).exit_code, 0);
  CommandResult r = Ronctl({"audit", "inspect", "--dir", wal_});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  const std::string seg = wal_ + "/w/s/" + segment::SegmentFileName(1);
  std::string bytes = testing::ReadFile(seg);
  const size_t record = bytes.find("\"kind\":\"K\"");  // inside the first frame
  ASSERT_NE(record, std::string::npos);
  bytes[record + 2] ^= 1;
  testing::WriteFile(seg, bytes);
  r = Ronctl({"audit", "inspect", "--dir", wal_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("state frozen"), std::string::npos) << r.out;
}

// Sealed records that are all stored already are duplicates, and the summary says so.
TEST_F(OperationsCliTest, ASealedReplayOfStoredRecordsCountsDuplicates) {
  ASSERT_EQ(Append({"--writer-id", "w"}, 8).exit_code, 0);
  const CommandResult sealed = Ronctl({"audit", "range", "--dir", wal_, "--stream", "s"});
  ASSERT_EQ(sealed.exit_code, 0);
  const CommandResult r = Ronctl({"audit", "append", "--dir", wal_, "--sealed"}, sealed.out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("0 records appended, 8 duplicates, 0 rejected"), std::string::npos) << r.err;
}

TEST_F(OperationsCliTest, UsageErrorsAreUsageErrors) {
  const CommandResult r =
      Append({"--writer-id", "w", "--export-dir", exp_, "--checkpoint-every", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--checkpoint-every takes a number of records, at least 1000"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(wal_));  // refused before anything was created
}

// Every command is named by the help that lists commands.
TEST_F(OperationsCliTest, HelpNamesEveryCommand) {
  const std::string top = Ronctl({"--help"}).out, audit = Ronctl({"audit", "--help"}).out;
  for (const char* command :
       {"canon", "merkle", "verify-chain", "append", "range", "inspect", "verify", "prove",
        "prove-consistency", "check-proof", "backup", "salvage"}) {
    EXPECT_NE(top.find(command), std::string::npos) << command << "\n" << top;
    EXPECT_NE(audit.find(std::string("  ") + command + " "), std::string::npos) << command << "\n"
                                                                                << audit;
    EXPECT_EQ(Ronctl({"audit", command, "--help"}).exit_code, 0) << command;
  }
}

// The demo host writes the metrics page of the running engine: ready, not closed.
TEST_F(OperationsCliTest, TheDemoMetricsPageIsTheRunningEnginesPage) {
  const std::string page = tmp_.path() + "/metrics.prom";
  const CommandResult r = RunCommand({"/usr/bin/timeout", "60", testing::BuildDir() + "/ron_hosts",
                                      "--profile", "micronode", "--metrics", page},
                                     "");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(testing::MetricValue(testing::ReadFile(page), "audit_ready"), 1.0);
}

// The alerting rules the runbook ships are valid, and each fires on the history it is for
// (promtool as the independent checker; the rules use the _bucket series and a rate, so the
// fsync alert can fire at all).
TEST(AlertRulesTest, TheShippedAlertsFireWhenTheyShould) {
  CommandResult r =
      RunCommand({"/usr/bin/promtool", "check", "rules", "docs/examples/alerts.yml"}, "");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = RunCommand({"/usr/bin/promtool", "test", "rules", "tests/tools/alerts_test.yml"}, "");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace ron
