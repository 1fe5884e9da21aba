// Backpressure under both sinks: full queues shed with Busy and count it, per-stream bounds,
// shed_policy=block, and memory that stays flat under a shed storm.
#include "bench/bench_util.h"
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
  EXPECT_EQ(testing::MetricValue(metrics, "audit_drop_total",
                                 "reason=\"audit_backpressure\""),
            static_cast<double>(busy))
      << metrics;
  EXPECT_EQ(testing::MetricValue(metrics, "busy_rejections_total",
                                 "endpoint=\"emit\""),
            static_cast<double>(busy));
  EXPECT_EQ(engine->State("svc-test@inst-1", "hot").head_seq, static_cast<uint64_t>(accepted));
  const auto check = testing::RunCommand({"/usr/bin/promtool", "check", "metrics"}, metrics);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
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
  EXPECT_EQ(
      testing::MetricValue(engine->MetricsText(), "busy_rejections_total", "endpoint=\"emit\""), 0);
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
  EXPECT_EQ(testing::MetricValue(metrics, "audit_drop_total",
                                 "reason=\"audit_backpressure\""),
            static_cast<double>(busy));
  EXPECT_EQ(testing::MetricValue(metrics, "busy_rejections_total",
                                 "endpoint=\"emit\""),
            static_cast<double>(busy));
}

}  // namespace
}  // namespace ron::engine_test
