// How `ronctl audit verify --threads N` shares threads among streams (tools/verify_report.h).
#include "tools/verify_report.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"

namespace ron::tools {
namespace {

using Work = std::vector<StreamWork>;

TEST(AllotThreadsTest, OneEachThenTheMostBytesPerThread) {
  EXPECT_EQ(AllotThreads({}, 4), std::vector<unsigned>{});
  EXPECT_EQ(AllotThreads(Work{{100, 10}}, 1), std::vector<unsigned>{1});
  EXPECT_EQ(AllotThreads(Work{{100, 10}}, 8), std::vector<unsigned>{8});
  // Fewer threads than streams: one each (a pool takes them in turn).
  EXPECT_EQ(AllotThreads(Work{{100, 10}, {50, 10}, {10, 10}}, 2), (std::vector<unsigned>{1, 1, 1}));
  // Equal streams share evenly; the leftover goes to the first.
  EXPECT_EQ(AllotThreads(Work{{100, 10}, {100, 10}}, 4), (std::vector<unsigned>{2, 2}));
  EXPECT_EQ(AllotThreads(Work{{100, 10}, {100, 10}}, 3), (std::vector<unsigned>{2, 1}));
  // Three threads, one large and one small stream: the large one gets two.
  EXPECT_EQ(AllotThreads(Work{{10, 10}, {300, 10}}, 3), (std::vector<unsigned>{1, 2}));
  // In proportion: 300 over 3 threads and 100 over 1 are equal, and the first of equals gets
  // the fifth thread.
  EXPECT_EQ(AllotThreads(Work{{100, 10}, {300, 10}}, 5), (std::vector<unsigned>{2, 3}));
  // No stream gets more threads than it has sealed segments (all but the newest), nor two
  // unless it has two sealed segments; what no stream can use is left unused.
  EXPECT_EQ(AllotThreads(Work{{1000, 2}, {10, 10}}, 6), (std::vector<unsigned>{1, 5}));
  EXPECT_EQ(AllotThreads(Work{{1000, 3}, {10, 10}}, 6), (std::vector<unsigned>{2, 4}));
  EXPECT_EQ(AllotThreads(Work{{1000, 1}, {10, 1}}, 6), (std::vector<unsigned>{1, 1}));
  EXPECT_EQ(AllotThreads(Work{{1000, 2}, {10, 2}}, 6), (std::vector<unsigned>{1, 1}));
  EXPECT_EQ(AllotThreads(Work{{0, 0}}, 3), std::vector<unsigned>{1});
}

// Side by side or one at a time, whichever ends sooner by bytes per thread.
TEST(AllotThreadsTest, PlanVerifyRunsStreamsOneAtATimeWhenSideBySideWouldIdle) {
  const auto expect = [](const Work& work, unsigned threads, bool one_at_a_time,
                         const std::vector<unsigned>& per_stream) {
    const VerifyPlan plan = PlanVerify(work, threads);
    EXPECT_EQ(plan.one_at_a_time, one_at_a_time) << threads << " threads";
    EXPECT_EQ(plan.threads, per_stream) << threads << " threads";
  };
  // 600 and 150 on two threads: side by side ends after 600, one at a time after 300 + 75.
  expect(Work{{600, 20}, {150, 5}}, 2, true, {2, 2});
  // On three: side by side 600/2 = 300, one at a time 200 + 50.
  expect(Work{{600, 20}, {150, 5}}, 3, true, {3, 3});
  // Equal streams: side by side wastes nothing, and equal estimates stay side by side.
  expect(Work{{300, 20}, {300, 20}}, 2, false, {1, 1});
  expect(Work{{300, 20}, {300, 20}}, 4, false, {2, 2});
  // A stream that cannot be split (under three segment files) would leave threads idle.
  expect(Work{{600, 2}, {150, 2}}, 2, false, {1, 1});
  expect(Work{{600, 20}, {150, 2}}, 2, true, {2, 1});  // 300 + 150 < 600
  // Many small streams: the pool.
  expect(Work{{100, 2}, {100, 2}, {100, 2}, {90, 2}}, 2, false, {1, 1, 1, 1});
  // More streams than threads, one large: the pool ends with 900 on one thread, one at a time
  // after 450 + 50 + 50 + 50.
  expect(Work{{900, 30}, {100, 30}, {100, 30}, {100, 30}}, 2, true, {2, 2, 2, 2});
  // One thread, or nothing to verify: side by side, one thread each.
  expect(Work{{600, 20}, {150, 5}}, 1, false, {1, 1});
  expect(Work{}, 4, false, {});
}

TEST(AllotThreadsTest, LargestFirstKeepsTheOrderOfEquals) {
  EXPECT_EQ(LargestFirst(Work{{5, 1}, {9, 1}, {5, 1}, {7, 1}}),
            (std::vector<size_t>{1, 3, 0, 2}));
  EXPECT_EQ(LargestFirst({}), std::vector<size_t>{});
}

TEST(AllotThreadsTest, MeasureStreamCountsSegmentFilesOnly) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/" + segment::SegmentFileName(1), std::string(5000, 'a'));
  testing::WriteFile(dir.path() + "/" + segment::SegmentFileName(2), std::string(300, 'b'));
  testing::WriteFile(dir.path() + "/" + segment::SegmentFileName(3) + ".prealloc",
                     std::string(7000, 'c'));
  testing::WriteFile(dir.path() + "/notes.txt", std::string(11, 'd'));
  const StreamWork work = MeasureStream(dir.path());
  EXPECT_EQ(work.segments, 2u);
  EXPECT_EQ(work.bytes, 5300u);
  const StreamWork none = MeasureStream(dir.path() + "/missing");
  EXPECT_EQ(none.segments, 0u);
  EXPECT_EQ(none.bytes, 0u);
}

}  // namespace
}  // namespace ron::tools
