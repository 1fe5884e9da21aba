// Shared by the bench rigs (and the chaos rig and tests): the 1 KiB record they write, a
// percentile helper and the process's resident set size.
#ifndef BENCH_BENCH_UTIL_H_
#define BENCH_BENCH_UTIL_H_

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ron::bench {

// A draft that becomes a ~1 KiB canonical record once the engine adds v, ts_ms, writer_id, seq,
// stream and prev.
inline std::string Draft1KiB() {
  return R"({"kind":"GetServed","actor":{"passport_id":"u:7f3a","cap_id":"cap:gw-read"},"subject":{"content_id":"b3:9c1e5d0712aa","name":"objects/9c1e5d07"},"reason":"ok","attrs":{"route":"/o/9c1e5d07","status":200,"bytes":48213,"cache":"miss","client_net":"203.0.113.0/24","trace":")" +
         std::string(610, 't') + R"("}})";
}

// The p-quantile (0..1) of *v, by selection (reorders *v).
inline double Percentile(std::vector<double>* v, double p) {
  if (v->empty()) return 0;
  const size_t k = std::min(v->size() - 1, static_cast<size_t>(p * static_cast<double>(v->size())));
  std::nth_element(v->begin(), v->begin() + static_cast<long>(k), v->end());
  return (*v)[k];
}

// Resident set size of this process in KiB, from /proc/self/statm (0 if unreadable).
inline uint64_t RssKiB() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0, resident = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%lu %lu", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

}  // namespace ron::bench

#endif  // BENCH_BENCH_UTIL_H_
