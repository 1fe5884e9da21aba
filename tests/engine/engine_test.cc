// The engine under both sinks: concurrent producers, exactly-once acknowledged records,
// AppendSealed semantics, reads verified on read, stream names and stream caps.
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
#include "engine/core/limits.h"
#include "engine/testing_hooks.h"
#include "ron_audit/engine.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "wal/files.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron::engine_test {
namespace {

using std::chrono::seconds;

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
    EXPECT_EQ(testing::MetricValue(metrics, "audit_appended_total",
                                   "kind=\"GetServed\",stream=\"" + stream + "\""),
              static_cast<double>(records.size()))
        << metrics;
  }
  if (GetParam() == SinkKind::kWal) {  // both workers' WALs, merged
    EXPECT_EQ(testing::MetricValue(metrics, "wal_records_written_total"),
              static_cast<double>(total))
        << metrics;
  }
  EXPECT_EQ(testing::MetricValue(metrics, "tasks_spawned_total", "kind=\"audit_worker\""), 2);
  // Idle streams keep their queue-depth series (at 0) instead of vanishing from the page.
  for (const auto& [stream, records] : acked) {
    EXPECT_EQ(testing::MetricValue(metrics, "audit_queue_depth", "stream=\"" + stream + "\""), 0)
        << stream;
  }
  EXPECT_GT(testing::MetricValue(metrics, "audit_bytes_total"), 0);  // not zero
  // Where the writer threads' time went: every record staged by a counted batch, each batch
  // counted once per phase, with time in each phase.
  EXPECT_EQ(testing::MetricValue(metrics, "audit_batch_records_total"),
            static_cast<double>(total));
  const double batches = testing::MetricValue(metrics, "audit_batch_seconds_count",
                                              "phase=\"commit\"");
  EXPECT_GE(batches, 1);
  EXPECT_LE(batches, static_cast<double>(total));
  for (const char* phase : {"stage", "commit", "complete"}) {
    const std::string labels = std::string("phase=\"") + phase + "\"";
    EXPECT_EQ(testing::MetricValue(metrics, "audit_batch_seconds_count", labels), batches)
        << phase;
    EXPECT_EQ(testing::MetricValue(metrics, "audit_batch_seconds_bucket", labels + ",le=\"+Inf\""),
              batches)
        << phase;
    EXPECT_GT(testing::MetricValue(metrics, "audit_batch_seconds_sum", labels), 0) << phase;
  }
  // Every golden metric of docs/OBSERVABILITY.md is on the page.
  for (const char* golden :
       {"audit_appended_total", "audit_drop_total", "audit_queue_depth", "audit_bytes_total",
        "audit_export_checkpoints_total", "io_timeouts_total", "audit_verify_fail_total",
        "tasks_spawned_total", "tasks_aborted_total", "busy_rejections_total",
        "audit_dedupe_hits_total", "export_batch_seconds", "audit_batch_seconds",
        "audit_batch_records_total"}) {
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
  EXPECT_EQ(testing::MetricValue(metrics, "audit_dedupe_hits_total"), 20) << metrics;
  EXPECT_EQ(testing::MetricValue(metrics, "audit_verify_fail_total", "reason=\"prev_mismatch\""), 1)
      << metrics;
  // Emit continues a stream that AppendSealed extended? Different writer: its own chain.
  ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  if (GetParam() == SinkKind::kWal) {
    EXPECT_EQ(Stored("svc-import@x", "imported"), chain);
  }
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
    // A name that passed is not checked again on this thread; an empty one never passes.
    for (const std::string_view stream : {"", "cafe\xcc\x81", "caf\xc3\xa9\x01"}) {
      auto again = engine->Emit(stream, Draft(3));
      ASSERT_TRUE(again.ok());
      const auto answer = again.value().Wait(In(seconds(10)));
      EXPECT_EQ(answer.code(), Code::kSchema) << stream;
      EXPECT_NE(answer.status().message().find("stream must be"), std::string::npos) << stream;
    }
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  }
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
  EXPECT_EQ(testing::MetricValue(reopened->MetricsText(), "audit_verify_fail_total",
                                 "reason=\"hash_mismatch\""),
            2)
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

// Streams written round-robin, so that no record's stream is the one before it (the writer's
// lookups by (writer_id, stream) and (kind, stream) miss their one-entry memo every time): every
// head is published, and the per-label counters stop at kMaxLabelSets, the rest counted under
// "_other", however often a stream past the cap comes back.
TEST_P(EngineTest, StreamsRoundRobinKeepTheirHeadsAndLabelSetsStopAtTheCap) {
  auto engine = Open(Options(1));
  constexpr int kCap = static_cast<int>(limits::kMaxLabelSets), kStreams = kCap + 8, kRounds = 3;
  const auto name = [](int i) { return "rr" + std::to_string(i); };
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Ticket> tickets;
    for (int i = 0; i < kStreams; ++i) {
      auto t = engine->Emit(name(i), Draft(round * kStreams + i));
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      tickets.push_back(t.value());
    }
    for (Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(60))).ok());
  }
  for (int i = 0; i < kStreams; ++i) {
    ASSERT_EQ(engine->State("svc-test@inst-1", name(i)).head_seq, static_cast<uint64_t>(kRounds))
        << name(i);
  }
  const std::string metrics = engine->MetricsText();
  // One worker stages the first round in order: the first kMaxLabelSets streams get a label set
  // of their own, the last 8 share "_other".
  EXPECT_EQ(testing::MetricValue(metrics, "audit_appended_total",
                                 "kind=\"GetServed\",stream=\"" + name(0) + "\""),
            kRounds);
  EXPECT_EQ(testing::MetricValue(metrics, "audit_appended_total",
                                 "stream=\"" + name(kCap - 1) + "\""),
            kRounds);
  EXPECT_EQ(testing::MetricValue(metrics, "audit_appended_total",
                                 "stream=\"" + name(kCap) + "\""),
            -1);
  EXPECT_EQ(testing::MetricValue(metrics, "audit_appended_total",
                                 "kind=\"_other\",stream=\"_other\""),
            8 * kRounds);
  ASSERT_TRUE(engine->Close(In(seconds(30))).ok());
}

// The engine hands its page-cache choice to its WAL: a durable batch leaves the page cache by
// default and stays in it with keep_written_pages_cached.
TEST(EngineWalTest, WrittenPagesLeaveThePageCacheUnlessKept) {
  for (const bool keep : {false, true}) {
    testing::TempDir tmp;
    const std::string dir = tmp.path() + "/wal";
    EngineOptions o = WalEngineOptions(dir, 1, 4096);
    o.keep_written_pages_cached = keep;
    auto engine = OpenEngine(o);
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < 40; ++i) {  // one commit each: 40 pages
      auto t = engine->Emit("s", Draft(i));
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      ASSERT_TRUE(t.value().Wait(In(seconds(30))).ok());
    }
    std::vector<std::string> segments;
    const std::string stream_dir = wal::StreamDir(dir, o.writer_id, "s");
    ASSERT_TRUE(wal::ListDir(stream_dir, &segments).ok());
    ASSERT_FALSE(segments.empty());
    const size_t cached = testing::CachedPages(stream_dir + "/" + segments.back(), 4096);
    if (keep) {
      EXPECT_GE(cached, 20u);
    } else {
      EXPECT_EQ(cached, 0u);
    }
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
  }
}

// Files under `dir` (recursively) whose names end in ".prealloc": segments being zero-filled
// ahead of need, or ready and not taken yet.
size_t PreparedSegments(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    n += name.size() > 9 && name.compare(name.size() - 9, 9, ".prealloc") == 0 ? 1 : 0;
  }
  return n;
}

// The engine hands its preallocation choice to its WAL: once a stream's first segment holds
// 2 MiB its successor is zero-filled ahead, unless preallocate_segments is false (segments then
// only grow with their records). The stream's records are the same either way. The drafts go
// 16 at a time (each batch ~4 KiB): only a stream whose writes average at most 16 KiB is
// zero-filled (wal::WalOptions::zero_fill_max_write_bytes), and more in flight would leave
// that to how the writer's batches fall.
TEST(EngineWalTest, SegmentsAreZeroFilledAheadUnlessTurnedOff) {
  for (const bool preallocate : {true, false}) {
    SCOPED_TRACE(preallocate ? "preallocate" : "no preallocation");
    testing::TempDir tmp;
    const std::string dir = tmp.path() + "/wal";
    EngineOptions o = WalEngineOptions(dir, 1, 4096);
    o.config.wal.fsync = FsyncPolicy::kNever;
    o.config.wal.rotate_bytes = wal::WalOptions::kMinRotateBytes;
    o.preallocate_segments = preallocate;
    auto engine = OpenEngine(o);
    ASSERT_NE(engine, nullptr);
    const std::string stream_dir = wal::StreamDir(dir, o.writer_id, "s");
    const auto segment_bytes = [&]() -> off_t {  // the stream's (only) segment
      std::vector<std::string> names;
      if (!wal::ListDir(stream_dir, &names).ok()) return -1;
      std::erase_if(names, [](const std::string& n) { return !n.ends_with(".seg"); });
      struct stat st {};
      if (names.size() != 1) return -1;
      return stat((stream_dir + "/" + names[0]).c_str(), &st) == 0 ? st.st_size : -1;
    };
    int emitted = 0;
    while (segment_bytes() < (5 << 19)) {  // 2.5 MiB: past a quarter of the first's 8 MiB
      std::vector<Ticket> tickets;
      for (int i = 0; i < 16; ++i, ++emitted) {
        auto t = engine->Emit("s", Draft(emitted));
        ASSERT_TRUE(t.ok()) << t.status().ToString();
        tickets.push_back(t.value());
      }
      for (Ticket& t : tickets) ASSERT_TRUE(t.Wait(In(seconds(30))).ok());
      ASSERT_TRUE(engine->Flush(In(seconds(30))).ok());
      ASSERT_LT(emitted, 100000) << "the segment does not grow";
    }
    // The zero-fill request is made by the commit that passed 2 MiB; the file appears once the
    // preallocator's thread takes it (at once: nothing else is queued).
    const auto deadline = std::chrono::steady_clock::now() + seconds(preallocate ? 30 : 1);
    while (PreparedSegments(dir) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(PreparedSegments(dir), preallocate ? 1u : 0u);
    EXPECT_EQ(engine->State(o.writer_id, "s").head_seq, static_cast<uint64_t>(emitted));
    ASSERT_TRUE(engine->Close(In(seconds(10))).ok());
    EXPECT_EQ(PreparedSegments(dir), 0u) << "a prepared segment nobody took is removed at close";
  }
}

}  // namespace
}  // namespace ron::engine_test
