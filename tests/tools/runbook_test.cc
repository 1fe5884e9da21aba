// docs/RUNBOOK.md's procedures, run exactly as written: each block marked
// `<!-- drill: NAME -->` is extracted from the document and run by bash (-euo pipefail) with
// the variables it names set to a drill's directories and ronctl from this build on PATH. A
// procedure that drifts from the tools fails here, and each ends in a state that
// `ronctl audit verify --export-dir --trusted-keys` accepts (or, where the runbook says the
// procedure must stop, stops before touching the WAL).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
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

constexpr char kRunbook[] = "docs/RUNBOOK.md";

// The ```sh block after the marker `<!-- drill: name -->` in `file`; "" if there is none.
std::string DrillBlock(const std::string& name, const std::string& file = kRunbook) {
  const std::string doc = testing::ReadFile(file);
  const size_t marker = doc.find("<!-- drill: " + name + " -->");
  if (marker == std::string::npos) return "";
  const size_t open = doc.find("```sh\n", marker);
  if (open == std::string::npos) return "";
  const size_t body = open + 6;
  const size_t close = doc.find("\n```", body);
  if (close == std::string::npos) return "";
  return doc.substr(body, close - body + 1);
}

class RunbookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vars_["WAL"] = tmp_.path() + "/wal";
    vars_["EXP"] = tmp_.path() + "/exp";
    vars_["KEYS"] = tmp_.path() + "/trusted.keys";
    vars_["BACKUP"] = tmp_.path() + "/backup";
    vars_["FORENSICS"] = tmp_.path() + "/forensics";
    vars_["KEYDIR"] = tmp_.path() + "/etc/ron-audit";  // missing, as on a fresh host
    for (const char* dir : {"WAL", "EXP", "FORENSICS"}) mkdir(vars_[dir].c_str(), 0700);
    key_ = tmp_.path() + "/k1.key";
    const CommandResult keygen = Ronctl({"keygen", "--key-id", "k1", "--out", key_});
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    testing::WriteFile(vars_["KEYS"], keygen.out);
  }
  // Runs the named block of `file` (from `cwd`, if given); `unset` names variables the drill
  // leaves unset.
  CommandResult Drill(const std::string& name, const std::vector<std::string>& unset = {},
                      const std::string& file = kRunbook, const std::string& cwd = "") {
    std::string block = DrillBlock(name, file);
    EXPECT_FALSE(block.empty()) << "no block '" << name << "' in " << file;
    if (!cwd.empty()) block = "cd '" + cwd + "'\n" + block;
    const char* path = std::getenv("PATH");
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "PATH=" + fs::absolute(testing::BuildDir()).string() + ":" +
                                         (path ? path : "/usr/bin:/bin")};
    for (const auto& [k, v] : vars_) {
      if (std::find(unset.begin(), unset.end(), k) == unset.end()) argv.push_back(k + "=" + v);
    }
    for (const char* a : {"/usr/bin/timeout", "120", "bash", "-euo", "pipefail", "-c"}) {
      argv.emplace_back(a);
    }
    argv.push_back(block);
    return RunCommand(argv, "");
  }
  CommandResult Append(int first, int n, bool exported = true) {
    std::vector<std::string> args = {"audit",    "append", "--dir",       vars_["WAL"],
                                     "--stream", "s",      "--writer-id", "w"};
    if (exported) {
      for (const std::string& a :
           {std::string("--export-dir"), vars_["EXP"], std::string("--checkpoint-every"),
            std::string("1000"), std::string("--signer-key"), key_, std::string("--key-id"),
            std::string("k1")}) {
        args.push_back(a);
      }
    }
    return Ronctl(args, testing::KiBDrafts(first, n));
  }
  CommandResult Verify(const std::string& wal) {
    return Ronctl({"audit", "verify", "--dir", wal, "--export-dir", vars_["EXP"], "--trusted-keys",
                   vars_["KEYS"]});
  }
  std::string Seg(int n) const {
    return vars_.at("WAL") + "/w/s/" + segment::SegmentFileName(static_cast<uint64_t>(n));
  }
  // Changes one byte inside record `seq` of segment `n`.
  void Damage(int n, uint64_t seq) {
    std::string bytes = testing::ReadFile(Seg(n));
    const uint64_t offset = testing::FrameOffsetOf(bytes, seq);
    ASSERT_GT(offset, 0u) << "seq " << seq << " not in segment " << n;
    bytes[offset + 200] ^= 0x20;
    testing::WriteFile(Seg(n), bytes);
  }
  testing::TempDir tmp_;
  std::map<std::string, std::string> vars_;
  std::string key_;
};

// Rebuild with a backup: the damaged segment's records come back from the backup, byte for
// byte; the rebuilt WAL is swapped in, verifies with signatures, and appends resume.
TEST_F(RunbookTest, RebuildWithABackupRestoresTheDamagedRecords) {
  ASSERT_EQ(Append(0, 2000).exit_code, 0);
  const CommandResult backup = Drill("backup");
  ASSERT_EQ(backup.exit_code, 0) << backup.out << backup.err;
  EXPECT_EQ(backup.out, "ok backup 2000 records, 1 streams, 2 checkpoints, 2 manifests\n");
  ASSERT_EQ(Append(2000, 1500).exit_code, 0);
  Damage(1, 1500);
  const CommandResult r = Drill("rebuild");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("reason hash_mismatch"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("restored w/s 1..3500 copied, wal-000001.seg from the backup"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(fs::exists(vars_["WAL"] + ".damaged"));
  EXPECT_TRUE(fs::exists(vars_["FORENSICS"] + "/wal.as-found/w/s"));
  EXPECT_EQ(Verify(vars_["WAL"]).out, "ok 3500 records, 1 streams, 4 checkpoints, 4 manifests\n");
  const CommandResult more = Append(9000, 10);
  EXPECT_EQ(more.exit_code, 0) << more.err;
  EXPECT_NE(more.err.find("head seq 3510"), std::string::npos) << more.err;
  EXPECT_EQ(Verify(vars_["WAL"]).exit_code, 0);
}

// Rebuild without a backup, damage after the last checkpoint: the stream is cut before the
// damaged record, the later records are quarantined, and the stream continues at the cut.
TEST_F(RunbookTest, RebuildCutsUnsignedDamageAndTheStreamContinues) {
  ASSERT_EQ(Append(0, 2000).exit_code, 0);
  ASSERT_EQ(Append(2000, 500, /*exported=*/false).exit_code, 0);
  Damage(2, 2300);
  const CommandResult r = Drill("rebuild", {"BACKUP"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("cut w/s kept 1..2299 lost 2300..2500 at "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tail w/s 2001..2299 hash-chain-only"), std::string::npos) << r.out;
  EXPECT_EQ(testing::SplitLines(testing::ReadFile(vars_["FORENSICS"] + "/quarantine.jsonl")).size(),
            200u);
  const CommandResult more = Append(9000, 10);
  EXPECT_EQ(more.exit_code, 0) << more.err;
  EXPECT_NE(more.err.find("head seq 2309"), std::string::npos) << more.err;
  EXPECT_EQ(Verify(vars_["WAL"]).exit_code, 0);
}

// Rebuild without a backup, damage a signed checkpoint covers: the block stops at the last
// verify, before the swap; the WAL is left as it was and the rebuilt stream stays frozen.
TEST_F(RunbookTest, RebuildStopsBeforeTheSwapWhenSignedRecordsAreGone) {
  ASSERT_EQ(Append(0, 3000).exit_code, 0);
  Damage(1, 1500);
  const std::string before = testing::ReadFile(Seg(1));
  const CommandResult r = Drill("rebuild", {"BACKUP"});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("behind_export w/s kept 1..1499 export through 3000"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("reason wal_truncated"), std::string::npos) << r.out;
  EXPECT_EQ(testing::ReadFile(Seg(1)), before);
  EXPECT_FALSE(fs::exists(vars_["WAL"] + ".damaged"));
  const CommandResult a =
      Ronctl({"audit", "append", "--dir", vars_["WAL"] + ".new", "--stream", "s", "--writer-id",
              "w", "--export-dir", vars_["EXP"], "--signer-key", key_, "--key-id", "k1"},
             testing::KiBDrafts(0, 1));
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("wal_behind_export"), std::string::npos) << a.err;
}

// Restore: a segment lost and another damaged after the backup was taken; the restore
// brings back both from the backup and verifies.
TEST_F(RunbookTest, RestoreBringsBackLostAndDamagedSegments) {
  ASSERT_EQ(Append(0, 2000).exit_code, 0);
  ASSERT_EQ(Append(2000, 1000).exit_code, 0);
  ASSERT_EQ(Drill("backup").exit_code, 0);
  ASSERT_EQ(Append(3000, 1000).exit_code, 0);
  fs::remove(Seg(2));
  Damage(1, 10);
  const CommandResult r = Drill("restore");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "restored w/s 1..4000 copied, wal-000002.seg,wal-000001.seg from the backup\n"
            "salvaged 1 streams, 4000 records kept, 0 lost, 0 quarantined\n"
            "ok 4000 records, 1 streams, 4 checkpoints, 4 manifests\n");
  EXPECT_EQ(Append(9000, 10).exit_code, 0);
  EXPECT_EQ(Verify(vars_["WAL"]).exit_code, 0);
}

// Every shell block of the runbook and every ronctl block of the README is a drill, and every
// drill is run by a test in this file: a procedure added without a test fails here.
TEST(RunbookDocTest, EveryShellBlockIsADrillThatATestRuns) {
  const std::set<std::string> tested = {"verify", "chain-segment", "prove",  "prove-consistency",
                                        "keys",   "rotate",        "backup", "restore",
                                        "rebuild"};
  for (const auto& [file, names] : std::vector<std::pair<std::string, std::set<std::string>>>{
           {kRunbook, tested}, {"README.md", {"readme"}}}) {
    const std::string doc = testing::ReadFile(file);
    size_t blocks = 0;
    for (size_t at = doc.find("```sh\n"); at != std::string::npos;
         at = doc.find("```sh\n", at + 1)) {
      // The README's make blocks are what CI runs (make run, make test; make install in
      // tools/check_package.sh), not ronctl procedures.
      if (doc.compare(at + 6, 5, "make ") == 0) continue;
      ++blocks;
      const size_t marker = doc.rfind("<!-- drill: ", at);
      const size_t previous_block = at == 0 ? std::string::npos : doc.rfind("```", at - 1);
      ASSERT_NE(marker, std::string::npos) << file << ": a sh block without a drill marker";
      EXPECT_TRUE(previous_block == std::string::npos || previous_block < marker)
          << file << ": the sh block at offset " << at << " has no drill marker of its own";
      const size_t name_end = doc.find(" -->", marker);
      const std::string name = doc.substr(marker + 12, name_end - marker - 12);
      EXPECT_EQ(names.count(name), 1u) << file << ": drill '" << name << "' is run by no test";
    }
    EXPECT_EQ(blocks, names.size()) << file;
  }
}

// The auditor's field guide (§1-4) on a signed export with checkpoints at 1000, 2000 and 2500.
TEST_F(RunbookTest, TheAuditorsProceduresRunAsWritten) {
  const std::string scratch = tmp_.path() + "/auditor";
  fs::create_directory(scratch);
  const CommandResult a =
      Ronctl({"audit", "append", "--dir", vars_["WAL"], "--stream", "ledger", "--writer-id",
              "svc-ledger@inst-1", "--export-dir", vars_["EXP"], "--checkpoint-every", "1000",
              "--signer-key", key_, "--key-id", "k1"},
             testing::KiBDrafts(0, 2500));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  CommandResult r = Drill("verify", {}, kRunbook, scratch);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok 2500 records, 1 streams, 3 checkpoints, 3 manifests\n");
  r = Drill("chain-segment", {}, kRunbook, scratch);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<std::string> lines = testing::SplitLines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0].rfind("ok 1000 b3:", 0), 0u) << lines[0];
  // The Merkle root of the range is the one the manifest holds (for the checkpoint and for
  // its segment part, one segment here).
  for (size_t i = 2; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], "\"range\":[1001,2000],\"root\":\"" + lines[1] + "\"") << r.out;
  }
  r = Drill("prove", {}, kRunbook, scratch);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.rfind("ok inclusion svc-ledger@inst-1/ledger seq 1234 b3:", 0), 0u) << r.out;
  EXPECT_NE(r.out.find(" checkpoint [1001,2000] tree_size 2000 signed by k1"), std::string::npos)
      << r.out;
  r = Drill("prove-consistency", {}, kRunbook, scratch);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok consistency svc-ledger@inst-1/ledger tree_size 1000 -> 2500\n");
}

// §6: the first key on a fresh host (its key directory created), then a rotation by restart
// with the old key cross-signing; the evidence verifies with both keys trusted.
TEST_F(RunbookTest, KeysAndRotationRunAsWritten) {
  const std::string scratch = tmp_.path() + "/operator";
  fs::create_directory(scratch);
  testing::WriteFile(scratch + "/drafts.jsonl", testing::KiBDrafts(0, 1200));
  testing::WriteFile(vars_["KEYS"], "");
  CommandResult r = Drill("keys", {}, kRunbook, scratch);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(fs::status(vars_["KEYDIR"]).permissions() & fs::perms::all, fs::perms::owner_all);
  r = Drill("rotate", {}, kRunbook, scratch);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // 1200 + the KeyRotated record + 1200; a checkpoint at each run's end.
  EXPECT_EQ(r.out, "ok 2401 records, 1 streams, 2 checkpoints, 2 manifests\n");
  EXPECT_NE(r.err.find("audit.key.rotated"), std::string::npos) << r.err;
}

// README.md's "ronctl in one minute", as written, from a directory that holds the build and
// the docs as the repository root does.
TEST_F(RunbookTest, TheReadmeCommandsRunAsWritten) {
  const std::string root = tmp_.path() + "/checkout";
  fs::create_directory(root);
  fs::create_directory_symlink(fs::absolute(testing::BuildDir()), root + "/build");
  fs::create_directory_symlink(fs::absolute("docs"), root + "/docs");
  const CommandResult r = Drill("readme", {}, "README.md", root);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<std::string> lines = testing::SplitLines(r.out);
  size_t canon = 0, acks = 0;
  for (const std::string& line : lines) {
    canon += line.rfind("ok b3:", 0) == 0;
    acks += line.find(" b3:") != std::string::npos && line.find(' ') < 3;
  }
  EXPECT_EQ(canon, 3u) << r.out;  // docs/examples/records.jsonl
  EXPECT_GE(acks, 8u) << r.out;   // docs/examples/drafts.jsonl, acknowledged
  for (const char* expected :
       {"ok 8 b3:", "ok 8 records, 1 streams", "stream ", "ok inclusion ", "ok backup ",
        "profile = \"prod\"  # file docs/examples/audit.toml"}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("ok 808 records, 2 streams, 2 checkpoints, 2 manifests"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace ron
