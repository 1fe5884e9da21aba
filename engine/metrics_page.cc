#include "engine/metrics_page.h"

#include <map>

namespace ron {

std::string RenderMetricsPage(const MetricsPageInputs& in) {
  std::string out;
  const std::string service = "service=\"" + wal::LabelValue(in.service) + "\"";
  const auto header = [&](const char* name, const char* type, const char* help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  const auto sample = [&](const char* name, const std::string& labels, uint64_t v) {
    out += std::string(name) + "{" + service + (labels.empty() ? "" : ",") + labels + "} " +
           std::to_string(v) + "\n";
  };
  // One unlabelled series (beyond service): its HELP/TYPE and its sample.
  const auto single = [&](const char* name, const char* type, const char* help, uint64_t v) {
    header(name, type, help);
    sample(name, "", v);
  };
  const auto label = [](const char* key, std::string_view value) {
    return std::string(key) + "=\"" + wal::LabelValue(value) + "\"";
  };

  header("audit_appended_total", "counter",
         "Records made durable (per the fsync policy), by kind and stream.");
  std::map<std::pair<std::string, std::string>, uint64_t> appended;
  for (const auto& w : in.workers) w->AppendedCounts(&appended);
  if (appended.empty()) sample("audit_appended_total", "kind=\"\",stream=\"\"", 0);
  for (const auto& [key, n] : appended) {
    sample("audit_appended_total", label("kind", key.first) + "," + label("stream", key.second),
           n);
  }
  header("audit_drop_total", "counter", "Records shed or refused before they were stored.");
  sample("audit_drop_total", "reason=\"audit_backpressure\"",
         in.metrics.busy + in.metrics.busy_sealed);
  sample("audit_drop_total", "reason=\"io_backpressure\"", in.metrics.drop_io);
  sample("audit_drop_total", "reason=\"bounds_exceeded\"", in.metrics.drop_bounds);
  sample("audit_drop_total", "reason=\"shutdown\"", in.metrics.aborted);
  sample("audit_drop_total", "reason=\"closed\"", in.metrics.drop_closed);
  header("audit_queue_depth", "gauge", "Tasks waiting in the writers' queues, by stream.");
  std::vector<std::pair<std::string, uint64_t>> queued;
  for (const auto& w : in.workers) w->StreamDepths(&queued);
  // By stream name: two writers' streams of one name (AppendSealed) may sit on two workers,
  // and a series may appear once only.
  std::map<std::string, uint64_t> depths;
  for (const auto& [stream, n] : queued) depths[stream] += n;
  if (depths.empty()) sample("audit_queue_depth", "stream=\"\"", 0);
  for (const auto& [stream, n] : depths) sample("audit_queue_depth", label("stream", stream), n);
  header("audit_worker_queue_depth", "gauge", "Tasks waiting in each writer's queue.");
  for (size_t i = 0; i < in.workers.size(); ++i) {
    sample("audit_worker_queue_depth", "worker=\"" + std::to_string(i) + "\"",
           in.workers[i]->depth());
  }
  single("audit_bytes_total", "counter", "Canonical bytes appended (excluding self_hash).",
         in.metrics.bytes);
  single("audit_export_checkpoints_total", "counter", "Merkle checkpoints produced.",
         in.builder ? in.builder->checkpoints_total() : 0);
  header("io_timeouts_total", "counter",
         "WAL commits over their time budget (op=wal); failed export attempts (op=export).");
  sample("io_timeouts_total", "op=\"wal\"", in.metrics.wal_timeouts);
  sample("io_timeouts_total", "op=\"export\"", in.builder ? in.builder->export_failures_total() : 0);
  header("audit_verify_fail_total", "counter",
         "Verification failures: changed records (hash), broken links (prev), manifest gaps.");
  sample("audit_verify_fail_total", "reason=\"hash_mismatch\"", in.metrics.verify_hash);
  sample("audit_verify_fail_total", "reason=\"prev_mismatch\"", in.metrics.verify_prev);
  sample("audit_verify_fail_total", "reason=\"manifest_gap\"", in.metrics.manifest_gap);
  header("tasks_spawned_total", "counter", "Writer threads started.");
  sample("tasks_spawned_total", "kind=\"audit_worker\"", in.workers.size());
  header("tasks_aborted_total", "counter",
         "Queued work failed with Closed at the close deadline.");
  sample("tasks_aborted_total", "kind=\"audit_worker\"", in.metrics.aborted);
  header("busy_rejections_total", "counter", "Calls answered Busy.");
  sample("busy_rejections_total", "endpoint=\"emit\"", in.metrics.busy);
  sample("busy_rejections_total", "endpoint=\"append_sealed\"", in.metrics.busy_sealed);
  single("audit_dedupe_hits_total", "counter", "AppendSealed replays answered Duplicate.",
         in.metrics.dedupe_hits);
  single("audit_log_callback_errors_total", "counter",
         "Exceptions thrown by the host's log callback (swallowed: the engine goes on).",
         in.metrics.log_callback_errors);
  single("audit_key_rotations_total", "counter",
         "Streams switched to a new checkpoint signing key (KeyRotated records appended).",
         in.metrics.key_rotations);
  single("audit_pii_redacted_total", "counter",
         "IP address literals in attrs dropped, coarsened or hashed (privacy.ip_mode).",
         in.metrics.pii_redacted);
  single("audit_pii_blocked_total", "counter",
         "Sealed records refused for holding an IP address literal (privacy.ip_mode).",
         in.metrics.pii_blocked);
  single("audit_emitted_total", "counter", "Drafts offered to Emit.", in.metrics.emitted);
  single("audit_rejected_total", "counter",
         "Records refused with an error (schema, chain, bounds, busy, I/O, closed).",
         in.metrics.rejected);
  single("audit_ready", "gauge",
         "1 when the engine accepts writes (config loaded, WAL ready, not suspended).",
         in.accepting ? 1 : 0);
  if (in.builder != nullptr) {
    in.builder->RenderHistogram(&out, service);
  } else {
    wal::LatencyHistogram none;  // no export sink: an empty histogram keeps the page uniform
    none.Render("export_batch_seconds",
                "Checkpoint + manifest latency (sign, write, fsync) per export batch.", &out,
                service);
  }
  BatchTimes batches;  // every writer thread's, merged
  for (const auto& w : in.workers) w->AddBatchTimes(&batches);
  wal::LatencyHistogram::RenderHeader(
      "audit_batch_seconds",
      "Writer-thread time per committed batch, by phase: stage (records checked, chained and "
      "framed), commit (the sink's write and sync, per the fsync policy), complete (tickets "
      "completed, waiting callers woken).",
      &out);
  batches.stage.RenderSamples("audit_batch_seconds", &out, service + ",phase=\"stage\"");
  batches.commit.RenderSamples("audit_batch_seconds", &out, service + ",phase=\"commit\"");
  batches.complete.RenderSamples("audit_batch_seconds", &out, service + ",phase=\"complete\"");
  single("audit_batch_records_total", "counter",
         "Records staged by the batches audit_batch_seconds counts (over its _count: records "
         "per batch).",
         batches.records);
  wal::WalMetricsSnapshot wal;  // every worker's WAL, merged
  bool any = false;
  for (const auto& w : in.workers) any = w->WalMetrics(&wal) || any;
  if (any) out += wal.Text(service);
  return out;
}

}  // namespace ron
