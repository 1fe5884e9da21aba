// A writer stages a batch's drafts together (engine/worker.cc: QueueEmit, StageEmits): their
// hashes are started in SIMD lanes before any prev is known. Held here to the one-at-a-time
// path: every stored record, receipt and verdict is what CanonicalizeDraft gives one draft
// after another, with streams interleaved, drafts refused inside the batch (their seqs go to
// the next draft), imports into a stream between its drafts, retries of records still queued,
// flushes between them, and records of one to three BLAKE3 chunks.
#include <gtest/gtest.h>
#include <malloc.h>

#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/hash.h"
#include "ron_audit/engine.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RON_SANITIZER_HEAP 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RON_SANITIZER_HEAP 1
#endif
#ifdef RON_SANITIZER_HEAP
#include <sanitizer/allocator_interface.h>
#endif

namespace ron {
namespace {

constexpr const char* kWriter = "svc-test@inst-1";
constexpr uint64_t kTs = 1700000000000;

// A draft whose subject name is `pad` bytes long (records of one to three BLAKE3 chunks).
std::string DraftOfLength(int i, size_t pad) {
  return R"({"ts_ms":)" + std::to_string(kTs + i) +
         R"(,"kind":"GetServed","actor":{"cap_id":"u)" + std::to_string(i % 17) +
         R"("},"subject":{"name":")" + std::string(pad, 'x') +
         R"("},"reason":"ok","attrs":{"i":)" + std::to_string(i) + "}}";
}

// A stream's chain as one draft after another would make it.
struct Chain {
  uint64_t seq = 0;
  Digest head{};
  Status Next(Canonicalizer* c, const std::string& stream, const std::string& draft,
              CanonicalRecord* out) {
    char buf[kHashTextBytes];
    const Canonicalizer::DraftContext dc{kWriter, stream, seq + 1, HeadText(seq, head, buf), 0};
    Status st = c->CanonicalizeDraft(draft, dc, out);
    if (st.ok()) {
      seq = out->record.seq;
      head = out->digest;
    }
    return st;
  }
};

TEST(EmitBatchTest, BatchedDraftsAreStoredAsOneAtATimeWouldStoreThem) {
  testing::TempDir tmp;
  const std::string wal = tmp.path() + "/wal";
  EngineOptions o = engine_test::WalEngineOptions(wal, 1, 100000);
  o.canonicalize_in_emit = false;  // drafts are read on the writer, inside its batch
  engine_test::SlowWrites slow(5);  // records queue meanwhile: batches of hundreds
  auto engine = engine_test::OpenEngine(o, &slow);
  ASSERT_NE(engine, nullptr);

  // A draft whose prepared record (seq 1, prev b3:0) is just under the bound: the real seq and
  // a 67-character prev take it over, so it is refused once its place in the stream is known.
  Canonicalizer c;
  size_t near_limit_pad = 0;
  for (size_t pad = 3000;; ++pad) {
    CanonicalRecord r;
    const Canonicalizer::DraftContext dc{kWriter, "b", 1, kGenesisPrev, 0};
    ASSERT_TRUE(c.CanonicalizeDraft(DraftOfLength(0, pad), dc, &r).ok()) << pad;
    if (r.bytes.size() + 20 > Limits().max_record_bytes) {
      near_limit_pad = pad;
      break;
    }
  }

  const std::vector<std::string> streams = {"a", "b", "c"};
  // Every call, with the verdict one record after another gives it (the reference chains).
  struct Sent {
    std::string what;
    Result<Ticket> ticket;
    Status expected;
    Receipt receipt;  // when expected is Ok
    AppendOutcome outcome = AppendOutcome::kAppended;
  };
  std::vector<Sent> sent;
  std::map<std::string, Chain> chains;
  std::map<std::string, std::vector<std::string>> stored;  // what each stream must hold
  const auto sealed_of = [](const CanonicalRecord& r) {
    std::string sealed;
    AppendSealed(r.bytes, r.digest, &sealed);
    return sealed;
  };
  std::mt19937 rng(7);
  std::thread flusher([&] {  // flushes land between the drafts of a batch
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(engine->Flush(engine_test::In(std::chrono::seconds(60))).ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });
  size_t refused = 0, near_limit_refused = 0, retries = 0;
  for (int i = 0; i < 1500; ++i) {
    const std::string& stream = streams[i % 5 == 0 ? rng() % 3 : i % 2];
    std::string draft = DraftOfLength(i, (static_cast<size_t>(i) * 37) % 1900);
    if (i % 41 == 7) draft = R"({"kind":"GetServed","seq":3,"actor":{},"subject":{},"reason":"x"})";
    if (i % 97 == 13) draft = DraftOfLength(i, near_limit_pad);
    CanonicalRecord want;
    const Status st = chains[stream].Next(&c, stream, draft, &want);
    if (st.ok()) {
      stored[stream].push_back(sealed_of(want));
    } else {
      ++refused;
      near_limit_refused += st.code() == Code::kRecordTooLarge;
    }
    sent.push_back({"emit " + stream + " #" + std::to_string(i), engine->Emit(stream, draft), st,
                    {want.record.seq, want.digest}});
    if (i % 61 == 0) {  // stream a's next record sealed elsewhere: imported between its drafts
      ASSERT_TRUE(chains["a"].Next(&c, "a", DraftOfLength(i, 10), &want).ok());
      stored["a"].push_back(sealed_of(want));
      sent.push_back({"import a #" + std::to_string(i), engine->OfferSealed(stored["a"].back()),
                      Status::Ok(), {want.record.seq, want.digest}});
    }
    if (i % 53 == 0 && !stored["b"].empty()) {  // a retry of b's newest record (often queued)
      ++retries;
      sent.push_back({"retry b #" + std::to_string(i), engine->OfferSealed(stored["b"].back()),
                      Status::Ok(), {chains["b"].seq, chains["b"].head},
                      AppendOutcome::kDuplicate});
    }
  }
  flusher.join();

  for (Sent& s : sent) {
    ASSERT_TRUE(s.ticket.ok()) << s.what << ": " << s.ticket.status().ToString();
    const Result<Receipt> got = s.ticket.value().Wait(engine_test::In(std::chrono::seconds(60)));
    if (!s.expected.ok()) {
      ASSERT_FALSE(got.ok()) << s.what;
      EXPECT_EQ(got.status().code(), s.expected.code())
          << s.what << ": " << got.status().ToString();
      continue;
    }
    ASSERT_TRUE(got.ok()) << s.what << ": " << got.status().ToString();
    EXPECT_EQ(got.value().seq, s.receipt.seq) << s.what;
    EXPECT_EQ(got.value().self_hash, s.receipt.self_hash) << s.what;
    EXPECT_EQ(s.ticket.value().outcome(), s.outcome) << s.what;
  }
  EXPECT_GT(refused, 30u);
  EXPECT_GT(near_limit_refused, 10u);  // refused by the splice, not by the draft's own reading
  EXPECT_GT(retries, 20u);
  ASSERT_TRUE(engine->Close(engine_test::In(std::chrono::seconds(60))).ok());
  for (const std::string& stream : streams) {
    EXPECT_EQ(engine_test::StoredIn(wal, kWriter, stream), stored[stream]) << stream;
  }
}

// Bytes the process has allocated and not freed (the sanitizers' allocator has its own count).
size_t LiveHeapBytes() {
#ifdef RON_SANITIZER_HEAP
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
#endif
}

// A writer keeps what it reuses from batch to batch (the queued records it stages together,
// the answered tasks in the queue's slots) while work keeps coming, and frees it once none came
// for a while (limits::kIdleRelease): an idle engine keeps no record's memory, only emptied
// buffers (docs/API.md).
TEST(EmitBatchTest, AnIdleWriterFreesTheRecordsItKeptForItsBatches) {
  testing::TempDir tmp;
  EngineOptions o = engine_test::WalEngineOptions(tmp.path() + "/wal", 1, 1024);
  o.max_batch_records = 256;  // a batch's bytes stay below the bound checked below
  o.preallocate_segments = false;  // no zero-fill (and its buffer) running at the end
  engine_test::SlowWrites slow(5);  // records queue meanwhile: full batches
  auto engine = engine_test::OpenEngine(o, &slow);
  ASSERT_NE(engine, nullptr);
  constexpr int kDrafts = 600;
  const auto emit_all = [&](int first, size_t pad) {
    std::vector<Ticket> tickets;
    for (int i = first; i < first + kDrafts; ++i) {
      auto t = engine->Emit("s", DraftOfLength(i, pad));
      ASSERT_TRUE(t.ok()) << i << ": " << t.status().ToString();
      tickets.push_back(t.value());
    }
    for (Ticket& t : tickets) {
      ASSERT_TRUE(t.Wait(engine_test::In(std::chrono::seconds(60))).ok());
    }
  };
  const auto idle = 10 * limits::kIdleRelease;
  // Small records first: the queue's slots and the writer's lists reach their size.
  emit_all(0, 10);
  std::this_thread::sleep_for(idle);
  const size_t before = LiveHeapBytes();
  // Records of ~3.5 KiB: 2 MiB in all. Kept past the idle turn, the 600 answered tasks would
  // hold 2.1 MiB, the last batch's 256 queued records 0.9 MiB, and the stream's WAL write
  // buffer a batch's bytes, 0.9 MiB (what stays when all are freed: ~0.07 MiB, measured, and
  // up to ~0.3 MiB more if the queue's list of tasks to free grew in this round).
  emit_all(kDrafts, 3400);
  const size_t bound = before + (768 << 10);
  size_t after = 0;
  for (int i = 0; i < 250; ++i) {  // the writer's idle turn, on a loaded machine too
    std::this_thread::sleep_for(idle);
    after = LiveHeapBytes();
    if (after < bound) break;
  }
  EXPECT_LT(after, bound) << "before " << before << ", after " << after;
  ASSERT_TRUE(engine->Close(engine_test::In(std::chrono::seconds(60))).ok());
}

}  // namespace
}  // namespace ron
