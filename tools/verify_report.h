// The lines `ronctl audit verify --export-dir` and `ronctl audit backup` print from the
// forensic verifier's report (docs/CLI.md), written in one place; and how `ronctl audit
// verify --threads` shares its threads among streams.
#ifndef TOOLS_VERIFY_REPORT_H_
#define TOOLS_VERIFY_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ron_audit/verify.h"

namespace ron::tools {

// "<records> records, <streams> streams, <checkpoints> checkpoints, <manifests> manifests"
std::string VerifyCounts(const ExportVerifyReport& report);

// "err <Code> file <path> offset <n> stream <w>/<s> seq <n> reason <reason>\n" for the report's
// failure (REQUIRES: !report.failure.ok()).
std::string VerifyFailureLine(const ExportVerifyReport& report);

// The line both ways of `ronctl audit verify` end with, on stderr: "ronctl audit verify:
// <records> records/s, <MB> MB/s, <threads> threads" (the --threads setting).
void PrintVerifySpeed(uint64_t records, uint64_t bytes, double seconds, unsigned threads);

// One stream's share of the verifier's work: its segment files and their bytes.
struct StreamWork {
  uint64_t bytes = 0;
  uint64_t segments = 0;
};

// The segment files (wal-*.seg) of the stream directory `dir`, counted and summed (zeros if it
// cannot be listed: the scan reports why).
StreamWork MeasureStream(const std::string& dir);

// The threads each stream of `ronctl audit verify --threads N` (the WAL alone) gets, when all
// streams run side by side: one each, then every thread left over to the stream with the most
// bytes per thread (the first of equals) that can still use one (wal::VerifyStream splits a
// stream's sealed segments, all but the newest: a stream of n >= 3 segment files can use n - 1
// threads, a smaller one one). With fewer threads than streams, one each.
std::vector<unsigned> AllotThreads(const std::vector<StreamWork>& streams, unsigned threads);

// How `ronctl audit verify --threads N` (the WAL alone) runs its streams: side by side (a
// pool of min(N, streams) threads taking them largest first, each stream on threads[i] threads:
// AllotThreads), or one at a time, each on as many of the N threads as it can use. Whichever
// ends sooner counting bytes per thread: side by side ends with its busiest thread (the
// largest bytes / threads of a stream, or with more streams than threads the fullest thread of
// the pool), one at a time after the sum of every stream's bytes / threads. Two streams of
// 600k and 150k records on 2 threads: side by side 600k on one thread while the other idles
// after 150k; one at a time 300k + 75k. Equal estimates: side by side.
struct VerifyPlan {
  bool one_at_a_time = false;
  std::vector<unsigned> threads;  // per stream
};
VerifyPlan PlanVerify(const std::vector<StreamWork>& streams, unsigned threads);

// The order in which a pool of threads takes the streams: the most bytes first (the first of
// equals), so that the largest is not left for last.
std::vector<size_t> LargestFirst(const std::vector<StreamWork>& streams);

}  // namespace ron::tools

#endif  // TOOLS_VERIFY_REPORT_H_
