#include "tools/verify_report.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "segment/segment_format.h"
#include "wal/files.h"

namespace ron::tools {

void PrintVerifySpeed(uint64_t records, uint64_t bytes, double seconds, unsigned threads) {
  const double per_second = seconds > 0 ? 1 / seconds : 0.0;
  std::fprintf(stderr, "ronctl audit verify: %.0f records/s, %.1f MB/s, %u thread%s\n",
               static_cast<double>(records) * per_second,
               static_cast<double>(bytes) / 1e6 * per_second, threads, threads == 1 ? "" : "s");
}

std::string VerifyCounts(const ExportVerifyReport& report) {
  return std::to_string(report.records) + " records, " + std::to_string(report.streams) +
         " streams, " + std::to_string(report.checkpoints) + " checkpoints, " +
         std::to_string(report.manifests) + " manifests";
}

std::string VerifyFailureLine(const ExportVerifyReport& report) {
  return "err " + std::string(CodeName(report.failure.code())) + " file " + report.file +
         " offset " + std::to_string(report.offset) + " stream " +
         segment::PrintedStreamName(report.writer_id, report.stream) + " seq " +
         std::to_string(report.seq) + " reason " + report.reason + "\n";
}

namespace {

// wal::VerifyStream splits a stream's sealed segments (all but the newest, which ends the last
// run) into runs of one segment or more, and only into two runs or more.
uint64_t UsableThreads(const StreamWork& stream) {
  return stream.segments >= 3 ? stream.segments - 1 : 1;
}

}  // namespace

std::vector<unsigned> AllotThreads(const std::vector<StreamWork>& streams, unsigned threads) {
  std::vector<unsigned> allotted(streams.size(), 1);
  for (size_t left = threads > streams.size() ? threads - streams.size() : 0; left > 0; --left) {
    size_t best = streams.size();
    for (size_t i = 0; i < streams.size(); ++i) {
      if (allotted[i] >= UsableThreads(streams[i])) continue;
      // bytes / allotted, compared without division: a/x > b/y <=> a*y > b*x
      using Wide = unsigned __int128;
      if (best == streams.size() || Wide{streams[i].bytes} * allotted[best] >
                                        Wide{streams[best].bytes} * allotted[i]) {
        best = i;
      }
    }
    if (best == streams.size()) break;  // no stream can use another thread
    ++allotted[best];
  }
  return allotted;
}

StreamWork MeasureStream(const std::string& dir) {
  StreamWork work;
  std::vector<std::string> names;
  if (!wal::ListDir(dir, &names).ok()) return work;  // the scan itself reports what is wrong
  for (const std::string& name : names) {
    uint64_t segment_no = 0;
    struct stat st {};
    if (!segment::ParseSegmentFileName(name, &segment_no) ||
        stat((dir + "/" + name).c_str(), &st) != 0) {
      continue;
    }
    ++work.segments;
    work.bytes += static_cast<uint64_t>(st.st_size);
  }
  return work;
}

std::vector<size_t> LargestFirst(const std::vector<StreamWork>& streams) {
  std::vector<size_t> order(streams.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return streams[a].bytes > streams[b].bytes; });
  return order;
}

VerifyPlan PlanVerify(const std::vector<StreamWork>& streams, unsigned threads) {
  VerifyPlan side{false, AllotThreads(streams, threads)};
  if (threads <= 1 || streams.empty()) return side;
  double side_ends = 0;  // in bytes one thread scans
  if (streams.size() <= threads) {
    for (size_t i = 0; i < streams.size(); ++i) {
      side_ends = std::max(side_ends, static_cast<double>(streams[i].bytes) / side.threads[i]);
    }
  } else {  // the pool: each stream to the thread that is free first, largest first
    std::vector<double> load(threads, 0);
    for (const size_t i : LargestFirst(streams)) {
      *std::min_element(load.begin(), load.end()) += static_cast<double>(streams[i].bytes);
    }
    side_ends = *std::max_element(load.begin(), load.end());
  }
  VerifyPlan turns{true, {}};
  double turns_end = 0;
  for (const StreamWork& stream : streams) {
    const auto n = static_cast<unsigned>(std::min<uint64_t>(threads, UsableThreads(stream)));
    turns.threads.push_back(n);
    turns_end += static_cast<double>(stream.bytes) / n;
  }
  return turns_end < side_ends ? turns : side;
}

}  // namespace ron::tools
