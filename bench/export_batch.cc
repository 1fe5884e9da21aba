// export_batch: the checkpoint pipeline and the forensic verifier (make bench). 1 KiB records.
//   1. export batch: 10k record digests fed to a StreamAccumulator (leaf hashes, compact-range
//      frontiers), cut, signed with Ed25519 and written as a manifest (temp file, fsync, rename,
//      fsync dir) by the CheckpointBuilder thread; p50/p95 over repeated batches. Baseline in
//      the same run: write + fdatasync of the same manifest bytes to a fresh file.
//   2. verifier: an engine (sink wal+export, checkpoint every 50k) writes N records; then
//      VerifyExports rebuilds every hash, link, segment root, range root and tree_root and
//      checks every signature. Baseline in the same run: BLAKE3 of the same canonical bytes.
//
// usage: export_batch [--records N] [--dir DIR]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "checkpoint/builder.h"
#include "wal/files.h"
#include "checkpoint/verifier.h"
#include "engine/core/hash.h"
#include "ron_audit/engine.h"
#include "wal/reader.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

std::shared_ptr<ron::Ed25519Signer> BenchKey() {
  uint8_t seed[32];
  for (uint8_t& b : seed) b = 7;
  return ron::Ed25519Signer::FromSeed("bench-key", seed);
}

void PrivateDir(const std::string& dir) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void ExportBatches(const std::string& dir) {
  constexpr int kBatches = 60, kRecords = 10000;
  PrivateDir(dir);
  std::vector<ron::Digest> digests;
  for (int i = 0; i < kBatches * kRecords; ++i) digests.push_back(ron::Blake3(std::to_string(i)));
  ron::BuilderOptions options;
  options.export_dir = dir;
  options.signer = BenchKey();
  ron::CheckpointBuilder builder(options);
  builder.Start();
  ron::StreamAccumulator acc("bench@export", "s");
  std::vector<double> batch_ms, baseline_ms;
  uint64_t seq = 0;
  for (int b = 0; b < kBatches; ++b) {
    const auto t0 = Clock::now();
    for (int i = 0; i < kRecords; ++i, ++seq) {
      acc.Add(seq + 1, digests[seq], 1 + seq / 100000, 4096 + (seq % 100000) * 1024);
    }
    ron::CheckpointCut cut = acc.Cut();
    while (!builder.Offer(&cut)) {
    }
    builder.WaitIdle(Clock::now() + std::chrono::seconds(30));
    batch_ms.push_back(Ms(Clock::now() - t0));
    // Baseline: the same manifest's bytes, written and fdatasync'ed to a fresh file.
    const std::string path = dir + "/baseline.json";
    std::string bytes;
    (void)ron::wal::ReadSmallFile(
        ron::ExportStreamDir(dir, "bench@export", "s") + "/" + ron::ManifestFileName(seq), 1 << 20,
        &bytes);
    const auto t1 = Clock::now();
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      if (write(fd, bytes.data(), bytes.size()) < 0) std::perror("write");
      fdatasync(fd);
      close(fd);
    }
    baseline_ms.push_back(Ms(Clock::now() - t1));
  }
  (void)builder.Stop(Clock::now() + std::chrono::seconds(30));
  const double p50 = ron::bench::Percentile(&batch_ms, 0.5);
  const double p95 = ron::bench::Percentile(&batch_ms, 0.95);
  const double base95 = ron::bench::Percentile(&baseline_ms, 0.95);
  std::printf(
      "| export batch: 10k records → checkpoint + signed manifest | %.2f | %.2f | %.2f | "
      "%.1fx |\n",
      p50, p95, base95, p95 / base95);
  std::fflush(stdout);
}

void VerifierThroughput(const std::string& dir, uint64_t records) {
  const std::string wal = dir + "/wal", exp = dir + "/exp";
  PrivateDir(dir);
  PrivateDir(wal);
  PrivateDir(exp);
  auto key = BenchKey();
  {
    ron::EngineOptions o;
    o.writer_id = "bench@verify";
    o.config.sink = ron::SinkKind::kWalExport;
    o.config.amnesia = false;
    o.config.workers = 1;
    o.config.queue_depth = 8192;
    o.config.wal.dir = wal;
    o.config.wal.fsync = ron::FsyncPolicy::kOnCheckpoint;
    o.config.export_.dir = exp;
    o.config.export_.alg = "ed25519";
    o.config.export_.signer_key_id = key->key_id();
    o.signer = key;
    auto engine = ron::Engine::Open(o).value();
    const std::string draft = ron::bench::Draft1KiB();
    std::vector<ron::Ticket> window;
    for (uint64_t i = 0; i < records;) {
      auto t = engine->Emit("s", draft);
      if (t.ok()) {
        window.push_back(t.value());
        ++i;
      }
      if (window.size() >= 4096 || !t.ok()) {
        for (auto& w : window) (void)w.Wait(Clock::now() + std::chrono::seconds(60));
        window.clear();
      }
    }
    for (auto& w : window) (void)w.Wait(Clock::now() + std::chrono::seconds(60));
    (void)engine->Close(Clock::now() + std::chrono::seconds(60));
  }
  ron::TrustedKeys keys;
  keys.Add(key->key_id(), key->public_key());
  // Baseline: BLAKE3 over the same canonical bytes (read once to warm the page cache).
  std::vector<std::string> bodies;
  ron::wal::StreamReport report;
  (void)ron::wal::ScanStream(ron::wal::StreamDir(wal, "bench@verify", "s"), "bench@verify", "s",
                             ron::Limits(), ron::wal::VerifyLevel::kChecksums, &report,
                             [&](const ron::wal::RecordView& r) {
                               if (bodies.size() < 100000) bodies.emplace_back(r.json);
                               return true;
                             });
  const auto h0 = Clock::now();
  uint64_t hashed = 0;
  while (hashed < records) {
    for (const std::string& b : bodies) {
      volatile uint8_t sink = ron::Blake3(b)[0];
      (void)sink;
      if (++hashed == records) break;
    }
  }
  const double hash_per_s =
      static_cast<double>(records) / std::chrono::duration<double>(Clock::now() - h0).count();
  ron::ExportVerifyOptions options;
  options.wal_dir = wal;
  options.export_dir = exp;
  options.keys = &keys;
  ron::ExportVerifyReport result;
  const auto t0 = Clock::now();
  const ron::Status s = ron::VerifyExports(options, &result);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double per_s = static_cast<double>(result.records) / seconds;
  std::printf(
      "| verifier (WAL + manifests + signatures), %llu records, %llu checkpoints: %s | "
      "%.0f records/s | BLAKE3 of the same bytes %.0f records/s | %.2fx |\n",
      static_cast<unsigned long long>(result.records),
      static_cast<unsigned long long>(result.checkpoints),
      s.ok() && result.failure.ok() ? "ok" : "FAILED", per_s, hash_per_s, per_s / hash_per_s);
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 300000;
  std::string dir = "build/bench-data/export_batch";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--records") == 0) records = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  std::printf(
      "| what | p50 ms | p95 ms | baseline p95 ms (write+fdatasync of the manifest) | p95 vs "
      "baseline |\n");
  std::printf("| --- | --- | --- | --- | --- |\n");
  ExportBatches(dir + "/batches");
  std::printf("\n");
  VerifierThroughput(dir + "/verify", records);
  return 0;
}
