// The export end-to-end tests' fixture: an engine with an export sink over a temporary WAL and
// export directory, keys, and the helpers the tests share (export_test.cc, export_state_test.cc).
#ifndef TESTS_CHECKPOINT_EXPORT_TEST_UTIL_H_
#define TESTS_CHECKPOINT_EXPORT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "checkpoint/builder.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/merkle.h"
#include "checkpoint/receipt.h"
#include "ron_audit/signer.h"
#include "checkpoint/verifier.h"
#include "engine/core/canonical.h"
#include "ron_audit/engine.h"
#include "engine/testing_hooks.h"
#include "segment/segment_format.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "wal/files.h"
#include "wal/reader.h"

namespace ron::export_test {

namespace fs = std::filesystem;
using std::chrono::seconds;

inline constexpr char kWriter[] = "svc-ledger@inst-1";

inline Deadline In(seconds d) { return std::chrono::steady_clock::now() + d; }

// Records of equal length (so frames can be swapped in place).
inline std::string Draft(int i) {
  char id[16];
  std::snprintf(id, sizeof(id), "%06d", i);
  return std::string(R"({"kind":"Transfer","actor":{"passport_id":"u:1"},"subject":{},)") +
         R"("reason":"ok","attrs":{"tx":")" + id + R"("}})";
}

inline std::unique_ptr<Signer> Key(const std::string& id, uint8_t fill) {
  uint8_t seed[32];
  std::fill(seed, seed + 32, fill);
  return Ed25519Signer::FromSeed(id, seed);
}

inline TrustedKeys Trust(const std::vector<const Signer*>& signers) {
  TrustedKeys keys;
  for (const Signer* s : signers) {
    keys.Add(s->key_id(), static_cast<const Ed25519Signer*>(s)->public_key());
  }
  return keys;
}

// The value of the metric sample line that starts with `prefix` (name{labels} and a space),
// or -1 when the page has no such line.
inline int64_t SampleValue(const std::string& metrics, const std::string& prefix) {
  for (size_t at = metrics.find(prefix); at != std::string::npos;
       at = metrics.find(prefix, at + 1)) {
    if (at == 0 || metrics[at - 1] == '\n') {
      return std::stoll(metrics.substr(at + prefix.size()));
    }
  }
  return -1;
}

// Two verifications of the same evidence agree: counts, notes, and the first failure.
inline void ExpectSameReport(const ExportVerifyReport& a, const ExportVerifyReport& b) {
  EXPECT_EQ(a.records, b.records);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.streams, b.streams);
  EXPECT_EQ(a.checkpoints, b.checkpoints);
  EXPECT_EQ(a.manifests, b.manifests);
  EXPECT_EQ(a.notes, b.notes);
  EXPECT_EQ(a.torn_tail, b.torn_tail);
  EXPECT_EQ(a.writer_id, b.writer_id);
  ASSERT_EQ(a.tails.size(), b.tails.size());
  for (size_t i = 0; i < a.tails.size(); ++i) {
    EXPECT_EQ(a.tails[i].writer_id, b.tails[i].writer_id);
    EXPECT_EQ(a.tails[i].stream, b.tails[i].stream);
    EXPECT_EQ(a.tails[i].from, b.tails[i].from);
    EXPECT_EQ(a.tails[i].to, b.tails[i].to);
  }
  EXPECT_EQ(a.failure.ToString(), b.failure.ToString());
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.stream, b.stream);
  EXPECT_EQ(a.file, b.file);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.seq, b.seq);
}

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wal_ = tmp_.path() + "/wal";
    exp_ = tmp_.path() + "/exp";
    mkdir(wal_.c_str(), 0700);
    mkdir(exp_.c_str(), 0700);
  }
  EngineOptions Options(std::shared_ptr<Signer> signer) {
    EngineOptions o;
    o.writer_id = kWriter;
    o.config.sink = SinkKind::kWalExport;
    o.config.amnesia = false;
    o.config.workers = 2;
    o.config.queue_depth = 8192;  // Emit below offers a whole stream before waiting
    o.config.wal.dir = wal_;
    o.config.wal.fsync = FsyncPolicy::kAlways;
    o.config.export_.dir = exp_;
    o.config.export_.checkpoint_every = 1000;
    if (signer != nullptr) {
      o.config.export_.alg = "ed25519";
      o.config.export_.signer_key_id = signer->key_id();
      o.signer = std::move(signer);
    } else {
      o.config.export_.alg = "none";
    }
    return o;
  }
  // Emits `n` records to `stream` and waits for all of them.
  void Emit(Engine* engine, const std::string& stream, int n, int base = 0) {
    std::vector<Ticket> tickets;
    for (int i = 0; i < n; ++i) {
      auto t = engine->Emit(stream, Draft(base + i));
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      tickets.push_back(t.value());
    }
    for (const Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(30))).ok());
  }
  // The standard evidence: s1 has 2500 records (checkpoints at 1000, 2000, 2500 at Close),
  // s2 has 1200 (1000, 1200).
  void WriteEvidence(std::shared_ptr<Signer> signer) {
    auto engine = Engine::Open(Options(std::move(signer)));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    Emit(engine.value().get(), "s1", 2500);
    Emit(engine.value().get(), "s2", 1200);
    ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  }
  ExportVerifyReport Verify(const TrustedKeys* keys, unsigned threads = 0) {
    ExportVerifyOptions o;
    o.wal_dir = wal_;
    o.export_dir = exp_;
    o.keys = keys;
    o.threads = threads;
    ExportVerifyReport report;
    EXPECT_TRUE(VerifyExports(o, &report).ok());
    return report;
  }
  std::string ManifestPath(const std::string& stream, uint64_t last) {
    return ExportStreamDir(exp_, kWriter, stream) + "/" + ManifestFileName(last);
  }
  std::string StreamDir(const std::string& stream) { return wal::StreamDir(wal_, kWriter, stream); }
  // A regular file where an export directory must go: mkdir fails there (even for root).
  // Without a stream, the writer's directory (every stream fails); else that stream's.
  std::string BlockExportDir(const std::string& stream = "") {
    const std::string writer_dir = exp_ + "/" + segment::EscapePathComponent(kWriter);
    if (!stream.empty()) {
      fs::create_directories(writer_dir);
      fs::permissions(writer_dir, fs::perms::owner_all, fs::perm_options::replace);
    }
    const std::string blocker =
        stream.empty() ? writer_dir : ExportStreamDir(exp_, kWriter, stream);
    testing::WriteFile(blocker, "not a directory");
    return blocker;
  }
  // Polls `done` every 20 ms for up to `tries` times; its last answer.
  static bool Eventually(int tries, const std::function<bool()>& done) {
    for (int i = 0; i < tries; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  }
  // (file, offset) of every frame of a stream, by seq.
  std::map<uint64_t, std::pair<std::string, uint64_t>> Frames(const std::string& stream) {
    std::map<uint64_t, std::pair<std::string, uint64_t>> frames;
    wal::StreamReport report;
    EXPECT_TRUE(wal::ScanStream(StreamDir(stream), kWriter, stream, Limits(),
                                wal::VerifyLevel::kChecksums, &report,
                                [&](const wal::RecordView& r) {
                                  frames[r.seq] = {*r.file, r.offset};
                                  return true;
                                })
                    .ok());
    return frames;
  }

  testing::TempDir tmp_;
  std::string wal_, exp_;
};

}  // namespace ron::export_test

#endif  // TESTS_CHECKPOINT_EXPORT_TEST_UTIL_H_
