// `ronctl audit backup | salvage` (docs/CLI.md, docs/RUNBOOK.md): a rebuilt or restored WAL
// keeps every file and offset its manifests name, so what the export proved stays provable;
// nothing signed is reissued; records after damage are lost to the chain but not to the
// investigation; a backup taken beside a running engine verifies.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "ron_audit/engine.h"
#include "segment/segment_format.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "wal/reader.h"

namespace ron {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::Ronctl;
using testing::RunCommand;
using testing::SplitLines;

uint64_t OffsetOfIn(const std::string& path, uint64_t seq) {
  return testing::FrameOffsetOf(testing::ReadFile(path), seq);
}

void Poke(const std::string& file, uint64_t offset, char byte = 'Z') {
  std::string bytes = testing::ReadFile(file);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = byte;
  testing::WriteFile(file, bytes);
}

class SalvageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal_ = tmp_.path() + "/wal";
    exp_ = tmp_.path() + "/exp";
    key_ = tmp_.path() + "/k1.key";
    keys_ = tmp_.path() + "/trusted.keys";
    mkdir(wal_.c_str(), 0700);
    mkdir(exp_.c_str(), 0700);
    const CommandResult keygen = Ronctl({"keygen", "--key-id", "k1", "--out", key_});
    ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
    testing::WriteFile(keys_, keygen.out);
  }
  // Appends drafts first..first+n-1 to stream s; with `exported`, checkpoints every 1000.
  CommandResult Append(const std::string& dir, int first, int n, bool exported = true,
                       const std::string& stream = "s") {
    std::vector<std::string> args = {"audit",    "append", "--dir",       dir,
                                     "--stream", stream,   "--writer-id", "w"};
    if (exported) {
      for (const char* a : {"--export-dir", exp_.c_str(), "--checkpoint-every", "1000",
                            "--signer-key", key_.c_str(), "--key-id", "k1"}) {
        args.emplace_back(a);
      }
    }
    return Ronctl(args, testing::KiBDrafts(first, n));
  }
  CommandResult Verify(const std::string& dir) {
    return Ronctl({"audit", "verify", "--dir", dir, "--export-dir", exp_, "--trusted-keys", keys_});
  }
  std::string Seg(const std::string& dir, int n, const std::string& stream = "s") {
    return dir + "/w/" + stream + "/" + segment::SegmentFileName(static_cast<uint64_t>(n));
  }
  // ronctl audit salvage of this WAL into `out`, against the export.
  CommandResult SalvageWithExport(const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit", "salvage", "--dir",        wal_,
                                     "--out", out,       "--export-dir", exp_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ronctl(args);
  }
  // An engine on this WAL as writer "w" (the CLI's --writer-id here).
  EngineOptions WalEngine() const {
    EngineOptions o = engine_test::WalEngineOptions(wal_, 1, 1024);
    o.writer_id = "w";
    return o;
  }
  testing::TempDir tmp_;
  std::string wal_, exp_, key_, keys_;
};

// A healthy WAL is copied byte for byte: same files, same bytes, the export verifies against
// the copy as against the original (a rebuild by range | append --sealed could not).
TEST_F(SalvageCliTest, AHealthyWalIsCopiedByteForByteAndItsExportStillVerifies) {
  ASSERT_EQ(Append(wal_, 0, 2500).exit_code, 0);
  ASSERT_EQ(Append(wal_, 2500, 1500).exit_code, 0);
  ASSERT_EQ(Append(wal_, 4000, 10, true, "t").exit_code, 0);
  const std::string out = tmp_.path() + "/new";
  const CommandResult r = SalvageWithExport(out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "ok w/s 1..4000 copied\nok w/t 1..10 copied\n"
            "salvaged 2 streams, 4010 records kept, 0 lost, 0 quarantined\n");
  for (int n = 1; n <= 2; ++n) {
    EXPECT_EQ(testing::ReadFile(Seg(out, n)), testing::ReadFile(Seg(wal_, n))) << n;
  }
  EXPECT_EQ(fs::status(out).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(Seg(out, 1)).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const CommandResult v = Verify(out);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out.rfind("ok 4010 records, 2 streams, 6 checkpoints, 6 manifests\n", 0), 0u)
      << v.out;
}

// Damage after the stream's last checkpoint: the stream is cut before the damaged record, the
// records after it go to the quarantine file (each verifiable, a chain from the next seq),
// the export verifies against the new WAL, and the engine resumes at the damaged seq: those
// seqs were never signed, so nothing signed is reissued.
TEST_F(SalvageCliTest, DamageAfterTheLastCheckpointIsCutAndTheRestQuarantined) {
  ASSERT_EQ(Append(wal_, 0, 3000).exit_code, 0);
  ASSERT_EQ(Append(wal_, 3000, 500, /*exported=*/false).exit_code, 0);  // 3001..3500
  const uint64_t at = OffsetOfIn(Seg(wal_, 2), 3200);
  ASSERT_GT(at, 0u);
  Poke(Seg(wal_, 2), at + 100);
  const std::string out = tmp_.path() + "/new", q = tmp_.path() + "/q.jsonl";
  const CommandResult r = Ronctl(
      {"audit", "salvage", "--dir", wal_, "--out", out, "--export-dir", exp_, "--quarantine", q});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "cut w/s kept 1..3199 lost 3200..3500 at " + Seg(wal_, 2) + " offset " +
                       std::to_string(at) + " HashMismatch, 300 quarantined\n" +
                       "salvaged 1 streams, 3199 records kept, 301 lost, 300 quarantined\n");
  const std::string quarantined = testing::ReadFile(q);
  EXPECT_EQ(SplitLines(quarantined).size(), 300u);
  EXPECT_EQ(fs::status(q).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const CommandResult chain = Ronctl({"audit", "verify-chain"}, quarantined);
  EXPECT_EQ(chain.exit_code, 0) << chain.out << chain.err;
  EXPECT_EQ(chain.out.rfind("ok 300 ", 0), 0u) << chain.out;
  EXPECT_NE(quarantined.find("\"seq\":3201,"), std::string::npos);
  // The source is untouched.
  EXPECT_EQ(Ronctl({"audit", "verify", "--dir", wal_}).exit_code, 1);

  const CommandResult v = Verify(out);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("tail w/s 3001..3199 hash-chain-only"), std::string::npos) << v.out;
  const CommandResult resumed = Append(out, 9000, 5);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("head seq 3204"), std::string::npos) << resumed.err;
  const CommandResult after = Verify(out);
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
}

// Damage inside a signed range: what the WAL keeps ends before the export's checkpoints, so
// salvage says behind_export, and the engine keeps the stream frozen on the new WAL.
TEST_F(SalvageCliTest, DamageInASignedRangeLeavesTheStreamFrozenBehindItsExport) {
  ASSERT_EQ(Append(wal_, 0, 3000).exit_code, 0);
  Poke(Seg(wal_, 1), OffsetOfIn(Seg(wal_, 1), 1500) + 200);
  const std::string out = tmp_.path() + "/new";
  const CommandResult r = SalvageWithExport(out);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("cut w/s kept 1..1499 lost 1500..3000 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("behind_export w/s kept 1..1499 export through 3000\n"), std::string::npos)
      << r.out;
  const CommandResult a = Append(out, 9000, 1);
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_TRUE(a.out.empty()) << a.out;
  EXPECT_NE(a.err.find("wal_behind_export"), std::string::npos) << a.err;
  const CommandResult v = Verify(out);
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.out.find("reason wal_truncated"), std::string::npos) << v.out;
}

// The same damage with a backup: the damaged segment's bytes come from the backup (a prefix
// of it, as it was open then), the records after the backup from the WAL, and everything
// verifies against the export, signatures included; the engine resumes.
TEST_F(SalvageCliTest, ABackupRestoresADamagedSegmentAndTheStreamResumes) {
  ASSERT_EQ(Append(wal_, 0, 2000).exit_code, 0);
  const std::string backup = tmp_.path() + "/backup";
  const CommandResult b = Ronctl({"audit", "backup", "--dir", wal_, "--export-dir", exp_,
                                  "--trusted-keys", keys_, "--out", backup});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_EQ(b.out, "ok backup 2000 records, 1 streams, 2 checkpoints, 2 manifests\n");
  ASSERT_EQ(Append(wal_, 2000, 1500).exit_code, 0);
  Poke(Seg(wal_, 1), OffsetOfIn(Seg(wal_, 1), 1500) + 200);  // sealed, signed
  fs::remove(Seg(wal_, 2));                                  // and a segment lost
  const std::string out = tmp_.path() + "/new";
  CommandResult r = SalvageWithExport(out, {"--backup", backup + "/wal"});
  // Segment 2 (2001..3500) is in neither: the stream ends at 2000, behind the export
  // (whose checkpoint at Close covers 3500).
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("behind_export w/s kept 1..2000 export through 3500"), std::string::npos)
      << r.out;
  // With the newer segment still there, the backup fills in what was damaged.
  fs::remove_all(out);
  fs::remove_all(wal_);
  mkdir(wal_.c_str(), 0700);
  fs::remove_all(exp_);
  mkdir(exp_.c_str(), 0700);
  fs::remove_all(backup);
  ASSERT_EQ(Append(wal_, 0, 2000).exit_code, 0);
  ASSERT_EQ(
      Ronctl({"audit", "backup", "--dir", wal_, "--export-dir", exp_, "--out", backup}).exit_code,
      0);
  ASSERT_EQ(Append(wal_, 2000, 1500).exit_code, 0);
  Poke(Seg(wal_, 1), OffsetOfIn(Seg(wal_, 1), 1500) + 200);
  r = SalvageWithExport(out, {"--backup", backup + "/wal"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "restored w/s 1..3500 copied, wal-000001.seg from the backup\n"
            "salvaged 1 streams, 3500 records kept, 0 lost, 0 quarantined\n");
  const CommandResult v = Verify(out);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(v.out, "ok 3500 records, 1 streams, 4 checkpoints, 4 manifests\n");
  EXPECT_EQ(Append(out, 9000, 5).exit_code, 0);
  EXPECT_EQ(Verify(out).exit_code, 0);
}

// Bytes changed after the last record of a sealed segment damage no record: the segment is
// trimmed and kept, and so is every later segment.
TEST_F(SalvageCliTest, DamageAfterTheLastRecordOfASealedSegmentIsTrimmed) {
  ASSERT_EQ(Append(wal_, 0, 1200).exit_code, 0);
  ASSERT_EQ(Append(wal_, 1200, 1200).exit_code, 0);
  const std::string seg = Seg(wal_, 1);
  testing::WriteFile(seg, testing::ReadFile(seg) + std::string(100, '\0') + "junk");
  ASSERT_EQ(Ronctl({"audit", "verify", "--dir", wal_}).exit_code, 1);
  const std::string out = tmp_.path() + "/new";
  const CommandResult r = SalvageWithExport(out);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out,
            "trimmed w/s 1..2400 copied, damage after the last record of wal-000001.seg\n"
            "salvaged 1 streams, 2400 records kept, 0 lost, 0 quarantined\n");
  EXPECT_EQ(Verify(out).exit_code, 0);
}

// A WAL lost altogether and restored from a backup older than the export: salvage says which
// streams are behind (the engine would refuse them), never that the restore is complete.
TEST_F(SalvageCliTest, ARestoreOlderThanTheExportIsReportedBehindIt) {
  ASSERT_EQ(Append(wal_, 0, 1000).exit_code, 0);
  const std::string backup = tmp_.path() + "/backup";
  ASSERT_EQ(
      Ronctl({"audit", "backup", "--dir", wal_, "--export-dir", exp_, "--out", backup}).exit_code,
      0);
  ASSERT_EQ(Append(wal_, 1000, 1000).exit_code, 0);
  ASSERT_EQ(Append(wal_, 0, 10, true, "t").exit_code, 0);  // a stream the backup lacks
  fs::remove_all(wal_);
  const std::string out = tmp_.path() + "/restored";
  const CommandResult r =
      Ronctl({"audit", "salvage", "--dir", backup + "/wal", "--out", out, "--export-dir", exp_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out,
            "ok w/s 1..1000 copied\n"
            "behind_export w/s kept 1..1000 export through 2000\n"
            "behind_export w/t kept 1..0 export through 10\n"
            "salvaged 1 streams, 1000 records kept, 0 lost, 0 quarantined\n");
}

// Refusals: an existing --out, a WAL an engine is writing, missing flags.
TEST_F(SalvageCliTest, SalvageRefusesAnExistingOutputAndALiveWriter) {
  ASSERT_EQ(Append(wal_, 0, 10, false).exit_code, 0);
  const std::string out = tmp_.path() + "/new";
  mkdir(out.c_str(), 0700);
  CommandResult r = Ronctl({"audit", "salvage", "--dir", wal_, "--out", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("already exists"), std::string::npos) << r.out;
  EXPECT_EQ(Ronctl({"audit", "backup", "--dir", wal_, "--out", out}).exit_code, 1);
  fs::remove(out);
  auto engine = Engine::Open(WalEngine());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  r = Ronctl({"audit", "salvage", "--dir", wal_, "--out", out});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("in use by another writer (pid " + std::to_string(getpid())),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(Ronctl({"audit", "salvage", "--dir", wal_}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "backup", "--out", out}).exit_code, 2);
  EXPECT_EQ(
      Ronctl({"audit", "backup", "--dir", wal_, "--out", out, "--trusted-keys", keys_}).exit_code,
      2);
}

// A backup taken while an engine appends (fsync=always, checkpoints) verifies every time, and
// holds at least what had been acknowledged when it started.
TEST_F(SalvageCliTest, ABackupBesideARunningEngineVerifies) {
  EngineOptions o = WalEngine();
  o.config.wal.rotate_bytes = 8u << 20;
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked{0};
  const std::vector<std::string> drafts = SplitLines(testing::KiBDrafts(0, 64));
  // Groups of 256 in flight, so that segments fill and are sealed while backups copy them.
  std::thread writer([&] {
    std::vector<Ticket> tickets;
    for (size_t i = 0; !stop && acked < 40000;) {
      tickets.clear();
      for (int k = 0; k < 256; ++k, ++i) {
        auto t = engine.value()->Emit(i % 2 ? "a" : "b", drafts[i % drafts.size()]);
        if (t.ok()) tickets.push_back(std::move(t).value());
      }
      for (Ticket& t : tickets) {
        if (t.Wait(std::chrono::steady_clock::now() + std::chrono::seconds(10)).ok()) acked++;
      }
    }
  });
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t before = acked.load();
    const std::string out = tmp_.path() + "/b" + std::to_string(i);
    const CommandResult r = Ronctl({"audit", "backup", "--dir", wal_, "--out", out});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    unsigned long long records = 0;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "ok backup %llu records", &records), 1) << r.out;
    EXPECT_GE(records, before);
  }
  stop = true;
  writer.join();
  EXPECT_GT(acked.load(), 0u);
  ASSERT_TRUE(
      engine.value()->Close(std::chrono::steady_clock::now() + std::chrono::seconds(10)).ok());
}

}  // namespace
}  // namespace ron
