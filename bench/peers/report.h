// The peer rig's cells and what it prints of them: the table, the ratios and the JSON
// (bench/peers/peers.cc; docs/BENCH_RIG.md).
#ifndef BENCH_PEERS_REPORT_H_
#define BENCH_PEERS_REPORT_H_

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_util.h"
#include "bench/peers/device_facts.h"
#include "bench/peers/options.h"
#include "bench/peers/targets.h"

namespace ron::bench {

// ---- Cells ------------------------------------------------------------------------------------

struct Cell {
  std::string group;   // "writers=1 batch=256", "producers=64 (ack)"
  std::string system;  // display name
  std::string key;     // device | device-append | sqlite | rocksdb | ron-sealed | ron-emit |
                       // ron-pipelined
  int writers = 0, batch = 0, producers = 0;
  uint64_t records = 0, bytes = 0, busy = 0;
  uint64_t disk_bytes = 0;  // what the disk wrote from the target's open to its close (0: unknown)
  double seconds = 0, p50_us = 0, p99_us = 0;
  double per_sync = 0;  // records per durable flush, where known (device, ron-audit)
  BatchPhases phases;   // ron-audit: its writer threads' time per batch
  std::string error;
  double per_s() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
  double mb_s() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
  // Bytes the disk wrote per record byte acknowledged (0: unknown).
  double write_amp() const {
    return bytes > 0 ? static_cast<double>(disk_bytes) / static_cast<double>(bytes) : 0;
  }
};

// ---- Output -----------------------------------------------------------------------------------

struct Ratios {
  std::optional<double> device, best_peer;
};

inline Ratios RatiosOf(const std::vector<Cell>& cells, const Cell& c) {
  Ratios r;
  double device = 0, best = 0;
  for (const Cell& o : cells) {
    if (o.group != c.group || !o.error.empty()) continue;
    if (o.key == "device") device = o.per_s();
    if (o.key == "sqlite" || o.key == "rocksdb") best = std::max(best, o.per_s());
  }
  if (!c.error.empty()) return r;
  if (device > 0) r.device = c.per_s() / device;
  if (best > 0) r.best_peer = c.per_s() / best;
  return r;
}

inline std::string Ratio(const std::optional<double>& r) {
  if (!r) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", *r);
  return buf;
}

// The disk's bytes per record byte, "-" when unknown.
inline std::string DiskPerByte(const Cell& c) {
  if (c.write_amp() <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", c.write_amp());
  return buf;
}

inline std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

inline std::string JsonNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

inline void WriteJson(const Options& opt, const Facts& facts, const std::vector<Pool>& pools,
                      const std::vector<Cell>& cells, const std::string& io_backend) {
  std::string j = "{\n  \"command\": " + JsonString(opt.command) + ",\n  \"device\": {";
  for (size_t i = 0; i < facts.size(); ++i) {
    j += (i ? ", " : "") + JsonString(facts[i].first) + ": " + JsonString(facts[i].second);
  }
  const double avg = static_cast<double>(pools[0].prefix_bytes.back()) /
                     static_cast<double>(pools[0].sealed.size());
  j += "},\n  \"record_bytes_avg\": " + JsonNumber(avg) +
       ",\n  \"records_per_writer\": " + std::to_string(opt.records) +
       ",\n  \"seconds_per_cell\": " + JsonNumber(opt.seconds) + ",\n  \"streams\": [" +
       JsonString(pools[0].stream) + ", " + JsonString(pools[1].stream) +
       "],\n  \"engine_io_backend\": " + JsonString(io_backend) + ",\n  \"rows\": [\n";
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& c = cells[i];
    const Ratios r = RatiosOf(cells, c);
    j += "    {\"group\": " + JsonString(c.group) + ", \"system\": " + JsonString(c.key) +
         ", \"writers\": " + std::to_string(c.writers) + ", \"batch\": " + std::to_string(c.batch) +
         ", \"producers\": " + std::to_string(c.producers) +
         ", \"records\": " + std::to_string(c.records) + ", \"seconds\": " + JsonNumber(c.seconds) +
         ", \"records_per_s\": " + JsonNumber(c.per_s()) +
         ", \"mb_per_s\": " + JsonNumber(c.mb_s()) + ", \"p50_us\": " + JsonNumber(c.p50_us) +
         ", \"p99_us\": " + JsonNumber(c.p99_us) +
         ", \"records_per_sync\": " + (c.per_sync > 0 ? JsonNumber(c.per_sync) : "null") +
         ", \"disk_bytes_written\": " + (c.disk_bytes > 0 ? std::to_string(c.disk_bytes) : "null") +
         ", \"disk_bytes_per_record_byte\": " +
         (c.write_amp() > 0 ? JsonNumber(c.write_amp()) : "null") +
         (c.phases.records > 0
              ? ", \"records_per_batch\": " + JsonNumber(c.phases.records) +
                    ", \"batch_stage_us\": " + JsonNumber(c.phases.stage_us) +
                    ", \"batch_commit_us\": " + JsonNumber(c.phases.commit_us) +
                    ", \"batch_complete_us\": " + JsonNumber(c.phases.complete_us)
              : std::string()) +
         ", \"vs_device\": " + (r.device ? JsonNumber(*r.device) : "null") +
         ", \"vs_best_peer\": " + (r.best_peer ? JsonNumber(*r.best_peer) : "null") +
         ", \"error\": " + (c.error.empty() ? "null" : JsonString(c.error)) + "}" +
         (i + 1 < cells.size() ? ",\n" : "\n");
  }
  j += "  ]\n}\n";
  if (opt.json == "-") {
    std::fputs(j.c_str(), stdout);
    return;
  }
  FILE* f = std::fopen(opt.json.c_str(), "w");
  if (f == nullptr || std::fputs(j.c_str(), f) < 0 || std::fclose(f) != 0) {
    Die("cannot write " + opt.json);
  }
}

inline void PrintTable(const std::vector<Cell>& cells) {
  std::printf("%-20s %-22s %8s %9s %7s %8s %8s %8s %7s %9s %12s\n", "group", "system",
              "records", "records/s", "MB/s", "p50 µs", "p99 µs", "rec/sync", "disk/B", "vs device",
              "vs best peer");
  std::string last_group;
  for (const Cell& c : cells) {
    if (!last_group.empty() && c.group != last_group) std::printf("\n");
    last_group = c.group;
    const Ratios r = RatiosOf(cells, c);
    if (!c.error.empty()) {
      std::printf("%-20s %-22s FAILED: %s\n", c.group.c_str(), c.system.c_str(), c.error.c_str());
      continue;
    }
    char per_sync[16] = "-";
    if (c.per_sync > 0) std::snprintf(per_sync, sizeof per_sync, "%.1f", c.per_sync);
    std::printf("%-20s %-22s %8llu %9.0f %7.1f %8.0f %8.0f %8s %7s %9s %12s\n", c.group.c_str(),
                c.system.c_str(), static_cast<unsigned long long>(c.records), c.per_s(), c.mb_s(),
                c.p50_us, c.p99_us, per_sync, DiskPerByte(c).c_str(), Ratio(r.device).c_str(),
                Ratio(r.best_peer).c_str());
  }
}

}  // namespace ron::bench

#endif  // BENCH_PEERS_REPORT_H_
