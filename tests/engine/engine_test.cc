// The engine under both sinks: concurrent producers, exactly-once acknowledged records,
// AppendSealed semantics, backpressure, shutdown, amnesia, metrics.
#include "ron_audit/engine.h"
#include "engine/testing_hooks.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <simdjson.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "bench/bench_util.h"
#include "engine/core/canonical.h"
#include "tests/test_util.h"
#include "wal/reader.h"

namespace ron {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

Deadline In(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

std::string Draft(int i) {
  return R"({"kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":{"i":)" +
         std::to_string(i) + "}}";
}

// One sample line of the engine's metrics page: name{service="ron-audit"[,labels]} value.
std::string Sample(const std::string& name, const std::string& labels, uint64_t value) {
  return name + "{service=\"ron-audit\"" + (labels.empty() ? "" : ",") + labels + "} " +
         std::to_string(value) + "\n";
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
    closedir(d);
  }
  return n;
}

// Sealed records of a stream as the WAL under `wal_dir` holds them (verified, not frozen).
std::vector<std::string> StoredIn(const std::string& wal_dir, const std::string& writer,
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

class EngineTest : public ::testing::TestWithParam<SinkKind> {
 protected:
  EngineOptions Options(uint32_t workers = 2, uint32_t queue_depth = 4096) {
    EngineOptions o;
    o.writer_id = "svc-test@inst-1";
    o.config.workers = workers;
    o.config.queue_depth = queue_depth;
    o.config.sink = GetParam();
    if (GetParam() == SinkKind::kWal) {
      o.config.amnesia = false;
      o.config.wal.dir = WalDir();
      o.config.wal.fsync = FsyncPolicy::kAlways;
      mkdir(WalDir().c_str(), 0700);
    }
    return o;
  }
  std::string WalDir() const { return tmp_.path() + "/wal"; }
  std::unique_ptr<Engine> Open(const EngineOptions& o, wal::FaultInjector* faults = nullptr) {
    auto r = EngineAccess::OpenWithFaults(o, faults);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::vector<std::string> Stored(const std::string& writer, const std::string& stream) {
    return StoredIn(WalDir(), writer, stream);
  }
  testing::TempDir tmp_;
};

TEST_P(EngineTest, ConcurrentProducersEveryAckedRecordExactlyOnce) {
  auto engine = Open(Options());
  constexpr int kProducers = 4, kStreams = 3, kPerProducer = 300;
  std::mutex mu;
  std::map<std::string, std::map<uint64_t, Digest>> acked;  // stream → seq → hash
  std::vector<std::thread> producers;
  std::atomic<int> failures{0};
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::vector<std::pair<std::string, Ticket>> tickets;
      for (int i = 0; i < kPerProducer; ++i) {
        const std::string stream = "s" + std::to_string((p + i) % kStreams);
        auto t = engine->Emit(stream, Draft(p * 1000 + i));
        if (!t.ok()) {
          failures++;
          continue;
        }
        tickets.emplace_back(stream, t.value());
      }
      for (auto& [stream, ticket] : tickets) {
        auto r = ticket.Wait(In(std::chrono::seconds(30)));
        if (!r.ok()) {
          failures++;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_TRUE(acked[stream].emplace(r.value().seq, r.value().self_hash).second)
            << "seq acknowledged twice";
      }
    });
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(failures, 0);
  ASSERT_TRUE(engine->Flush(In(seconds(10))).ok());
  size_t total = 0;
  for (const auto& [stream, records] : acked) {
    total += records.size();
    EXPECT_EQ(records.begin()->first, 1u);
    EXPECT_EQ(records.rbegin()->first, records.size());  // 1..N, no gap, no duplicate
    const StreamInfo info = engine->State("svc-test@inst-1", stream);
    EXPECT_EQ(info.head_seq, records.size());
    EXPECT_EQ(info.head, HashText(records.rbegin()->second));
  }
  EXPECT_EQ(total, static_cast<size_t>(kProducers * kPerProducer));
  const std::string metrics = engine->MetricsText();
  for (const auto& [stream, records] : acked) {
    EXPECT_NE(metrics.find(Sample("audit_appended_total",
                                  "kind=\"GetServed\",stream=\"" + stream + "\"", records.size())),
              std::string::npos)
        << metrics;
  }
  if (GetParam() == SinkKind::kWal) {  // both workers' WALs, merged
    EXPECT_NE(metrics.find("wal_records_written_total " + std::to_string(total) + "\n"),
              std::string::npos)
        << metrics;
  }
  EXPECT_NE(metrics.find(Sample("tasks_spawned_total", "kind=\"audit_worker\"", 2)),
            std::string::npos);
  EXPECT_NE(metrics.find("audit_bytes_total{"), std::string::npos);
  // Idle streams keep their queue-depth series (at 0) instead of vanishing from the page.
  for (const auto& [stream, records] : acked) {
    EXPECT_NE(metrics.find(Sample("audit_queue_depth", "stream=\"" + stream + "\"", 0)),
              std::string::npos)
        << stream;
  }
  EXPECT_EQ(metrics.find(Sample("audit_bytes_total", "", 0)), std::string::npos);  // not zero
  // Every golden metric of docs/OBSERVABILITY.md is on the page.
  for (const char* golden :
       {"audit_appended_total", "audit_drop_total", "audit_queue_depth", "audit_bytes_total",
        "audit_export_checkpoints_total", "io_timeouts_total", "audit_verify_fail_total",
        "tasks_spawned_total", "tasks_aborted_total", "busy_rejections_total",
        "audit_dedupe_hits_total", "export_batch_seconds"}) {
    EXPECT_NE(metrics.find(std::string("# TYPE ") + golden + " "), std::string::npos) << golden;
  }
  const auto check = testing::RunCommand({"/usr/bin/promtool", "check", "metrics"}, metrics);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  // Readiness: every key of this profile holds.
  const auto keys = engine->Readiness();
  std::vector<std::string> names;
  for (const auto& [key, ok] : keys) {
    names.push_back(key);
    EXPECT_TRUE(ok) << key;
  }
  std::vector<std::string> expected = {"audit.config_loaded", "audit.queue_bound_ok",
                                       "audit.verify_on_read"};
  if (GetParam() == SinkKind::kWal) expected.push_back("audit.wal_ready");
  EXPECT_EQ(names, expected);
  EXPECT_EQ(engine->ReadinessJson(), R"({"degraded":false,"missing":[]})");
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  EXPECT_EQ(
      engine->ReadinessJson(),
      GetParam() == SinkKind::kWal
          ? R"({"degraded":true,"missing":["audit.queue_bound_ok","audit.wal_ready"],"retry_after":5})"
          : R"({"degraded":true,"missing":["audit.queue_bound_ok"],"retry_after":5})");
  if (GetParam() == SinkKind::kWal) {
    for (const auto& [stream, records] : acked) {
      const auto stored = Stored("svc-test@inst-1", stream);
      ASSERT_EQ(stored.size(), records.size());
      Canonicalizer c;
      CanonicalRecord r;
      for (const std::string& s : stored) {
        ASSERT_TRUE(c.VerifySealed(s, &r).ok());
        EXPECT_EQ(records.at(r.record.seq), r.digest);
      }
    }
    // Reopening resumes every chain.
    auto again = Open(Options());
    EXPECT_EQ(again->State("svc-test@inst-1", "s0").head_seq, acked["s0"].size());
  }
}

TEST_P(EngineTest, AppendSealedAppendsDeduplicatesAndRefuses) {
  auto engine = Open(Options());
  // A chain built elsewhere (an import), then replayed.
  Canonicalizer c;
  CanonicalRecord r;
  std::vector<std::string> chain;
  std::string prev = "b3:0";
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(c.Canonicalize(testing::RecordJson(static_cast<uint64_t>(i), prev,
                                                   "{\"i\":" + std::to_string(i) + "}",
                                                   "svc-import@x", "imported"),
                               &r)
                    .ok());
    chain.push_back(Seal(r));
    prev = HashText(r.digest);
  }
  for (const std::string& s : chain) {
    auto a = engine->AppendSealed(s, In(seconds(10)));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a.value().outcome, AppendOutcome::kAppended);
  }
  for (size_t i = 0; i < chain.size(); ++i) {  // a whole replay is all Duplicate
    auto a = engine->AppendSealed(chain[i], In(seconds(10)));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a.value().outcome, AppendOutcome::kDuplicate);
    EXPECT_EQ(a.value().receipt.seq, i + 1);  // the original position
  }
  // A changed record at an existing seq is a Conflict; a gap is a SeqGap.
  ASSERT_TRUE(c.Canonicalize(testing::RecordJson(5, "b3:" + std::string(64, 'a'), "{\"i\":99}",
                                                 "svc-import@x", "imported"),
                             &r)
                  .ok());
  EXPECT_EQ(engine->AppendSealed(Seal(r), In(seconds(10))).code(), Code::kConflict);
  ASSERT_TRUE(
      c.Canonicalize(testing::RecordJson(30, prev, "{}", "svc-import@x", "imported"), &r).ok());
  EXPECT_EQ(engine->AppendSealed(Seal(r), In(seconds(10))).code(), Code::kSeqGap);
  ASSERT_TRUE(c.Canonicalize(testing::RecordJson(21, "b3:" + std::string(64, 'b'), "{}",
                                                 "svc-import@x", "imported"),
                             &r)
                  .ok());
  EXPECT_EQ(engine->AppendSealed(Seal(r), In(seconds(10))).code(), Code::kPrevMismatch);
  EXPECT_EQ(engine->AppendSealed("{\"not\":\"sealed\"}", In(seconds(10))).code(), Code::kSchema);
  const std::string metrics = engine->MetricsText();
  EXPECT_NE(metrics.find(Sample("audit_dedupe_hits_total", "", 20)), std::string::npos) << metrics;
  EXPECT_NE(metrics.find(Sample("audit_verify_fail_total", "reason=\"prev_mismatch\"", 1)),
            std::string::npos)
      << metrics;
  // Emit continues a stream that AppendSealed extended? Different writer: its own chain.
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  if (GetParam() == SinkKind::kWal) {
    EXPECT_EQ(Stored("svc-import@x", "imported"), chain);
  }
}

TEST_P(EngineTest, FullQueueShedsWithBusyAndCountsIt) {
  EngineOptions o = Options(1, 4);
  o.canonicalize_in_emit = false;  // a fast Emit and a slower owner: the queue fills
  auto engine = Open(o);
  int busy = 0, accepted = 0;
  std::vector<Ticket> tickets;
  for (int i = 0; i < 5000; ++i) {
    auto t = engine->Emit("hot", Draft(i));
    if (t.ok()) {
      ++accepted;
      tickets.push_back(t.value());
    } else {
      EXPECT_EQ(t.code(), Code::kBusy);
      ++busy;
    }
  }
  EXPECT_GT(busy, 0);
  for (const Ticket& t : tickets) EXPECT_TRUE(t.Wait(In(seconds(30))).ok());
  const std::string metrics = engine->MetricsText();
  EXPECT_NE(metrics.find(Sample("audit_drop_total", "reason=\"audit_backpressure\"", busy)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(Sample("busy_rejections_total", "endpoint=\"emit\"", busy)),
            std::string::npos);
  EXPECT_EQ(engine->State("svc-test@inst-1", "hot").head_seq, static_cast<uint64_t>(accepted));
  const auto check = testing::RunCommand({"/usr/bin/promtool", "check", "metrics"}, metrics);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_P(EngineTest, BadDraftsFailTheirTicketOnly) {
  auto engine = Open(Options(1));
  auto bad =
      engine->Emit("s", R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"f":1.5}})");
  auto good = engine->Emit("s", Draft(1));
  ASSERT_TRUE(bad.ok() && good.ok());
  EXPECT_EQ(bad.value().Wait(In(seconds(10))).code(), Code::kFloat);
  auto r = good.value().Wait(In(seconds(10)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().seq, 1u);  // the bad draft used no seq
  EXPECT_EQ(engine->Emit("s", std::string(kMaxInputBytes + 1, ' ')).code(), Code::kRecordTooLarge);
}

// A stream is keyed by its name: an NFD spelling is refused in both profiles (else "café" and
// "cafe\u0301" would be two chains, both with a seq 1), in both canonicalization modes.
TEST_P(EngineTest, AStreamNameIsOneSpellingInEveryProfile) {
  for (const bool in_emit : {true, false}) {
    EngineOptions o = Options(1);
    o.canonicalize_in_emit = in_emit;
    auto engine = Open(o);
    const uint64_t before = engine->State(engine->writer_id(), "caf\xc3\xa9").head_seq;
    auto nfc = engine->Emit("caf\xc3\xa9", Draft(1));
    auto nfd = engine->Emit("cafe\xcc\x81", Draft(2));
    ASSERT_TRUE(nfc.ok() && nfd.ok());
    ASSERT_TRUE(nfc.value().Wait(In(seconds(10))).ok());
    const auto refused = nfd.value().Wait(In(seconds(10)));
    EXPECT_EQ(refused.code(), Code::kSchema);
    EXPECT_NE(refused.status().message().find("NFC"), std::string::npos);
    EXPECT_EQ(engine->State(engine->writer_id(), "caf\xc3\xa9").head_seq, before + 1);
    EXPECT_EQ(engine->State(engine->writer_id(), "cafe\xcc\x81").head_seq, 0u);
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  }
}

TEST_P(EngineTest, CloseStopsIntakeJoinsThreadsAndReleasesFiles) {
  const size_t threads_before = CountEntries("/proc/self/task");
  const size_t fds_before = CountEntries("/proc/self/fd");
  {
    auto engine = Open(Options(2));
    std::vector<Ticket> tickets;
    for (int i = 0; i < 200; ++i)
      tickets.push_back(engine->Emit("s" + std::to_string(i % 5), Draft(i)).value());
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
    for (const Ticket& t : tickets)
      EXPECT_TRUE(t.Wait(In(seconds(1))).ok());  // drained, not dropped
    EXPECT_EQ(engine->Emit("s0", Draft(1)).code(), Code::kClosed);
    EXPECT_EQ(engine->AppendSealed("{}", In(seconds(1))).code(), Code::kClosed);
    EXPECT_EQ(engine->Flush(In(seconds(1))).code(), Code::kClosed);
  }
  EXPECT_EQ(CountEntries("/proc/self/task"), threads_before);
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before);
}

// Slows every WAL write, so that work is surely still queued when Close's deadline passes.
class SlowWrites : public wal::FaultInjector {
 public:
  int OnWrite(int, size_t) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return 0;
  }
  int OnFsync(int) override { return 0; }
};

// docs/CONFIG.md "switch sink=ram → wal at reload: new workers started; old drain; chain
// preserved", as a host does it with the public API: drain the RAM engine, read its rings,
// open the WAL engine, replay them with AppendSealed (same seqs and hashes), go on emitting.
TEST(EngineReloadTest, SwitchingRamToWalPreservesTheChain) {
  testing::TempDir tmp;
  const std::string wal_dir = tmp.path() + "/wal";
  ASSERT_EQ(mkdir(wal_dir.c_str(), 0700), 0);
  EngineOptions ram;
  ram.writer_id = "svc-reload@node";
  std::vector<std::string> rings;
  {
    auto engine = Engine::Open(ram);
    ASSERT_TRUE(engine.ok());
    std::vector<Ticket> tickets;
    for (int i = 0; i < 100; ++i) tickets.push_back(engine.value()->Emit("s", Draft(i)).value());
    ASSERT_TRUE(engine.value()->Flush(In(seconds(10))).ok());  // old workers drain
    auto held = engine.value()->Read("svc-reload@node", "s", 1, 1000, In(seconds(10)));
    ASSERT_TRUE(held.ok()) << held.status().ToString();  // the ring still holds seq 1
    rings = held.value();
    ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  }
  ASSERT_EQ(rings.size(), 100u);
  EngineOptions wal = ram;
  wal.config.sink = SinkKind::kWal;
  wal.config.amnesia = false;
  wal.config.wal.dir = wal_dir;
  wal.config.wal.fsync = FsyncPolicy::kAlways;
  auto engine = Engine::Open(wal);  // new workers
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  for (const std::string& sealed : rings) {
    const auto a = engine.value()->AppendSealed(sealed, In(seconds(10)));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a.value().outcome, AppendOutcome::kAppended);
  }
  auto next = engine.value()->Emit("s", Draft(100));
  ASSERT_TRUE(next.ok());
  const auto r = next.value().Wait(In(seconds(10)));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().seq, 101u);
  ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  // One chain from seq 1, the RAM era's records byte for byte, and it verifies.
  const std::vector<std::string> stored = StoredIn(wal_dir, "svc-reload@node", "s");
  ASSERT_EQ(stored.size(), 101u);
  EXPECT_EQ(std::vector<std::string>(stored.begin(), stored.begin() + 100), rings);
}

// Calls racing Close get Ok or Closed, never a wait for a thread that has stopped (Flush, Read
// and Checkpoint queue control tasks, which a stopping worker refuses at once rather than
// leaving them to answer Busy at their deadline).
TEST_P(EngineTest, CallsRacingCloseGetClosedNotBusy) {
  auto engine = Open(Options(2));
  ASSERT_TRUE(engine->Emit("race", Draft(1)).value().Wait(In(seconds(10))).ok());
  std::atomic<bool> go{false};
  std::vector<std::thread> callers;
  std::atomic<int> closed{0}, other{0};
  for (int k = 0; k < 2; ++k) {
    callers.emplace_back([&, k] {
      while (!go) std::this_thread::yield();
      for (;;) {
        const Status s =
            k == 0 ? engine->Flush(In(seconds(5)))
                   : engine->Read("svc-test@inst-1", "race", 1, 1, In(seconds(5))).status();
        if (s.ok()) continue;
        (s.code() == Code::kClosed ? closed : other)++;
        EXPECT_EQ(s.code(), Code::kClosed) << s.ToString();
        return;
      }
    });
  }
  go = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto started = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  for (auto& t : callers) t.join();
  EXPECT_EQ(closed, 2);
  EXPECT_EQ(other, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(4));  // nobody waited 5 s
}

TEST_P(EngineTest, WorkLeftAtTheDeadlineFailsWithClosedAndIsCounted) {
  EngineOptions o = Options(1, 100000);
  // The owner canonicalizes (a slower owner, a faster Emit) and WAL writes take 20 ms: the
  // queue cannot drain before Close, even under sanitizers.
  o.canonicalize_in_emit = false;
  SlowWrites slow;
  auto engine = Open(o, GetParam() == SinkKind::kWal ? &slow : nullptr);
  std::vector<Ticket> tickets;
  for (int i = 0; i < 20000; ++i) {
    auto t = engine->Emit("s", Draft(i));
    if (t.ok()) tickets.push_back(t.value());
  }
  // Close is not Ok when it dropped records: the host must not read it as "all stored".
  const Status closing = engine->Close(std::chrono::steady_clock::now());  // no time to drain
  EXPECT_EQ(closing.code(), Code::kClosed) << closing.ToString();
  int closed = 0, ok = 0;
  for (const Ticket& t : tickets) {
    const auto r = t.Wait(In(seconds(5)));
    closed += r.code() == Code::kClosed;
    ok += r.ok();
  }
  EXPECT_EQ(closed + ok, static_cast<int>(tickets.size()));
  EXPECT_GT(closed, 0);
  const std::string metrics = engine->MetricsText();
  EXPECT_NE(metrics.find(Sample("tasks_aborted_total", "kind=\"audit_worker\"", closed)),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(Sample("audit_drop_total", "reason=\"shutdown\"", closed)),
            std::string::npos);
}

TEST_P(EngineTest, ReadVerifiesEveryRecordAndLinkOnRead) {
  EngineOptions o = Options(1);
  o.ram_records_per_stream = 100;
  auto engine = Open(o);
  std::vector<Ticket> tickets;
  for (int i = 0; i < 150; ++i) tickets.push_back(engine->Emit("r", Draft(i)).value());
  for (const Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(30))).ok());
  const std::string w = "svc-test@inst-1";
  auto tail = engine->Read(w, "r", 51, 1000, In(seconds(10)));
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  ASSERT_EQ(tail.value().size(), 100u);
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(c.VerifySealed(tail.value().front(), &r).ok());
  EXPECT_EQ(r.record.seq, 51u);
  ASSERT_TRUE(c.VerifySealed(tail.value().back(), &r).ok());
  EXPECT_EQ(r.record.seq, 150u);
  EXPECT_EQ(HashText(r.digest), engine->State(w, "r").head);
  EXPECT_EQ(engine->Read(w, "r", 140, 5, In(seconds(10))).value().size(), 5u);
  EXPECT_TRUE(engine->Read(w, "r", 151, 10, In(seconds(10))).value().empty());
  EXPECT_TRUE(engine->Read(w, "nothing-here", 1, 10, In(seconds(10))).value().empty());
  EXPECT_EQ(engine->Read(w, "r", 0, 10, In(seconds(10))).code(), Code::kSchema);
  const auto from_start = engine->Read(w, "r", 1, 1000, In(seconds(10)));
  if (GetParam() == SinkKind::kRam) {  // the ring holds the newest 100 only
    EXPECT_EQ(from_start.code(), Code::kSeqGap);
    return;
  }
  ASSERT_TRUE(from_start.ok());
  EXPECT_EQ(from_start.value().size(), 150u);
  // A record changed on disk is refused on read and counted.
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  std::string segment;
  for (const auto& e : fs::recursive_directory_iterator(WalDir())) {
    if (e.path().extension() == ".seg") segment = e.path();
  }
  std::string bytes = testing::ReadFile(segment);
  const size_t at = bytes.find("\"i\":60}");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] = '7';
  testing::WriteFile(segment, bytes);
  auto reopened = Open(o);  // the stream opens frozen; reads still verify what they return
  const auto changed = reopened->Read(w, "r", 1, 1000, In(seconds(10)));
  EXPECT_EQ(changed.code(), Code::kHashMismatch) << changed.status().ToString();
  EXPECT_TRUE(reopened->Read(w, "r", 1, 50, In(seconds(10))).ok());  // before the change: fine
  // Writes to the frozen stream are refused, replays included (governance's fail-closed rule).
  Canonicalizer sealer;
  CanonicalRecord next;
  ASSERT_TRUE(
      sealer
          .Canonicalize(testing::RecordJson(151, "b3:" + std::string(64, 'a'), "{}", w, "r"), &next)
          .ok());
  EXPECT_EQ(reopened->AppendSealed(Seal(next), In(seconds(10))).code(), Code::kFrozen);
  auto emitted = reopened->Emit("r", Draft(999));
  ASSERT_TRUE(emitted.ok());
  EXPECT_EQ(emitted.value().Wait(In(seconds(10))).code(), Code::kFrozen);
  EXPECT_NE(reopened->MetricsText().find(
                Sample("audit_verify_fail_total", "reason=\"hash_mismatch\"", 2)),
            std::string::npos)
      << reopened->MetricsText();
}

// Retries must be safe: in the RAM profile a retry of a record the ring has let go of is not
// a Conflict, and one the ring still holds is a Duplicate at its position.
TEST_P(EngineTest, RetryOfARecordOlderThanTheRamRingIsNeverAConflict) {
  EngineOptions o = Options(1);
  o.ram_records_per_stream = 16;
  auto engine = Open(o);
  const std::string w = "svc-test@inst-1";
  std::vector<Ticket> tickets;
  for (int i = 0; i < 10; ++i) tickets.push_back(engine->Emit("retry", Draft(i)).value());
  for (const Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(30))).ok());
  const auto early = engine->Read(w, "retry", 1, 10, In(seconds(10)));
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  tickets.clear();
  for (int i = 10; i < 40; ++i) tickets.push_back(engine->Emit("retry", Draft(i)).value());
  for (const Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(30))).ok());
  const auto late = engine->Read(w, "retry", 39, 1, In(seconds(10)));
  ASSERT_TRUE(late.ok() && late.value().size() == 1u);
  auto recent = engine->AppendSealed(late.value()[0], In(seconds(10)));
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  EXPECT_EQ(recent.value().outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(recent.value().receipt.seq, 39u);
  const auto old = engine->AppendSealed(early.value()[0], In(seconds(10)));
  if (GetParam() == SinkKind::kRam) {
    EXPECT_EQ(old.code(), Code::kSeqGap) << old.status().ToString();
    EXPECT_NE(old.status().message().find("no longer held in RAM"), std::string::npos);
  } else {  // the WAL holds everything
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    EXPECT_EQ(old.value().outcome, AppendOutcome::kDuplicate);
    EXPECT_EQ(old.value().receipt.seq, 1u);
  }
  EXPECT_EQ(engine->State(w, "retry").head_seq, 40u);
}

// Memory stays bounded however many streams callers invent: a writer thread holds at most
// max_streams_per_worker, and a replayed record can create a stream only at its genesis (a
// bogus seq creates no directory and no segment; it is answered SeqGap).
TEST_P(EngineTest, StreamsPerWorkerAreCappedAndGapsCreateNothing) {
  EngineOptions o = Options(1);
  o.max_streams_per_worker = 3;
  auto engine = Open(o);
  for (const char* stream : {"a", "b", "c"}) {
    auto t = engine->Emit(stream, Draft(1));
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.value().Wait(In(seconds(10))).ok());
  }
  auto fourth = engine->Emit("d", Draft(1));
  ASSERT_TRUE(fourth.ok());  // Emit queues; the owner refuses
  const auto refused = fourth.value().Wait(In(seconds(10)));
  // Not Busy: waiting does not make room, and hosts retry Busy.
  EXPECT_EQ(refused.code(), Code::kIo);
  EXPECT_NE(refused.status().message().find("stream limit"), std::string::npos);
  auto more = engine->Emit("a", Draft(2));  // held streams are unaffected
  ASSERT_TRUE(more.ok() && more.value().Wait(In(seconds(10))).ok());
  // A sealed record far into a stream nobody holds: SeqGap, and the stream does not appear.
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(
      c.Canonicalize(
           testing::RecordJson(7, "b3:" + std::string(64, 'c'), "{}", "svc-import@x", "bogus"), &r)
          .ok());
  EXPECT_EQ(engine->AppendSealed(Seal(r), In(seconds(10))).code(), Code::kSeqGap);
  EXPECT_EQ(engine->State("svc-import@x", "bogus").head_seq, 0u);
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  if (GetParam() == SinkKind::kWal) {
    EXPECT_FALSE(fs::exists(WalDir() + "/svc-import@x"));
    EXPECT_FALSE(fs::exists(wal::StreamDir(WalDir(), "svc-test@inst-1", "d")));
    EXPECT_EQ(CountEntries(WalDir() + "/svc-test@inst-1"), 3u);
  }
}

TEST_P(EngineTest, PerStreamQueueDepthOverrideBoundsOnlyThatStream) {
  EngineOptions o = Options(1, 100000);
  o.config.stream_queue_depth["tiny"] = 2;
  o.canonicalize_in_emit = false;  // a fast Emit and a slower owner: the stream's bound bites
  auto engine = Open(o);
  int tiny_busy = 0, roomy_busy = 0;
  std::vector<Ticket> tickets;
  for (int i = 0; i < 3000; ++i) {
    for (const char* stream : {"tiny", "roomy"}) {
      auto t = engine->Emit(stream, Draft(i));
      if (t.ok()) {
        tickets.push_back(t.value());
      } else {
        EXPECT_EQ(t.code(), Code::kBusy);
        (std::string(stream) == "tiny" ? tiny_busy : roomy_busy)++;
      }
    }
  }
  EXPECT_GT(tiny_busy, 0);
  EXPECT_EQ(roomy_busy, 0);  // the worker's own bound (100000) is never reached
  for (const Ticket& t : tickets) EXPECT_TRUE(t.Wait(In(seconds(30))).ok());
  EXPECT_EQ(engine->State("svc-test@inst-1", "roomy").head_seq, 3000u);
  EXPECT_EQ(engine->State("svc-test@inst-1", "tiny").head_seq, 3000u - tiny_busy);
}

TEST_P(EngineTest, ShedPolicyBlockWaitsForRoomInsteadOfShedding) {
  EngineOptions o = Options(1, 4);
  o.config.shed_policy = ShedPolicy::kBlock;
  auto engine = Open(o);
  std::vector<Ticket> tickets;
  for (int i = 0; i < 3000; ++i) {
    auto t = engine->Emit("s", Draft(i));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tickets.push_back(t.value());
  }
  for (const Ticket& t : tickets) EXPECT_TRUE(t.Wait(In(seconds(30))).ok());
  EXPECT_EQ(engine->State("svc-test@inst-1", "s").head_seq, 3000u);
  EXPECT_NE(engine->MetricsText().find(Sample("busy_rejections_total", "endpoint=\"emit\"", 0)),
            std::string::npos);
  // A producer blocked on a full queue is released by Close with Closed, not left hanging.
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop) {
      if (engine->Emit("s", Draft(0)).code() == Code::kClosed) break;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  stop = true;
  producer.join();
}

// The backpressure drill: producers far faster than the writer, a tiny queue, no waiting on
// tickets. Busy is answered and counted, and memory does not grow with the number of offers.
TEST_P(EngineTest, BackpressureDrillBusyCountedAndRssFlat) {
  EngineOptions o = Options(1, 16);
  o.ram_records_per_stream = 1000;
  o.canonicalize_in_emit = false;  // producers far faster than the writer
  auto engine = Open(o);
  std::atomic<uint64_t> busy{0}, offered{0};
  const auto round = [&] {
    std::vector<std::thread> producers;
    for (int p = 0; p < 4; ++p) {
      producers.emplace_back([&, p] {
        for (int i = 0; i < 25000; ++i) {
          auto t = engine->Emit("storm" + std::to_string(p), Draft(i));
          offered++;
          if (!t.ok()) busy += t.code() == Code::kBusy;
        }
      });
    }
    for (auto& t : producers) t.join();
  };
  for (int i = 0; i < 3; ++i) round();  // warm up allocator and rings
  const uint64_t rss_before = (ron::bench::RssKiB() * 1024);
  for (int i = 0; i < 9; ++i) round();
  ASSERT_TRUE(engine->Flush(In(seconds(30))).ok());
  const uint64_t rss_after = (ron::bench::RssKiB() * 1024);
  EXPECT_EQ(offered, 1200000u);
  EXPECT_GT(busy, 0u);
  // Retaining every offer would cost far more than this (1.2M drafts and tickets > 300 MB).
  EXPECT_LT(rss_after, rss_before + (48ull << 20)) << rss_before << " → " << rss_after;
  const std::string metrics = engine->MetricsText();
  EXPECT_NE(metrics.find(Sample("audit_drop_total", "reason=\"audit_backpressure\"", busy)),
            std::string::npos);
  EXPECT_NE(metrics.find(Sample("busy_rejections_total", "endpoint=\"emit\"", busy)),
            std::string::npos);
}

// docs/OBSERVABILITY.md: JSON lines with ts/level/service/event/writer_id and the audit fields, a
// rejection names its reason, and no record content ever reaches the log.
TEST_P(EngineTest, LogLinesCarryTheRequiredFieldsAndNoRecordContent) {
  EngineOptions o = Options(1, 4);
  std::mutex mu;
  std::vector<std::string> lines;
  o.log = [&](std::string_view line) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
  };
  o.log_appends = true;
  o.service = "svc-gateway";
  auto engine = Open(o);
  const std::string secret = "tok-5ecret-value";
  auto ok = engine->Emit("ingress", R"({"kind":"GetServed","actor":{"anon":true},"subject":{},)"
                                    R"("reason":"ok","attrs":{"token":")" +
                                        secret + R"("}})");
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok.value().Wait(In(seconds(10))).ok());
  auto bad = engine->Emit("ingress", R"({"kind":"GetServed","actor":{},"subject":{},)"
                                     R"("reason":"ok","attrs":{"token":")" +
                                         secret + R"(","f":1.5}})");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad.value().Wait(In(seconds(10))).code(), Code::kFloat);
  for (int i = 0; i < 2000; ++i) (void)engine->Emit("ingress", Draft(i));  // some Busy
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(lines.empty());
  size_t ok_lines = 0, reject_lines = 0, float_lines = 0;
  simdjson::dom::parser parser;
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    std::string_view ts, level, service, event, writer;
    ASSERT_EQ(doc["ts"].get(ts), simdjson::SUCCESS) << line;
    EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-22T07:31:00.123Z
    EXPECT_EQ(ts.back(), 'Z');
    EXPECT_EQ(doc["level"].get(level), simdjson::SUCCESS);
    EXPECT_EQ(doc["service"].get(service), simdjson::SUCCESS);
    EXPECT_EQ(service, "svc-gateway");
    ASSERT_EQ(doc["event"].get(event), simdjson::SUCCESS);
    EXPECT_EQ(doc["writer_id"].get(writer), simdjson::SUCCESS);
    if (event == "audit.append.ok") {
      ++ok_lines;
      std::string_view stream, hash;
      uint64_t seq = 0;
      EXPECT_EQ(doc["stream"].get(stream), simdjson::SUCCESS);
      EXPECT_EQ(doc["seq"].get(seq), simdjson::SUCCESS);
      EXPECT_EQ(doc["self_hash"].get(hash), simdjson::SUCCESS);
    } else if (event == "audit.append.reject") {
      ++reject_lines;
      std::string_view reason;
      EXPECT_EQ(doc["reason"].get(reason), simdjson::SUCCESS);
      // The Float draft says float (not schema); the rest were shed.
      EXPECT_TRUE(reason == "float" || reason == "busy") << reason;
      float_lines += reason == "float";
    }
  }
  EXPECT_EQ(float_lines, 1u);
  EXPECT_GT(ok_lines, 0u);
  EXPECT_GT(reject_lines, 0u);
  EXPECT_LE(reject_lines, 40u);  // rate-limited: 20 a second
}

INSTANTIATE_TEST_SUITE_P(Sinks, EngineTest, ::testing::Values(SinkKind::kRam, SinkKind::kWal),
                         [](const auto& info) {
                           return info.param == SinkKind::kRam ? "ram" : "wal";
                         });

// The CPUs each thread of this process may run on, by thread id.
std::map<pid_t, std::set<int>> ThreadAffinities() {
  std::map<pid_t, std::set<int>> out;
  for (const auto& e : fs::directory_iterator("/proc/self/task")) {
    const pid_t tid = static_cast<pid_t>(std::stol(e.path().filename().string()));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof(set), &set) != 0) continue;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) out[tid].insert(cpu);
    }
  }
  return out;
}

// Writer threads pin to the configured CPUs, one each in turn; a CPU that is not online is
// refused by the configuration check rather than silently ignored.
TEST(EnginePinTest, WritersRunOnTheirConfiguredCpus) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "needs two online CPUs";
  const auto before = ThreadAffinities();
  EngineOptions o;
  o.writer_id = "svc-pin@node";
  o.config.workers = 2;
  o.config.pin_cpus = {1, 0};
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  std::multiset<int> pinned;
  for (const auto& [tid, cpus] : ThreadAffinities()) {
    if (before.count(tid) == 0 && cpus.size() == 1) pinned.insert(*cpus.begin());
  }
  EXPECT_EQ(pinned, (std::multiset<int>{0, 1}));
  ASSERT_TRUE(engine.value()->Close(In(seconds(10))).ok());
  o.config.pin_cpus = {4096 - 1};
  EXPECT_EQ(Engine::Open(o).code(), Code::kSchema);
}

// Installs a seccomp filter on the calling (single-threaded) process that kills it with
// SIGSYS on any system call that could create, change or remove a name in a file system, or
// open a file for writing: mkdir*, mknod*, link*, symlink*, unlink*, rename*, creat,
// truncate, and open/openat with O_CREAT, O_TRUNC, O_WRONLY or O_RDWR (openat2 always).
bool ForbidFileWrites() {
  constexpr uint32_t kKill = SECCOMP_RET_KILL_PROCESS;
  constexpr uint32_t kWriteFlags = O_CREAT | O_TRUNC | O_WRONLY | O_RDWR;
  std::vector<sock_filter> f = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, arch))),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, kKill),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, nr))),
  };
  for (const long nr : {SYS_mkdir, SYS_mkdirat, SYS_mknod, SYS_mknodat, SYS_link, SYS_linkat,
                        SYS_symlink, SYS_symlinkat, SYS_unlink, SYS_unlinkat, SYS_rename,
                        SYS_renameat, SYS_renameat2, SYS_creat, SYS_truncate, SYS_openat2}) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
  }
  // open(path, flags) and openat(dirfd, path, flags): the flags' low 32 bits.
  const auto flags_at = [&](long nr, int arg) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 4));
    const auto offset = static_cast<uint32_t>(offsetof(seccomp_data, args) +
                                              sizeof(uint64_t) * static_cast<size_t>(arg));
    f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset));
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, kWriteFlags, 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, kKill));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  };
  flags_at(SYS_open, 1);
  flags_at(SYS_openat, 2);
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Micronode's promise: zero on-disk artifacts. The engine runs in a child process
// whose kernel filter kills it on the first attempt to create or write any file anywhere;
// the WAL path is configured, elsewhere, and must not appear either.
TEST(EngineAmnesiaTest, RamProfileNeverCreatesAFile) {
  testing::TempDir tmp, elsewhere;
  EngineOptions o;
  o.writer_id = "svc-micro@node";
  o.config.wal.dir = elsewhere.path() + "/should-not-exist";  // configured, but the sink is ram
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(tmp.path().c_str()) != 0 || !ForbidFileWrites()) _exit(3);
    auto engine = Engine::Open(o);
    if (!engine.ok()) _exit(4);
    for (int i = 0; i < 500; ++i) {
      if (!engine.value()->Emit("s", Draft(i)).ok()) _exit(5);
    }
    if (!engine.value()->Flush(In(seconds(10))).ok()) _exit(6);
    if (engine.value()->State("svc-micro@node", "s").head_seq != 500u) _exit(7);
    if (!engine.value()->Read("svc-micro@node", "s", 1, 500, In(seconds(10))).ok()) _exit(8);
    if (!engine.value()->Close(In(seconds(10))).ok()) _exit(9);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
      << "the RAM profile tried to create or write a file";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(CountEntries(tmp.path()), 0u);
  EXPECT_EQ(CountEntries(elsewhere.path()), 0u);  // not even the WAL dir
  // The filter is real: the same child writing a file dies with SIGSYS.
  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    if (!ForbidFileWrites()) _exit(3);
    const int fd = open((tmp.path() + "/x").c_str(), O_CREAT | O_WRONLY, 0600);
    _exit(fd >= 0 ? 0 : 1);
  }
  ASSERT_EQ(waitpid(writer, &status, 0), writer);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << "status " << status;
  // And the configuration refuses a WAL sink under amnesia.
  o.config.sink = SinkKind::kWal;
  EXPECT_EQ(Engine::Open(o).code(), Code::kSchema);
}

}  // namespace
}  // namespace ron

namespace ron {
namespace {

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
  EXPECT_NE(engine.value()->MetricsText().find(Sample("audit_ready", "", 0)), std::string::npos);
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
}  // namespace ron
