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
