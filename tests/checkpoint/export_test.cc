// Checkpoints, manifests, signatures and proofs end to end: an engine with an
// export sink writes them; the forensic verifier rebuilds everything from the WAL and the
// manifests alone, and every kind of tampering is detected with the right code and location.
#include "tests/checkpoint/export_test_util.h"

namespace ron::export_test {
namespace {

TEST_F(ExportTest, CheckpointsCoverEveryRecordAndVerifyFromTheFilesAlone) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  const TrustedKeys keys = Trust({key.get()});
  const ExportVerifyReport r = Verify(&keys);
  ASSERT_TRUE(r.failure.ok()) << r.reason << " " << r.failure.ToString() << " " << r.file;
  EXPECT_EQ(r.records, 3700u);
  EXPECT_EQ(r.streams, 2u);
  EXPECT_EQ(r.checkpoints, 5u);
  EXPECT_EQ(r.manifests, 5u);
  EXPECT_TRUE(r.tails.empty());  // Close cut the rest
  // Files are 0600 in 0700 directories, and each manifest is canonical and chained.
  struct stat st {};
  ASSERT_EQ(stat(ManifestPath("s1", 2000).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(ExportStreamDir(exp_, kWriter, "s1").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  Manifest first, second;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 1000)), &first).ok());
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 2000)), &second).ok());
  EXPECT_EQ(first.checkpoints[0].first_seq, 1u);
  EXPECT_EQ(first.checkpoints[0].prev_checkpoint, "b3:0");
  EXPECT_EQ(second.checkpoints[0].first_seq, 1001u);
  EXPECT_EQ(second.checkpoints[0].prev_checkpoint, first.checkpoints[0].Id());
  EXPECT_EQ(second.checkpoints[0].tree_size, 2000u);
  EXPECT_EQ(second.checkpoints[0].alg, "ed25519");
  // The roots are the docs/FORMAT.md §2 roots of the stored records.
  std::vector<Digest> digests;
  wal::StreamReport report;
  ASSERT_TRUE(wal::ScanStream(StreamDir("s1"), kWriter, "s1", Limits(), wal::VerifyLevel::kFull,
                              &report,
                              [&](const wal::RecordView& v) {
                                digests.push_back(v.self_hash);
                                return true;
                              })
                  .ok());
  ASSERT_EQ(digests.size(), 2500u);
  EXPECT_EQ(second.checkpoints[0].root,
            MerkleRoot(std::span<const Digest>(digests.data() + 1000, 1000)));
  EXPECT_EQ(second.checkpoints[0].tree_root,
            MerkleRoot(std::span<const Digest>(digests.data(), 2000)));
  EXPECT_EQ(second.checkpoints[0].head, digests[1999]);
  // The engine's metrics count the checkpoints; reopening continues the chain.
  auto engine = Engine::Open(Options(key));
  ASSERT_TRUE(engine.ok());
  Emit(engine.value().get(), "s1", 1000, 5000);
  ASSERT_TRUE(engine.value()->Checkpoint(In(seconds(30))).ok());
  EXPECT_NE(engine.value()->MetricsText().find(
                "audit_export_checkpoints_total{service=\"ron-audit\"} 1\n"),
            std::string::npos)
      << engine.value()->MetricsText();
  ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  const ExportVerifyReport again = Verify(&keys);
  ASSERT_TRUE(again.failure.ok()) << again.reason << " " << again.failure.ToString();
  EXPECT_EQ(again.checkpoints, 6u);
}

// One commit batch can complete two ranges (1000 and 2000 in a batch of up to 4096): both are
// cut, while the first waits for the builder. Ranges are exactly checkpoint_every records.
TEST_F(ExportTest, OneBatchThatCompletesTwoRangesCutsBoth) {
  EngineOptions o = Options(nullptr);
  o.config.workers = 1;
  o.max_batch_records = 4096;
  engine_test::SlowWrites slow(50);  // the records queued meanwhile land in one big batch
  auto engine = EngineAccess::OpenWithFaults(o, &slow);
  ASSERT_TRUE(engine.ok());
  Emit(engine.value().get(), "s1", 2500);
  ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  for (uint64_t last : {1000, 2000, 2500})
    EXPECT_TRUE(fs::exists(ManifestPath("s1", last))) << last;
  EXPECT_EQ(Verify(nullptr).manifests, 3u);
}

TEST_F(ExportTest, RecordsAfterTheLastCheckpointAreNamedAsHashChainOnly) {
  WriteEvidence(nullptr);  // unsigned ("alg":"none")
  EngineOptions plain = Options(nullptr);
  plain.config.sink = SinkKind::kWal;  // no exports: these records get no checkpoint
  {
    auto engine = Engine::Open(plain);
    ASSERT_TRUE(engine.ok());
    Emit(engine.value().get(), "s1", 10, 9000);
  }
  const ExportVerifyReport r = Verify(nullptr);
  ASSERT_TRUE(r.failure.ok()) << r.failure.ToString();
  ASSERT_EQ(r.tails.size(), 1u);
  EXPECT_EQ(r.tails[0].stream, "s1");
  EXPECT_EQ(r.tails[0].from, 2501u);
  EXPECT_EQ(r.tails[0].to, 2510u);
  // Unsigned checkpoints fail once signatures are required.
  const std::shared_ptr<Signer> key = Key("ops-1", 1);
  const TrustedKeys keys = Trust({key.get()});
  EXPECT_EQ(Verify(&keys).reason, "unsigned");
}

// One tampering and what the verifier must say about it. Unset expectations are not checked.
struct Tamper {
  const char* name;
  const TrustedKeys* keys;       // verify with these (nullptr: without signatures)
  std::function<void()> mutate;  // applied to a fresh copy of the evidence
  Code code;                     // kOk: the evidence still verifies
  const char* reason = nullptr;
  std::string file{};  // the failure's file (a prefix when file_is_prefix)
  bool file_is_prefix = false;
  const char* stream = nullptr;
  uint64_t seq = 0;
  uint64_t offset = UINT64_MAX;
  std::string message_has{};
  std::function<void(const ExportVerifyReport&)> also{};  // further checks
};

// The evidence: s1 has 2500 records (checkpoints at 1000, 2000, 2500), s2 1200 (1000, 1200).
TEST_F(ExportTest, EveryTamperingIsDetectedWithItsCodeAndLocation) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  const TrustedKeys keys = Trust({key.get()});
  const std::shared_ptr<Signer> other = Key("someone-else", 9);
  const TrustedKeys wrong = Trust({other.get()});
  const std::string pristine = tmp_.path() + "/pristine";
  fs::create_directories(pristine);
  fs::copy(tmp_.path() + "/wal", pristine + "/wal", fs::copy_options::recursive);
  fs::copy(tmp_.path() + "/exp", pristine + "/exp", fs::copy_options::recursive);
  const auto restore = [&] {
    fs::remove_all(wal_);
    fs::remove_all(exp_);
    fs::copy(pristine + "/wal", wal_, fs::copy_options::recursive);
    fs::copy(pristine + "/exp", exp_, fs::copy_options::recursive);
  };
  const auto frames = Frames("s1");
  // (Plain variables, not structured bindings: the cases' lambdas capture them.)
  const std::string file500 = frames.at(500).first;
  const uint64_t off500 = frames.at(500).second, off501 = frames.at(501).second;
  ASSERT_EQ(file500, frames.at(501).first);
  const uint64_t frame_bytes = off501 - off500;
  const std::string segment = testing::ReadFile(file500);
  // A manifest changed field by field (outside or inside its signed checkpoint).
  const auto edit = [&](const std::string& stream, uint64_t last,
                        const std::function<void(Manifest*)>& change) {
    Manifest m;
    ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath(stream, last)), &m).ok());
    change(&m);
    testing::WriteFile(ManifestPath(stream, last), m.Json());
  };
  // Another WAL of the same streams: other records, each chained and framed correctly.
  const std::string forged = tmp_.path() + "/forged-wal";
  {
    const std::string real_wal = wal_, real_exp = exp_;
    wal_ = forged;
    exp_ = tmp_.path() + "/forged-exp";
    mkdir(wal_.c_str(), 0700);
    mkdir(exp_.c_str(), 0700);
    auto engine = Engine::Open(Options(key));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    Emit(engine.value().get(), "s1", 2500, /*base=*/7);
    Emit(engine.value().get(), "s2", 1200, /*base=*/7);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
    wal_ = real_wal;
    exp_ = real_exp;
  }

  const std::vector<Tamper> cases = {
      // ---- The WAL changed ----
      {.name = "one flipped byte inside a sealed segment (record 500's body)",
       .keys = &keys,
       .mutate = [&] {
         std::string bytes = segment;
         bytes[off500 + 40] ^= 0x01;
         testing::WriteFile(file500, bytes);
       },
       .code = Code::kHashMismatch,
       .file = file500,
       .stream = "s1",
       .seq = 500},
      {.name = "a deleted record (its frame cut out)",
       .keys = &keys,
       .mutate = [&] {
         std::string bytes = segment;
         bytes.erase(off500, frame_bytes);
         testing::WriteFile(file500, bytes);
       },
       .code = Code::kSeqGap,
       .reason = "seq_gap",
       .file = file500,
       .stream = "s1",
       .seq = 500,
       .offset = off500},
      {.name = "two frames reordered",
       .keys = &keys,
       .mutate = [&] {
         std::string bytes = segment;
         const std::string a = bytes.substr(off500, frame_bytes);
         const std::string b = bytes.substr(off501, frame_bytes);
         bytes.replace(off500, frame_bytes, b);
         bytes.replace(off501, frame_bytes, a);
         testing::WriteFile(file500, bytes);
       },
       .code = Code::kSeqGap,
       .seq = 500},
      {.name = "the WAL tail dropped and the segment made to look unsealed, as after a crash",
       .keys = &keys,
       .mutate = [&] {
         const auto [file, offset] = frames.at(2400);
         std::string bytes = testing::ReadFile(file).substr(0, offset);
         bytes.replace(12, 4, std::string(4, '\0'));  // header count: 0 = open
         testing::WriteFile(file, bytes);
         // The WAL alone reads clean; only the checkpoints say more existed.
         ExportVerifyOptions wal_only;
         wal_only.wal_dir = wal_;
         ExportVerifyReport alone;
         ASSERT_TRUE(VerifyExports(wal_only, &alone).ok());
         EXPECT_TRUE(alone.failure.ok()) << alone.failure.ToString();
       },
       .code = Code::kSeqGap,
       .reason = "wal_truncated",
       .file = ManifestPath("s1", 2500)},
      {.name = "a forged WAL: the parts and the signed checkpoints disagree; the checkpoint's "
               "failure wins and names the WAL file",
       .keys = &keys,
       .mutate = [&] {
         fs::remove_all(wal_);
         fs::copy(forged, wal_, fs::copy_options::recursive);
       },
       .code = Code::kHashMismatch,
       .reason = "root_mismatch",
       .file = wal_,
       .file_is_prefix = true,
       .seq = 1000},
      {.name = "manifests for a stream the WAL no longer has",
       .keys = &keys,
       .mutate = [&] { fs::remove_all(StreamDir("s2")); },
       .code = Code::kSeqGap,
       .reason = "wal_missing",
       .file = ManifestPath("s2", 1000),
       .stream = "s2"},
      // ---- The export changed ----
      {.name = "a manifest deleted: a gap in the export",
       .keys = &keys,
       .mutate = [&] { ASSERT_TRUE(fs::remove(ManifestPath("s1", 2000))); },
       .code = Code::kSeqGap,
       .reason = "manifest_gap",
       .seq = 1001},
      {.name = "a checkpoint swapped between streams",
       .keys = &keys,
       .mutate = [&] {
         fs::copy_file(ManifestPath("s2", 1000), ManifestPath("s1", 1000),
                       fs::copy_options::overwrite_existing);
       },
       .code = Code::kConflict,
       .reason = "stream_mismatch",
       .file = ManifestPath("s1", 1000)},
      {.name = "a root changed in a manifest and re-signed by nobody",
       .keys = &keys,
       .mutate = [&] { edit("s2", 1200, [](Manifest* m) { m->checkpoints[0].root[0] ^= 1; }); },
       .code = Code::kConflict,
       .reason = "bad_signature",
       .stream = "s2"},
      {.name = "the same root change, without keys: the rebuilt root catches it",
       .keys = nullptr,
       .mutate = [&] { edit("s2", 1200, [](Manifest* m) { m->checkpoints[0].root[0] ^= 1; }); },
       .code = Code::kHashMismatch,
       .reason = "root_mismatch",
       .seq = 1200},
      {.name = "checkpoints signed with a key the auditor does not trust",
       .keys = &wrong,
       .mutate = [] {},
       .code = Code::kConflict,
       .reason = "untrusted_key"},
      {.name = "a byte of a manifest outside the signed checkpoint (created_ts_ms)",
       .keys = &keys,
       .mutate = [&] { edit("s1", 1000, [](Manifest* m) { m->created_ts_ms += 1; }); },
       .code = Code::kConflict,
       .reason = "bad_manifest",
       .file = ManifestPath("s1", 1000)},
      // Without keys, each changed manifest field is found by the structure it breaks.
      {.name = "a range that starts inside the previous manifest's: an overlap",
       .keys = nullptr,
       .mutate = [&] {
         edit("s1", 2000, [](Manifest* m) {
           m->checkpoints[0].first_seq = 901;
           m->segments[0].first_seq = 901;
           m->segments[0].count += 100;
         });
       },
       .code = Code::kConflict,
       .reason = "manifest_overlap",
       .file = ManifestPath("s1", 2000),
       .seq = 1001},
      {.name = "a checkpoint that does not chain to the previous one",
       .keys = nullptr,
       .mutate = [&] {
         edit("s1", 2000, [](Manifest* m) { m->checkpoints[0].prev_checkpoint = "b3:0"; });
       },
       .code = Code::kConflict,
       .reason = "checkpoint_chain",
       .file = ManifestPath("s1", 2000)},
      {.name = "a checkpoint whose head is not its last record",
       .keys = nullptr,
       .mutate = [&] { edit("s2", 1200, [](Manifest* m) { m->checkpoints[0].head[3] ^= 1; }); },
       .code = Code::kHashMismatch,
       .reason = "head_mismatch",
       .stream = "s2",
       .seq = 1200},
      // The segment list is outside the signature and the WAL still reproduces the signed
      // checkpoints, so the manifest is named (the WAL's place for the record in the message).
      {.name = "a segment part placed at another offset",
       .keys = nullptr,
       .mutate = [&] { edit("s1", 1000, [](Manifest* m) { m->segments[0].offset += 1; }); },
       .code = Code::kConflict,
       .reason = "segment_mismatch",
       .file = ManifestPath("s1", 1000),
       .seq = 1,
       .message_has = frames.at(1).first},
      {.name = "a segment part placed in another file",
       .keys = &keys,
       .mutate = [&] {
         edit("s1", 2000, [](Manifest* m) { m->segments[0].file = "wal-000099.seg"; });
       },
       .code = Code::kConflict,
       .reason = "segment_mismatch",
       .file = ManifestPath("s1", 2000),
       .seq = 1001},
      {.name = "a segment part's root changed",
       .keys = nullptr,
       .mutate = [&] { edit("s2", 1200, [](Manifest* m) { m->segments[0].root[5] ^= 1; }); },
       .code = Code::kHashMismatch,
       .reason = "root_mismatch",
       .file = ManifestPath("s2", 1200)},
      {.name = "one checkpoint of another stream inside this stream's manifest",
       .keys = nullptr,
       .mutate = [&] { edit("s1", 1000, [](Manifest* m) { m->checkpoints[0].stream = "s2"; }); },
       .code = Code::kConflict,
       .reason = "stream_mismatch",
       .message_has = "checkpoint of"},
      // ---- Not tampering ----
      {.name = "stray files and empty stream directories in the export tree: ignored with a note",
       .keys = &keys,
       .mutate = [&] {
         testing::WriteFile(exp_ + "/.DS_Store", "x");
         testing::WriteFile(ExportStreamDir(exp_, kWriter, "s1") + "/../notes.txt", "x");
         fs::create_directories(ExportStreamDir(exp_, kWriter, "gone"));
         fs::create_directories(exp_ + "/another-writer/empty");
       },
       .code = Code::kOk,
       .also =
           [](const ExportVerifyReport& r) {
             EXPECT_EQ(r.streams, 2u);
             EXPECT_EQ(std::count_if(r.notes.begin(), r.notes.end(),
                                     [](const std::string& n) {
                                       return n.find("(no manifest, no WAL stream)") !=
                                              std::string::npos;
                                     }),
                       2);
           }},
  };
  for (const Tamper& t : cases) {
    SCOPED_TRACE(t.name);
    restore();
    t.mutate();
    const ExportVerifyReport r = Verify(t.keys, 1);
    // Four threads for two streams: each stream's WAL scan runs on a helper of its own, its
    // Merkle checks on the stream's thread; the report is one thread's, counts included.
    ExpectSameReport(r, Verify(t.keys, 4));
    EXPECT_EQ(r.failure.code(), t.code) << r.reason << " " << r.failure.ToString();
    if (t.reason != nullptr) {
      EXPECT_EQ(r.reason, t.reason) << r.failure.ToString();
    }
    if (!t.file.empty()) {
      EXPECT_EQ(t.file_is_prefix ? r.file.substr(0, t.file.size()) : r.file, t.file);
    }
    if (t.stream != nullptr) {
      EXPECT_EQ(r.stream, t.stream);
    }
    if (t.seq != 0) {
      EXPECT_EQ(r.seq, t.seq);
    }
    if (t.offset != UINT64_MAX) {
      EXPECT_EQ(r.offset, t.offset);
    }
    if (!t.message_has.empty()) {
      EXPECT_NE(r.failure.message().find(t.message_has), std::string::npos)
          << r.failure.message();
    }
    if (t.also) t.also(r);
  }
  restore();
  EXPECT_TRUE(Verify(&keys).failure.ok());
  // The comparisons above did use the pipeline: one helper per stream on 4 threads, none on 1.
  const uint64_t before = PipelinedScansForTesting();
  EXPECT_TRUE(Verify(&keys, 1).failure.ok());
  EXPECT_EQ(PipelinedScansForTesting(), before);
  EXPECT_TRUE(Verify(&keys, 4).failure.ok());
  EXPECT_EQ(PipelinedScansForTesting() - before, 2u);
}

TEST_F(ExportTest, RotationCrossSignsTheFirstCheckpointUnderTheNewKey) {
  std::shared_ptr<Signer> old_key = Key("ops-1", 1);
  std::shared_ptr<Signer> new_key = Key("ops-2", 2);
  {
    auto engine = Engine::Open(Options(old_key));
    ASSERT_TRUE(engine.ok());
    Emit(engine.value().get(), "s1", 1500);
    ASSERT_TRUE(engine.value()->RotateSigner(new_key, In(seconds(30))).ok());
    Emit(engine.value().get(), "s1", 1500, 2000);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  const TrustedKeys both = Trust({old_key.get(), new_key.get()});
  const auto r = Verify(&both);
  ASSERT_TRUE(r.failure.ok()) << r.reason << " " << r.failure.ToString();
  // The KeyRotated record is in the stream (seq 1501), with both key ids.
  const auto out = testing::RunCommand({testing::RonctlPath(), "audit", "range", "--dir", wal_,
                                        "--stream", "s1", "--from", "1501", "--to", "1501"},
                                       "");
  EXPECT_NE(out.out.find(R"("kind":"KeyRotated")"), std::string::npos) << out.out << out.err;
  EXPECT_NE(out.out.find(R"("new_key_id":"ops-2","old_key_id":"ops-1")"), std::string::npos);
  // The first checkpoint signed by ops-2 carries ops-1's cross-signature.
  Manifest m;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 2000)), &m).ok());
  ASSERT_EQ(m.checkpoints[0].signer_key_id, "ops-2");
  ASSERT_EQ(m.checkpoints[0].cosigs.size(), 1u);
  EXPECT_EQ(m.checkpoints[0].cosigs[0].signer_key_id, "ops-1");
  Manifest later;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 3001)), &later).ok());
  EXPECT_TRUE(later.checkpoints[0].cosigs.empty());
  // A witness cosignature by an unknown key is ignored; stripping the cross-signature is not.
  m.checkpoints[0].cosigs.push_back({"witness-7", "ed25519", Base64Encode(std::string(64, 'x'))});
  testing::WriteFile(ManifestPath("s1", 2000), m.Json());
  EXPECT_TRUE(Verify(&both).failure.ok());
  m.checkpoints[0].cosigs.clear();
  testing::WriteFile(ManifestPath("s1", 2000), m.Json());
  EXPECT_EQ(Verify(&both).reason, "missing_cross_signature");
  // Every key change must be announced in the stream: the ops-1 → ops-2 change is (seq 1501),
  // a change to a third key nobody recorded is not (seen even without --trusted-keys).
  EXPECT_TRUE(Verify(nullptr).failure.ok()) << Verify(nullptr).reason;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 3001)), &later).ok());
  later.checkpoints[0].signer_key_id = "ops-9";
  testing::WriteFile(ManifestPath("s1", 3001), later.Json());
  const auto unannounced = Verify(nullptr);
  EXPECT_EQ(unannounced.failure.code(), Code::kConflict);
  EXPECT_EQ(unannounced.reason, "unannounced_rotation") << unannounced.failure.ToString();
  EXPECT_EQ(unannounced.file, ManifestPath("s1", 3001));
}

// docs/RUNBOOK.md §6's usual rotation: stop, restart with the new key (and the old one as
// previous_signer). The restart appends KeyRotated and the first new-key checkpoint is
// cross-signed — decided from the export itself, not from memory of a runtime Rotate.
TEST_F(ExportTest, RestartWithANewKeyRecordsTheRotationAndCrossSigns) {
  std::shared_ptr<Signer> old_key = Key("ops-1", 1);
  std::shared_ptr<Signer> new_key = Key("ops-2", 2);
  {
    auto engine = Engine::Open(Options(old_key));
    ASSERT_TRUE(engine.ok());
    Emit(engine.value().get(), "s1", 1500);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  {
    EngineOptions o = Options(new_key);
    o.previous_signer = old_key;
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    EXPECT_EQ(engine.value()->State(kWriter, "s1").head_seq, 1501u);  // the KeyRotated record
    EXPECT_NE(
        engine.value()->MetricsText().find("audit_key_rotations_total{service=\"ron-audit\"} 1\n"),
        std::string::npos);
    Emit(engine.value().get(), "s1", 1200, 5000);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  {  // a second restart with the same key rotates nothing
    EngineOptions o = Options(new_key);
    o.previous_signer = old_key;
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok());
    EXPECT_EQ(engine.value()->State(kWriter, "s1").head_seq, 2701u);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  const auto out = testing::RunCommand({testing::RonctlPath(), "audit", "range", "--dir", wal_,
                                        "--stream", "s1", "--from", "1501", "--to", "1501"},
                                       "");
  EXPECT_NE(out.out.find(R"("kind":"KeyRotated")"), std::string::npos) << out.out << out.err;
  EXPECT_NE(out.out.find(R"("new_key_id":"ops-2","old_key_id":"ops-1")"), std::string::npos);
  Manifest first;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 2500)), &first).ok());
  EXPECT_EQ(first.checkpoints[0].first_seq, 1501u);
  EXPECT_EQ(first.checkpoints[0].signer_key_id, "ops-2");
  ASSERT_EQ(first.checkpoints[0].cosigs.size(), 1u);
  EXPECT_EQ(first.checkpoints[0].cosigs[0].signer_key_id, "ops-1");
  Manifest later;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 2701)), &later).ok());
  EXPECT_TRUE(later.checkpoints[0].cosigs.empty());
  const TrustedKeys both = Trust({old_key.get(), new_key.get()});
  const auto r = Verify(&both);
  ASSERT_TRUE(r.failure.ok()) << r.reason << " " << r.failure.ToString();
  // A restart with a third key and no previous signer: recorded, but nobody vouches for it.
  std::shared_ptr<Signer> third = Key("ops-3", 3);
  {
    auto engine = Engine::Open(Options(third));
    ASSERT_TRUE(engine.ok());
    Emit(engine.value().get(), "s1", 10, 9000);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  const TrustedKeys all = Trust({old_key.get(), new_key.get(), third.get()});
  EXPECT_EQ(Verify(&all).reason, "missing_cross_signature");
}

// A host's own KeyRotated record counts by its top-level attrs only: a look-alike nested in its
// attrs announces nothing, so a change to the key it names is still unannounced.
TEST_F(ExportTest, ANestedKeyIdInARecordAnnouncesNoRotation) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  {
    auto engine = Engine::Open(Options(key));
    ASSERT_TRUE(engine.ok());
    Emit(engine.value().get(), "s1", 1500);
    auto t = engine.value()->Emit(
        "s1", R"({"kind":"KeyRotated","actor":{},"subject":{},"reason":"ok","attrs":)"
              R"({"a":{"new_key_id":"ops-9","old_key_id":"ops-1"},)"
              R"("new_key_id":"ops-7","old_key_id":"ops-5"}})");
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.value().Wait(In(seconds(30))).ok());
    Emit(engine.value().get(), "s1", 499, 2000);  // checkpoints [1,1000] and [1001,2000]
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  EXPECT_TRUE(Verify(nullptr).failure.ok()) << Verify(nullptr).reason;
  // The second checkpoint claims ops-9: only the nested look-alike names ops-1 → ops-9.
  Manifest later;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("s1", 2000)), &later).ok());
  later.checkpoints[0].signer_key_id = "ops-9";
  testing::WriteFile(ManifestPath("s1", 2000), later.Json());
  const auto r = Verify(nullptr);
  EXPECT_EQ(r.reason, "unannounced_rotation") << r.failure.ToString();
  EXPECT_EQ(r.file, ManifestPath("s1", 2000));
}

TEST_F(ExportTest, ReceiptsProveInclusionAndConsistencyOfflineAndRejectEveryChange) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  const TrustedKeys keys = Trust({key.get()});
  ProofSource source{wal_, exp_, kWriter, "s1", Limits()};
  std::string summary;
  for (uint64_t seq : {1ull, 999ull, 1000ull, 1001ull, 1234ull, 2500ull}) {
    InclusionReceipt receipt;
    ASSERT_TRUE(BuildInclusionReceipt(source, seq, &receipt).ok()) << seq;
    ASSERT_TRUE(CheckReceipt(receipt.Json(), keys, &summary).ok()) << seq;
    EXPECT_NE(summary.find("seq " + std::to_string(seq) + " "), std::string::npos) << summary;
  }
  InclusionReceipt receipt;
  ASSERT_TRUE(BuildInclusionReceipt(source, 1234, &receipt).ok());
  const auto reason_of = [&](const InclusionReceipt& r) {
    const Status s = CheckReceipt(r.Json(), keys, &summary);
    return s.ok() ? std::string("ok") : s.message().substr(0, s.message().find(':'));
  };
  for (size_t i = 0; i < receipt.range_path.size(); ++i) {  // every element is checked
    InclusionReceipt bad = receipt;
    bad.range_path[i][7] ^= 0x20;
    EXPECT_EQ(reason_of(bad), "range_path") << i;
  }
  for (size_t i = 0; i < receipt.tree_path.size(); ++i) {
    InclusionReceipt bad = receipt;
    bad.tree_path[i][0] ^= 0x01;
    EXPECT_EQ(reason_of(bad), "tree_path") << i;
  }
  InclusionReceipt padded = receipt;
  padded.range_path.push_back(padded.range_path.back());
  EXPECT_EQ(reason_of(padded), "range_path");
  InclusionReceipt truncated = receipt;
  truncated.tree_path.pop_back();
  EXPECT_EQ(reason_of(truncated), "tree_path");
  InclusionReceipt moved = receipt;
  moved.range_index += 1;
  EXPECT_EQ(reason_of(moved), "index_mismatch");
  InclusionReceipt changed = receipt;
  changed.record.replace(changed.record.find("u:1"), 3, "u:2");
  EXPECT_EQ(reason_of(changed), "record");  // self_hash no longer holds
  InclusionReceipt resigned = receipt;
  resigned.checkpoint.root[3] ^= 1;
  EXPECT_NE(reason_of(resigned), "ok");
  // Untrusted signer.
  const std::shared_ptr<Signer> other = Key("someone-else", 9);
  EXPECT_FALSE(CheckReceipt(receipt.Json(), Trust({other.get()}), &summary).ok());
  // Not yet covered / not canonical.
  EXPECT_FALSE(BuildInclusionReceipt(source, 2501, &receipt).ok());
  EXPECT_FALSE(CheckReceipt(" " + receipt.Json(), keys, &summary).ok());

  // Consistency: 1000 → 2500, and 2000 → 2000 (empty proof).
  ConsistencyReceipt con;
  ASSERT_TRUE(BuildConsistencyReceipt(source, 1000, 2500, &con).ok());
  ASSERT_TRUE(CheckReceipt(con.Json(), keys, &summary).ok()) << summary;
  EXPECT_NE(summary.find("tree_size 1000 -> 2500"), std::string::npos);
  for (size_t i = 0; i < con.path.size(); ++i) {
    ConsistencyReceipt bad = con;
    bad.path[i][1] ^= 0x40;
    EXPECT_FALSE(CheckReceipt(bad.Json(), keys, &summary).ok()) << i;
  }
  ConsistencyReceipt extra = con;
  extra.path.push_back(con.path.front());
  EXPECT_FALSE(CheckReceipt(extra.Json(), keys, &summary).ok());
  ASSERT_TRUE(BuildConsistencyReceipt(source, 2000, 2000, &con).ok());
  EXPECT_TRUE(con.path.empty());
  EXPECT_TRUE(CheckReceipt(con.Json(), keys, &summary).ok());
  EXPECT_FALSE(BuildConsistencyReceipt(source, 1500, 2500, &con).ok());  // no such checkpoint
}

TEST_F(ExportTest, RonctlVerifyProveAndCheckProofContracts) {
  const std::string key_file = tmp_.path() + "/ops.key";
  const auto keygen = testing::RunCommand(
      {testing::RonctlPath(), "keygen", "--key-id", "ops-cli", "--out", key_file}, "");
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  const std::string trusted = tmp_.path() + "/trusted.keys";
  testing::WriteFile(trusted, keygen.out);
  std::string drafts;
  for (int i = 0; i < 2100; ++i) drafts += Draft(i) + "\n";
  const auto append = testing::RunCommand(
      {testing::RonctlPath(), "audit", "append", "--dir", wal_, "--stream", "ledger", "--writer-id",
       kWriter, "--export-dir", exp_, "--checkpoint-every", "1000", "--signer-key", key_file,
       "--key-id", "ops-cli"},
      drafts);
  ASSERT_EQ(append.exit_code, 0) << append.err;
  const auto verify = testing::RunCommand({testing::RonctlPath(), "audit", "verify", "--dir", wal_,
                                           "--export-dir", exp_, "--trusted-keys", trusted},
                                          "");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_EQ(verify.out, "ok 2100 records, 1 streams, 3 checkpoints, 3 manifests\n");
  // The speed line names the threads: one per core without --threads.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_NE(verify.err.find("records/s"), std::string::npos);
  const std::string speed_end =
      " MB/s, " + std::to_string(cores) + (cores == 1 ? " thread\n" : " threads\n");
  EXPECT_NE(verify.err.find(speed_end), std::string::npos) << verify.err;
  const auto prove =
      testing::RunCommand({testing::RonctlPath(), "audit", "prove", "--dir", wal_, "--export-dir",
                           exp_, "--stream", "ledger", "--seq", "1500"},
                          "");
  ASSERT_EQ(prove.exit_code, 0) << prove.err;
  const std::string receipt = tmp_.path() + "/receipt.json";
  testing::WriteFile(receipt, prove.out);
  const auto check = testing::RunCommand(
      {testing::RonctlPath(), "audit", "check-proof", receipt, "--trusted-keys", trusted}, "");
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out.rfind("ok inclusion svc-ledger@inst-1/ledger seq 1500 ", 0), 0u) << check.out;
  const auto consistency = testing::RunCommand(
      {testing::RonctlPath(), "audit", "prove-consistency", "--dir", wal_, "--export-dir", exp_,
       "--stream", "ledger", "--from-size", "1000", "--to-size", "2100"},
      "");
  ASSERT_EQ(consistency.exit_code, 0) << consistency.err;
  testing::WriteFile(receipt, consistency.out);
  EXPECT_EQ(
      testing::RunCommand(
          {testing::RonctlPath(), "audit", "check-proof", receipt, "--trusted-keys", trusted}, "")
          .out,
      "ok consistency svc-ledger@inst-1/ledger tree_size 1000 -> 2100\n");
  // A tampered receipt: err line, exit 1.
  std::string bad = consistency.out;
  bad[bad.find("\"path\":[\"b3:") + 12] ^= 1;
  testing::WriteFile(receipt, bad);
  const auto refused = testing::RunCommand(
      {testing::RonctlPath(), "audit", "check-proof", receipt, "--trusted-keys", trusted}, "");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_EQ(refused.out.rfind("err ", 0), 0u) << refused.out;
  // A flipped byte in the WAL: the err line names file, offset, stream, seq and reason.
  const auto frames = Frames("ledger");
  const auto [file, offset] = frames.at(700);
  std::string seg = testing::ReadFile(file);
  seg[offset + 30] ^= 0x02;
  testing::WriteFile(file, seg);
  const auto caught = testing::RunCommand({testing::RonctlPath(), "audit", "verify", "--dir", wal_,
                                           "--export-dir", exp_, "--trusted-keys", trusted},
                                          "");
  EXPECT_EQ(caught.exit_code, 1);
  EXPECT_EQ(caught.out, "err HashMismatch file " + file + " offset " + std::to_string(offset) +
                            " stream svc-ledger@inst-1/ledger seq 700 reason hash_mismatch\n");
}

TEST_F(ExportTest, ExportEveryCutsACheckpointOnTimeWithoutReachingTheCount) {
  EngineOptions o = Options(nullptr);
  o.config.export_.export_every_ms = 1000;  // the smallest period the config allows
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Emit(engine.value().get(), "slow", 10);
  // Up to 8 s for a 1 s timer.
  EXPECT_TRUE(Eventually(400, [&] { return fs::exists(ManifestPath("slow", 10)); }));
  Emit(engine.value().get(), "slow", 5, 100);
  ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  Manifest m;
  ASSERT_TRUE(ParseManifest(testing::ReadFile(ManifestPath("slow", 15)), &m).ok());
  EXPECT_EQ(m.checkpoints[0].first_seq, 11u);
  EXPECT_TRUE(Verify(nullptr).failure.ok());
}

// A failing export never blocks appends: it is retried with backoff, counted
// (io_timeouts_total{op="export"}), readiness says so, and it lands once the cause is gone.
TEST_F(ExportTest, FailedExportsAreRetriedCountedAndNeverBlockAppends) {
  const std::string blocker = BlockExportDir();
  auto engine = Engine::Open(Options(nullptr));
  ASSERT_TRUE(engine.ok());
  Emit(engine.value().get(), "s1", 1000);       // the cut at 1000 cannot be written
  Emit(engine.value().get(), "s1", 500, 1000);  // appends go on regardless
  EXPECT_EQ(engine.value()->State(kWriter, "s1").head_seq, 1500u);
  const std::string failures = "io_timeouts_total{service=\"ron-audit\",op=\"export\"} ";
  EXPECT_TRUE(Eventually(100, [&] {
    return SampleValue(engine.value()->MetricsText(), failures) >= 1;
  })) << engine.value()->MetricsText();
  EXPECT_NE(engine.value()->ReadinessJson().find("audit.export_ready"), std::string::npos);
  ASSERT_TRUE(fs::remove(blocker));  // the operator fixes it; the retry succeeds
  ASSERT_TRUE(engine.value()->Checkpoint(In(seconds(30))).ok());
  EXPECT_TRUE(fs::exists(ManifestPath("s1", 1000)));
  EXPECT_TRUE(fs::exists(ManifestPath("s1", 1500)));
  EXPECT_EQ(engine.value()->ReadinessJson(), R"({"degraded":false,"missing":[]})");
  EXPECT_GE(SampleValue(engine.value()->MetricsText(), "export_batch_seconds_count{service=\"ron-audit\"} "), 2);
  ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  EXPECT_TRUE(Verify(nullptr).failure.ok());
}

// The builder never signs a checkpoint that contradicts one it already issued: a WAL stream
// lost and restarted from seq 1 gets no new checkpoint over the old ranges.
// Streams are verified in parallel; the report is the one a single thread writes, failures
// included (the first failing stream in order, and only the counts up to it).
TEST_F(ExportTest, ParallelVerificationReportsWhatOneThreadReports) {
  std::shared_ptr<Signer> key = Key("ops-1", 1);
  WriteEvidence(key);
  const TrustedKeys keys = Trust({key.get()});
  const ExportVerifyReport one = Verify(&keys, 1);
  ASSERT_TRUE(one.failure.ok());
  EXPECT_EQ(one.records, 3700u);
  for (unsigned threads : {2u, 4u, 8u}) ExpectSameReport(one, Verify(&keys, threads));
  // A changed record in each stream: s1's is the one reported, whoever finishes first.
  for (const char* stream : {"s1", "s2"}) {
    const auto [file, offset] = Frames(stream).at(700);
    std::string bytes = testing::ReadFile(file);
    bytes[offset + 40] ^= 0x01;
    testing::WriteFile(file, bytes);
  }
  const ExportVerifyReport bad = Verify(&keys, 1);
  EXPECT_EQ(bad.stream, "s1");
  EXPECT_EQ(bad.seq, 700u);
  for (unsigned threads : {2u, 4u, 8u}) ExpectSameReport(bad, Verify(&keys, threads));
}

// One stream whose export keeps failing backs off alone: the other streams' checkpoints are
// written meanwhile (the builder's queue never stalls behind the failing cut).
TEST_F(ExportTest, AFailingStreamDoesNotHoldUpTheOthers) {
  const std::string blocker = BlockExportDir("s1");  // s1's export directory cannot be made
  auto engine = Engine::Open(Options(nullptr));
  ASSERT_TRUE(engine.ok());
  Emit(engine.value().get(), "s1", 1000);  // s1's cut is queued first, and fails
  Emit(engine.value().get(), "s2", 1000);
  EXPECT_TRUE(Eventually(150, [&] { return fs::exists(ManifestPath("s2", 1000)); }));
  EXPECT_NE(engine.value()->ReadinessJson().find("audit.export_ready"), std::string::npos);
  ASSERT_TRUE(fs::remove(blocker));  // fixed: s1 catches up on its next retry
  ASSERT_TRUE(engine.value()->Checkpoint(In(seconds(30))).ok());
  EXPECT_TRUE(fs::exists(ManifestPath("s1", 1000)));
  EXPECT_EQ(engine.value()->ReadinessJson(), R"({"degraded":false,"missing":[]})");
  ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  EXPECT_TRUE(Verify(nullptr).failure.ok());
}

// Found in review: while closing, a failing export retried in a spin until the deadline,
// logging and counting every attempt. It backs off while closing too.
TEST_F(ExportTest, AFailingExportBacksOffWhileClosing) {
  BlockExportDir();
  auto engine = Engine::Open(Options(nullptr));
  ASSERT_TRUE(engine.ok());
  Emit(engine.value().get(), "s1", 1000);
  (void)engine.value()->Close(std::chrono::steady_clock::now() + std::chrono::milliseconds(1500));
  const int64_t attempts = SampleValue(engine.value()->MetricsText(),
                                       "io_timeouts_total{service=\"ron-audit\",op=\"export\"} ");
  EXPECT_GE(attempts, 1);
  EXPECT_LE(attempts, 12);  // 100, 200, 400, 800 ms apart: a handful, not thousands
}

}  // namespace
}  // namespace ron::export_test
