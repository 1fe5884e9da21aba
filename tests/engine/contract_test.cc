// The engine's API contract as a host relies on it (docs/API.md): Close returns only once the
// engine is closed, for every caller; Duplicate only for a durable record; Flush makes durable
// under every fsync policy; a failed ticket means "not stored" and counters never go backwards;
// options are validated at Open; the log callback can neither throw into the engine nor wait
// for it.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/limits.h"
#include "ron_audit/engine.h"
#include "engine/testing_hooks.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"
#include "wal/reader.h"

namespace ron {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

Deadline In(milliseconds d) { return std::chrono::steady_clock::now() + d; }
Deadline Far() { return In(seconds(60)); }

std::string Draft(int i) {
  return R"({"kind":"GetServed","actor":{},"subject":{},"reason":"ok","attrs":{"i":)" +
         std::to_string(i) + "}}";
}

// Sealed records 1..n of (writer, stream), chained.
std::vector<std::string> SealedChain(const std::string& writer, const std::string& stream, int n) {
  Canonicalizer c;
  CanonicalRecord r;
  std::vector<std::string> out;
  std::string prev = std::string(kGenesisPrev);
  for (int i = 1; i <= n; ++i) {
    const Canonicalizer::DraftContext ctx{writer, stream, static_cast<uint64_t>(i), prev, 1};
    EXPECT_TRUE(c.CanonicalizeDraft(Draft(i), ctx, &r).ok());
    out.push_back(Seal(r));
    prev = HashText(r.digest);
  }
  return out;
}

// Write faults on demand: the next write can be held until released, and the one after that
// can fail with EIO.
class GatedWrites : public wal::FaultInjector {
 public:
  int OnWrite(int, size_t) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++writes_;
    if (hold_next_) {
      hold_next_ = false;
      held_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !held_; });
      return 0;
    }
    if (fail_next_) {
      fail_next_ = false;
      return -EIO;
    }
    return 0;
  }
  int OnFsync(int) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fsyncs_to_pass_ > 0 && --fsyncs_to_pass_ == 0) return -EIO;
    return 0;
  }
  void HoldNextThenFailOne() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_next_ = fail_next_ = true;
  }
  // Holds the next write; the fsync after it passes, the one after that fails (its write has
  // reached the file by then).
  void HoldNextThenFailSecondFsync() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_next_ = true;
    fsyncs_to_pass_ = 2;
  }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_next_ = false, fail_next_ = false, held_ = false;
  int writes_ = 0, fsyncs_to_pass_ = 0;
};

class ContractTest : public ::testing::Test {
 protected:
  EngineOptions Options(size_t queue_depth = 100000) {
    return engine_test::WalEngineOptions(WalDir(), 1, static_cast<uint32_t>(queue_depth));
  }
  std::string WalDir() const { return tmp_.path() + "/wal"; }
  std::unique_ptr<Engine> Open(const EngineOptions& o, wal::FaultInjector* faults = nullptr) {
    return engine_test::OpenEngine(o, faults);
  }
  testing::TempDir tmp_;
};

// Every Close returns only when the engine is closed, with one status: a second caller that
// returned at once (Ok) left up to tens of thousands of records not yet durable.
TEST_F(ContractTest, EveryCloseReturnsOnlyOnceTheEngineIsClosed) {
  auto engine = Open(Options());
  std::vector<Ticket> tickets;
  for (int i = 0; i < 60000; ++i) {
    auto t = engine->Emit("s", Draft(i));
    if (t.ok()) tickets.push_back(t.value());
  }
  Status first;
  std::thread closer([&] { first = engine->Close(Far()); });
  while (engine->Emit("s", Draft(0)).code() != Code::kClosed) std::this_thread::yield();
  const Status second = engine->Close(Far());  // racing the first
  for (const Ticket& t : tickets) ASSERT_TRUE(t.done()) << "Close returned before the drain";
  closer.join();
  EXPECT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(first.code(), second.code());
  for (const Ticket& t : tickets) EXPECT_TRUE(t.Wait(In(seconds(1))).ok());
}

// Destroying the engine while another thread is inside Close waits for that Close: the engine
// is never freed under it.
TEST_F(ContractTest, DestroyingTheEngineWaitsForACloseInProgress) {
  auto engine = Open(Options());
  for (int i = 0; i < 30000; ++i) (void)engine->Emit("s", Draft(i));
  Status closed;
  Engine* raw = engine.get();
  std::thread closer([&] { closed = raw->Close(Far()); });
  while (raw->Emit("s", Draft(0)).code() != Code::kClosed) std::this_thread::yield();
  engine.reset();
  closer.join();
  EXPECT_TRUE(closed.ok()) << closed.ToString();
}

// A retry of a record that is staged but not durable yet is not answered Duplicate before the
// original is durable: if the original's write fails, the retry fails too.
TEST_F(ContractTest, DuplicateIsOnlyAnsweredForADurableRecord) {
  GatedWrites gate;
  EngineOptions o = Options();
  auto engine = Open(o, &gate);
  const auto chain = SealedChain("w", "s", 2);
  ASSERT_TRUE(engine->AppendSealed(chain[0], Far()).ok());  // s exists, its segment too
  ASSERT_TRUE(engine->Emit("x", Draft(0)).value().Wait(Far()).ok());
  gate.HoldNextThenFailOne();
  auto held = engine->Emit("x", Draft(1));  // its write is held: the owner waits in it
  ASSERT_TRUE(held.ok());
  gate.WaitUntilHeld();
  Result<AppendResult> original = Status(Code::kBusy), retry = Status(Code::kBusy);
  std::thread a([&] { original = engine->AppendSealed(chain[1], Far()); });
  std::thread b([&] { retry = engine->AppendSealed(chain[1], Far()); });
  // Both are queued behind the held write, so they go into one batch together.
  for (int i = 0; i < 2000; ++i) {
    if (testing::MetricValue(engine->MetricsText(), "audit_worker_queue_depth") == 2) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(testing::MetricValue(engine->MetricsText(), "audit_worker_queue_depth"), 2);
  gate.Release();  // x's write succeeds; the batch with both copies of seq 2 fails
  a.join();
  b.join();
  EXPECT_TRUE(held.value().Wait(Far()).ok());
  EXPECT_EQ(original.code(), Code::kIo) << original.status().ToString();
  EXPECT_EQ(retry.code(), Code::kIo) << "a Duplicate was answered for a record never stored";
}

// Flush makes everything before it durable under every fsync policy (on_checkpoint, the config
// default, did not sync at all without a checkpoint).
TEST_F(ContractTest, FlushSyncsUnderEveryPolicy) {
  for (const auto policy : {FsyncPolicy::kOnCheckpoint, FsyncPolicy::kNever}) {
    EngineOptions o = Options();
    o.config.wal.fsync = policy;
    auto engine = Open(o);
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(engine->Emit("s", Draft(i)).value().Wait(Far()).ok());
    const double before = testing::MetricValue(engine->MetricsText(), "wal_fsync_total");
    ASSERT_TRUE(engine->Flush(Far()).ok());
    const double after = testing::MetricValue(engine->MetricsText(), "wal_fsync_total");
    EXPECT_GT(after, before) << "Flush did not fdatasync";
    ASSERT_TRUE(engine->Close(Far()).ok());
  }
}

// A failed batch is cut from the segment: recovery never adopts a record whose ticket failed.
TEST_F(ContractTest, AFailedTicketMeansNotStored) {
  GatedWrites gate;
  EngineOptions o = Options();
  {
    auto engine = Open(o, &gate);
    ASSERT_TRUE(engine->Emit("s", Draft(0)).value().Wait(Far()).ok());
    ASSERT_TRUE(engine->Emit("x", Draft(0)).value().Wait(Far()).ok());
    gate.HoldNextThenFailSecondFsync();
    auto held = engine->Emit("x", Draft(1));
    gate.WaitUntilHeld();
    std::vector<Ticket> failed;
    for (int i = 1; i <= 5; ++i) failed.push_back(engine->Emit("s", Draft(i)).value());
    for (int i = 0; i < 2000; ++i) {
      if (testing::MetricValue(engine->MetricsText(), "audit_worker_queue_depth") == 5) break;
      std::this_thread::sleep_for(milliseconds(5));
    }
    gate.Release();
    for (const Ticket& t : failed) EXPECT_EQ(t.Wait(Far()).code(), Code::kIo);
    (void)engine->Close(Far());
  }
  // The fdatasync failed after the write reached the file: without the cut, recovery would
  // find five valid frames whose tickets failed.
  auto engine = Open(o);
  EXPECT_EQ(engine->State("svc-test@inst-1", "s").head_seq, 1u);
  auto t = engine->Emit("s", Draft(9));
  ASSERT_TRUE(t.ok());
  const auto r = t.value().Wait(Far());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value().seq, 2u);
}

TEST_F(ContractTest, OptionsThatCouldNeverWorkAreRefusedAtOpen) {
  EngineOptions o = Options();
  o.max_batch_records = 0;  // spun a worker at 100 % CPU writing nothing
  auto r = Engine::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("max_batch_records"), std::string::npos);
  o = Options();
  o.writer_id = std::string(128, ':');  // 384 bytes escaped: no directory can have that name
  r = Engine::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("writer_id"), std::string::npos) << r.status().ToString();
  o = Options();
  o.max_streams_per_worker = 0;
  EXPECT_FALSE(Engine::Open(o).ok());
  o = Options();
  o.journal_hold_bytes = (1u << 20) + 1;
  r = Engine::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kSchema);
  EXPECT_NE(r.status().message().find("journal_hold_bytes"), std::string::npos);
  o.journal_hold_bytes = 1u << 20;
  r = Engine::Open(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r.value()->Close(Far()).ok());
}

// The log callback: a throw is swallowed and counted; Close, Flush and Wait from inside it answer
// Busy at once instead of waiting for the thread the callback runs on.
TEST_F(ContractTest, TheLogCallbackCanNeitherThrowIntoNorWaitForTheEngine) {
  EngineOptions o = Options();
  std::atomic<Engine*> engine_ptr{nullptr};
  std::atomic<int> lines{0};
  std::mutex mu;
  std::vector<Status> from_callback;
  o.log_appends = true;
  o.log = [&](std::string_view) {
    if (Engine* e = engine_ptr.load(); e != nullptr && lines.fetch_add(1) < 3) {
      std::lock_guard<std::mutex> lock(mu);
      from_callback.push_back(e->Flush(Far()));
      from_callback.push_back(e->Close(Far()));
      auto t = e->Emit("s", Draft(7));
      if (t.ok()) from_callback.push_back(t.value().Wait(Far()).status());
    }
    throw std::runtime_error("a host's logger failed");
  };
  auto engine = Open(o);
  engine_ptr = engine.get();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(engine->Emit("s", Draft(i)).value().Wait(Far()).ok());
  ASSERT_TRUE(engine->Close(Far()).ok());
  engine_ptr = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(from_callback.empty());
  for (const Status& s : from_callback) {
    if (!s.ok()) {
      EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
    }
  }
  EXPECT_GE(testing::MetricValue(engine->MetricsText(), "audit_log_callback_errors_total"), 10);
}

TEST_F(ContractTest, SmallMisusesAreErrorsNotCrashes) {
  Ticket moved(nullptr);
  EXPECT_EQ(moved.Wait(Far()).code(), Code::kSchema);
  EXPECT_TRUE(moved.done());
  EXPECT_EQ(Seal(CanonicalRecord()), "");  // an unfilled record has no sealed text
}

// A relative wal.dir is resolved at Open: a host that chdir()s afterwards keeps writing there.
TEST_F(ContractTest, ARelativeWalDirIsResolvedAtOpen) {
  const fs::path cwd = fs::current_path();
  fs::current_path(tmp_.path());
  EngineOptions o = Options();
  o.config.wal.dir = "wal";
  auto engine = Open(o);
  fs::current_path("/");
  auto t = engine->Emit("s", Draft(1));
  ASSERT_TRUE(t.ok());
  const auto r = t.value().Wait(Far());
  fs::current_path(cwd);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(engine->Close(Far()).ok());
  EXPECT_TRUE(fs::exists(WalDir() + "/svc-test@inst-1/s"));
}

// Label values use the exposition format's escaping (a tab is literal, not \t), and a stream
// name held by two workers is one series: promtool accepts the page.
TEST_F(ContractTest, TheMetricsPagePassesPromtoolWhateverTheNames) {
  EngineOptions o = Options();
  o.config.workers = 2;
  o.service = "svc\tgw \"quoted\" \\";
  auto engine = Open(o);
  for (const char* writer : {"w-a", "w-b", "w-c", "w-d"}) {  // spread over both workers
    const auto chain = SealedChain(writer, "same", 1);
    ASSERT_TRUE(engine->AppendSealed(chain[0], Far()).ok());
  }
  const std::string page = engine->MetricsText();
  const auto check = testing::RunCommand({"/usr/bin/promtool", "check", "metrics"}, page);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  int series = 0;
  for (const std::string& line : testing::SplitLines(page)) {
    series += line.rfind("audit_queue_depth{", 0) == 0 &&
              line.find("stream=\"same\"") != std::string::npos;
  }
  EXPECT_LE(series, 1);
}

}  // namespace
}  // namespace ron

namespace ron {
namespace {

// Read near the head reads one segment, not the stream from seq 1 (segment headers carry
// first_seq): proven by damaging the oldest segment under a running engine, which a read of
// the head never touches. max_records = 0 asks for nothing, in every profile.
TEST_F(ContractTest, ReadSeeksBySeqAndZeroRecordsMeansNone) {
  EngineOptions o = Options();
  o.config.wal.rotate_bytes = 8ull << 20;
  auto engine = Open(o);
  std::vector<Ticket> tickets;
  for (int i = 0; i < 60000; ++i) tickets.push_back(engine->Emit("s", Draft(i)).value());
  for (const Ticket& t : tickets) ASSERT_TRUE(t.Wait(Far()).ok());
  const std::string dir = wal::StreamDir(WalDir(), "svc-test@inst-1", "s");
  const std::string oldest = dir + "/" + "wal-000001.seg";
  ASSERT_TRUE(fs::exists(dir + "/wal-000002.seg")) << "the stream must span segments";
  {
    std::fstream f(oldest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 20);  // inside the first frame
    f.write("####", 4);
  }
  const auto head = engine->Read("svc-test@inst-1", "s", 60000, 10, Far());
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  ASSERT_EQ(head.value().size(), 1u);
  EXPECT_NE(head.value()[0].find("\"seq\":60000,"), std::string::npos);
  EXPECT_FALSE(engine->Read("svc-test@inst-1", "s", 1, 10, Far()).ok());  // the damage is real
  const auto none = engine->Read("svc-test@inst-1", "s", 59990, 0, Far());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none.value().empty());
  (void)engine->Close(Far());

  EngineOptions ram;
  ram.writer_id = "w";
  auto in_ram = Open(ram);
  ASSERT_TRUE(in_ram->Emit("s", Draft(1)).value().Wait(Far()).ok());
  const auto ram_none = in_ram->Read("w", "s", 1, 0, Far());
  ASSERT_TRUE(ram_none.ok());
  EXPECT_TRUE(ram_none.value().empty());
}

}  // namespace
}  // namespace ron

namespace ron {
namespace {

// Ready() and ReadinessJson() give one verdict: a frozen stream makes both say not ready.
TEST_F(ContractTest, ReadyAgreesWithTheReadinessPayload) {
  EngineOptions o = Options();
  {
    auto engine = Open(o);
    ASSERT_TRUE(engine->Emit("s", Draft(1)).value().Wait(Far()).ok());
    EXPECT_TRUE(engine->Ready());
    EXPECT_NE(engine->ReadinessJson().find("\"degraded\":false"), std::string::npos);
    ASSERT_TRUE(engine->Close(Far()).ok());
  }
  const std::string seg = wal::StreamDir(WalDir(), "svc-test@inst-1", "s") + "/wal-000001.seg";
  fs::resize_file(seg, 4200);  // a sealed segment cut short: the stream opens frozen
  auto engine = Open(o);
  std::string why;
  EXPECT_FALSE(engine->Ready(&why));
  EXPECT_EQ(why, "audit.wal_ready");
  EXPECT_NE(engine->ReadinessJson().find("\"degraded\":true"), std::string::npos)
      << engine->ReadinessJson();
}

}  // namespace
}  // namespace ron

namespace ron {
namespace {

// More streams than descriptors: under `ulimit -n 128` an engine writes 300 streams. None fails
// (idle streams' segment files are closed and reopened within a budget derived from the
// limit), the host keeps descriptors of its own, and Ready() and the readiness payload agree.
TEST_F(ContractTest, MoreStreamsThanDescriptorsAllWrite) {
  EngineOptions o = Options();
  o.config.workers = 2;
  const auto child = [&] {
    rlimit limit{128, 128};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(3);
    auto opened = Engine::Open(o);
    if (!opened.ok()) _exit(4);
    Engine& engine = *opened.value();
    std::vector<Ticket> tickets;
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < 300; ++i) {
        auto t = engine.Emit("s" + std::to_string(i), Draft(i));
        if (!t.ok()) _exit(5);
        tickets.push_back(t.value());
      }
    }
    for (const Ticket& t : tickets) {
      if (const auto r = t.Wait(Far()); !r.ok()) {
        std::fprintf(stderr, "ticket: %s\n", r.status().ToString().c_str());
        _exit(6);
      }
    }
    if (!engine.Ready() || engine.ReadinessJson().find("\"degraded\":false") == std::string::npos) {
      _exit(7);
    }
    const int fd = open("/dev/null", O_RDONLY);  // the host still has descriptors
    if (fd < 0) _exit(8);
    close(fd);
    _exit(engine.Close(Far()).ok() ? 0 : 9);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
  auto engine = Open(Options());  // and everything is there
  EXPECT_EQ(engine->State("svc-test@inst-1", "s299").head_seq, 2u);
}

// OfferSealed keeps many sealed records in flight from one caller, applied in the order
// offered; each ticket says Appended or Duplicate once durable, as AppendSealed would.
TEST_F(ContractTest, OfferSealedPipelinesAndTellsDuplicates) {
  auto engine = Open(Options());
  const auto chain = SealedChain("w", "s", 2000);
  std::vector<Ticket> tickets;
  for (const std::string& sealed : chain) {
    auto t = engine->OfferSealed(sealed);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tickets.push_back(t.value());
  }
  for (size_t i = 0; i < tickets.size(); ++i) {
    const auto r = tickets[i].Wait(Far());
    ASSERT_TRUE(r.ok()) << i << " " << r.status().ToString();
    EXPECT_EQ(r.value().seq, i + 1);
    EXPECT_EQ(tickets[i].outcome(), AppendOutcome::kAppended);
  }
  auto again = engine->OfferSealed(chain[1000]);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again.value().Wait(Far()).ok());
  EXPECT_EQ(again.value().outcome(), AppendOutcome::kDuplicate);
  EXPECT_EQ(again.value().Wait(Far()).value().seq, 1001u);
  // A record that does not verify is answered at once, not through a ticket.
  std::string changed = chain[5];
  changed[changed.find("\"i\":") + 4] ^= 1;
  EXPECT_EQ(engine->OfferSealed(changed).code(), Code::kHashMismatch);
  EXPECT_EQ(engine->State("w", "s").head_seq, 2000u);
}

// OfferSealedMany gives every record the verdict OfferSealed would, in order: a mix of good
// records, a changed one (HashMismatch), a non-canonical one (Schema), a duplicate and a gap,
// offered as one call, lands exactly the good ones.
TEST_F(ContractTest, OfferSealedManyGivesEachRecordOfferSealedsVerdict) {
  auto engine = Open(Options());
  const auto chain = SealedChain("w", "s", 300);
  std::string changed = chain[100];
  size_t digit = changed.find("\"i\":") + 4;  // the last digit of attrs.i: still canonical
  while (changed[digit + 1] >= '0' && changed[digit + 1] <= '9') ++digit;
  changed[digit] ^= 1;
  const std::string spaced = " " + chain[101];
  std::vector<std::string_view> offer;
  for (size_t i = 0; i < 100; ++i) offer.push_back(chain[i]);  // seq 1..100
  offer.push_back(changed);    // HashMismatch
  offer.push_back(spaced);     // Schema (not canonical)
  offer.push_back(chain[50]);  // Duplicate of seq 51
  offer.push_back(chain[200]); // SeqGap: seq 201 after head 100
  for (size_t i = 100; i < 300; ++i) offer.push_back(chain[i]);  // seq 101..300
  std::vector<Result<Ticket>> results;
  ASSERT_EQ(engine->OfferSealedMany(offer, &results), offer.size());
  ASSERT_EQ(results.size(), offer.size());
  EXPECT_EQ(results[100].code(), Code::kHashMismatch);
  EXPECT_EQ(results[101].code(), Code::kSchema);
  for (size_t i = 0; i < results.size(); ++i) {
    if (i == 100 || i == 101) continue;
    ASSERT_TRUE(results[i].ok()) << i << " " << results[i].status().ToString();
    const auto r = results[i].value().Wait(Far());
    if (i == 103) {
      EXPECT_EQ(r.code(), Code::kSeqGap);
      continue;
    }
    ASSERT_TRUE(r.ok()) << i << " " << r.status().ToString();
    EXPECT_EQ(results[i].value().outcome(),
              i == 102 ? AppendOutcome::kDuplicate : AppendOutcome::kAppended);
    EXPECT_EQ(r.value().seq, i < 100 ? i + 1 : i == 102 ? 51 : i - 3);
  }
  EXPECT_EQ(engine->State("w", "s").head_seq, 300u);
  // The records stored are the chain, byte for byte.
  EXPECT_EQ(engine_test::StoredIn(WalDir(), "w", "s"), chain);
}

// OfferSealedMany stops after the first Busy: what follows was not offered, and offering it
// again from there (once the writer caught up) lands every record once, in order.
TEST_F(ContractTest, OfferSealedManyStopsAtBusyAndResumes) {
  auto engine = Open(Options(/*queue_depth=*/16));
  const auto chain = SealedChain("w", "s", 400);
  const std::vector<std::string_view> all(chain.begin(), chain.end());
  std::vector<Ticket> tickets;
  size_t at = 0, busy = 0;
  while (at < all.size()) {
    std::vector<Result<Ticket>> results;
    const size_t n = engine->OfferSealedMany(std::span(all).subspan(at), &results);
    ASSERT_EQ(n, results.size());
    ASSERT_GT(n, 0u);
    for (size_t k = 0; k < n; ++k) {
      if (!results[k].ok()) {
        ASSERT_EQ(results[k].code(), Code::kBusy);
        ASSERT_EQ(k, n - 1) << "nothing is offered after a Busy";
        ++busy;
        ASSERT_TRUE(tickets.back().Wait(Far()).ok());  // let the writer catch up
        break;
      }
      tickets.push_back(results[k].value());
      ++at;
    }
  }
  EXPECT_GT(busy, 0u) << "a 16-deep queue should have refused some of 400 records at once";
  for (size_t i = 0; i < tickets.size(); ++i) {
    const auto r = tickets[i].Wait(Far());
    ASSERT_TRUE(r.ok()) << i << " " << r.status().ToString();
    EXPECT_EQ(r.value().seq, i + 1);
  }
  EXPECT_EQ(engine_test::StoredIn(WalDir(), "w", "s"), chain);
}

// A log callback may call OfferSealedMany again on the same thread (it runs inside the outer
// call, at the audit.verify.fail of a bad record): both calls land all their good records.
TEST_F(ContractTest, OfferSealedManyFromTheLogCallbackOfAnotherCall) {
  const auto outer = SealedChain("w", "outer", 300);
  const auto inner = SealedChain("w", "inner", 300);
  const std::vector<std::string_view> inner_views(inner.begin(), inner.end());
  Engine* engine_ptr = nullptr;
  std::vector<Result<Ticket>> inner_results;
  bool nested = false;
  EngineOptions o = Options();
  o.log = [&](std::string_view line) {
    if (nested || line.find("audit.verify.fail") == std::string_view::npos) return;
    nested = true;
    engine_ptr->OfferSealedMany(inner_views, &inner_results);
  };
  auto engine = Open(o);
  engine_ptr = engine.get();
  std::string changed = outer[0];
  size_t digit = changed.find("\"i\":") + 4;
  while (changed[digit + 1] >= '0' && changed[digit + 1] <= '9') ++digit;
  changed[digit] ^= 1;
  std::vector<std::string_view> offer(outer.begin(), outer.begin() + 150);
  offer.push_back(changed);  // HashMismatch: logged, and the callback offers `inner`
  offer.insert(offer.end(), outer.begin() + 150, outer.end());
  std::vector<Result<Ticket>> results;
  ASSERT_EQ(engine->OfferSealedMany(offer, &results), offer.size());
  EXPECT_TRUE(nested);
  EXPECT_EQ(results[150].code(), Code::kHashMismatch);
  ASSERT_EQ(inner_results.size(), inner.size());
  for (auto* rs : {&results, &inner_results}) {
    for (auto& r : *rs) {
      if (r.ok()) {
        ASSERT_TRUE(r.value().Wait(Far()).ok());
      }
    }
  }
  EXPECT_EQ(engine_test::StoredIn(WalDir(), "w", "outer"), outer);
  EXPECT_EQ(engine_test::StoredIn(WalDir(), "w", "inner"), inner);
}

// The public defaults are the limits of engine/core/limits.h, where they are related to the
// rest.
TEST(LimitsTest, EngineOptionsDefaultsAreTheLimits) {
  const EngineOptions o;
  EXPECT_EQ(o.max_streams_per_worker, limits::kMaxStreamsPerWorker);
  EXPECT_EQ(o.max_batch_records, limits::kMaxBatchRecords);
  EXPECT_EQ(Engine::kMaxReadRecords, limits::kMaxReadRecords);
}

}  // namespace
}  // namespace ron
