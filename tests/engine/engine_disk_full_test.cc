// A full disk under the engine (loop-mounted ext4, needs root): disk_full_action=suspend
// refuses writes, turns readiness off and resumes when space returns; fail keeps the stream
// failed until a restart. Nothing acknowledged is lost either way.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "engine/core/canonical.h"
#include "engine/testing_hooks.h"
#include "ron_audit/engine.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "wal/reader.h"

namespace ron::engine_test {
namespace {

using std::chrono::seconds;

// The disk-full drills' setup: the WAL options on a loop-mounted file system, a log sink, and
// the loop that fills it with 256-record group commits until a record fails.
struct DiskFullRig {
  EngineOptions Options(const std::string& wal_dir, DiskFullAction action) {
    EngineOptions o;
    o.writer_id = "svc-full@test";
    o.config.sink = SinkKind::kWal;
    o.config.amnesia = false;
    o.config.wal.dir = wal_dir;
    o.config.wal.fsync = FsyncPolicy::kAlways;
    o.config.wal.rotate_bytes = 8ull << 20;
    o.config.wal.disk_full_action = action;
    o.log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu);
      log += std::string(line) + "\n";
    };
    return o;
  }
  // Emits until a record fails; returns its status, and the highest acknowledged seq in *acked.
  Status Fill(Engine* engine, uint64_t* acked) {
    Status full;
    for (int round = 0; round < 2000 && full.ok(); ++round) {
      std::vector<Ticket> tickets;
      for (int i = 0; i < 256; ++i) {
        auto t = engine->Emit("s", big);
        if (t.ok()) tickets.push_back(t.value());
      }
      for (const Ticket& t : tickets) {
        const auto r = t.Wait(In(seconds(30)));
        if (r.ok()) {
          *acked = std::max(*acked, r.value().seq);
        } else if (full.ok()) {
          full = r.status();
        }
      }
    }
    return full;
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(log_mu);
    return log;
  }
  const std::string big =
      R"({"kind":"Fill","actor":{},"subject":{},"reason":"ok","attrs":{"pad":")" +
      std::string(900, 'p') + "\"}}";
  std::mutex log_mu;
  std::string log;
};

// disk_full_action=suspend on a real full file system (a loop-mounted ext4; needs root): appends
// fail with Io "disk_full", readiness goes false, nothing acknowledged is lost, and writes resume
// by themselves once space is freed.
TEST(EngineDiskFullTest, SuspendsWhileFullAndResumesWhenSpaceReturns) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to loop-mount a small ext4 image";
  testing::TempDir tmp;
  testing::LoopMount fs_mount(tmp.path(), 40);
  ASSERT_TRUE(fs_mount.mounted());
  const std::string filler = fs_mount.path() + "/filler";
  testing::WriteFile(filler, std::string(12 << 20, 'f'));  // space an operator can free later
  const std::string wal_dir = fs_mount.path() + "/wal";
  ASSERT_EQ(mkdir(wal_dir.c_str(), 0700), 0);
  DiskFullRig rig;
  EngineOptions o = rig.Options(wal_dir, DiskFullAction::kSuspend);
  o.config.wal.space_left_bytes = 4ull << 20;
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  const std::string& big = rig.big;
  uint64_t acked = 0;
  const Status full = rig.Fill(engine.value().get(), &acked);
  EXPECT_EQ(full.code(), Code::kIo);
  EXPECT_NE(full.message().find("disk_full"), std::string::npos) << full.ToString();
  EXPECT_FALSE(engine.value()->Ready());
  EXPECT_EQ(engine.value()->ReadinessJson(),
            R"({"degraded":true,"missing":["audit.wal_ready"],"retry_after":5})");
  EXPECT_EQ(testing::MetricValue(engine.value()->MetricsText(), "audit_ready"), 0);
  auto refused = engine.value()->Emit("s", big);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused.value().Wait(In(seconds(30))).code(), Code::kIo);  // still suspended
  const std::string before = engine.value()->MetricsText();
  // The operator frees space; the engine notices and resumes without a restart.
  ASSERT_TRUE(fs::remove(filler));
  bool resumed = false;
  uint64_t resumed_seq = 0;
  for (int i = 0; i < 100 && !resumed; ++i) {
    auto t = engine.value()->Emit("s", big);
    if (!t.ok()) continue;
    const auto r = t.value().Wait(In(seconds(30)));
    if (r.ok()) {
      resumed = true;
      resumed_seq = r.value().seq;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_TRUE(resumed);
  EXPECT_TRUE(engine.value()->Ready());
  // A failed ticket meant "not stored": the batch that hit the full disk was cut, so the chain
  // goes on right after the last acknowledged record (its failed frames are never adopted).
  EXPECT_EQ(resumed_seq, acked + 1);
  // Counters never go backwards across the WAL's reopen.
  const std::string after = engine.value()->MetricsText();
  for (const char* counter :
       {"wal_records_written_total", "wal_io_errors_total", "wal_written_bytes_total",
        "wal_fsync_total", "wal_segments_created_total"}) {
    EXPECT_GE(testing::MetricValue(after, counter), testing::MetricValue(before, counter))
        << counter;
  }
  EXPECT_GE(testing::MetricValue(after, "wal_io_errors_total"), 1) << after;
  ASSERT_TRUE(engine.value()->Close(In(seconds(30))).ok());
  const std::string log = rig.Log();
  EXPECT_NE(log.find("\"event\":\"wal.disk_full\""), std::string::npos) << log;
  EXPECT_NE(log.find("\"event\":\"wal.resumed\""), std::string::npos) << log;
  // Every acknowledged record is there, and the chain verifies across the suspension.
  wal::StreamReport report;
  ASSERT_TRUE(wal::ScanStream(wal::StreamDir(wal_dir, "svc-full@test", "s"), "svc-full@test", "s",
                              Limits(), wal::VerifyLevel::kFull, &report)
                  .ok());
  EXPECT_FALSE(report.frozen) << report.problem.ToString();
  EXPECT_GE(report.head_seq, acked + 1);  // everything acknowledged, plus the post-resume record
}

// disk_full_action = fail: the WAL's fatal-error rule. The stream fails with Io and stays
// failed when space returns (no silent resume); a restart recovers it, nothing acknowledged
// is lost.
TEST(EngineDiskFullTest, FailKeepsTheStreamFailedUntilARestart) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to loop-mount a small ext4 image";
  testing::TempDir tmp;
  testing::LoopMount fs_mount(tmp.path(), 40);
  ASSERT_TRUE(fs_mount.mounted());
  const std::string filler = fs_mount.path() + "/filler";
  testing::WriteFile(filler, std::string(12 << 20, 'f'));
  const std::string wal_dir = fs_mount.path() + "/wal";
  ASSERT_EQ(mkdir(wal_dir.c_str(), 0700), 0);
  DiskFullRig rig;
  // wal.space_left stays at its default (1 GiB), above what this 40 MiB file system has.
  const EngineOptions o = rig.Options(wal_dir, DiskFullAction::kFail);
  const std::string& big = rig.big;
  uint64_t acked = 0;
  {
    auto engine = Engine::Open(o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    const Status full = rig.Fill(engine.value().get(), &acked);
    EXPECT_EQ(full.code(), Code::kIo) << full.ToString();
    ASSERT_TRUE(fs::remove(filler));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the space check
    auto later = engine.value()->Emit("s", big);
    ASSERT_TRUE(later.ok());
    EXPECT_EQ(later.value().Wait(In(seconds(30))).code(), Code::kIo);  // no resume under fail
    EXPECT_EQ(engine.value()->State("svc-full@test", "s").state, StreamState::kFailed);
    EXPECT_FALSE(engine.value()->Readiness().back().second);  // audit.wal_ready
    (void)engine.value()->Close(In(seconds(30)));
    const std::string log = rig.Log();
    // The early warning (free space below wal.space_left) came before the failure.
    const size_t warned = log.find("\"event\":\"wal.space_left\"");
    EXPECT_NE(warned, std::string::npos) << log.substr(0, 2000);
    EXPECT_LT(warned, log.find("No space left"));
  }
  auto reopened = Engine::Open(o);  // recovery after a restart
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_GE(reopened.value()->State("svc-full@test", "s").head_seq, acked);  // nothing lost
  auto t = reopened.value()->Emit("s", big);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t.value().Wait(In(seconds(30))).ok());
  ASSERT_TRUE(reopened.value()->Close(In(seconds(30))).ok());
}

}  // namespace
}  // namespace ron::engine_test
