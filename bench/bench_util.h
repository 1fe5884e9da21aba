// Shared by the bench rigs (and the chaos rig and tests): the 1 KiB record they write, a
// percentile helper, the process's resident set size, and figures read from an engine's
// metrics page.
#ifndef BENCH_BENCH_UTIL_H_
#define BENCH_BENCH_UTIL_H_

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
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

// The value of the first series of `name` (whose labels contain `label`, if given) on a
// Prometheus text page; 0 if there is none.
inline double MetricValue(const std::string& text, std::string_view name,
                          std::string_view label = {}) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, name.size(), name) != 0 || line.size() <= name.size()) continue;
    if (line[name.size()] != ' ' && line[name.size()] != '{') continue;
    const std::string_view series = std::string_view(line).substr(0, line.rfind(' '));
    if (!label.empty() && series.find(label) == std::string_view::npos) continue;
    return std::atof(line.substr(line.rfind(' ') + 1).c_str());
  }
  return 0;
}

// Where an engine's writer threads' time went (its audit_batch_seconds): the mean of each
// phase per batch, in µs, and records per batch; zeros when no batch was counted.
struct BatchPhases {
  double stage_us = 0, commit_us = 0, complete_us = 0, records = 0;
};
inline BatchPhases BatchPhasesOf(const std::string& metrics_text) {
  BatchPhases p;
  const double batches =
      MetricValue(metrics_text, "audit_batch_seconds_count", "phase=\"commit\"");
  if (batches <= 0) return p;
  const auto mean_us = [&](const char* phase) {
    const std::string label = std::string("phase=\"") + phase + "\"";
    return MetricValue(metrics_text, "audit_batch_seconds_sum", label) / batches * 1e6;
  };
  p.stage_us = mean_us("stage");
  p.commit_us = mean_us("commit");
  p.complete_us = mean_us("complete");
  p.records = MetricValue(metrics_text, "audit_batch_records_total") / batches;
  return p;
}

}  // namespace ron::bench

#endif  // BENCH_BENCH_UTIL_H_
