// Export end to end, continued: a WAL that contradicts its signed export opens frozen; the WAL
// and the export stay apart; manifests are never replaced; the checkpoint format and vectors.
#include "tests/checkpoint/export_test_util.h"

namespace ron::export_test {
namespace {

// A WAL that contradicts its own signed export never takes another record: the stream opens
// frozen (reason named in the log, counted), nothing is signed over it, the other streams go on.
class ExportMismatchTest : public ExportTest {
 protected:
  // Opens an engine on the damaged WAL and checks that s2 is frozen for `why` while s1 works.
  void ExpectS2Frozen(std::shared_ptr<Signer> key, const std::string& why,
                      bool manifest_intact = true) {
    const std::string before =
        manifest_intact ? testing::ReadFile(ManifestPath("s2", 1200)) : std::string();
    std::vector<std::string> lines;
    std::mutex mu;
    EngineOptions o = Options(key);
    o.log = [&](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu);
      lines.emplace_back(line);
    };
    {
      auto engine = Engine::Open(o);
      ASSERT_TRUE(engine.ok()) << engine.status().ToString();
      EXPECT_EQ(engine.value()->State(kWriter, "s2").state, StreamState::kFrozen);
      auto t = engine.value()->Emit("s2", Draft(1));
      ASSERT_TRUE(t.ok());
      const auto r = t.value().Wait(In(seconds(30)));
      EXPECT_EQ(r.code(), Code::kFrozen);
      EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().ToString();
      Emit(engine.value().get(), "s1", 10, 5000);  // the healthy stream goes on
      EXPECT_EQ(testing::MetricValue(engine.value()->MetricsText(), "audit_verify_fail_total",
                                     "reason=\"manifest_gap\""),
                why == "export_mismatch" ? 0 : 1);
      ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
    }
    if (manifest_intact) {
      EXPECT_EQ(testing::ReadFile(ManifestPath("s2", 1200)), before);  // not overwritten
    }
    EXPECT_FALSE(fs::exists(ManifestPath("s2", 1201)));              // nothing new signed
    int said = 0;
    for (const std::string& line : lines) {
      said += line.find(why) != std::string::npos && line.find("s2") != std::string::npos;
    }
    EXPECT_GE(said, 1) << "no log line names " << why;
  }
};

TEST_F(ExportMismatchTest, AMissingStreamDirectoryOpensFrozen) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  fs::remove_all(StreamDir("s2"));
  ExpectS2Frozen(key, "wal_missing");
  EXPECT_FALSE(fs::exists(StreamDir("s2")));  // nothing was created for it
  const TrustedKeys keys = Trust({key.get()});
  EXPECT_FALSE(Verify(&keys).failure.ok());
}

TEST_F(ExportMismatchTest, AWalRolledBackBehindItsExportOpensFrozen) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  // An older copy of s2's WAL (the first 1000 records) put back over the current one.
  fs::remove_all(StreamDir("s2"));
  {
    EngineOptions o = Options(key);
    o.config.sink = SinkKind::kWal;  // a WAL-only run cannot see the export
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok());
    std::vector<Ticket> tickets;
    for (int i = 0; i < 1000; ++i) {  // the same records as WriteEvidence's s2
      tickets.push_back(engine.value()->Emit("s2", Draft(i)).value());
    }
    for (const Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(30))).ok());
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  ExpectS2Frozen(key, "wal_behind_export");
}

TEST_F(ExportMismatchTest, AWalThatNoLongerReproducesTheSignedTreeRootOpensFrozen) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  fs::remove_all(StreamDir("s2"));
  {
    EngineOptions o = Options(key);
    o.config.sink = SinkKind::kWal;
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok());
    Emit(engine.value().get(), "s2", 1300, 70000);  // another chain, longer than the signed one
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  ExpectS2Frozen(key, "export_mismatch");
  const TrustedKeys keys = Trust({key.get()});
  EXPECT_EQ(Verify(&keys).failure.code(), Code::kHashMismatch);
}

// An export the engine cannot fully read is never taken for "nothing exported": a link in
// place of a stream's export directory (or its newest manifest) stops Open or freezes the stream.
TEST_F(ExportMismatchTest, AnExportThatCannotBeReadIsNeverNothingExported) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  const std::string dir = ExportStreamDir(exp_, kWriter, "s2"), moved = tmp_.path() + "/moved";
  fs::rename(dir, moved);
  ASSERT_EQ(symlink(moved.c_str(), dir.c_str()), 0);
  auto refused = Engine::Open(Options(key));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("symbolic link"), std::string::npos)
      << refused.status().ToString();
  fs::remove(dir);
  fs::rename(moved, dir);
  // The newest manifest replaced by a directory: unreadable, so the stream opens frozen.
  const std::string newest = ManifestPath("s2", 1200);
  fs::rename(newest, tmp_.path() + "/m.json");
  fs::create_directory(newest);
  ExpectS2Frozen(key, "export_unreadable", /*manifest_intact=*/false);
}

// Two engines, one directory for WAL and export: refused by the configuration, with its reason
// (not as an engine that finds itself holding the lock).
TEST_F(ExportTest, TheWalAndTheExportCannotShareADirectory) {
  EngineOptions o = Options(nullptr);
  o.config.export_.dir = wal_;
  auto r = Engine::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("export.dir: must not be wal.dir"), std::string::npos)
      << r.status().ToString();
}

// Signed evidence is never replaced: a manifest already at the next checkpoint's name, with
// another checkpoint in it, makes the export fail (Conflict) and stays byte for byte.
TEST_F(ExportTest, AnExistingManifestIsNeverReplaced) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);  // s2: manifests at 1000 and 1200
  const std::string squatter = ManifestPath("s2", 1300);
  const std::string text = testing::ReadFile(ManifestPath("s2", 1200));
  {
    auto engine = Engine::Open(Options(key));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    testing::WriteFile(squatter, text);  // where the checkpoint at Close will go
    Emit(engine.value().get(), "s2", 100, 9000);
    EXPECT_FALSE(engine.value()->Close(In(seconds(5))).ok());  // the last export failed
  }
  EXPECT_EQ(testing::ReadFile(squatter), text);
  EXPECT_EQ(wal::WriteFileAtomic(squatter, "x", wal::Replace::kNever).code(), Code::kConflict);
  EXPECT_EQ(testing::ReadFile(squatter), text);
}

// The interop batch vector: the checkpoint of batch seq 100..199 has the published root; the tampered twin
// does not.
TEST(CheckpointVectorTest, BatchRangeRootMatchesTheInteropVector) {
  for (const char* name : {"merkle.batch", "merkle.tampered"}) {
    const std::string dir = "tests/vectors/audit/";
    const auto lines = testing::SplitLines(testing::ReadFile(dir + name + ".jsonl"));
    std::string expected = testing::ReadFile(dir + name + ".root");
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    ASSERT_EQ(lines.size(), 100u);
    StreamAccumulator acc("svc-gateway@inst-1", "ingress");
    std::vector<Digest> earlier;  // records 1..99, already checkpointed
    for (uint64_t seq = 1; seq <= 99; ++seq) earlier.push_back(Blake3(std::to_string(seq)));
    acc.SetExportedThrough(99, MerkleRoot(earlier));
    for (uint64_t seq = 1; seq <= 99; ++seq) acc.Add(seq, earlier[seq - 1], 1, 0);
    ASSERT_FALSE(acc.diverged());
    Canonicalizer c;
    CanonicalRecord r;
    for (const std::string& line : lines) {
      ASSERT_TRUE(c.Canonicalize(line, &r).ok());
      acc.Add(r.record.seq, r.digest, 1, 4096);
    }
    const CheckpointCut cut = acc.Cut();
    EXPECT_EQ(cut.first_seq, 100u);
    EXPECT_EQ(cut.last_seq, 199u);
    EXPECT_EQ(HashText(cut.root), expected) << name;
    EXPECT_EQ(cut.head, r.digest);
  }
}

TEST(StreamAccumulatorTest, CutsMatchRootsOverTheDigestsAndSplitAtSegments) {
  StreamAccumulator acc("w", "s");
  std::vector<Digest> digests;
  for (uint64_t seq = 1; seq <= 37; ++seq) {
    const Digest d = Blake3("record " + std::to_string(seq));
    digests.push_back(d);
    acc.Add(seq, d, seq <= 20 ? 1 : 2, 4096 + 100 * (seq <= 20 ? seq - 1 : seq - 21));
    if (seq == 10) {
      const CheckpointCut c = acc.Cut();
      EXPECT_EQ(c.first_seq, 1u);
      EXPECT_EQ(c.last_seq, 10u);
      EXPECT_EQ(c.root, MerkleRoot(std::span<const Digest>(digests)));
    }
  }
  const CheckpointCut c = acc.Cut();
  EXPECT_EQ(c.first_seq, 11u);
  EXPECT_EQ(c.last_seq, 37u);
  EXPECT_EQ(c.tree_size, 37u);
  EXPECT_EQ(c.tree_root, MerkleRoot(digests));
  EXPECT_EQ(c.root, MerkleRoot(std::span<const Digest>(digests.data() + 10, 27)));
  EXPECT_EQ(c.head, digests.back());
  ASSERT_EQ(c.segments.size(), 2u);
  EXPECT_EQ(c.segments[0].file, segment::SegmentFileName(1));
  EXPECT_EQ(c.segments[0].first_seq, 11u);
  EXPECT_EQ(c.segments[0].count, 10u);
  EXPECT_EQ(c.segments[0].offset, 4096u + 1000u);
  EXPECT_EQ(c.segments[0].root, MerkleRoot(std::span<const Digest>(digests.data() + 10, 10)));
  EXPECT_EQ(c.segments[1].file, segment::SegmentFileName(2));
  EXPECT_EQ(c.segments[1].offset, 4096u);
  EXPECT_EQ(c.segments[1].count, 17u);
}

TEST(CheckpointFormatTest, CanonicalEncodingRoundTripsAndAnythingElseIsRefused) {
  Checkpoint c;
  c.writer_id = "svc-é@1";
  c.stream = "ingress";
  c.first_seq = 100;
  c.last_seq = 199;
  c.tree_size = 199;
  c.created_ts_ms = 1763800000000;
  c.signer_key_id = "ops-1";
  c.alg = "ed25519";
  c.sig = Base64Encode(std::string(64, 's'));
  const std::string json = c.Json();
  Checkpoint back;
  ASSERT_TRUE(ParseCheckpoint(json, &back).ok());
  EXPECT_EQ(back.Json(), json);
  EXPECT_EQ(back.Id(), c.Id());
  EXPECT_EQ(json.find("\"sig\""), json.size() - 97);  // sig is last (no cosigs)
  EXPECT_EQ(c.SignedBody().find("\"sig\""), std::string::npos);
  // Whitespace, reordered keys, unknown keys, duplicate keys, bad ranges: Schema.
  EXPECT_EQ(ParseCheckpoint(json + " ", &back).code(), Code::kSchema);
  std::string reordered = json;
  reordered.replace(reordered.find("\"v\":1,"), 6, "");
  reordered.insert(reordered.size() - 1, ",\"v\":1");
  EXPECT_EQ(ParseCheckpoint(reordered, &back).code(), Code::kSchema);
  std::string extra = json;
  extra.insert(extra.size() - 1, ",\"x\":1");
  EXPECT_EQ(ParseCheckpoint(extra, &back).code(), Code::kSchema);
  std::string dup = json;
  dup.insert(1, "\"v\":1,");
  EXPECT_EQ(ParseCheckpoint(dup, &back).code(), Code::kSchema);
  std::string bad_range = json;
  bad_range.replace(bad_range.find("[100,199]"), 9, "[200,199]");
  EXPECT_EQ(ParseCheckpoint(bad_range, &back).code(), Code::kSchema);
  EXPECT_EQ(ParseCheckpoint("", &back).code(), Code::kSchema);
  EXPECT_EQ(ParseCheckpoint("[]", &back).code(), Code::kSchema);
}

}  // namespace
}  // namespace ron::export_test
