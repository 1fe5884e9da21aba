// Engine::EmitMany (docs/API.md): each draft answered as Emit answers it, in order, the
// prepared ones handed to the writer together (one commit for a batch that fits), a stop at
// the first Busy that resuming from there makes good, and Closed after Close.
#include <gtest/gtest.h>

#include <span>
#include <string>
#include <vector>

#include "engine/core/canonical.h"
#include "ron_audit/engine.h"
#include "tests/engine/engine_test_util.h"
#include "tests/test_util.h"

namespace ron {
namespace {

using std::chrono::seconds;

Deadline Far() { return engine_test::In(seconds(60)); }

class EmitManyTest : public ::testing::Test {
 protected:
  EngineOptions Options(const std::string& name, uint32_t queue_depth = 100000) {
    return engine_test::WalEngineOptions(tmp_.path() + "/" + name, 1, queue_depth);
  }
  // The fields a draft decides of each stored record of `stream` (not ts_ms, prev, self_hash).
  // (and subject.name, if `with_name`).
  std::vector<std::string> Stored(const std::string& name, const std::string& stream,
                                  bool with_name = false) {
    std::vector<std::string> fields;
    Canonicalizer c;
    CanonicalRecord r;
    for (const std::string& sealed :
         engine_test::StoredIn(tmp_.path() + "/" + name, "svc-test@inst-1", stream)) {
      EXPECT_TRUE(c.VerifySealed(sealed, &r).ok());
      fields.push_back(std::to_string(r.record.seq) + " " + r.record.kind + " " +
                       r.record.reason + " " + r.record.attrs +
                       (with_name ? " " + r.record.subject.name.value_or("-") : ""));
    }
    return fields;
  }
  testing::TempDir tmp_;
};

// What EmitMany answers and stores for each draft is what Emit does: good drafts, drafts that
// fail their ticket (a float, bad UTF-8, an unknown key), one refused at once (longer than the
// input bound), one whose IP literal privacy.ip_mode drops, in one call.
TEST_F(EmitManyTest, EachDraftGetsEmitsAnswerAndRecord) {
  std::vector<std::string> drafts;
  for (int i = 0; i < 40; ++i) drafts.push_back(engine_test::Draft(i));
  drafts[5] = R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"f":1.5}})";
  drafts[6] = "{\"kind\":\"K\",\"actor\":{},\"subject\":{},\"reason\":\"\xff\",\"attrs\":{}}";
  drafts[17] = R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{},"x":1})";
  drafts[20] = std::string(70000, ' ');
  drafts[33] = R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"ip":"10.1.2.3"}})";
  const std::vector<std::string_view> views(drafts.begin(), drafts.end());

  auto one = engine_test::OpenEngine(Options("one"));
  auto many = engine_test::OpenEngine(Options("many"));
  ASSERT_NE(one, nullptr);
  ASSERT_NE(many, nullptr);
  std::vector<Result<Ticket>> singles;
  for (const std::string_view d : views) singles.push_back(one->Emit("s", d));
  std::vector<Result<Ticket>> results;
  ASSERT_EQ(many->EmitMany("s", views, &results), drafts.size());
  ASSERT_EQ(results.size(), drafts.size());
  for (size_t i = 0; i < drafts.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_EQ(results[i].ok(), singles[i].ok()) << results[i].status().ToString();
    if (!results[i].ok()) {
      EXPECT_EQ(results[i].code(), singles[i].code());
      EXPECT_EQ(results[i].status().message(), singles[i].status().message());
      continue;
    }
    const auto got = results[i].value().Wait(Far());
    const auto want = singles[i].value().Wait(Far());
    ASSERT_EQ(got.ok(), want.ok()) << got.status().ToString();
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), want.status().code());
      EXPECT_EQ(got.status().message(), want.status().message());
    } else {
      EXPECT_EQ(got.value().seq, want.value().seq);
    }
  }
  EXPECT_EQ(results[20].code(), Code::kRecordTooLarge);
  EXPECT_EQ(results[5].value().Wait(Far()).status().code(), Code::kFloat);
  // Counted as Emit counts them.
  const std::string one_page = one->MetricsText(), many_page = many->MetricsText();
  for (const char* metric : {"audit_emitted_total", "audit_rejected_total",
                             "audit_pii_redacted_total"}) {
    EXPECT_EQ(testing::MetricValue(many_page, metric), testing::MetricValue(one_page, metric))
        << metric;
  }
  EXPECT_EQ(testing::MetricValue(many_page, "audit_emitted_total"), 40);
  EXPECT_EQ(testing::MetricValue(many_page, "audit_pii_redacted_total"), 1);
  ASSERT_TRUE(one->Close(Far()).ok());
  ASSERT_TRUE(many->Close(Far()).ok());
  const std::vector<std::string> stored = Stored("many", "s");
  EXPECT_EQ(stored.size(), 36u);
  EXPECT_EQ(stored, Stored("one", "s"));
}

// A batch of drafts that fits the writer's batch is committed as one: the writer is handed all
// of it at once, instead of waking for the first draft and committing fragments.
TEST_F(EmitManyTest, ABatchIsCommittedTogether) {
  auto engine = engine_test::OpenEngine(Options("w"));
  ASSERT_NE(engine, nullptr);
  std::vector<std::string> drafts;
  for (int i = 0; i < 256; ++i) drafts.push_back(engine_test::Draft(i));
  const std::vector<std::string_view> views(drafts.begin(), drafts.end());
  std::vector<Result<Ticket>> results;
  ASSERT_EQ(engine->EmitMany("s", views, &results), 256u);
  for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(results.back().value().Wait(Far()).ok());
  ASSERT_TRUE(engine->Flush(Far()).ok());  // the writer counts a batch after its tickets
  const std::string metrics = engine->MetricsText();
  EXPECT_EQ(testing::MetricValue(metrics, "audit_batch_records_total"), 256);
  EXPECT_EQ(testing::MetricValue(metrics, "audit_batch_seconds_count", "phase=\"commit\""), 1)
      << metrics;
}

// EmitMany stops after the first Busy (nothing after it was taken); emitting again from there
// once the writer caught up lands every draft once, in order. After Close: Closed, once.
TEST_F(EmitManyTest, StopsAtBusyResumesAndIsClosedAfterClose) {
  auto engine = engine_test::OpenEngine(Options("w", 16));
  ASSERT_NE(engine, nullptr);
  std::vector<std::string> drafts;
  for (int i = 0; i < 400; ++i) drafts.push_back(engine_test::Draft(i));
  const std::vector<std::string_view> all(drafts.begin(), drafts.end());
  std::vector<Ticket> tickets;
  size_t at = 0, busy = 0;
  while (at < all.size()) {
    std::vector<Result<Ticket>> results;
    const size_t n = engine->EmitMany("s", std::span(all).subspan(at), &results);
    ASSERT_EQ(n, results.size());
    ASSERT_GT(n, 0u);
    for (size_t k = 0; k < n; ++k) {
      if (!results[k].ok()) {
        ASSERT_EQ(results[k].code(), Code::kBusy);
        ASSERT_EQ(k, n - 1) << "nothing is taken after a Busy";
        ++busy;
        ASSERT_TRUE(tickets.back().Wait(Far()).ok());  // let the writer catch up
        break;
      }
      tickets.push_back(results[k].value());
      ++at;
    }
  }
  EXPECT_GT(busy, 0u) << "a 16-deep queue should have refused some of 400 drafts at once";
  // Each answer counted once (a Busy one too, as Emit counts it), none of the drafts prepared
  // but not taken.
  const std::string page = engine->MetricsText();
  EXPECT_EQ(testing::MetricValue(page, "audit_emitted_total"), static_cast<double>(400 + busy));
  EXPECT_EQ(testing::MetricValue(page, "busy_rejections_total", "endpoint=\"emit\""),
            static_cast<double>(busy));
  for (size_t i = 0; i < tickets.size(); ++i) {
    const auto r = tickets[i].Wait(Far());
    ASSERT_TRUE(r.ok()) << i << " " << r.status().ToString();
    EXPECT_EQ(r.value().seq, i + 1);
  }
  ASSERT_TRUE(engine->Close(Far()).ok());
  std::vector<Result<Ticket>> after;
  EXPECT_EQ(engine->EmitMany("s", all, &after), 1u);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].code(), Code::kClosed);
  const std::vector<std::string> stored = Stored("w", "s");
  ASSERT_EQ(stored.size(), 400u);
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i], std::to_string(i + 1) + " GetServed ok {\"i\":" + std::to_string(i) +
                             "}");
  }
}

// A push gives its caller the record buffer of the answered task it replaces in the writer's
// queue, and the caller prepares its next record into it (Emit, EmitMany, OfferSealed,
// OfferSealedMany). Records shorter and longer than the one before, up to the record bound,
// read on the draft fast path and on the full one, and drafts that fail after taking a
// buffer, through a 16-deep queue whose slots are reused many times over: each stored record
// holds exactly its own draft's fields, and the records imported sealed are stored byte for
// byte as they were given.
TEST_F(EmitManyTest, RecordBuffersTheQueueGivesBackCarryNothingOver) {
  const auto draft_of = [](int i) -> std::string {
    // Records of ~3.9 KiB (the bound is 4 KiB) down to ~120 bytes, in an order that makes
    // each size follow larger and smaller ones.
    static constexpr size_t kNames[] = {2800, 3, 1500, 0, 40, 2000, 700};
    static constexpr size_t kPads[] = {900, 5, 950, 300, 40, 1, 600, 20};
    if (i % 11 == 10) {  // fails once prepared: a float
      return R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"f":1.5}})";
    }
    const std::string text = i % 4 == 1 ? "caf\u00e9" : "cafe";  // non-ASCII: the full path
    return R"({"kind":"K)" + std::to_string(i % 3) + R"(","actor":{},"subject":{"name":")" +
           std::string(kNames[i % 7], static_cast<char>('A' + i % 26)) +
           R"("},"reason":"ok","attrs":{"i":)" + std::to_string(i) + R"(,"pad":")" +
           std::string(kPads[i % 8], static_cast<char>('a' + i % 26)) + R"(","t":")" + text +
           R"("}})";
  };
  auto src = engine_test::OpenEngine(Options("src", 16));
  ASSERT_NE(src, nullptr);
  std::vector<std::string> drafts, expected;
  Canonicalizer c;
  for (int i = 0; i < 420; ++i) {
    drafts.push_back(draft_of(i));
    CanonicalRecord r;
    // ts_ms as long as the engine's (13 digits): the longest records come near the bound.
    const Canonicalizer::DraftContext ctx{"svc-test@inst-1", "s", 1, kGenesisPrev,
                                          1763800000000};
    if (!c.CanonicalizeDraft(drafts.back(), ctx, &r).ok()) continue;
    expected.push_back(std::to_string(expected.size() + 1) + " " + r.record.kind + " " +
                       r.record.reason + " " + r.record.attrs + " " +
                       r.record.subject.name.value_or("-"));
  }
  ASSERT_EQ(expected.size(), 382u);
  // Blocks of 10 drafts, by Emit and by EmitMany in turn; a Busy waits for the writer.
  std::vector<Ticket> tickets;
  for (size_t block = 0; block < drafts.size(); block += 10) {
    const std::vector<std::string_view> views(drafts.begin() + static_cast<long>(block),
                                              drafts.begin() + static_cast<long>(block + 10));
    for (size_t at = 0; at < views.size();) {
      std::vector<Result<Ticket>> results;
      if ((block / 10) % 2 == 0) {
        results.push_back(src->Emit("s", views[at]));
      } else {
        src->EmitMany("s", std::span(views).subspan(at), &results);
      }
      for (const auto& r : results) {
        if (!r.ok()) {
          ASSERT_EQ(r.code(), Code::kBusy) << r.status().ToString();
          (void)tickets.back().Wait(Far());  // done, failed or not
          break;
        }
        tickets.push_back(r.value());
        ++at;
      }
    }
  }
  // Every ticket kept answers its own record (a state still referred to is never reused).
  size_t appended = 0;
  for (const Ticket& t : tickets) {
    const auto r = t.Wait(Far());
    if (r.ok()) {
      EXPECT_EQ(r.value().seq, ++appended);
    }
  }
  EXPECT_EQ(tickets.size(), drafts.size());
  EXPECT_EQ(appended, expected.size());
  ASSERT_TRUE(src->Close(Far()).ok());
  EXPECT_EQ(Stored("src", "s", /*with_name=*/true), expected);

  // The stored records imported into another engine, one by one and many at a time in turn.
  const std::vector<std::string> sealed =
      engine_test::StoredIn(tmp_.path() + "/src", "svc-test@inst-1", "s");
  ASSERT_EQ(sealed.size(), expected.size());
  auto dst = engine_test::OpenEngine(Options("dst", 16));
  ASSERT_NE(dst, nullptr);
  const std::vector<std::string_view> all(sealed.begin(), sealed.end());
  std::vector<Ticket> imported;
  for (size_t at = 0; at < all.size();) {
    std::vector<Result<Ticket>> results;
    if ((at / 7) % 2 == 0) {
      results.push_back(dst->OfferSealed(all[at]));
    } else {
      dst->OfferSealedMany(std::span(all).subspan(at, std::min<size_t>(7, all.size() - at)),
                           &results);
    }
    for (const auto& r : results) {
      if (!r.ok()) {
        ASSERT_EQ(r.code(), Code::kBusy) << r.status().ToString();
        ASSERT_TRUE(imported.back().Wait(Far()).ok());
        break;
      }
      imported.push_back(r.value());
      ++at;
    }
  }
  for (const Ticket& t : imported) {
    const auto r = t.Wait(Far());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(t.outcome(), AppendOutcome::kAppended);
  }
  ASSERT_TRUE(dst->Close(Far()).ok());
  EXPECT_EQ(engine_test::StoredIn(tmp_.path() + "/dst", "svc-test@inst-1", "s"), sealed);
}

// The ticket states pushes give back are reused once nothing else refers to them: a host that
// waits for each record and drops its ticket (as a per-record acknowledgement does), and one
// that drops most tickets unanswered and keeps a few, get for each ticket kept the answer of
// its own record, by Emit, EmitMany, OfferSealed and OfferSealedMany.
TEST_F(EmitManyTest, TicketStatesTheQueueGivesBackAnswerOnlyTheirNewRecord) {
  auto engine = engine_test::OpenEngine(Options("w", 16));
  ASSERT_NE(engine, nullptr);
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    const auto t = engine->Emit("s", engine_test::Draft(static_cast<int>(seq)));
    ASSERT_TRUE(t.ok());
    const auto r = t.value().Wait(Far());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r.value().seq, seq);
  }
  std::vector<std::pair<uint64_t, Ticket>> kept;
  std::vector<std::string> drafts;
  for (int i = 0; i < 8; ++i) drafts.push_back(engine_test::Draft(i));
  const std::vector<std::string_view> eight(drafts.begin(), drafts.end());
  uint64_t seq = 100;
  while (seq < 1000) {
    std::vector<Result<Ticket>> results;
    if (seq % 3 == 0) {
      engine->EmitMany("s", eight, &results);
    } else {
      results.push_back(engine->Emit("s", drafts[0]));
    }
    for (auto& r : results) {
      if (!r.ok()) {  // Busy: let the writer catch up (the drafts not taken are dropped)
        ASSERT_EQ(r.code(), Code::kBusy) << r.status().ToString();
        ASSERT_TRUE(engine->Flush(Far()).ok());
        break;
      }
      ++seq;
      if (seq % 7 == 0) kept.emplace_back(seq, r.value());
    }
  }
  ASSERT_TRUE(engine->Flush(Far()).ok());
  ASSERT_GT(kept.size(), 100u);
  for (const auto& [want, t] : kept) {
    const auto r = t.Wait(Far());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value().seq, want);
  }
  // The stored records imported into another engine, tickets dropped but every 5th.
  ASSERT_TRUE(engine->Close(Far()).ok());
  const std::vector<std::string> sealed =
      engine_test::StoredIn(tmp_.path() + "/w", "svc-test@inst-1", "s");
  ASSERT_EQ(sealed.size(), seq);
  auto dst = engine_test::OpenEngine(Options("dst", 16));
  ASSERT_NE(dst, nullptr);
  const std::vector<std::string_view> all(sealed.begin(), sealed.end());
  std::vector<std::pair<uint64_t, Ticket>> imported;
  for (size_t at = 0; at < all.size();) {
    std::vector<Result<Ticket>> results;
    if (at % 2 == 0) {
      results.push_back(dst->OfferSealed(all[at]));
    } else {
      dst->OfferSealedMany(std::span(all).subspan(at, std::min<size_t>(5, all.size() - at)),
                           &results);
    }
    for (auto& r : results) {
      if (!r.ok()) {
        ASSERT_EQ(r.code(), Code::kBusy) << r.status().ToString();
        ASSERT_TRUE(dst->Flush(Far()).ok());
        break;
      }
      ++at;
      if (at % 5 == 0) imported.emplace_back(at, r.value());
    }
  }
  for (const auto& [want, t] : imported) {
    const auto r = t.Wait(Far());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value().seq, want);
    EXPECT_EQ(t.outcome(), AppendOutcome::kAppended);
  }
}

// The log callback may call EmitMany again on the same thread (it runs inside the outer call,
// at the audit.append.reject of a bad draft): both calls land all their good drafts, in order.
TEST_F(EmitManyTest, EmitManyFromTheLogCallbackOfAnotherCall) {
  std::vector<std::string> outer, inner;
  for (int i = 0; i < 300; ++i) outer.push_back(engine_test::Draft(i));
  for (int i = 0; i < 300; ++i) inner.push_back(engine_test::Draft(1000 + i));
  outer[150] = R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"f":0.5}})";
  const std::vector<std::string_view> outer_views(outer.begin(), outer.end());
  const std::vector<std::string_view> inner_views(inner.begin(), inner.end());
  Engine* engine_ptr = nullptr;
  std::vector<Result<Ticket>> inner_results;
  bool nested = false;
  EngineOptions o = Options("w");
  o.log = [&](std::string_view line) {
    if (nested || line.find("audit.append.reject") == std::string_view::npos) return;
    nested = true;
    engine_ptr->EmitMany("inner", inner_views, &inner_results);
  };
  auto engine = engine_test::OpenEngine(o);
  ASSERT_NE(engine, nullptr);
  engine_ptr = engine.get();
  std::vector<Result<Ticket>> results;
  ASSERT_EQ(engine->EmitMany("outer", outer_views, &results), outer.size());
  ASSERT_TRUE(nested);
  ASSERT_EQ(inner_results.size(), inner.size());
  ASSERT_TRUE(engine->Flush(Far()).ok());
  ASSERT_TRUE(engine->Close(Far()).ok());
  const std::vector<std::string> got_outer = Stored("w", "outer"), got_inner = Stored("w", "inner");
  ASSERT_EQ(got_outer.size(), 299u);
  ASSERT_EQ(got_inner.size(), 300u);
  EXPECT_EQ(got_outer[150], "151 GetServed ok {\"i\":151}");
  EXPECT_EQ(got_inner[299], "300 GetServed ok {\"i\":1299}");
}

// A bulk import's batch (OfferSealedMany, ~200 KB of records, nothing else queued) commits on
// the writer thread; EmitMany's batch of the same size goes through io_uring's workers
// (wal_commits_on_caller_total). io_uring asked for by name: pwritev writes every commit on the
// thread, which would leave nothing to tell apart (the WAL's tests need io_uring too).
TEST_F(EmitManyTest, ASealedBatchWithNothingQueuedCommitsOnTheWriterThread) {
  const std::string pad(900, 'x');
  std::vector<std::string> drafts;
  for (int i = 0; i < 200; ++i) {
    drafts.push_back(R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"i":)" +
                     std::to_string(i) + R"(,"pad":")" + pad + "\"}}");
  }
  const std::vector<std::string_view> draft_views(drafts.begin(), drafts.end());
  {
    auto src = engine_test::OpenEngine(Options("src"));
    ASSERT_NE(src, nullptr);
    std::vector<Result<Ticket>> results;
    ASSERT_EQ(src->EmitMany("s", draft_views, &results), drafts.size());
    for (const auto& r : results) ASSERT_TRUE(r.ok() && r.value().Wait(Far()).ok());
    ASSERT_TRUE(src->Close(Far()).ok());
  }
  const std::vector<std::string> sealed =
      engine_test::StoredIn(tmp_.path() + "/src", "svc-test@inst-1", "s");
  ASSERT_EQ(sealed.size(), drafts.size());
  const std::vector<std::string_view> sealed_views(sealed.begin(), sealed.end());

  EngineOptions dst_options = Options("dst");
  dst_options.io_backend = IoBackend::kIoUring;
  auto dst = engine_test::OpenEngine(dst_options);
  ASSERT_NE(dst, nullptr);
  ASSERT_EQ(dst->io_backend(), "io_uring");
  const auto on_caller = [&] {
    const std::string page = dst->MetricsText();
    const size_t at = page.find("\nwal_commits_on_caller_total");
    if (at == std::string::npos) return uint64_t{0};  // (no WAL metrics before a commit)
    const size_t line_end = page.find('\n', at + 1);
    return uint64_t{std::stoull(page.substr(page.rfind(' ', line_end) + 1))};
  };
  std::vector<Result<Ticket>> results;  // the engine's first commit, then its second
  ASSERT_EQ(dst->OfferSealedMany(sealed_views, &results), sealed.size());
  for (const auto& r : results) ASSERT_TRUE(r.ok() && r.value().Wait(Far()).ok());
  EXPECT_EQ(on_caller(), 1u);
  ASSERT_EQ(dst->EmitMany("e", draft_views, &results), drafts.size());
  for (const auto& r : results) ASSERT_TRUE(r.ok() && r.value().Wait(Far()).ok());
  EXPECT_EQ(on_caller(), 1u);
  ASSERT_TRUE(dst->Close(Far()).ok());
  EXPECT_EQ(engine_test::StoredIn(tmp_.path() + "/dst", "svc-test@inst-1", "s"), sealed);
}

}  // namespace
}  // namespace ron
