// What the engine's test files share: drafts, deadlines, the WAL's stored records, the
// parameterized fixture (RAM and WAL sinks), and a fault injector that slows writes.
#ifndef TESTS_ENGINE_ENGINE_TEST_UTIL_H_
#define TESTS_ENGINE_ENGINE_TEST_UTIL_H_

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/testing_hooks.h"
#include "ron_audit/engine.h"
#include "tests/test_util.h"
#include "wal/io.h"
#include "wal/reader.h"

namespace ron::engine_test {

namespace fs = std::filesystem;

inline Deadline In(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

inline std::string Draft(int i) {
  return R"({"kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{"i":)" +
         std::to_string(i) + "}}";
}

inline size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
    closedir(d);
  }
  return n;
}

// Sealed records of a stream as the WAL under `wal_dir` holds them (verified, not frozen).
inline std::vector<std::string> StoredIn(const std::string& wal_dir, const std::string& writer,
                                  const std::string& stream) {
  std::vector<std::string> sealed;
  wal::StreamReport report;
  EXPECT_TRUE(wal::ScanStream(wal::StreamDir(wal_dir, writer, stream), writer, stream, Limits(),
                              wal::VerifyLevel::kFull, &report,
                              [&](const wal::RecordView& r) {
                                std::string s;
                                AppendSealed(r.json, r.self_hash, &s);
                                sealed.push_back(s);
                                return true;
                              })
                  .ok());
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  return sealed;
}

// Options of a WAL engine over `wal_dir` (created 0700 if missing) that acknowledges only what
// is on disk (fsync=always).
inline EngineOptions WalEngineOptions(const std::string& wal_dir, uint32_t workers,
                                      uint32_t queue_depth) {
  EngineOptions o;
  o.writer_id = "svc-test@inst-1";
  o.config.workers = workers;
  o.config.queue_depth = queue_depth;
  o.config.sink = SinkKind::kWal;
  o.config.amnesia = false;
  o.config.wal.dir = wal_dir;
  o.config.wal.fsync = FsyncPolicy::kAlways;
  mkdir(wal_dir.c_str(), 0700);
  return o;
}

// Engine::Open with fault injection (null: none); a failure fails the test and gives null.
inline std::unique_ptr<Engine> OpenEngine(const EngineOptions& o,
                                          wal::FaultInjector* faults = nullptr) {
  auto r = EngineAccess::OpenWithFaults(o, faults);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Every WAL write takes `ms` milliseconds: work is surely still queued when a deadline passes,
// and records queued meanwhile land in one big batch.
class SlowWrites : public wal::FaultInjector {
 public:
  explicit SlowWrites(int ms = 20) : ms_(ms) {}
  int OnWrite(int, size_t) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms_));
    return 0;
  }
  int OnFsync(int) override { return 0; }

 private:
  const int ms_;
};

// The engine under both sinks (the suite is instantiated in engine_lifecycle_test.cc).
class EngineTest : public ::testing::TestWithParam<SinkKind> {
 protected:
  EngineOptions Options(uint32_t workers = 2, uint32_t queue_depth = 4096) {
    if (GetParam() == SinkKind::kWal) return WalEngineOptions(WalDir(), workers, queue_depth);
    EngineOptions o;
    o.writer_id = "svc-test@inst-1";
    o.config.workers = workers;
    o.config.queue_depth = queue_depth;
    o.config.sink = SinkKind::kRam;
    return o;
  }
  std::string WalDir() const { return tmp_.path() + "/wal"; }
  std::unique_ptr<Engine> Open(const EngineOptions& o, wal::FaultInjector* faults = nullptr) {
    return OpenEngine(o, faults);
  }
  std::vector<std::string> Stored(const std::string& writer, const std::string& stream) {
    return StoredIn(WalDir(), writer, stream);
  }
  testing::TempDir tmp_;
};

}  // namespace ron::engine_test

#endif  // TESTS_ENGINE_ENGINE_TEST_UTIL_H_
