// The WAL's metrics in Prometheus text exposition format (validated by `promtool check
// metrics` in tests). The engine's full metrics page (engine/metrics_page.h) embeds this.
#ifndef WAL_METRICS_H_
#define WAL_METRICS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ron::wal {

class Wal;

// A fixed-bucket latency histogram in seconds. Not thread-safe (one owner).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 13> kBoundsSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};

  void Observe(double seconds);
  // Appends "# HELP/# TYPE" and the _bucket/_sum/_count lines of metric `name`; `labels`
  // (e.g. `service="x"`, already escaped) goes on every sample.
  void Render(const std::string& name, const std::string& help, std::string* out,
              const std::string& labels = "") const;
  // Render's two halves, for a histogram of several label sets: the HELP/TYPE lines once,
  // then the samples of each set.
  static void RenderHeader(const std::string& name, const std::string& help, std::string* out);
  void RenderSamples(const std::string& name, std::string* out,
                     const std::string& labels = "") const;
  uint64_t count() const { return count_; }
  // Adds another histogram's observations (to combine several WALs).
  void Merge(const LatencyHistogram& other);

 private:
  std::array<uint64_t, kBoundsSeconds.size()> buckets_{};  // cumulative at render time
  uint64_t count_ = 0;
  double sum_ = 0;
};

// A copy of a WAL's metrics, taken by its owner thread, that other threads may read and that
// several WALs (one per engine worker) can be merged into.
struct WalMetricsSnapshot {
  std::string backend;  // "io_uring" or "pwritev"
  uint64_t torn_tail_total = 0, corrupt_total = 0, io_errors_total = 0, fsync_total = 0,
           bytes_written = 0, records_written = 0, segments_created = 0, segments_preallocated = 0,
           zero_filled_bytes = 0, journal_commits = 0, commits_on_caller = 0,
           journal_records_applied = 0, journal_held_bytes = 0;  // the last, a gauge
  LatencyHistogram fsync;
  struct StreamStateLine {
    std::string writer_id, stream;
    int state = 0;
  };
  std::vector<StreamStateLine> streams;

  // With `with_streams` false the stream list is left empty: the caller keeps the one it took
  // at the same Wal::stream_set_version().
  static WalMetricsSnapshot Of(const Wal& wal, bool with_streams = true);
  void Merge(const WalMetricsSnapshot& other);
  // Adds only the counters and the histogram: a WAL reopened by the same owner (after a full
  // disk) carries its predecessor's totals, so that no counter ever goes backwards.
  void AddTotals(const WalMetricsSnapshot& earlier);
  // The page; `labels` (e.g. `service="x"`, already escaped) goes on every sample.
  std::string Text(const std::string& labels = "") const;
};

std::string MetricsText(const Wal& wal);

// A label value escaped as the exposition format wants it (backslash, quote and line feed; all
// else literal), without the quotes. One escaping for every metric the engine renders.
std::string LabelValue(std::string_view value);

}  // namespace ron::wal

#endif  // WAL_METRICS_H_
