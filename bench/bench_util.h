// Shared by the bench rigs: the 1 KiB record they all write and a percentile helper.
#ifndef BENCH_BENCH_UTIL_H_
#define BENCH_BENCH_UTIL_H_

#include <algorithm>
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
  const size_t k =
      std::min(v->size() - 1, static_cast<size_t>(p * static_cast<double>(v->size())));
  std::nth_element(v->begin(), v->begin() + static_cast<long>(k), v->end());
  return (*v)[k];
}

}  // namespace ron::bench

#endif  // BENCH_BENCH_UTIL_H_
