// Micro benchmarks of the record law (make bench). Not timed tests: the numbers go into
// docs/PERFORMANCE_LOG.md together with the baseline measured in the same run (a bare BLAKE3 of the
// same canonical bytes), so the JSON work can be read as a ratio.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "checkpoint/merkle.h"
#include "engine/core/canonical.h"
#include "engine/core/hash.h"
#include "engine/privacy.h"

namespace {

// A realistic record whose canonical form is ~1 KiB (attrs well under its 1 KiB bound).
std::string Record1KiB() {
  std::string attrs =
      R"({"route":"/o/9c1e5d07","status":200,"bytes":48213,"cache":"miss","tags":["eu-west","tier-2","h2"],"client_net":"203.0.113.0/24","trace":")";
  attrs += std::string(484, 'a');
  attrs += R"(","retry":false,"upstream":{"name":"origin-7","latency_us":1840}})";
  return R"({"v":1,"ts_ms":1763800000000,"writer_id":"svc-gateway@inst-1","seq":123456,"stream":"ingress","kind":"GetServed","actor":{"passport_id":"u:7f3a","cap_id":"cap:gw-read"},"subject":{"content_id":"b3:9c1e5d0712aa","name":"objects/9c1e5d07"},"reason":"ok","attrs":)" +
         attrs +
         R"(,"prev":"b3:8cb6565cc32a09444e693d809bf86ec63698e51be39a98f3163fed5c1cc1e2f8"})";
}

void BM_Blake3Of1KiBRecord(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord r;
  if (!c.Canonicalize(Record1KiB(), &r).ok()) state.SkipWithError("bad record");
  for (auto _ : state) benchmark::DoNotOptimize(ron::Blake3(r.bytes));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * r.bytes.size()));
  state.counters["canonical_bytes"] = static_cast<double>(r.bytes.size());
}
BENCHMARK(BM_Blake3Of1KiBRecord);

// The same bytes hashed `state.range(0)` records at a time (Blake3Batch, SIMD lanes across
// records): what verifiers pay per record for records whose self_hash they check.
void BM_Blake3BatchOf1KiBRecords(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord r;
  if (!c.Canonicalize(Record1KiB(), &r).ok()) state.SkipWithError("bad record");
  const size_t n = static_cast<size_t>(state.range(0));
  // range(1): 0 the canonical record, 1 its first 1024 bytes, 2 it plus 100 bytes (two chunks:
  // the size of most stored records, whose canonical form is just over 1 KiB).
  const std::string bytes = state.range(1) == 0   ? r.bytes
                            : state.range(1) == 1 ? r.bytes.substr(0, 1024)
                                                  : r.bytes + std::string(100, 'x');
  std::vector<std::string> messages(n, bytes);
  for (size_t i = 0; i < n; ++i) messages[i][i % bytes.size()] ^= 1;  // all distinct
  std::vector<std::string_view> views(messages.begin(), messages.end());
  std::vector<ron::Digest> out(n);
  ron::Blake3Batch batch;
  batch.UseFinalBlockLanes(state.range(2) != 0);  // range(2): final blocks 16 at a time
  for (auto _ : state) {
    batch.Hash(views.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * bytes.size()));
  state.counters["records/s"] = benchmark::Counter(static_cast<double>(state.iterations() * n),
                                                   benchmark::Counter::kIsRate);
  state.counters["message_bytes"] = static_cast<double>(bytes.size());
  state.counters["final_block_lanes"] = batch.final_block_lanes() ? 1 : 0;
}
BENCHMARK(BM_Blake3BatchOf1KiBRecords)->ArgsProduct({{1, 16, 64}, {0, 1, 2}, {0, 1}});

// 256 messages of lengths spread over [range(0), range(1)] (a fixed pseudo-random draw), as a
// stream's stored records are: several block counts per batch, final blocks of every length.
void BM_Blake3BatchMixedSizes(benchmark::State& state) {
  const auto low = static_cast<size_t>(state.range(0)), high = static_cast<size_t>(state.range(1));
  std::vector<std::string> messages(256);
  uint64_t x = 0x9E3779B97F4A7C15;
  for (std::string& m : messages) {
    x = x * 6364136223846793005 + 1442695040888963407;
    m.resize(low + (x >> 33) % (high - low + 1));
    for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<char>('a' + (x >> (i % 32)) % 26);
  }
  std::vector<std::string_view> views(messages.begin(), messages.end());
  std::vector<ron::Digest> out(views.size());
  ron::Blake3Batch batch;
  for (auto _ : state) {
    batch.Hash(views.data(), views.size(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * views.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Blake3BatchMixedSizes)->Args({949, 1006})->Args({300, 1020})->Args({1100, 2000});

void BM_CanonicalizeAndHash1KiB(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord r;
  const std::string input = Record1KiB();
  for (auto _ : state) {
    if (!c.Canonicalize(input, &r).ok()) state.SkipWithError("canonicalize failed");
    benchmark::DoNotOptimize(r.digest);
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CanonicalizeAndHash1KiB);

// Emit's two halves for a draft of the same record: PrepareDraft on the caller's thread (parse,
// NFC, field rules, canonical form with seq 1 and prev b3:0), into a reused record as Emit does;
// CompleteDraft on the stream's owner (splice in seq and prev, hash), consuming the prepared
// record as the writer thread does.
std::string Draft1KiB() {
  const std::string record = Record1KiB();
  const size_t kind = record.find(",\"kind\":");
  const size_t prev = record.rfind(",\"prev\":");
  return "{" + record.substr(kind + 1, prev - kind - 1) + "}";
}

// range(0): 1 the one-pass reading of drafts as hosts write them (the default), 0 the full
// parser for every draft. The draft is compact ASCII with its actor and attrs keys unsorted.
void BM_PrepareDraft1KiB(benchmark::State& state) {
  ron::Canonicalizer c;
  c.UseDraftFastPath(state.range(0) != 0);
  ron::CanonicalRecord r;
  const std::string draft = Draft1KiB();
  const ron::Canonicalizer::DraftContext ctx{"svc-gateway@inst-1", "ingress", 1, "b3:0",
                                             1763800000000};
  for (auto _ : state) {
    if (!c.PrepareDraft(draft, ctx, &r).ok()) state.SkipWithError("prepare failed");
    benchmark::DoNotOptimize(r.bytes.data());
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["read_fast"] = static_cast<double>(c.drafts_read_fast() > 0);
}
BENCHMARK(BM_PrepareDraft1KiB)->Arg(0)->Arg(1);

void BM_CompleteDraft1KiB(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord prepared, out;
  const ron::Canonicalizer::DraftContext ctx{"svc-gateway@inst-1", "ingress", 1, "b3:0",
                                             1763800000000};
  if (!c.PrepareDraft(Draft1KiB(), ctx, &prepared).ok()) state.SkipWithError("bad draft");
  const std::string prev = "b3:8cb6565cc32a09444e693d809bf86ec63698e51be39a98f3163fed5c1cc1e2f8";
  uint64_t seq = 123456;
  for (auto _ : state) {
    if (!ron::Canonicalizer::CompleteDraft(prepared, ++seq, prev, c.limits(), &out).ok()) {
      state.SkipWithError("complete failed");
    }
    benchmark::DoNotOptimize(out.digest);
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CompleteDraft1KiB);

// A writer's batch of 256 drafts of one stream, chained: record n+1 holds the hash of record n.
// range(0) 0: CompleteDraft one after another (splice, then the one-message BLAKE3 of each);
// 1: as the writer thread stages a batch (engine/worker.cc) — every record spliced with a
// stand-in prev, the blocks before prev hashed in lanes across the batch (Blake3Prefix), then
// each prev written and its last blocks compressed (tests/engine/emit_batch_test.cc holds the
// two to the same records).
void BM_ChainBatchOf1KiBDrafts(benchmark::State& state) {
  constexpr size_t kBatch = 256;
  ron::Canonicalizer c;
  ron::CanonicalRecord prepared;
  const ron::Canonicalizer::DraftContext ctx{"svc-gateway@inst-1", "ingress", 1, "b3:0",
                                             1763800000000};
  if (!c.PrepareDraft(Draft1KiB(), ctx, &prepared).ok()) state.SkipWithError("bad draft");
  std::vector<ron::CanonicalRecord> records(kBatch);
  std::vector<ron::CanonicalRecord> drafts(kBatch, prepared);  // SpliceDraft moves their fields
  std::vector<std::string_view> views(kBatch);
  std::vector<size_t> tails(kBatch);
  ron::Blake3Prefix prefix;
  const std::string stand_in = "b3:" + std::string(64, '0');
  ron::Digest head{};
  uint64_t seq = 123456;
  for (auto _ : state) {
    char text[ron::kHashTextBytes];
    if (state.range(0) == 0) {
      for (ron::CanonicalRecord& r : records) {
        const std::string_view prev = ron::HeadText(seq, head, text);
        if (!ron::Canonicalizer::CompleteDraft(prepared, ++seq, prev, c.limits(), &r).ok()) {
          state.SkipWithError("complete failed");
        }
        head = r.digest;
      }
    } else {
      for (size_t i = 0; i < kBatch; ++i) {
        ron::CanonicalRecord& r = records[i];
        if (!ron::Canonicalizer::SpliceDraft(&drafts[i], seq + 1 + i, stand_in, c.limits(), &r)
                 .ok()) {
          state.SkipWithError("splice failed");
        }
        views[i] = r.bytes;
        tails[i] = r.bytes.size() - 2 - stand_in.size();
      }
      prefix.Start(views.data(), tails.data(), kBatch);
      for (size_t i = 0; i < kBatch; ++i) {
        ron::CanonicalRecord& r = records[i];
        ron::FormatHashText(head, r.bytes.data() + tails[i]);
        r.digest = head = prefix.Finish(i, r.bytes);
      }
      seq += kBatch;
      state.PauseTiming();  // the prepared drafts back, as the next batch's tasks bring them
      for (size_t i = 0; i < kBatch; ++i) {
        std::swap(drafts[i].record, records[i].record);
        drafts[i].record.seq = 1;
        drafts[i].record.prev = "b3:0";
      }
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(head);
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kBatch), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ChainBatchOf1KiBDrafts)->Arg(0)->Arg(1);

void BM_VerifySealed1KiB(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord r;
  if (!c.Canonicalize(Record1KiB(), &r).ok()) state.SkipWithError("bad record");
  const std::string sealed = ron::Seal(r);
  for (auto _ : state) {
    if (!c.VerifySealed(sealed, &r).ok()) state.SkipWithError("verify failed");
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifySealed1KiB);

// The reader's walk of a stored record: what the forensic verifier, Read and recovery pay per
// record besides the hash and the copy from the file. range(0): 0 Canonicalizer::CheckCanonical
// (every field but attrs kept), 1 CheckChain (the chain fields only: what the verifier and the
// WAL's readers call).
void BM_CheckCanonical1KiB(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord r;
  if (!c.Canonicalize(Record1KiB(), &r).ok()) state.SkipWithError("bad record");
  const bool chain = state.range(0) == 1;
  ron::Record out;
  for (auto _ : state) {
    if (!(chain ? c.CheckChain(r.bytes, &out) : c.CheckCanonical(r.bytes, &out))) {
      state.SkipWithError("not canonical");
    }
    benchmark::DoNotOptimize(out);
  }
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CheckCanonical1KiB)->ArgName("chain_only")->Arg(0)->Arg(1);

// privacy.ip_mode's scan of every attrs string of a 1 KiB record (no address in it: the common
// case, where every string is looked at and none rewritten), next to the hash of the same record.
void BM_IpPolicyScan1KiBAttrs(benchmark::State& state) {
  ron::Canonicalizer c;
  ron::CanonicalRecord r;
  if (!c.Canonicalize(Record1KiB(), &r).ok()) state.SkipWithError("bad record");
  auto policy = ron::IpPolicy::FromConfig(ron::AuditConfig::Privacy{});
  if (!policy.ok()) state.SkipWithError("no policy");
  std::string out;
  for (auto _ : state) benchmark::DoNotOptimize(policy.value().Apply(r.record.attrs, &out));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * r.record.attrs.size()));
}
BENCHMARK(BM_IpPolicyScan1KiBAttrs);

void BM_MerkleRoot10k(benchmark::State& state) {
  std::vector<ron::Digest> digests;
  for (int i = 0; i < 10000; ++i) digests.push_back(ron::Blake3("record " + std::to_string(i)));
  for (auto _ : state) benchmark::DoNotOptimize(ron::MerkleRoot(digests));
  state.counters["leaves/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * 10000,
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MerkleRoot10k)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
