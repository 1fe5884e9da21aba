#include "wal/metrics.h"

#include <cstdio>

#include "wal/wal.h"

namespace ron::wal {
namespace {

void Sample(const char* type, const char* name, const char* help, uint64_t value,
            const std::string& labels, std::string* out) {
  // Appended piece by piece: a fixed line buffer cut a long help text and the sample's name
  // after it.
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
          name;
  if (!labels.empty()) *out += "{" + labels + "}";
  *out += " " + std::to_string(value) + "\n";
}

void Counter(const char* name, const char* help, uint64_t value, const std::string& labels,
             std::string* out) {
  Sample("counter", name, help, value, labels, out);
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
                              std::string* out, const std::string& labels) const {
  RenderHeader(name, help, out);
  RenderSamples(name, out, labels);
}

void LatencyHistogram::RenderHeader(const std::string& name, const std::string& help,
                                    std::string* out) {
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
}

void LatencyHistogram::RenderSamples(const std::string& name, std::string* out,
                                     const std::string& labels) const {
  const std::string before_le = labels.empty() ? "{" : "{" + labels + ",";
  const std::string only = labels.empty() ? "" : "{" + labels + "}";
  uint64_t cumulative = 0;
  char value[64];
  for (size_t i = 0; i < kBoundsSeconds.size(); ++i) {
    cumulative += buckets_[i];
    std::snprintf(value, sizeof(value), "le=\"%g\"} %llu\n", kBoundsSeconds[i],
                  static_cast<unsigned long long>(cumulative));
    *out += name + "_bucket" + before_le + value;
  }
  *out += name + "_bucket" + before_le + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  std::snprintf(value, sizeof(value), " %.9f\n", sum_);
  *out += name + "_sum" + only + value;
  *out += name + "_count" + only + " " + std::to_string(count_) + "\n";
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
}

WalMetricsSnapshot WalMetricsSnapshot::Of(const Wal& wal, bool with_streams) {
  WalMetricsSnapshot m;
  m.backend = std::string(wal.backend_name());
  const WalCounters& c = wal.counters();
  m.torn_tail_total = c.torn_tail_total;
  m.corrupt_total = c.corrupt_total;
  m.io_errors_total = c.io_errors_total;
  m.fsync_total = c.fsync_total;
  m.bytes_written = c.bytes_written;
  m.records_written = c.records_written;
  m.segments_created = c.segments_created;
  m.segments_preallocated = c.segments_preallocated;
  m.zero_filled_bytes = wal.bytes_zero_filled();
  m.journal_commits = c.journal_commits;
  m.commits_on_caller = c.commits_on_caller;
  m.journal_records_applied = wal.journal_records_applied();
  m.journal_held_bytes = wal.held_bytes();
  m.fsync = wal.fsync_histogram();
  if (!with_streams) return m;
  for (const StreamWal* s : wal.streams()) {
    m.streams.push_back({s->writer_id(), s->stream(), static_cast<int>(s->state())});
  }
  return m;
}

void WalMetricsSnapshot::Merge(const WalMetricsSnapshot& o) {
  if (backend.empty()) backend = o.backend;
  AddTotals(o);
  journal_held_bytes += o.journal_held_bytes;  // a gauge: not carried over by AddTotals
  streams.insert(streams.end(), o.streams.begin(), o.streams.end());
}

void WalMetricsSnapshot::AddTotals(const WalMetricsSnapshot& o) {
  torn_tail_total += o.torn_tail_total;
  corrupt_total += o.corrupt_total;
  io_errors_total += o.io_errors_total;
  fsync_total += o.fsync_total;
  bytes_written += o.bytes_written;
  records_written += o.records_written;
  segments_created += o.segments_created;
  segments_preallocated += o.segments_preallocated;
  zero_filled_bytes += o.zero_filled_bytes;
  journal_commits += o.journal_commits;
  commits_on_caller += o.commits_on_caller;
  journal_records_applied += o.journal_records_applied;
  fsync.Merge(o.fsync);
}

std::string WalMetricsSnapshot::Text(const std::string& labels) const {
  std::string out;
  const std::string first = labels.empty() ? "{" : "{" + labels + ",";
  out += "# HELP wal_io_backend The WAL's I/O backend: 1 for the one in use.\n";
  out += "# TYPE wal_io_backend gauge\n";
  for (const char* name : {"io_uring", "pwritev"}) {
    out += "wal_io_backend" + first + "backend=\"" + name + "\"} " +
           (backend == name ? "1" : "0") + "\n";
  }
  Counter("wal_torn_tail_total", "Torn final writes truncated by recovery.", torn_tail_total,
          labels, &out);
  Counter("wal_corrupt_total", "Streams found corrupt (opened frozen) by recovery.", corrupt_total,
          labels, &out);
  Counter("wal_io_errors_total", "Write or fsync failures (each fatal for its stream).",
          io_errors_total, labels, &out);
  Counter("wal_fsync_total", "Durable flushes (fdatasync, RWF_DSYNC writes, syncfs of a commit's files).", fsync_total,
          labels, &out);
  Counter("wal_written_bytes_total", "Bytes written to segments, padding included.", bytes_written,
          labels, &out);
  Counter("wal_records_written_total", "Records made durable.", records_written, labels, &out);
  Counter("wal_segments_created_total", "Segments created.", segments_created, labels, &out);
  Counter("wal_segments_preallocated_total", "Segments that were zero-filled ahead of need.",
          segments_preallocated, labels, &out);
  Counter("wal_zero_filled_bytes_total",
          "Zeros written ahead of need into segments (taken or not): preallocation's extra "
          "writes next to wal_written_bytes_total.",
          zero_filled_bytes, labels, &out);
  Counter("wal_journal_commits_total",
          "Commits made durable by one append to the commit journal (many streams each).",
          journal_commits, labels, &out);
  Counter("wal_commits_on_caller_total",
          "Commits whose segment writes and syncs ran on the committing thread, not through "
          "io_uring's workers (small ones, those that sync nothing, a bulk import's batches).",
          commits_on_caller, labels, &out);
  Counter("wal_journal_records_applied_total",
          "Records recovery took from commit journals into their segments.",
          journal_records_applied, labels, &out);
  Sample("gauge", "wal_journal_held_bytes",
         "Bytes of acknowledged frames held back from their segments (durable in the commit "
         "journal; EngineOptions::journal_hold_bytes).",
         journal_held_bytes, labels, &out);
  fsync.Render("wal_fsync_seconds", "Latency of a batch's write and fdatasync.", &out, labels);
  out +=
      "# HELP wal_stream_state Stream state: 0 ok, 1 frozen (corruption), 2 failed (I/O error).\n";
  out += "# TYPE wal_stream_state gauge\n";
  for (const StreamStateLine& s : streams) {
    out += "wal_stream_state" + first + "writer_id=\"" + LabelValue(s.writer_id) +
           "\",stream=\"" + LabelValue(s.stream) + "\"} " + std::to_string(s.state) + "\n";
  }
  return out;
}

std::string LabelValue(std::string_view v) {
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

std::string MetricsText(const Wal& wal) { return WalMetricsSnapshot::Of(wal).Text(); }

}  // namespace ron::wal
