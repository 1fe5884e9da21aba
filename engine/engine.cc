#include "ron_audit/engine.h"

#include <pthread.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <type_traits>
#include <variant>

#include "checkpoint/builder.h"
#include "engine/core/canonical.h"
#include "engine/core/check.h"
#include "engine/core/key_rotation.h"
#include "engine/core/verify.h"
#include "engine/privacy.h"
#include "engine/testing_hooks.h"
#include "segment/segment_format.h"
#include "wal/files.h"
#include "wal/metrics.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron {

// ---- Tickets ------------------------------------------------------------------------------

class TicketState {
 public:
  void Complete(Status status, Receipt receipt, AppendOutcome outcome = AppendOutcome::kAppended) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      status_ = std::move(status);
      receipt_ = receipt;
      outcome_ = outcome;
      done_ = true;
    }
    cv_.notify_all();
  }
  bool Wait(Deadline deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_until(lock, deadline, [&] { return done_; });
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  Result<Receipt> result() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.ok()) return status_;
    return receipt_;
  }
  AppendOutcome outcome() {
    std::lock_guard<std::mutex> lock(mu_);
    return outcome_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
  Receipt receipt_;
  AppendOutcome outcome_ = AppendOutcome::kAppended;
};

namespace {
// How deep this thread is inside the host's log callback. The callback runs on the engine's own
// threads (writers, the checkpoint builder) as well as on callers': a call that waits for those
// threads from inside it would wait for itself, so such calls answer Busy at once instead.
thread_local int t_in_log_callback = 0;

Status FromLogCallback(const char* what) {
  return Status(Code::kBusy,
                std::string(what) + " from the engine's log callback would wait for the engine's "
                                    "own threads; call it from another thread");
}
}  // namespace

Result<Receipt> Ticket::Wait(Deadline deadline) const {
  if (state_ == nullptr) return Status(Code::kSchema, "Wait on an empty (moved-from) Ticket");
  if (t_in_log_callback > 0 && !state_->done()) return FromLogCallback("Ticket::Wait");
  if (!state_->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
  return state_->result();
}

bool Ticket::done() const { return state_ == nullptr || state_->done(); }

namespace {

using Clock = std::chrono::steady_clock;


uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// FNV-1a over writer_id, a separator and stream: stable across runs and builds.
size_t OwnerIndex(std::string_view writer_id, std::string_view stream, size_t workers) {
  uint64_t h = 1469598103934665603ULL;
  const auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(writer_id);
  mix(std::string_view("\0", 1));
  mix(stream);
  return static_cast<size_t>(h % workers);
}

struct EmitTask {
  std::string stream;
  CanonicalRecord prepared;  // canonicalized on the caller's thread; seq and prev still to come
  std::shared_ptr<TicketState> ticket;
  std::string draft;  // instead, when EmitOptions say the owner canonicalizes
};
struct SealedTask {
  CanonicalRecord record;  // verified on the caller's thread
  std::shared_ptr<TicketState> ticket;
};
struct FlushTask {
  std::shared_ptr<TicketState> ticket;
  bool checkpoint = false;  // also cut a checkpoint of every stream with records since the last
};
// Reads of the RAM ring go through its owner (sink=ram; WAL reads need no owner).
struct ReadTask {
  std::string writer_id, stream;
  uint64_t from_seq = 1;
  size_t max_records = 0;
  std::shared_ptr<std::vector<std::string>> out;
  std::shared_ptr<TicketState> ticket;
};
using Task = std::variant<EmitTask, SealedTask, FlushTask, ReadTask>;

// The stream a task counts against (for per-stream bounds and the queue-depth gauge).
std::string_view StreamOf(const Task& task) {
  if (const auto* e = std::get_if<EmitTask>(&task)) return e->stream;
  if (const auto* s = std::get_if<SealedTask>(&task)) return s->record.record.stream;
  return {};
}

enum class PushResult { kQueued, kFull, kClosed };

// RFC 3339 UTC with milliseconds: 2026-11-22T07:31:00.123Z.
std::string Rfc3339Now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const time_t secs = static_cast<time_t>(ms.count() / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms.count() % 1000));
  return buf;
}

// The docs/OBSERVABILITY.md reason of a refused record.
const char* RejectReason(Code code) {
  switch (code) {
    case Code::kAttrsTooLarge:
    case Code::kRecordTooLarge:
      return "bounds_exceeded";
    case Code::kHashMismatch:
    case Code::kPrevMismatch:
      return "tamper";
    case Code::kConflict:  // another record at a stored seq: a race or a diverged replica
      return "conflict";
    case Code::kFloat:
      return "float";
    case Code::kUtf8:
      return "utf8";
    case Code::kSeqGap:
      return "seq_gap";
    case Code::kBusy:
      return "busy";
    case Code::kIo:
    case Code::kFrozen:
    case Code::kClosed:
      return "io";
    default:
      return "schema";
  }
}

// Optional fields of a log line; empty ones are left out.
struct LogFields {
  std::string_view writer_id{};  // defaults to the engine's
  std::string_view stream{};
  uint64_t seq = 0;
  const Digest* self_hash = nullptr;
  std::string_view reason{};
  std::string_view msg{};
};

// A stream held in RAM (sink=ram): the newest sealed records, bounded.
struct RamStream {
  uint64_t head_seq = 0;
  Digest head_hash{};
  std::deque<std::pair<uint64_t, Digest>> recent;  // (seq, self_hash), oldest first
  std::deque<std::string> sealed;                  // parallel to `recent`
  std::string HeadText() const {
    return head_seq == 0 ? std::string(kGenesisPrev) : HashText(head_hash);
  }
};

}  // namespace

// ---- The engine ---------------------------------------------------------------------------

namespace {

// The calling thread's canonicalizer for `limits` (one per thread, rebuilt when an engine
// with other limits uses the thread).
Canonicalizer& ThreadCanonicalizer(const Limits& limits) {
  thread_local std::unique_ptr<Canonicalizer> canonicalizer;
  thread_local Limits built_for;
  if (canonicalizer == nullptr || built_for.max_attrs_bytes != limits.max_attrs_bytes ||
      built_for.max_record_bytes != limits.max_record_bytes) {
    canonicalizer = std::make_unique<Canonicalizer>(limits);
    built_for = limits;
  }
  return *canonicalizer;
}

}  // namespace

class Engine::Impl {
 public:
  struct Metrics {
    std::atomic<uint64_t> emitted{0}, appended{0}, busy{0}, dedupe_hits{0}, aborted{0}, rejected{0},
        bytes{0}, drop_closed{0}, drop_bounds{0}, drop_io{0}, verify_hash{0}, verify_prev{0},
        wal_timeouts{0}, manifest_gap{0}, key_rotations{0}, pii_redacted{0}, pii_blocked{0},
        log_callback_errors{0},
        busy_sealed{0};
  };
  // (kind, stream) → records appended. A worker inserts under its snapshot lock and bumps the
  // counter without it; the metrics page reads under the lock. Label sets are capped per worker
  // (kMaxLabelSets); the rest count under kind="_other",stream="_other".
  using AppendedByLabel = std::map<std::pair<std::string, std::string>, std::atomic<uint64_t>>;
  static constexpr size_t kMaxLabelSets = 512;

  class Worker {
   public:
    Worker(Impl* engine, size_t index) : engine_(engine), index_(index) {}

    // Starts the thread. The WAL (and its io_uring, created SINGLE_ISSUER) is opened on the
    // worker thread itself, which is the only thread that ever submits to it.
    Status Start(const EngineOptions& options) {
      exporting_ = engine_->builder_ != nullptr;
      export_every_ = std::chrono::milliseconds(options.config.export_.export_every_ms);
      next_export_ = Clock::now() + export_every_;
      capacity_ = options.config.queue_depth;
      overrides_ = &options.config.stream_queue_depth;
      block_ = options.config.shed_policy == ShedPolicy::kBlock;
      max_batch_ = options.max_batch_records;
      ram_limit_ = options.ram_records_per_stream;
      std::promise<Status> opened;
      std::future<Status> result = opened.get_future();
      // The promise moves into the thread: it must outlive set_value, not this frame.
      thread_ = std::thread([this, &options, opened = std::move(opened)]() mutable {
        opened.set_value(OpenWal(options));
        if (wal_ != nullptr || !options.config.UsesWal()) Run();
      });
      Pin(options.config);
      const Status status = result.get();
      if (!status.ok()) thread_.join();
      return status;
    }

    Status OpenWal(const EngineOptions& options) {
      if (!options.config.UsesWal()) return Status::Ok();
      wal::WalOptions w;
      w.dir = options.config.wal.dir;
      w.rotate_bytes = options.config.wal.rotate_bytes;
      w.fsync = options.config.wal.fsync;
      w.backend = options.io_backend;
      w.write_mode = options.write_mode;
      w.limits = engine_->limits_;
      w.faults = engine_->faults_;
      w.lock_dir = false;  // the engine holds the directory's lock (Impl::Start)
      const size_t workers = engine_->workers_.size();
      const size_t budget = options.max_open_segment_fds != 0 ? options.max_open_segment_fds
                                                               : wal::SegmentFdBudget();
      w.max_open_segments = std::max<size_t>(1, budget / workers);
      const size_t me = index_;
      w.owns = [workers, me](const std::string& writer, const std::string& stream) {
        return OwnerIndex(writer, stream, workers) == me;
      };
      if (exporting_) {
        w.on_durable = [this](const wal::StreamWal& s, uint64_t seq, const Digest& hash,
                              uint64_t segment_no,
                              uint64_t offset) { OnDurable(s, seq, hash, segment_no, offset); };
      }
      auto opened = wal::Wal::Open(w);
      if (!opened.ok()) return opened.status();
      wal_ = std::move(opened).value();
      if (exporting_) {
        if (Status checked = CheckAgainstExport(); !checked.ok()) {
          wal_.reset();  // the worker must not run on a WAL that failed to open
          return checked;
        }
        RestoreAccumulators();
      }
      if (!wal_->backend_note().empty()) {
        engine_->Log("warn", "wal.io_backend_fallback", wal_->backend_note());
      }
      for (const wal::StreamWal* s : wal_->streams()) {
        Publish(s->writer_id(), s->stream(), s->head_seq(), s->HeadText(), s->state());
        const wal::StreamReport* recovered = wal_->recovery_report(s);
        if (recovered != nullptr && recovered->frozen && !reported_frozen_) {
          // Verification on read (recovery) found the evidence changed: hash_mismatch covers
          // every corruption the scanner and the chain check name.
          const bool prev = s->failure().code() == Code::kPrevMismatch;
          (prev ? engine_->metrics_.verify_prev : engine_->metrics_.verify_hash)++;
          engine_->Log("error", "audit.verify.fail",
                       {.writer_id = s->writer_id(),
                        .stream = s->stream(),
                        .reason = prev ? "prev_mismatch" : "hash_mismatch",
                        .msg = s->failure().message()});
        }
      }
      reported_frozen_ = true;  // a reopen after a full disk reports nothing twice
      SnapshotWal();
      return Status::Ok();
    }

    // Never blocks on I/O: the lock guards only the deque and the per-stream counts. Under
    // shed_policy=block (tests only) a full queue waits for room instead of answering Busy.
    PushResult TryPush(Task&& task) {
      const std::string_view stream = StreamOf(task);
      bool was_empty = false;
      {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          if (stopping_) return PushResult::kClosed;
          if (queue_.size() < capacity_ && !StreamFull(stream)) break;
          if (!block_) return PushResult::kFull;
          room_cv_.wait(lock);
        }
        was_empty = queue_.empty();
        CountIn(stream);
        queue_.push_back(std::move(task));
      }
      // The worker only sleeps on an empty queue: wake it only then (a futex call per record
      // would cost more than the record).
      if (was_empty) cv_.notify_one();
      return PushResult::kQueued;
    }
    // Control tasks (flush, read, checkpoint) are never shed; refused (false) once the worker
    // is stopping, so that a call racing Close gets Closed at once instead of waiting for a
    // thread that will never take it (it used to wait for its deadline and answer Busy).
    [[nodiscard]] bool PushUnbounded(Task&& task) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return false;
        queue_.push_back(std::move(task));
      }
      cv_.notify_one();
      return true;
    }
    // (stream, tasks queued now) for every stream this worker has queued work for, 0 included:
    // a gauge series that vanished when its queue emptied would look like missing data to an
    // alert. Bounded: idle entries are dropped beyond 1024 streams (Pop).
    void StreamDepths(std::vector<std::pair<std::string, uint64_t>>* out) const {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [stream, n] : in_queue_) out->emplace_back(stream, n);
    }
    void AppendedCounts(std::map<std::pair<std::string, std::string>, uint64_t>* out) const {
      std::lock_guard<std::mutex> lock(snapshot_mu_);
      for (const auto& [key, n] : appended_by_) (*out)[key] += n.load(std::memory_order_relaxed);
    }
    void Stop(Deadline deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        stop_deadline_ = deadline;
      }
      cv_.notify_one();
      room_cv_.notify_all();
    }
    void Join() {
      if (thread_.joinable()) thread_.join();
    }
    size_t depth() const {
      std::lock_guard<std::mutex> lock(mu_);
      return queue_.size();
    }
    bool WalMetrics(wal::WalMetricsSnapshot* out) const {
      std::lock_guard<std::mutex> lock(snapshot_mu_);
      if (!has_wal_metrics_) return false;
      out->Merge(wal_metrics_);
      return true;
    }
    Status close_status() const { return close_status_; }

   private:
    // Called with mu_ held.
    bool StreamFull(std::string_view stream) const {
      if (stream.empty() || overrides_->empty()) return false;
      const auto limit = overrides_->find(stream);
      if (limit == overrides_->end()) return false;
      const auto n = in_queue_.find(stream);
      return n != in_queue_.end() && n->second >= limit->second;
    }
    void CountIn(std::string_view stream) {
      if (stream.empty()) return;
      auto it = in_queue_.find(stream);
      if (it == in_queue_.end()) it = in_queue_.emplace(std::string(stream), 0).first;
      ++it->second;
    }
    void CountOut(std::string_view stream) {
      if (stream.empty()) return;
      auto it = in_queue_.find(stream);
      if (it == in_queue_.end()) return;
      // Keep entries for a bounded set of streams (no allocation per record); forget idle ones
      // only when there are many.
      if (--it->second == 0 && in_queue_.size() > 1024) in_queue_.erase(it);
    }

    void Pin(const AuditConfig& config) {
      const long online = sysconf(_SC_NPROCESSORS_ONLN);
      int cpu = -1;
      if (!config.pin_cpus.empty()) {
        cpu = config.pin_cpus[index_ % config.pin_cpus.size()];
      } else if (static_cast<long>(config.workers) < online) {
        cpu = static_cast<int>(index_);
      }
      if (cpu < 0) return;
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      pthread_setaffinity_np(thread_.native_handle(), sizeof(set), &set);  // best effort
    }

    void Run() {
      std::vector<Task> batch;
      for (;;) {
        bool stopping = false;
        Deadline deadline;
        {
          std::unique_lock<std::mutex> lock(mu_);
          // While writes are suspended for lack of space, wake up now and then to look for it.
          if (suspended_) {
            cv_.wait_for(lock, std::chrono::milliseconds(100),
                         [&] { return stopping_ || !queue_.empty(); });
          } else if (exporting_) {  // wake for export_every
            cv_.wait_until(lock, next_export_, [&] { return stopping_ || !queue_.empty(); });
          } else {
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
          }
          stopping = stopping_;
          deadline = stop_deadline_;
          const size_t n = std::min(queue_.size(), max_batch_);
          for (size_t i = 0; i < n; ++i) {
            CountOut(StreamOf(queue_.front()));
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
          }
        }
        if (block_) room_cv_.notify_all();
        if (stopping && Clock::now() >= deadline) {
          Abort(&batch);
          break;
        }
        if (!batch.empty()) ProcessBatch(&batch);
        if (exporting_ && Clock::now() >= next_export_) {
          CutAll();  // export_every: whatever accumulated since the last checkpoint
          next_export_ = Clock::now() + export_every_;
        }
        if (exporting_) OfferCuts(false);
        if (stopping && depth() == 0) break;
      }
      if (wal_ != nullptr) close_status_ = wal_->Close();
      if (aborted_ > 0 && close_status_.ok()) {  // Close is not Ok when it dropped records
        close_status_ = Status(Code::kClosed, std::to_string(aborted_) +
                                                  " queued tasks failed with Closed at the "
                                                  "Close deadline (records never written)");
      }
      if (exporting_ && wal_ != nullptr) {  // one checkpoint at Close for every open range
        OfferCuts(true, true);
        CutAll();
        OfferCuts(true, true);
      }
      SnapshotWal();
    }

    // ---- Checkpoints (export sinks) ------------------------------------------------------

    StreamAccumulator& Accumulator(const std::string& writer, const std::string& stream) {
      auto it = acc_.find({writer, stream});
      if (it != acc_.end()) return it->second;
      it = acc_.emplace(std::make_pair(writer, stream), StreamAccumulator(writer, stream)).first;
      ExportTail tail;
      const Status s = ReadExportTail(engine_->options_.config.export_.dir, writer, stream, &tail);
      if (!s.ok()) {
        engine_->Log("error", "audit.export.error",
                     {.writer_id = writer, .stream = stream, .msg = s.ToString()});
      }
      it->second.SetExportedThrough(tail.last_seq, tail.last_tree_root);
      return it->second;
    }

    // A stream whose WAL is behind the newest checkpoint its export holds (rolled back to an
    // older copy, a segment or the whole directory missing) opens frozen: appending would
    // reissue seqs that signed checkpoints already cover. A WAL at or past the export is then
    // held to the checkpoint's tree_root (RestoreAccumulators). Fails Open only when the
    // export cannot be listed at all.
    Status CheckAgainstExport() {
      const std::string& dir = engine_->options_.config.export_.dir;
      std::vector<std::pair<std::string, std::string>> exported;
      RON_RETURN_IF_ERROR(ListExportStreams(dir, &exported));
      for (const auto& [writer, stream] : exported) {
        if (OwnerIndex(writer, stream, engine_->workers_.size()) != index_) continue;
        const wal::StreamWal* ws = wal_->FindStream(writer, stream);
        if (ws != nullptr && ws->state() == StreamState::kFrozen) continue;  // said already
        ExportTail tail;
        std::string why;
        if (const Status read = ReadExportTail(dir, writer, stream, &tail); !read.ok()) {
          why = "export_unreadable: " + read.message();
        } else if (tail.last_seq == 0) {
          continue;
        } else if (ws == nullptr) {
          why = "wal_missing: the export holds a checkpoint through seq " +
                std::to_string(tail.last_seq) + " but the WAL has no such stream";
        } else if (ws->head_seq() < tail.last_seq) {
          why = "wal_behind_export: the WAL ends at seq " + std::to_string(ws->head_seq()) +
                " but the export holds a checkpoint through seq " + std::to_string(tail.last_seq);
        } else {
          continue;
        }
        RON_RETURN_IF_ERROR(wal_->AddFrozenStream(writer, stream, Status(Code::kFrozen, why)));
        if (reported_frozen_) continue;  // a reopen after a full disk says nothing twice
        engine_->metrics_.manifest_gap++;
        engine_->Log("error", "audit.verify.fail",
                     {.writer_id = writer,
                      .stream = stream,
                      .seq = tail.last_seq,
                      .reason = "manifest_gap",
                      .msg = "stream frozen: " + why});
      }
      return Status::Ok();
    }

    // Rebuilds every stream's Merkle state from the WAL at open (the only re-read).
    void RestoreAccumulators() {
      acc_.clear();
      for (const wal::StreamWal* s : wal_->streams()) {
        if (s->state() != StreamState::kOk) continue;
        StreamAccumulator& acc = Accumulator(s->writer_id(), s->stream());
        wal::StreamReport report;
        const Status scanned = wal::ScanStream(
            wal::StreamDir(engine_->options_.config.wal.dir, s->writer_id(), s->stream()),
            s->writer_id(), s->stream(), engine_->limits_, wal::VerifyLevel::kChecksums, &report,
            [&](const wal::RecordView& r) {
              uint64_t segment_no = 0;
              const std::string& file = *r.file;
              segment::ParseSegmentFileName(file.substr(file.rfind('/') + 1), &segment_no);
              acc.Add(r.seq, r.self_hash, segment_no, r.offset);
              return true;
            });
        // The stream's Merkle state must be whole, or its next checkpoints could never be cut
        // (and a short accumulator would drop every new record): a failed or short rescan
        // freezes the stream like any other damage.
        if (!scanned.ok() || report.frozen || acc.size() != s->head_seq()) {
          const std::string why = "export_rescan: " + (!scanned.ok() ? scanned.ToString()
                                  : report.frozen ? report.problem.ToString()
                                                  : "the WAL changed while it was read");
          engine_->Log("error", "audit.export.error",
                       {.writer_id = s->writer_id(), .stream = s->stream(), .msg = why});
          wal_->Freeze(wal_->FindStream(s->writer_id(), s->stream()), Status(Code::kFrozen, why));
          continue;
        }
        if (acc.diverged()) {
          ReportDiverged(acc);
          wal_->Freeze(wal_->FindStream(s->writer_id(), s->stream()),
                       Status(Code::kFrozen,
                              "export_mismatch: the WAL does not reproduce the tree_root of the "
                              "export's checkpoint through seq " +
                                  std::to_string(acc.exported_through())));
        }
      }
    }

    // wal::WalOptions::on_durable: one record, in order, on this thread.
    void OnDurable(const wal::StreamWal& s, uint64_t seq, const Digest& hash, uint64_t segment_no,
                   uint64_t offset) {
      StreamAccumulator& acc = Accumulator(s.writer_id(), s.stream());
      if (seq != acc.size() + 1) return;  // already known (a reopen replays nothing twice)
      const bool diverged = acc.diverged();
      acc.Add(seq, hash, segment_no, offset);
      if (!diverged && acc.diverged()) ReportDiverged(acc);
      if (acc.pending() >= engine_->options_.config.export_.checkpoint_every) Cut(&acc);
    }

    // The stream's records no longer reproduce its last signed tree_root: never sign a
    // checkpoint that contradicts it.
    void ReportDiverged(const StreamAccumulator& acc) {
      engine_->metrics_.verify_hash++;
      engine_->Log("error", "audit.export.error",
                   {.writer_id = acc.writer_id(),
                    .stream = acc.stream(),
                    .seq = acc.exported_through(),
                    .reason = "hash_mismatch",
                    .msg = "export_mismatch: the WAL does not reproduce the last checkpoint's "
                           "tree_root; the stream is frozen and further checkpoints of it are "
                           "refused"});
    }

    void Cut(StreamAccumulator* acc) {
      if (acc->pending() == 0 || acc->diverged()) return;
      // Cuts wait here, in order, until the builder takes them (one batch of 1024 records can
      // complete two ranges of 1000). A stream with kMaxWaitingCuts waiting (the builder is
      // stuck) keeps accumulating instead, so memory stays bounded and ranges contiguous.
      size_t waiting = 0;
      for (const CheckpointCut& w : waiting_) {
        waiting += w.writer_id == acc->writer_id() && w.stream == acc->stream();
      }
      if (waiting >= kMaxWaitingCuts) return;
      waiting_.push_back(acc->Cut());
    }

    void CutAll() {
      for (auto& [key, acc] : acc_) Cut(&acc);
    }

    // Hands cuts to the builder. Under fsync policies other than always, the records of a
    // checkpoint are made durable first (on_checkpoint).
    // `force`: queue even when the builder's queue is full (Close, explicit checkpoints).
    // `closed`: the WAL is already closed (and synced).
    void OfferCuts(bool force, bool closed = false) {
      if (waiting_.empty()) return;
      if (!closed && engine_->options_.config.wal.fsync != FsyncPolicy::kAlways) {
        const Status synced = wal_->Sync();
        if (!synced.ok()) return;  // the stream failed; the cut waits (and never lies)
      }
      while (!waiting_.empty()) {
        if (force) {
          engine_->builder_->OfferAtClose(std::move(waiting_.front()));
        } else if (!engine_->builder_->Offer(&waiting_.front())) {
          break;  // full: try again after the next batch
        }
        waiting_.pop_front();
      }
    }

    // Everything still queued when the deadline passed fails with Closed.
    void Abort(std::vector<Task>* batch) {
      std::deque<Task> rest;
      {
        std::lock_guard<std::mutex> lock(mu_);
        rest.swap(queue_);
        in_queue_.clear();
      }
      for (Task& t : *batch) rest.push_front(std::move(t));
      batch->clear();
      for (Task& t : rest) {
        engine_->metrics_.aborted++;
        ++aborted_;
        std::visit(
            [](auto& task) {
              task.ticket->Complete(
                  Status(Code::kClosed, "engine closed before this record was written"), {});
            },
            t);
      }
    }

    struct Staged {
      std::shared_ptr<TicketState> ticket;
      Receipt receipt;
      const wal::StreamWal* stream;    // null for RAM
      size_t bytes;                    // canonical bytes, for audit_bytes_total
      std::atomic<uint64_t>* counter;  // audit_appended_total{kind,stream}
      std::string_view stream_name;    // lives in the task or the WAL until the batch ends
      // kDuplicate: a retry of a record staged earlier in the same batch, answered with that
      // record's outcome (never "stored" before it is durable).
      AppendOutcome outcome = AppendOutcome::kAppended;
    };

    std::atomic<uint64_t>* CounterFor(const Record& r) {
      auto it = appended_by_.find({r.kind, r.stream});
      if (it != appended_by_.end()) return &it->second;
      std::lock_guard<std::mutex> lock(snapshot_mu_);
      if (appended_by_.size() >= kMaxLabelSets) return &appended_by_[{"_other", "_other"}];
      return &appended_by_[{r.kind, r.stream}];
    }

    void ProcessBatch(std::vector<Task>* batch) {
      if (suspended_) TryResume();
      if (suspended_) {  // disk_full_action=suspend: refuse until space returns
        for (Task& t : *batch) {
          std::visit(
              [&](auto& task) {
                using T = std::decay_t<decltype(task)>;
                if constexpr (std::is_same_v<T, FlushTask>) {
                  task.ticket->Complete(Status::Ok(), {});
                } else if constexpr (std::is_same_v<T, ReadTask>) {
                  HandleRead(&task);
                } else {
                  engine_->metrics_.drop_io++;
                  Reject(task.ticket, Status(Code::kIo,
                                             "disk_full: writes are suspended until space returns",
                                             ENOSPC));
                }
              },
              t);
        }
        batch->clear();
        return;
      }
      std::vector<Staged> staged;
      std::vector<std::shared_ptr<TicketState>> flushes;
      bool checkpoint_requested = false;
      const auto started = Clock::now();
      for (Task& task : *batch) {
        if (auto* e = std::get_if<EmitTask>(&task)) {
          HandleEmit(e, &staged);
        } else if (auto* s = std::get_if<SealedTask>(&task)) {
          HandleSealed(s, &staged);
        } else if (auto* r = std::get_if<ReadTask>(&task)) {
          HandleRead(r);
        } else {
          flushes.push_back(std::get<FlushTask>(task).ticket);
          checkpoint_requested = checkpoint_requested || std::get<FlushTask>(task).checkpoint;
        }
      }
      Status committed;
      if (wal_ != nullptr) {
        committed = wal_->Commit();
        if (Clock::now() - started > engine_->options_.wal_time_budget) {
          engine_->metrics_.wal_timeouts++;
        }
        WatchSpace(committed);
      }
      // Heads are published once per batch, before any ticket of it completes, so a host that
      // saw its ticket complete also sees a head at least that far along.
      for (const auto& key : ram_touched_) {
        const RamStream& rs = ram_[key];
        Publish(key.first, key.second, rs.head_seq, rs.HeadText(), StreamState::kOk);
      }
      ram_touched_.clear();
      if (wal_ != nullptr) {
        for (const wal::StreamWal* s : wal_->streams()) {
          Publish(s->writer_id(), s->stream(), s->head_seq(), s->HeadText(), s->state());
        }
        SnapshotWal();
      }
      for (Staged& st : staged) {
        Status status;
        if (st.stream != nullptr && st.stream->durable_seq() < st.receipt.seq) {
          status = st.stream->failure().ok() ? committed
                                             : wal::AsIoError(st.stream->failure());
          if (status.ok()) status = Status(Code::kIo, "record not durable");
        }
        if (status.ok() && st.outcome == AppendOutcome::kDuplicate) {
          engine_->metrics_.dedupe_hits++;
        } else if (status.ok()) {
          engine_->metrics_.appended++;
          engine_->metrics_.bytes += st.bytes;
          st.counter->fetch_add(1, std::memory_order_relaxed);
          if (engine_->options_.log_appends) {
            engine_->Log("info", "audit.append.ok",
                         {.stream = st.stream_name,
                          .seq = st.receipt.seq,
                          .self_hash = &st.receipt.self_hash});
          }
        } else {
          engine_->CountReject(status, {.stream = st.stream_name, .seq = st.receipt.seq});
        }
        st.ticket->Complete(status, st.receipt, st.outcome);
      }
      if (checkpoint_requested && exporting_) {
        CutAll();
        OfferCuts(true);
      }
      // Flush means durable under every fsync policy: on_checkpoint and never sync here.
      Status flushed = committed;
      if (!flushes.empty() && wal_ != nullptr && flushed.ok()) {
        flushed = wal_->Sync();
        SnapshotWal();
      }
      for (auto& f : flushes) f->Complete(flushed, {});
      batch->clear();  // only now: staged entries point at the tasks' stream names
    }

    // Free bytes on the WAL's file system (statvfs), or UINT64_MAX if it cannot be read.
    uint64_t FreeBytes() const {
      struct statvfs fs {};
      if (statvfs(engine_->options_.config.wal.dir.c_str(), &fs) != 0) return UINT64_MAX;
      return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    }

    // auditd's vocabulary: warn below space_left; on a full disk either fail the stream (the
    // WAL's fatal-error rule) or suspend all writes of this worker until space returns.
    void WatchSpace(const Status& committed) {
      const AuditConfig& config = engine_->options_.config;
      const bool disk_full = committed.IsDiskFull();
      if (disk_full && config.wal.disk_full_action == DiskFullAction::kSuspend) {
        suspended_ = true;
        engine_->suspended_workers_++;
        engine_->Log("error", "wal.disk_full", "writes suspended until free space returns");
        return;
      }
      const auto now = Clock::now();
      if (now - last_space_check_ < std::chrono::seconds(1)) return;
      last_space_check_ = now;
      const bool low = FreeBytes() < config.wal.space_left_bytes;
      if (low && !space_warned_) {
        engine_->Log("warn", "wal.space_left", "free space below wal.space_left");
      }
      space_warned_ = low;
    }

    // Reopens the WAL (recovery cuts whatever the failed batch left) once space is back.
    void TryResume() {
      const AuditConfig& config = engine_->options_.config;
      const uint64_t needed = std::min<uint64_t>(config.wal.space_left_bytes, 64ull << 20);
      if (FreeBytes() < needed) return;
      retired_totals_.AddTotals(wal::WalMetricsSnapshot::Of(*wal_));
      wal_.reset();
      if (!OpenWal(engine_->options_).ok()) return;  // still no room: stay suspended
      suspended_ = false;
      engine_->suspended_workers_--;
      engine_->Log("info", "wal.resumed", "free space returned; writes resumed");
    }

    // canonicalize_in_emit = false: the caller queued the raw draft; prepare it here.
    Status Prepare(EmitTask* task) {
      if (task->draft.empty()) return Status::Ok();
      if (canonicalizer_ == nullptr)
        canonicalizer_ = std::make_unique<Canonicalizer>(engine_->limits_);
      const Canonicalizer::DraftContext ctx{engine_->writer_id_, task->stream, 1, kGenesisPrev,
                                            NowMs()};
      RON_RETURN_IF_ERROR(canonicalizer_->PrepareDraft(task->draft, ctx, &task->prepared));
      return engine_->ApplyIpPolicy(canonicalizer_.get(), &task->prepared);
    }

    bool Holds(const std::string& writer, const std::string& stream) const {
      return wal_ != nullptr ? wal_->FindStream(writer, stream) != nullptr
                             : ram_.count({writer, stream}) > 0;
    }
    // Room for one more stream (a stream not held yet is opened only below the cap: memory,
    // fds).
    Status RoomForNewStream() const {
      const size_t held = wal_ != nullptr ? wal_->stream_count() : ram_.size();
      if (held < engine_->options_.max_streams_per_worker) return Status::Ok();
      // Not Busy: waiting does not make room (streams are held until Close), and a host retries
      // Busy. Io: this stream cannot be written by this engine, as after a failure.
      return Status(Code::kIo, "stream limit: this writer thread already holds " +
                                     std::to_string(held) +
                                     " streams (EngineOptions::max_streams_per_worker); "
                                     "retrying will not help, a higher limit at the next Open "
                                     "will");
    }

    void HandleEmit(EmitTask* task, std::vector<Staged>* staged) {
      const std::string& writer = engine_->writer_id_;
      if (!Holds(writer, task->stream)) {
        if (const Status room = RoomForNewStream(); !room.ok()) return Reject(task->ticket, room);
      }
      if (wal_ != nullptr) {
        auto got = wal_->GetStream(writer, task->stream);
        if (!got.ok()) return Reject(task->ticket, got.status());
        wal::StreamWal* s = got.value();
        Status st = Prepare(task);
        if (st.ok()) {
          st = Canonicalizer::CompleteDraft(task->prepared, s->head_seq() + 1, s->HeadText(),
                                            engine_->limits_, &record_);
        }
        if (st.ok()) st = wal_->Stage(s, record_);
        if (!st.ok()) return Reject(task->ticket, st);
        staged->push_back({task->ticket,
                           {record_.record.seq, record_.digest},
                           s,
                           record_.bytes.size(),
                           CounterFor(record_.record),
                           task->stream});
        return;
      }
      RamStream& s = ram_[{writer, task->stream}];
      Status st = Prepare(task);
      if (st.ok()) {
        st = Canonicalizer::CompleteDraft(task->prepared, s.head_seq + 1, s.HeadText(),
                                          engine_->limits_, &record_);
      }
      if (!st.ok()) return Reject(task->ticket, st);
      KeepInRam(&s, record_);
      ram_touched_.insert({writer, task->stream});
      staged->push_back({task->ticket,
                         {record_.record.seq, record_.digest},
                         nullptr,
                         record_.bytes.size(),
                         CounterFor(record_.record),
                         task->stream});
    }

    void HandleSealed(SealedTask* task, std::vector<Staged>* staged) {
      const Record& r = task->record.record;
      uint64_t head = 0;
      std::string head_text;
      wal::StreamWal* ws = nullptr;
      RamStream* rs = nullptr;
      if (!Holds(r.writer_id, r.stream)) {
        // Only a genesis record can start a stream: anything else is a gap, answered without
        // creating the stream (no directory, no preallocated segment, no RAM entry).
        if (r.seq != 1) {
          return Reject(task->ticket, Status(Code::kSeqGap, "seq " + std::to_string(r.seq) +
                                                                " after head 0 (no such stream)"));
        }
        if (const Status room = RoomForNewStream(); !room.ok()) return Reject(task->ticket, room);
      }
      if (wal_ != nullptr) {
        auto got = wal_->GetStream(r.writer_id, r.stream);
        if (!got.ok()) return Reject(task->ticket, got.status());
        ws = got.value();
        if (ws->state() == StreamState::kFrozen) return Reject(task->ticket, ws->failure());
        head = ws->head_seq();
        head_text = ws->HeadText();
      } else {
        rs = &ram_[{r.writer_id, r.stream}];
        head = rs->head_seq;
        head_text = rs->HeadText();
      }
      if (r.seq == head + 1) {
        if (r.prev != head_text) {
          engine_->metrics_.verify_prev++;
          engine_->Log("warn", "audit.verify.fail",
                       {.writer_id = r.writer_id,
                        .stream = r.stream,
                        .seq = r.seq,
                        .reason = "prev_mismatch"});
          return Reject(task->ticket, Status(Code::kPrevMismatch, "prev is not the stream head"));
        }
        if (ws != nullptr) {
          const Status st = wal_->Stage(ws, task->record);
          if (!st.ok()) return Reject(task->ticket, st);
        } else {
          KeepInRam(rs, task->record);
          ram_touched_.insert({r.writer_id, r.stream});
        }
        staged->push_back({task->ticket,
                           {r.seq, task->record.digest},
                           ws,
                           task->record.bytes.size(),
                           CounterFor(r),
                           r.stream});
        return;
      }
      if (r.seq > head + 1) {
        return Reject(task->ticket,
                      Status(Code::kSeqGap, "seq " + std::to_string(r.seq) + " after head " +
                                                std::to_string(head)));
      }
      Digest stored{};
      Status found =
          ws != nullptr ? wal_->StoredDigest(ws, r.seq, &stored) : FindInRam(*rs, r.seq, &stored);
      if (!found.ok()) return Reject(task->ticket, found);
      if (stored != task->record.digest) {
        return Reject(task->ticket, Status(Code::kConflict, "seq " + std::to_string(r.seq) +
                                                                " holds another record"));
      }
      if (ws != nullptr && r.seq > ws->durable_seq()) {
        // The original is staged in this very batch and not durable yet: "stored" is not true
        // until it is. The duplicate's ticket completes with the original's outcome.
        staged->push_back(
            {task->ticket, {r.seq, stored}, ws, 0, nullptr, r.stream, AppendOutcome::kDuplicate});
        return;
      }
      engine_->metrics_.dedupe_hits++;
      task->ticket->Complete(Status::Ok(), {r.seq, stored}, AppendOutcome::kDuplicate);
    }

    void HandleRead(ReadTask* task) {
      const auto it = ram_.find({task->writer_id, task->stream});
      if (it == ram_.end() || it->second.recent.empty()) {
        task->ticket->Complete(Status::Ok(), {});
        return;
      }
      const RamStream& rs = it->second;
      const uint64_t oldest = rs.recent.front().first;
      if (task->from_seq < oldest) {
        task->ticket->Complete(
            Status(Code::kSeqGap, "seq " + std::to_string(task->from_seq) +
                                      " is no longer held in RAM (the oldest is " +
                                      std::to_string(oldest) + ")"),
            {});
        return;
      }
      for (uint64_t i = task->from_seq - oldest;
           i < rs.sealed.size() && task->out->size() < task->max_records; ++i) {
        task->out->push_back(rs.sealed[i]);
      }
      task->ticket->Complete(Status::Ok(), {});
    }

    void KeepInRam(RamStream* s, const CanonicalRecord& record) {
      s->head_seq = record.record.seq;
      s->head_hash = record.digest;
      s->recent.emplace_back(record.record.seq, record.digest);
      s->sealed.push_back(Seal(record));
      while (s->recent.size() > ram_limit_) {
        s->recent.pop_front();
        s->sealed.pop_front();
      }
    }

    static Status FindInRam(const RamStream& s, uint64_t seq, Digest* digest) {
      if (s.recent.empty() || seq < s.recent.front().first) {
        // Not Conflict: nothing says the retry differs from what was stored, and a Conflict
        // tells a client its history diverged. The ring simply no longer holds the position
        // (the same answer Read gives for it).
        return Status(Code::kSeqGap, "seq " + std::to_string(seq) +
                                         " is no longer held in RAM; cannot confirm a duplicate");
      }
      *digest = s.recent[seq - s.recent.front().first].second;
      return Status::Ok();
    }

    void Reject(const std::shared_ptr<TicketState>& ticket, const Status& status) {
      engine_->CountReject(status, {});
      ticket->Complete(status, {});
    }

    void Publish(const std::string& writer, const std::string& stream, uint64_t seq,
                 std::string head, StreamState state) {
      std::lock_guard<std::mutex> lock(engine_->heads_mu_);
      engine_->heads_[{writer, stream}] = StreamInfo{seq, std::move(head), state};
    }

    void SnapshotWal() {
      if (wal_ == nullptr) return;
      wal::WalMetricsSnapshot snapshot = wal::WalMetricsSnapshot::Of(*wal_);
      snapshot.AddTotals(retired_totals_);
      std::lock_guard<std::mutex> lock(snapshot_mu_);
      wal_metrics_ = std::move(snapshot);
      has_wal_metrics_ = true;
    }

    Impl* engine_;
    size_t index_;
    size_t capacity_ = 1024;
    size_t max_batch_ = 1024;
    size_t ram_limit_ = 65536;
    const std::map<std::string, uint32_t, std::less<>>* overrides_ = nullptr;
    bool block_ = false;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable room_cv_;  // shed_policy=block: producers wait here
    std::deque<Task> queue_;
    std::map<std::string, uint32_t, std::less<>> in_queue_;  // stream → tasks queued
    bool stopping_ = false;
    Deadline stop_deadline_;
    std::thread thread_;
    AppendedByLabel appended_by_;  // inserted by the worker under snapshot_mu_
    // Owned by the worker thread alone:
    std::unique_ptr<wal::Wal> wal_;
    std::map<std::pair<std::string, std::string>, RamStream> ram_;
    std::set<std::pair<std::string, std::string>> ram_touched_;  // streams to publish
    CanonicalRecord record_;
    std::unique_ptr<Canonicalizer> canonicalizer_;  // canonicalize_in_emit = false only
    Status close_status_;
    uint64_t aborted_ = 0;  // tasks failed with Closed at the Close deadline
    wal::WalMetricsSnapshot retired_totals_;  // WALs this worker reopened (full disk): totals
    bool suspended_ = false;
    bool reported_frozen_ = false;
    bool exporting_ = false;  // an export sink: accumulate and cut checkpoints
    std::chrono::milliseconds export_every_{0};
    Clock::time_point next_export_{};
    std::map<std::pair<std::string, std::string>, StreamAccumulator> acc_;
    static constexpr size_t kMaxWaitingCuts = 16;  // per stream
    std::deque<CheckpointCut> waiting_;            // cut, not yet taken by the builder
    bool space_warned_ = false;
    Clock::time_point last_space_check_{};
    mutable std::mutex snapshot_mu_;  // guards wal_metrics_ and appended_by_'s shape
    wal::WalMetricsSnapshot wal_metrics_;
    bool has_wal_metrics_ = false;
  };

  Impl(const EngineOptions& options)
      : options_(options),
        writer_id_(options.writer_id),
        limits_{options.config.max_attrs_bytes, options.config.max_record_bytes} {}

  Status Start() {
    // Paths are resolved once, here: a host that later chdir()s keeps writing where it opened.
    for (std::string* dir : {&options_.config.wal.dir, &options_.config.export_.dir}) {
      if (dir->empty() || (*dir)[0] == '/') continue;
      std::error_code error;
      const std::filesystem::path absolute = std::filesystem::absolute(*dir, error);
      if (error) return Status(Code::kIo, "cannot resolve " + *dir + ": " + error.message());
      *dir = absolute.lexically_normal().string();
    }
    RON_RETURN_IF_ERROR(ValidateConfig(options_.config));
    auto policy = IpPolicy::FromConfig(options_.config.privacy);
    if (!policy.ok()) return policy.status();
    ip_policy_ = std::move(policy).value();
    // The writer_id must be a name the record law accepts.
    RON_RETURN_IF_ERROR(CheckName(writer_id_, NameKind::kWriterId));
    RON_RETURN_IF_ERROR(ValidateOptions());
    RON_RETURN_IF_ERROR(LockDirectories());
    RON_RETURN_IF_ERROR(StartBuilder());
    for (size_t i = 0; i < options_.config.workers; ++i)
      workers_.push_back(std::make_unique<Worker>(this, i));
    for (auto& w : workers_) {
      const Status s = w->Start(options_);
      if (!s.ok()) {
        (void)Close(Clock::now());
        return s;
      }
    }
    const Status rotated = RecordRestartRotations(Clock::now() + std::chrono::seconds(60));
    if (!rotated.ok()) {
      (void)Close(Clock::now());
      return rotated;
    }
    return Status::Ok();
  }

  // EngineOptions are held to the configuration's fail-closed rule: a value that would spin,
  // never write, or fail every record later is refused at Open.
  Status ValidateOptions() const {
    const EngineOptions& o = options_;
    const auto bad = [](const std::string& what) {
      return Status(Code::kSchema, "EngineOptions::" + what);
    };
    if (o.max_batch_records == 0) return bad("max_batch_records must be at least 1");
    if (o.max_streams_per_worker == 0) return bad("max_streams_per_worker must be at least 1");
    if (o.ram_records_per_stream == 0) return bad("ram_records_per_stream must be at least 1");
    if (o.wal_time_budget.count() <= 0) return bad("wal_time_budget must be positive");
    if (o.config.UsesWal() &&
        segment::EscapePathComponent(writer_id_).size() > segment::kMaxEscapedNameBytes) {
      return bad("writer_id is longer than a directory name can be once escaped (" +
                 std::to_string(segment::kMaxEscapedNameBytes) + " bytes)");
    }
    return Status::Ok();
  }

  // One engine at a time writes a WAL (and an export) directory, in this process or any other:
  // taken before recovery, so that two recoveries cannot race either, and held until Close.
  Status LockDirectories() {
    const std::string holder = "writer_id " + segment::EscapePathComponent(writer_id_);
    const auto lock = [&](const char* key, const std::string& dir,
                          std::unique_ptr<wal::DirLock>* out) {
      auto locked = wal::DirLock::Acquire(dir, holder);
      if (!locked.ok()) return Status(locked.code(), std::string(key) + " " + locked.status().message());
      *out = std::move(locked).value();
      return Status::Ok();
    };
    if (options_.config.UsesWal()) {
      RON_RETURN_IF_ERROR(lock("wal.dir", options_.config.wal.dir, &wal_lock_));
    }
    if (options_.config.UsesExport()) {
      RON_RETURN_IF_ERROR(lock("export.dir", options_.config.export_.dir, &export_lock_));
    }
    return Status::Ok();
  }

  // The KeyRotated record of a restart under a new key, in every stream of this writer whose
  // last checkpoint another key signed: the evidence that the change was intended, ahead of
  // the first checkpoint the new key signs.
  Status RecordRestartRotations(Deadline deadline) {
    if (builder_ == nullptr || options_.signer == nullptr) return Status::Ok();
    const std::string new_id = options_.signer->key_id();
    std::vector<std::string> streams;
    {
      std::lock_guard<std::mutex> lock(heads_mu_);
      for (const auto& [key, info] : heads_) {
        if (key.first == writer_id_ && info.state == StreamState::kOk) {
          streams.push_back(key.second);
        }
      }
    }
    for (const std::string& stream : streams) {
      ExportTail tail;
      RON_RETURN_IF_ERROR(ReadExportTail(options_.config.export_.dir, writer_id_, stream, &tail));
      if (tail.last_key_id.empty() || tail.last_key_id == new_id) continue;
      auto ticket = Emit(stream, KeyRotatedDraft(tail.last_key_id, new_id));
      if (!ticket.ok()) return ticket.status();
      RON_RETURN_IF_ERROR(ticket.value().Wait(deadline).status());
      metrics_.key_rotations++;
      const bool vouched = options_.previous_signer != nullptr &&
                           options_.previous_signer->key_id() == tail.last_key_id;
      Log(vouched ? "info" : "warn", "audit.key.rotated",
          LogFields{.stream = stream,
                    .msg = "restart with key " + new_id + " after " + tail.last_key_id +
                           (vouched ? "; the first checkpoint is cross-signed by it"
                                    : "; no cross-signature: the previous key was not given "
                                      "(EngineOptions::previous_signer)")});
    }
    return Status::Ok();
  }

  // Export sinks: checkpoints are cut from the WAL's records, so they need sink=wal+export.
  Status StartBuilder() {
    const AuditConfig& c = options_.config;
    if (!c.UsesExport()) return Status::Ok();
    if (!c.UsesWal()) {
      return Status(Code::kSchema,
                    "sink: export without a WAL is not supported; use sink=\"wal+export\"");
    }
    std::shared_ptr<Signer> signer = options_.signer;
    if (c.export_.alg != kAlgNone) {
      if (signer == nullptr) {
        return Status(Code::kSchema, "export.alg: " + c.export_.alg +
                                         " checkpoints need a signer (EngineOptions::signer)");
      }
      if (signer->alg() != c.export_.alg || signer->key_id() != c.export_.signer_key_id) {
        return Status(Code::kSchema, "export.signer_key_id: the signer is " + signer->key_id() +
                                         " (" + signer->alg() + "), the config says " +
                                         c.export_.signer_key_id + " (" + c.export_.alg + ")");
      }
    } else {
      signer = nullptr;  // alg none: unsigned checkpoints
    }
    BuilderOptions b;
    b.export_dir = c.export_.dir;
    b.signer = std::move(signer);
    b.previous_signer = options_.previous_signer;
    b.log = [this](const char* level, const char* event, const std::string& stream,
                   const std::string& msg) {
      Log(level, event, LogFields{.stream = stream, .msg = msg});
    };
    builder_ = std::make_unique<CheckpointBuilder>(std::move(b));
    builder_->Start();
    return Status::Ok();
  }

  // One JSON line per event (docs/OBSERVABILITY.md), to the host's sink (or nowhere).
  void Log(const char* level, const char* event, const LogFields& f) {
    if (!options_.log) return;
    std::string line = "{\"ts\":\"" + Rfc3339Now() + "\",\"level\":\"" + level + "\",\"service\":";
    AppendJsonString(options_.service, &line);
    line += ",\"event\":\"" + std::string(event) + "\",\"writer_id\":";
    AppendJsonString(f.writer_id.empty() ? writer_id_ : f.writer_id, &line);
    if (!f.stream.empty()) {
      line += ",\"stream\":";
      AppendJsonString(f.stream, &line);
    }
    if (f.seq != 0) line += ",\"seq\":" + std::to_string(f.seq);
    if (f.self_hash != nullptr) line += ",\"self_hash\":\"" + HashText(*f.self_hash) + "\"";
    if (!f.reason.empty()) line += ",\"reason\":\"" + std::string(f.reason) + "\"";
    if (!f.msg.empty()) {
      line += ",\"msg\":";
      AppendJsonString(f.msg, &line);
    }
    line += "}";
    // The host's callback: it may neither throw into the engine (a worker would terminate the
    // process) nor wait for it (see t_in_log_callback). A throw is swallowed and counted.
    ++t_in_log_callback;
    try {
      options_.log(line);
    } catch (...) {
      metrics_.log_callback_errors++;
    }
    --t_in_log_callback;
  }
  void Log(const char* level, const char* event, const std::string& msg) {
    Log(level, event, LogFields{.msg = msg});
  }

  // A refused record: counted, and logged as audit.append.reject at most kRejectLogsPerSecond
  // times a second (a shed storm must not become a log storm).
  static constexpr uint32_t kRejectLogsPerSecond = 20;
  void CountReject(const Status& status, LogFields fields) {
    metrics_.rejected++;
    if (status.code() == Code::kAttrsTooLarge || status.code() == Code::kRecordTooLarge) {
      metrics_.drop_bounds++;
    }
    if (!options_.log) return;
    const int64_t second = static_cast<int64_t>(NowMs() / 1000);
    int64_t seen = log_second_.load(std::memory_order_relaxed);
    if (seen != second && log_second_.compare_exchange_strong(seen, second)) {
      log_in_second_ = 0;
      if (const uint64_t n = log_suppressed_.exchange(0); n > 0) {
        Log("warn", "audit.log.suppressed",
            std::to_string(n) + " audit.append.reject lines suppressed in the last second(s)");
      }
    }
    if (log_in_second_.fetch_add(1) >= kRejectLogsPerSecond) {
      log_suppressed_++;
      return;
    }
    fields.reason = RejectReason(status.code());
    const std::string msg = std::string(CodeName(status.code())) + ": " + status.message();
    fields.msg = msg;
    Log("warn", "audit.append.reject", fields);
  }

  Worker& OwnerOf(std::string_view writer, std::string_view stream) {
    return *workers_[OwnerIndex(writer, stream, workers_.size())];
  }

  Result<Ticket> Emit(std::string_view stream, std::string_view draft) {
    metrics_.emitted++;
    if (closed_) return Refuse(Status(Code::kClosed, "engine is closed"), stream);
    if (draft.size() > kMaxInputBytes) {
      return Refuse(Status(Code::kRecordTooLarge, "draft longer than 65536 bytes"), stream);
    }
    auto ticket = std::make_shared<TicketState>();
    // The stream is keyed by its name from here on: one spelling only, in both profiles.
    if (Status named = CheckName(stream, NameKind::kStream); !named.ok()) {
      CountReject(named, {.stream = stream});
      ticket->Complete(named, {});
      return Ticket(ticket);
    }
    // Everything but seq, prev and the hash happens here, on the caller's thread (docs/API.md): the stream's owner only splices them in and hashes.
    EmitTask task{std::string(stream), {}, ticket, {}};
    if (!options_.canonicalize_in_emit) {
      task.draft.assign(draft.empty() ? std::string_view(" ") : draft);  // " " is Schema too
      return Queue(OwnerOf(writer_id_, stream), std::move(task), stream, ticket);
    }
    const Canonicalizer::DraftContext ctx{writer_id_, stream, 1, kGenesisPrev, NowMs()};
    Canonicalizer& canonicalizer = CallerCanonicalizer();
    Status prepared = canonicalizer.PrepareDraft(draft, ctx, &task.prepared);
    if (prepared.ok()) prepared = ApplyIpPolicy(&canonicalizer, &task.prepared);
    if (!prepared.ok()) {  // reported through the ticket, as the contract says
      CountReject(prepared, {.stream = stream});
      ticket->Complete(prepared, {});
      return Ticket(ticket);
    }
    return Queue(OwnerOf(writer_id_, stream), std::move(task), stream, ticket);
  }

  // privacy.ip_mode (engine/privacy.h): a prepared draft whose attrs hold IP address literals
  // gets them dropped, coarsened or hashed, and is rendered again (still with seq 1, b3:0).
  Status ApplyIpPolicy(Canonicalizer* canonicalizer, CanonicalRecord* prepared) {
    std::string rewritten;
    const size_t n = ip_policy_.Apply(prepared->record.attrs, &rewritten);
    if (n == 0) return Status::Ok();
    metrics_.pii_redacted += n;
    Record record = prepared->record;
    record.attrs = std::move(rewritten);
    return canonicalizer->Encode(record, prepared);
  }

  // One canonicalizer per calling thread (they are not thread-safe), rebuilt if an engine with
  // other limits is used from the same thread.
  Canonicalizer& CallerCanonicalizer() const { return ThreadCanonicalizer(limits_); }

  // An error answered on the caller's thread: counted (and logged, rate-limited).
  Status Refuse(Status status, std::string_view stream, std::string_view writer = {}) {
    if (status.code() == Code::kClosed) metrics_.drop_closed++;
    CountReject(status, {.writer_id = writer, .stream = stream});
    return status;
  }

  Result<Ticket> Queue(Worker& owner, Task&& task, std::string_view stream,
                       const std::shared_ptr<TicketState>& ticket, std::string_view writer = {}) {
    const std::string stream_copy(stream);  // the task (and its string) moves into the queue
    switch (owner.TryPush(std::move(task))) {
      case PushResult::kQueued:
        return Ticket(ticket);
      case PushResult::kClosed:
        return Refuse(Status(Code::kClosed, "engine is closed"), stream_copy, writer);
      case PushResult::kFull:
        break;
    }
    // Emit's callers pass no writer (it is this engine's); AppendSealed passes the record's.
    (writer.empty() ? metrics_.busy : metrics_.busy_sealed)++;
    return Refuse(Status(Code::kBusy, "audit_backpressure: the writer's queue is full"),
                  stream_copy, writer);
  }

  Result<AppendResult> AppendSealed(std::string_view sealed, Deadline deadline) {
    if (closed_) return Refuse(Status(Code::kClosed, "engine is closed"), {});
    if (t_in_log_callback > 0) return FromLogCallback("AppendSealed");
    SealedTask task;
    {
      const Status verified = CallerCanonicalizer().VerifySealed(sealed, &task.record);
      if (!verified.ok()) {
        if (verified.code() == Code::kHashMismatch) {
          metrics_.verify_hash++;
          Log("warn", "audit.verify.fail", {.reason = "hash_mismatch", .msg = verified.message()});
        }
        return Refuse(verified, {});
      }
    }
    // A sealed record cannot be redacted without breaking its hash (engine/privacy.h).
    if (ip_policy_.HasAddress(task.record.record.attrs)) {
      metrics_.pii_blocked++;
      return Refuse(Status(Code::kSchema,
                           "attrs holds an IP address literal, which "
                           "privacy.ip_mode forbids storing"),
                    task.record.record.stream, task.record.record.writer_id);
    }
    task.ticket = std::make_shared<TicketState>();
    auto ticket = task.ticket;
    const std::string writer = task.record.record.writer_id;
    const std::string stream = task.record.record.stream;
    Worker& owner = OwnerOf(writer, stream);
    auto queued = Queue(owner, std::move(task), stream, ticket, writer);
    if (!queued.ok()) return queued.status();
    if (!ticket->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
    auto result = ticket->result();
    if (!result.ok()) return result.status();
    return AppendResult{ticket->outcome(), result.value()};
  }

  Status Flush(Deadline deadline) {
    if (closed_) return Status(Code::kClosed, "engine is closed");
    if (t_in_log_callback > 0) return FromLogCallback("Flush");
    std::vector<std::shared_ptr<TicketState>> tickets;
    for (auto& w : workers_) {
      tickets.push_back(std::make_shared<TicketState>());
      if (!w->PushUnbounded(FlushTask{tickets.back()})) {
        return Status(Code::kClosed, "engine is closed");
      }
    }
    for (auto& t : tickets) {
      if (!t->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
      RON_RETURN_IF_ERROR(t->result().status());
    }
    return Status::Ok();
  }

  // The first caller closes; every other caller (another thread, or ~Engine) waits until the
  // engine is closed and returns the same status. Never from a log callback: that runs on the
  // engine's own threads, which Close joins.
  Status Close(Deadline deadline) {
    if (t_in_log_callback > 0) {
      return FromLogCallback("Close");
    }
    {
      std::unique_lock<std::mutex> lock(close_mu_);
      if (closing_) {
        close_cv_.wait(lock, [&] { return close_done_; });
        return close_status_;
      }
      closing_ = true;
      closed_ = true;
    }
    const Status status = CloseOnce(deadline);
    std::lock_guard<std::mutex> lock(close_mu_);
    close_status_ = status;
    close_done_ = true;
    close_cv_.notify_all();
    return close_status_;
  }

  Status CloseOnce(Deadline deadline) {
    Status close_status;
    for (auto& w : workers_) w->Stop(deadline);
    for (auto& w : workers_) w->Join();
    for (auto& w : workers_) {
      if (close_status.ok() && !w->close_status().ok()) close_status = w->close_status();
    }
    if (builder_ != nullptr) {  // the writers' last cuts are queued: write them, then stop
      const Status exported = builder_->Stop(deadline);
      if (close_status.ok() && !exported.ok()) close_status = exported;
    }
    wal_lock_.reset();  // nothing of this engine writes anymore: the next one may open
    export_lock_.reset();
    return close_status;
  }

  Result<std::vector<std::string>> Read(std::string_view writer_id, std::string_view stream,
                                        uint64_t from_seq, size_t max_records, Deadline deadline) {
    if (closed_) return Status(Code::kClosed, "engine is closed");
    if (t_in_log_callback > 0) return FromLogCallback("Read");
    if (from_seq == 0) return Status(Code::kSchema, "from_seq must be >= 1");
    max_records = std::min<size_t>(max_records, kMaxReadRecords);
    if (max_records == 0) return std::vector<std::string>();  // nothing asked, in every profile
    auto sealed = std::make_shared<std::vector<std::string>>();
    const std::string writer(writer_id), name(stream);
    if (options_.config.UsesWal()) {
      if (Info(writer, name).head_seq < from_seq) return std::vector<std::string>();
      wal::StreamReport report;
      RON_RETURN_IF_ERROR(wal::ScanStream(wal::StreamDir(options_.config.wal.dir, writer, name),
                                          writer, name, limits_, wal::VerifyLevel::kChecksums,
                                          &report,
                                          [&](const wal::RecordView& r) {
                                            if (r.seq < from_seq) return true;
                                            std::string text;
                                            ron::AppendSealed(r.json, r.self_hash, &text);
                                            sealed->push_back(std::move(text));
                                            return sealed->size() < max_records;
                                          },
                                          0, wal::kLostWriteWindowBytes, from_seq));
      if (report.frozen && report.problem_seq < from_seq + max_records) {
        // The scan stopped at a changed frame inside the requested range.
        metrics_.verify_hash++;
        Log("error", "audit.verify.fail",
            {.writer_id = writer,
             .stream = name,
             .seq = report.problem_seq,
             .reason = "hash_mismatch",
             .msg = report.problem.message()});
        return Status(report.problem.code(), report.problem.message() + " in " +
                                                 report.problem_file + " at offset " +
                                                 std::to_string(report.problem_offset));
      }
    } else {
      auto ticket = std::make_shared<TicketState>();
      if (!OwnerOf(writer, name)
               .PushUnbounded(ReadTask{writer, name, from_seq, max_records, sealed, ticket})) {
        return Status(Code::kClosed, "engine is closed");
      }
      if (!ticket->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
      RON_RETURN_IF_ERROR(ticket->result().status());
    }
    // Verification on read: every record's bytes and self_hash, and every link between them.
    ChainVerifier verifier(limits_);
    for (const std::string& text : *sealed) {
      const Status verified = verifier.Add(text);
      if (verified.ok()) continue;
      const bool prev = verified.code() == Code::kPrevMismatch || verified.code() == Code::kSeqGap;
      (prev ? metrics_.verify_prev : metrics_.verify_hash)++;
      Log("error", "audit.verify.fail",
          {.writer_id = writer,
           .stream = name,
           .seq = from_seq + verifier.count(),
           .reason = prev ? "prev_mismatch" : "hash_mismatch",
           .msg = verified.message()});
      return verified;
    }
    return std::move(*sealed);
  }

  StreamInfo Info(const std::string& writer, const std::string& stream) const {
    std::lock_guard<std::mutex> lock(heads_mu_);
    const auto it = heads_.find({writer, stream});
    return it == heads_.end() ? StreamInfo{} : it->second;
  }

  // Cuts a checkpoint of every stream with records since its last one and waits until the
  // builder has written them.
  Status Checkpoint(Deadline deadline) {
    if (closed_) return Status(Code::kClosed, "engine is closed");
    if (t_in_log_callback > 0) return FromLogCallback("Checkpoint");
    if (builder_ == nullptr) {
      return Status(Code::kSchema, "sink: checkpoints need an export sink (wal+export)");
    }
    std::vector<std::shared_ptr<TicketState>> tickets;
    for (auto& w : workers_) {
      tickets.push_back(std::make_shared<TicketState>());
      if (!w->PushUnbounded(FlushTask{tickets.back(), true})) {
        return Status(Code::kClosed, "engine is closed");
      }
    }
    for (auto& t : tickets) {
      if (!t->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
      RON_RETURN_IF_ERROR(t->result().status());
    }
    if (!builder_->WaitIdle(deadline)) return Status(Code::kBusy, "deadline exceeded");
    RON_RETURN_IF_ERROR(builder_->Health());
    return Status::Ok();
  }

  // Emits a KeyRotated record into every stream of this writer, then switches the builder.
  Status RotateSigner(std::shared_ptr<Signer> next, Deadline deadline) {
    if (closed_) return Status(Code::kClosed, "engine is closed");
    if (t_in_log_callback > 0) return FromLogCallback("RotateSigner");
    if (builder_ == nullptr || next == nullptr) {
      return Status(Code::kSchema, "rotation needs an export sink and a signer");
    }
    const std::string old_id = options_.signer ? options_.signer->key_id() : "";
    std::vector<std::string> streams;
    {
      std::lock_guard<std::mutex> lock(heads_mu_);
      for (const auto& [key, info] : heads_) {
        if (key.first == writer_id_) streams.push_back(key.second);
      }
    }
    const std::string draft = KeyRotatedDraft(old_id, next->key_id());
    for (const std::string& stream : streams) {
      auto ticket = Emit(stream, draft);
      if (!ticket.ok()) return ticket.status();
      RON_RETURN_IF_ERROR(ticket.value().Wait(deadline).status());
    }
    builder_->Rotate(next);
    metrics_.key_rotations += streams.size();
    options_.previous_signer = std::move(options_.signer);
    options_.signer = std::move(next);
    return Status::Ok();
  }

  // Prometheus text: the golden metrics of docs/OBSERVABILITY.md (every one labelled with
  // service), the diagnostic ones of §1.2, and the WAL's own.
  std::string MetricsText() const {
    std::string out;
    const std::string service = "service=\"" + wal::LabelValue(options_.service) + "\"";
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
    for (const auto& w : workers_) w->AppendedCounts(&appended);
    if (appended.empty()) sample("audit_appended_total", "kind=\"\",stream=\"\"", 0);
    for (const auto& [key, n] : appended) {
      sample("audit_appended_total", label("kind", key.first) + "," + label("stream", key.second),
             n);
    }
    header("audit_drop_total", "counter", "Records shed or refused before they were stored.");
    sample("audit_drop_total", "reason=\"audit_backpressure\"",
           metrics_.busy + metrics_.busy_sealed);
    sample("audit_drop_total", "reason=\"io_backpressure\"", metrics_.drop_io);
    sample("audit_drop_total", "reason=\"bounds_exceeded\"", metrics_.drop_bounds);
    sample("audit_drop_total", "reason=\"shutdown\"", metrics_.aborted);
    sample("audit_drop_total", "reason=\"closed\"", metrics_.drop_closed);
    header("audit_queue_depth", "gauge", "Tasks waiting in the writers' queues, by stream.");
    std::vector<std::pair<std::string, uint64_t>> queued;
    for (const auto& w : workers_) w->StreamDepths(&queued);
    // By stream name: two writers' streams of one name (AppendSealed) may sit on two workers,
    // and a series may appear once only.
    std::map<std::string, uint64_t> depths;
    for (const auto& [stream, n] : queued) depths[stream] += n;
    if (depths.empty()) sample("audit_queue_depth", "stream=\"\"", 0);
    for (const auto& [stream, n] : depths) sample("audit_queue_depth", label("stream", stream), n);
    header("audit_worker_queue_depth", "gauge", "Tasks waiting in each writer's queue.");
    for (size_t i = 0; i < workers_.size(); ++i) {
      sample("audit_worker_queue_depth", "worker=\"" + std::to_string(i) + "\"",
             workers_[i]->depth());
    }
    single("audit_bytes_total", "counter", "Canonical bytes appended (excluding self_hash).",
           metrics_.bytes);
    single("audit_export_checkpoints_total", "counter", "Merkle checkpoints produced.",
           builder_ ? builder_->checkpoints_total() : 0);
    header("io_timeouts_total", "counter",
           "WAL commits over their time budget (op=wal); failed export attempts (op=export).");
    sample("io_timeouts_total", "op=\"wal\"", metrics_.wal_timeouts);
    sample("io_timeouts_total", "op=\"export\"", builder_ ? builder_->export_failures_total() : 0);
    header("audit_verify_fail_total", "counter",
           "Verification failures: changed records (hash), broken links (prev), manifest gaps.");
    sample("audit_verify_fail_total", "reason=\"hash_mismatch\"", metrics_.verify_hash);
    sample("audit_verify_fail_total", "reason=\"prev_mismatch\"", metrics_.verify_prev);
    sample("audit_verify_fail_total", "reason=\"manifest_gap\"", metrics_.manifest_gap);
    header("tasks_spawned_total", "counter", "Writer threads started.");
    sample("tasks_spawned_total", "kind=\"audit_worker\"", workers_.size());
    header("tasks_aborted_total", "counter",
           "Queued work failed with Closed at the close deadline.");
    sample("tasks_aborted_total", "kind=\"audit_worker\"", metrics_.aborted);
    header("busy_rejections_total", "counter", "Calls answered Busy.");
    sample("busy_rejections_total", "endpoint=\"emit\"", metrics_.busy);
    sample("busy_rejections_total", "endpoint=\"append_sealed\"", metrics_.busy_sealed);
    single("audit_dedupe_hits_total", "counter", "AppendSealed replays answered Duplicate.",
           metrics_.dedupe_hits);
    single("audit_log_callback_errors_total", "counter",
           "Exceptions thrown by the host's log callback (swallowed: the engine goes on).",
           metrics_.log_callback_errors);
    single("audit_key_rotations_total", "counter",
           "Streams switched to a new checkpoint signing key (KeyRotated records appended).",
           metrics_.key_rotations);
    single("audit_pii_redacted_total", "counter",
           "IP address literals in attrs dropped, coarsened or hashed (privacy.ip_mode).",
           metrics_.pii_redacted);
    single("audit_pii_blocked_total", "counter",
           "Sealed records refused for holding an IP address literal (privacy.ip_mode).",
           metrics_.pii_blocked);
    single("audit_emitted_total", "counter", "Drafts offered to Emit.", metrics_.emitted);
    single("audit_rejected_total", "counter",
           "Records refused with an error (schema, chain, bounds, busy, I/O, closed).",
           metrics_.rejected);
    single("audit_ready", "gauge",
           "1 when the engine accepts writes (config loaded, WAL ready, not suspended).",
           suspended_workers_ > 0 || closed_ ? 0 : 1);
    if (builder_ != nullptr) {
      builder_->RenderHistogram(&out);
    } else {
      wal::LatencyHistogram none;  // no export sink: an empty histogram keeps the page uniform
      none.Render("export_batch_seconds",
                  "Checkpoint + manifest latency (sign, write, fsync) per export batch.", &out);
    }
    wal::WalMetricsSnapshot wal;  // every worker's WAL, merged
    bool any = false;
    for (const auto& w : workers_) any = w->WalMetrics(&wal) || any;
    if (any) out += wal.Text();
    return out;
  }

  EngineOptions options_;
  std::string writer_id_;
  Limits limits_;
  std::atomic<int64_t> log_second_{0};
  std::atomic<uint32_t> log_in_second_{0};
  std::atomic<uint64_t> log_suppressed_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<CheckpointBuilder> builder_;  // export sinks only
  std::unique_ptr<wal::DirLock> wal_lock_, export_lock_;  // held from Start to Close
  wal::FaultInjector* faults_ = nullptr;  // EngineAccess::OpenWithFaults; set before Start
  std::atomic<bool> closed_{false};
  std::mutex close_mu_;  // guards the three below
  std::condition_variable close_cv_;
  bool closing_ = false, close_done_ = false;
  std::atomic<int> suspended_workers_{0};
  Status close_status_;
  Metrics metrics_;
  IpPolicy ip_policy_;  // set in Start, then read-only
  mutable std::mutex heads_mu_;
  std::map<std::pair<std::string, std::string>, StreamInfo> heads_;
};

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  return EngineAccess::OpenWithFaults(options, nullptr);
}

Result<std::unique_ptr<Engine>> EngineAccess::OpenWithFaults(const EngineOptions& options,
                                                             wal::FaultInjector* faults) {
  auto impl = std::make_unique<Engine::Impl>(options);
  impl->faults_ = faults;
  RON_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() { (void)impl_->Close(Clock::now()); }

Result<Ticket> Engine::Emit(std::string_view stream, std::string_view draft_json) {
  return impl_->Emit(stream, draft_json);
}

Result<AppendResult> Engine::AppendSealed(std::string_view sealed, Deadline deadline) {
  return impl_->AppendSealed(sealed, deadline);
}

StreamInfo Engine::State(std::string_view writer_id, std::string_view stream) const {
  return impl_->Info(std::string(writer_id), std::string(stream));
}

Status Engine::Flush(Deadline deadline) { return impl_->Flush(deadline); }
Result<std::vector<std::string>> Engine::Read(std::string_view writer_id, std::string_view stream,
                                              uint64_t from_seq, size_t max_records,
                                              Deadline deadline) {
  return impl_->Read(writer_id, stream, from_seq, max_records, deadline);
}
Status Engine::Checkpoint(Deadline deadline) { return impl_->Checkpoint(deadline); }
Status Engine::RotateSigner(std::shared_ptr<Signer> next, Deadline deadline) {
  return impl_->RotateSigner(std::move(next), deadline);
}
Status Engine::Close(Deadline deadline) { return impl_->Close(deadline); }
std::string Engine::MetricsText() const { return impl_->MetricsText(); }
const std::string& Engine::writer_id() const { return impl_->writer_id_; }

// One verdict with ReadinessJson: ready iff every readiness key holds.
bool Engine::Ready(std::string* why) const {
  if (impl_->closed_) {
    if (why != nullptr) *why = "closed";
    return false;
  }
  if (impl_->suspended_workers_ > 0) {
    if (why != nullptr) *why = "audit.wal_ready: writes suspended, disk full";
    return false;
  }
  for (const auto& [key, ok] : Readiness()) {
    if (ok) continue;
    if (why != nullptr) *why = key;
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, bool>> Engine::Readiness() const {
  const AuditConfig& config = impl_->options_.config;
  const bool open = !impl_->closed_;
  std::vector<std::pair<std::string, bool>> keys = {
      {"audit.config_loaded", true},  // Open validated it, or there would be no engine
      {"audit.queue_bound_ok", open && config.queue_depth > 0},
      {"audit.verify_on_read", true},  // Read() verifies every record and link, always
  };
  if (config.UsesWal()) {
    bool wal_ready =
        open && impl_->suspended_workers_ == 0 && access(config.wal.dir.c_str(), W_OK) == 0;
    std::lock_guard<std::mutex> lock(impl_->heads_mu_);
    for (const auto& [key, info] : impl_->heads_) {
      wal_ready = wal_ready && info.state == StreamState::kOk;
    }
    keys.emplace_back("audit.wal_ready", wal_ready);
  }
  if (config.UsesExport()) {
    const bool ready = open && impl_->builder_ != nullptr && impl_->builder_->healthy() &&
                       access(config.export_.dir.c_str(), W_OK) == 0;
    keys.emplace_back("audit.export_ready", ready);
    keys.emplace_back("audit.checkpoint_timer_active", open && impl_->builder_ != nullptr);
  }
  return keys;
}

std::string Engine::ReadinessJson() const {
  std::string missing;
  for (const auto& [key, ok] : Readiness()) {
    if (!ok) missing += (missing.empty() ? "\"" : ",\"") + key + "\"";
  }
  if (missing.empty()) return R"({"degraded":false,"missing":[]})";
  return R"({"degraded":true,"missing":[)" + missing + R"(],"retry_after":5})";
}

std::string Engine::io_backend() const {
  wal::WalMetricsSnapshot wal;
  for (const auto& w : impl_->workers_) w->WalMetrics(&wal);
  return wal.backend;
}

}  // namespace ron
