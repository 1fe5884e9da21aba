#include "wal/metrics.h"

#include <cstdio>

#include "wal/wal.h"

namespace ron::wal {
namespace {

void Counter(const char* name, const char* help, uint64_t value, std::string* out) {
  char line[256];
  std::snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
                name, static_cast<unsigned long long>(value));
  *out += line;
}

// Label values are escaped per the exposition format: backslash, quote and newline.
std::string LabelValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void LatencyHistogram::Observe(double seconds) {
  for (size_t i = 0; i < kBoundsSeconds.size(); ++i) {
    if (seconds <= kBoundsSeconds[i]) {
      ++buckets_[i];
      break;
    }
  }
  ++count_;
  sum_ += seconds;
}

void LatencyHistogram::Render(const std::string& name, const std::string& help,
                              std::string* out) const {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  char line[160];
  for (size_t i = 0; i < kBoundsSeconds.size(); ++i) {
    cumulative += buckets_[i];
    std::snprintf(line, sizeof(line), "%s_bucket{le=\"%g\"} %llu\n", name.c_str(),
                  kBoundsSeconds[i], static_cast<unsigned long long>(cumulative));
    *out += line;
  }
  std::snprintf(line, sizeof(line), "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
                name.c_str(), static_cast<unsigned long long>(count_), name.c_str(), sum_,
                name.c_str(), static_cast<unsigned long long>(count_));
  *out += line;
}

std::string MetricsText(const Wal& wal) {
  std::string out;
  out += "# HELP wal_io_backend The WAL's I/O backend: 1 for the one in use.\n";
  out += "# TYPE wal_io_backend gauge\n";
  for (const char* backend : {"io_uring", "pwritev"}) {
    out += std::string("wal_io_backend{backend=\"") + backend + "\"} " +
           (wal.backend_name() == backend ? "1" : "0") + "\n";
  }
  const WalCounters& c = wal.counters();
  Counter("wal_torn_tail_total", "Torn final writes truncated by recovery.", c.torn_tail_total, &out);
  Counter("wal_corrupt_total", "Streams found corrupt (opened frozen) by recovery.", c.corrupt_total, &out);
  Counter("wal_io_errors_total", "Write or fsync failures (each fatal for its stream).", c.io_errors_total, &out);
  Counter("wal_fsync_total", "Durable flushes (fdatasync or RWF_DSYNC writes).", c.fsync_total, &out);
  Counter("wal_written_bytes_total", "Bytes written to segments, padding included.", c.bytes_written, &out);
  Counter("wal_records_written_total", "Records made durable.", c.records_written, &out);
  Counter("wal_segments_created_total", "Segments created.", c.segments_created, &out);
  Counter("wal_segments_preallocated_total", "Segments that were zero-filled ahead of need.",
          c.segments_preallocated, &out);
  wal.fsync_histogram().Render("wal_fsync_seconds", "Latency of a batch's write and fdatasync.", &out);
  out += "# HELP wal_stream_state Stream state: 0 ok, 1 frozen (corruption), 2 failed (I/O error).\n";
  out += "# TYPE wal_stream_state gauge\n";
  for (const StreamWal* s : wal.streams()) {
    out += "wal_stream_state{writer_id=\"" + LabelValue(s->writer_id()) + "\",stream=\"" +
           LabelValue(s->stream()) + "\"} " + std::to_string(static_cast<int>(s->state())) + "\n";
  }
  return out;
}

}  // namespace ron::wal
