// One writer thread: takes batches from its bounded queue, puts records into its sink (RAM or
// its own WAL), completes tickets once durable, cuts checkpoints (export sinks), and applies
// the disk-space policy. Every (writer_id, stream) belongs to exactly one worker (OwnerIndex),
// so a chain head has a single writer.
#ifndef ENGINE_WORKER_H_
#define ENGINE_WORKER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checkpoint/builder.h"
#include "engine/checkpoint_cutter.h"
#include "engine/core/hash.h"
#include "engine/event_log.h"
#include "engine/sink.h"
#include "engine/task_queue.h"
#include "engine/wal_sink.h"
#include "wal/io.h"
#include "wal/metrics.h"

namespace ron {

// Where a writer thread's time goes, per batch it commits (the metrics page's
// audit_batch_seconds and audit_batch_records_total): what an operator reads to tell a
// writer held by the device (commit) from one held by the CPU (stage) or by waking callers
// (complete).
struct BatchTimes {
  wal::LatencyHistogram stage;     // the batch's records checked, chained, framed and staged
  wal::LatencyHistogram commit;    // the sink's commit: write and sync (per the fsync policy)
  wal::LatencyHistogram complete;  // tickets completed: waiting callers woken
  uint64_t records = 0;            // records staged by those batches
  void Merge(const BatchTimes& other) {
    stage.Merge(other.stage);
    commit.Merge(other.commit);
    complete.Merge(other.complete);
    records += other.records;
  }
};

// What a worker needs of its engine, and no more. Everything outlives the worker.
// The commit journals the writer threads' WALs write now (wal/journal.h): a WAL that opens
// (at Start, or again after a full disk) applies every other journal it finds, never these.
class LiveJournals {
 public:
  void Add(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!path.empty()) paths_.insert(path);
  }
  void Remove(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.erase(path);
  }
  bool Contains(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_.count(path) != 0;
  }
  std::set<std::string> Paths() const {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }
  // Journals of earlier runs a WAL found holding records of a stream that ended frozen
  // (Wal::journals_to_set_aside): retired by setting them aside, not by removing them.
  void SetAside(const std::vector<std::string>& paths) {
    std::lock_guard<std::mutex> lock(mu_);
    set_aside_.insert(paths.begin(), paths.end());
  }
  std::set<std::string> ToSetAside() const {
    std::lock_guard<std::mutex> lock(mu_);
    return set_aside_;
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> paths_;
  std::set<std::string> set_aside_;
};

struct WorkerContext {
  const EngineOptions* options = nullptr;  // directories already resolved
  std::string writer_id;
  Limits limits;
  size_t workers = 1;
  wal::FaultInjector* faults = nullptr;
  CheckpointBuilder* builder = nullptr;  // null without an export sink
  EventLog* log = nullptr;
  EngineMetrics* metrics = nullptr;
  std::atomic<int>* suspended_workers = nullptr;  // workers whose writes a full disk suspended
  LiveJournals* live_journals = nullptr;
  // Publishes a stream's head (Engine::State), once per batch, before its tickets complete.
  PublishHead publish;
  // privacy.ip_mode on a prepared draft (canonicalize_in_emit = false: on this thread).
  std::function<Status(Canonicalizer*, CanonicalRecord*)> apply_ip_policy;
};

class Worker {
 public:
  Worker(const WorkerContext& context, size_t index);
  ~Worker();

  // Starts the thread. The sink (and a WAL's io_uring, created SINGLE_ISSUER) is opened on the
  // worker thread itself, which is the only thread that ever submits to it.
  Status Start();
  PushResult TryPush(Task&& task, SlotLeftovers* leftovers = nullptr) {
    return queue_.TryPush(std::move(task), leftovers);
  }
  PushResult TryPushMany(Task* tasks, size_t n, size_t* pushed,
                         SlotLeftovers* leftovers = nullptr) {
    return queue_.TryPushMany(tasks, n, pushed, leftovers);
  }
  [[nodiscard]] bool PushUnbounded(Task&& task) { return queue_.PushUnbounded(std::move(task)); }
  void Stop(Deadline deadline) { queue_.Stop(deadline); }
  void Join();

  // Metrics (any thread).
  size_t depth() const { return queue_.depth(); }
  void StreamDepths(std::vector<std::pair<std::string, uint64_t>>* out) const {
    queue_.StreamDepths(out);
  }
  void AppendedCounts(std::map<std::pair<std::string, std::string>, uint64_t>* out) const;
  bool WalMetrics(wal::WalMetricsSnapshot* out) const;
  // Where this writer thread's time went, per batch it committed: added to *out.
  void AddBatchTimes(BatchTimes* out) const;
  // After Join: the sink's close, or Closed when tasks were dropped at the deadline.
  Status close_status() const { return close_status_; }

 private:
  std::string journal_path_;  // the journal of the open WAL, listed in ctx_.live_journals
  struct Staged;

  Status OpenSink();
  void Pin();
  void Run();
  void Abort(TaskBatch* batch);
  void ProcessBatch(TaskBatch* batch);
  // Whether the batch's callers wait for its commit with nothing queued behind it (Sink::Commit).
  bool CommitsAlone(const TaskBatch& batch) const;
  void RefuseWhileSuspended(TaskBatch* batch);
  void CompleteStaged(const Status& committed, std::vector<Staged>* staged);
  // A batch's drafts are staged together (docs/PERFORMANCE_LOG.md): QueueEmit splices each with its
  // seq and prev — a stand-in of prev's length when the record before it in its stream is
  // queued too — and StageEmits hashes every queued record's blocks before prev in SIMD lanes
  // (Blake3Prefix), then writes each prev, finishes its hash and stages it, in queue order. Any
  // other task, and the batch's end, stages what is queued first. Where this differs from
  // staging each draft as it comes (only after a stage failed, i.e. its stream failed): the
  // record bound is checked with the seq a draft was queued with, and drafts refused when
  // queued are answered before earlier ones refused when staged.
  void QueueEmit(EmitTask* task, std::vector<Staged>* staged);
  void StageEmits(std::vector<Staged>* staged);
  void HandleSealed(SealedTask* task, std::vector<Staged>* staged);
  Status Prepare(EmitTask* task);
  Status RoomForNewStream() const;
  void Reject(const std::shared_ptr<TicketState>& ticket, const Status& status);
  std::atomic<uint64_t>* CounterFor(const Record& r);
  // The sink's stream `writer`/`stream` (last_ when the previous record of this batch went
  // there), opened if this worker has room for it. `seq`: a sealed record's (only seq 1 may
  // start a stream: else SeqGap); 0 for a draft.
  Result<SinkStream*> StreamFor(const std::string& writer, const std::string& stream, uint64_t seq);
  void PublishHeads();
  void SnapshotWal();
  // The disk-space policy (WAL sinks): warn below wal.space_left; on a full disk suspend this
  // worker's writes (disk_full_action = suspend) until space returns, then reopen the WAL.
  uint64_t FreeBytes() const;
  void WatchSpace(const Status& committed);
  void TryResume();

  const WorkerContext& ctx_;
  const EngineOptions& options_;
  const size_t index_;
  TaskQueue queue_;
  std::thread thread_;
  mutable std::mutex snapshot_mu_;  // guards wal_metrics_, batch_times_ and appended_by_'s shape
  AppendedByLabel appended_by_;     // inserted by the worker under snapshot_mu_
  wal::WalMetricsSnapshot wal_metrics_;
  BatchTimes batch_times_;
  bool has_wal_metrics_ = false;
  // Owned by the worker thread alone:
  std::unique_ptr<Sink> sink_;
  WalSink* wal_sink_ = nullptr;               // sink_ when it is a WAL
  std::unique_ptr<CheckpointCutter> cutter_;  // export sinks only
  struct QueuedEmit {
    EmitTask* task;
    SinkStream* stream;
  };
  std::vector<Staged> staged_;  // the batch's staged records, until their tickets complete
  std::vector<QueuedEmit> queued_;
  std::vector<CanonicalRecord> queued_records_;  // queued_[i]'s record; kept across batches
  std::vector<std::string_view> queued_views_;
  std::vector<size_t> queued_tails_;
  Blake3Prefix prefix_;
  // The stream of the previous record of this batch (its key in stream_cache_), and the counter
  // of the previous (kind, stream): a batch is mostly runs of one stream, which skip the
  // lookups below. Cleared at each batch and with stream_cache_.
  struct LastStream {
    const StringPair* stream_key = nullptr;
    SinkStream* sink_stream = nullptr;
    std::string counter_kind, counter_stream;
    std::atomic<uint64_t>* counter = nullptr;
  } last_;
  // The same by hashed (writer_id, stream) and (kind, stream), for a record whose stream is not
  // the previous one's (1000 streams round-robin). Streams point into the sink and go with it
  // (OpenSink); counters point into appended_by_, whose nodes never move. At most
  // as many as the sink holds streams, and kMaxLabelSets counters.
  std::unordered_map<StringPair, SinkStream*, StringPairHash, StringPairEqual> stream_cache_;
  std::unordered_map<StringPair, std::atomic<uint64_t>*, StringPairHash, StringPairEqual>
      counter_cache_;
  std::unique_ptr<Canonicalizer> canonicalizer_;  // canonicalize_in_emit = false only
  Status close_status_;
  uint64_t aborted_ = 0;                    // tasks failed with Closed at the Close deadline
  wal::WalMetricsSnapshot retired_totals_;  // WALs this worker reopened (full disk): totals
  // Which WAL, at which Wal::stream_set_version(), wal_metrics_.streams was copied from.
  const wal::Wal* snapshot_wal_ = nullptr;
  uint64_t snapshot_version_ = 0;
  bool opened_once_ = false;
  bool suspended_ = false;
  bool space_warned_ = false;
  Clock::time_point last_space_check_{};
  std::chrono::milliseconds export_every_{0};
  Clock::time_point next_export_{};
};

}  // namespace ron

#endif  // ENGINE_WORKER_H_
