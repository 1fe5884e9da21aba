#include "engine/worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <future>
#include <optional>
#include <type_traits>

#include "engine/core/check.h"
#include "engine/core/limits.h"
#include "engine/ram_sink.h"

namespace ron {

struct Worker::Staged {
  std::shared_ptr<TicketState> ticket;
  Receipt receipt;
  SinkStream* stream;              // where it was staged
  size_t bytes;                    // canonical bytes, for audit_bytes_total
  std::atomic<uint64_t>* counter;  // audit_appended_total{kind,stream}
  std::string_view stream_name;    // lives in the task or the sink until the batch ends
  // kDuplicate: a retry of a record staged earlier in the same batch, answered with that
  // record's outcome (never "stored" before it is durable).
  AppendOutcome outcome = AppendOutcome::kAppended;
};

Worker::Worker(const WorkerContext& context, size_t index)
    : ctx_(context),
      options_(*context.options),
      index_(index),
      queue_(context.options->config.queue_depth, &context.options->config.stream_queue_depth,
             context.options->config.shed_policy == ShedPolicy::kBlock) {}

Worker::~Worker() { Join(); }

Status Worker::Start() {
  export_every_ = std::chrono::milliseconds(options_.config.export_.export_every_ms);
  next_export_ = Clock::now() + export_every_;
  std::promise<Status> opened;
  std::future<Status> result = opened.get_future();
  // The promise moves into the thread: it must outlive set_value, not this frame.
  thread_ = std::thread([this, opened = std::move(opened)]() mutable {
    // Named for top -H, perf and gdb (at most 15 characters: "ron-writer-" and the index).
    const std::string name = "ron-writer-" + std::to_string(index_ % 10000);
    pthread_setname_np(pthread_self(), name.c_str());  // best effort
    opened.set_value(OpenSink());
    if (sink_ != nullptr) Run();
  });
  Pin();
  const Status status = result.get();
  if (!status.ok()) thread_.join();
  return status;
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

Status Worker::OpenSink() {
  stream_cache_.clear();  // it pointed into the sink this one replaces
  last_ = {};
  if (!options_.config.UsesWal()) {
    sink_ = std::make_unique<RamSink>(options_.ram_records_per_stream);
    return Status::Ok();
  }
  wal::WalOptions w;
  w.dir = options_.config.wal.dir;
  w.rotate_bytes = options_.config.wal.rotate_bytes;
  w.fsync = options_.config.wal.fsync;
  w.backend = options_.io_backend;
  w.write_mode = options_.write_mode;
  w.drop_synced_pages = !options_.keep_written_pages_cached;
  w.preallocate = options_.preallocate_segments;
  w.syncfs_min_files = options_.syncfs_min_streams;
  w.journal_min_files = options_.journal_min_streams;
  w.journal_max_bytes = options_.journal_max_bytes;
  // Not with an export sink: its manifests name each record's offset when it is durable, and
  // a reopen after a failed write of held frames (a full disk) puts them back elsewhere.
  w.journal_hold_bytes = ctx_.builder != nullptr ? 0 : options_.journal_hold_bytes;
  LiveJournals* live = ctx_.live_journals;
  if (live != nullptr) {
    w.live_journal = [live](const std::string& path) { return live->Contains(path); };
  }
  w.limits = ctx_.limits;
  w.faults = ctx_.faults;
  w.lock_dir = false;  // the engine holds the directory's lock
  const size_t workers = ctx_.workers;
  const size_t budget = options_.max_open_segment_fds != 0 ? options_.max_open_segment_fds
                                                           : wal::SegmentFdBudget();
  w.max_open_segments = std::max<size_t>(1, budget / workers);
  const size_t me = index_;
  w.owns = [workers, me](const std::string& writer, const std::string& stream) {
    return OwnerIndex(writer, stream, workers) == me;
  };
  if (ctx_.builder != nullptr && cutter_ == nullptr) {
    cutter_ = std::make_unique<CheckpointCutter>(
        CheckpointCutter::Options{options_.config.wal.dir, options_.config.export_.dir,
                                  options_.config.export_.checkpoint_every,
                                  options_.config.wal.fsync, ctx_.limits, workers, index_},
        ctx_.builder, ctx_.log, ctx_.metrics);
  }
  auto opened = WalSink::Open(std::move(w), cutter_.get(), ctx_.log, ctx_.metrics, !opened_once_);
  if (!opened.ok()) return opened.status();
  opened_once_ = true;
  wal_sink_ = opened.value().get();
  sink_ = std::move(opened).value();
  journal_path_ = wal_sink_->wal()->journal_path();
  if (live != nullptr) {
    live->Add(journal_path_);
    live->SetAside(wal_sink_->wal()->journals_to_set_aside());
  }
  PublishHeads();
  SnapshotWal();
  return Status::Ok();
}

void Worker::Pin() {
  const AuditConfig& config = options_.config;
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

void Worker::Run() {
  const bool exporting = cutter_ != nullptr;
  TaskBatch batch;
  // When an idle writer frees what it keeps (set when it runs out of work while keeping any).
  std::optional<Clock::time_point> release_at;
  // Buffers are kept, not yet freed by an idle turn (at the start: what recovery left).
  bool keeping = true;
  const bool cheap_commits =
      !options_.config.UsesWal() || options_.config.wal.fsync != FsyncPolicy::kAlways;
  Clock::time_point gather_after{};  // no gathering before (after one that stalled)
  for (;;) {
    bool stopping = false;
    Deadline deadline;
    // While writes are suspended for lack of space, wake up now and then to look for it; an
    // export sink wakes for export_every.
    Clock::time_point wake;
    const Clock::time_point* wake_at = nullptr;
    if (suspended_) {
      wake = Clock::now() + limits::kSuspendedPoll;
      wake_at = &wake;
    } else if (exporting) {
      wake_at = &next_export_;
    }
    // Out of work: once none came for kIdleRelease, the answered batch, the answered tasks
    // parked in the queue's free slots, the records of the last staged drafts and the sink's
    // write buffers are freed, so that an idle engine keeps no record's memory. Not at once: a
    // writer that outpaces its producers runs out of work between most batches, and would
    // allocate them all anew.
    if (keeping && queue_.depth() == 0) {
      const auto now = Clock::now();
      if (!release_at) release_at = now + limits::kIdleRelease;
      if (now >= *release_at) {
        batch.clear();
        queue_.ReleaseParked();
        queued_records_.clear();
        if (sink_ != nullptr) sink_->ReleaseBuffers();
        SnapshotWal();  // the frames it held are written out now (wal_journal_held_bytes)
        keeping = false;
        release_at.reset();
      } else if (wake_at == nullptr || *release_at < *wake_at) {
        wake_at = &*release_at;
      }
    }
    // A commit that costs no sync: a few tasks waiting wait for more (limits::kGatherTasks),
    // unless a gather found the callers waiting on what was queued lately.
    const Clock::time_point now = cheap_commits ? Clock::now() : Clock::time_point{};
    const bool gathering = cheap_commits && now >= gather_after;
    TaskQueue::Gather gather{limits::kGatherTasks, now + limits::kGatherDelay,
                             limits::kGatherSlice};
    queue_.PopBatch(options_.max_batch_records, wake_at, &batch, &stopping, &deadline,
                    gathering ? &gather : nullptr);
    if (gather.stalled) gather_after = Clock::now() + limits::kGatherBackoff;
    if (!batch.empty()) {
      keeping = true;
      release_at.reset();
    }
    if (stopping && Clock::now() >= deadline) {
      Abort(&batch);
      break;
    }
    if (!batch.empty()) ProcessBatch(&batch);
    if (exporting && Clock::now() >= next_export_) {
      cutter_->CutAll();  // export_every: whatever accumulated since the last checkpoint
      next_export_ = Clock::now() + export_every_;
    }
    if (exporting && wal_sink_ != nullptr) cutter_->OfferCuts(wal_sink_->wal(), false);
    if (stopping && queue_.depth() == 0) break;
  }
  if (sink_ != nullptr) close_status_ = sink_->Close();
  if (aborted_ > 0 && close_status_.ok()) {  // Close is not Ok when it dropped records
    close_status_ = Status(Code::kClosed, std::to_string(aborted_) +
                                              " queued tasks failed with Closed at the Close "
                                              "deadline (records never written)");
  }
  if (exporting && wal_sink_ != nullptr) {  // one checkpoint at Close for every open range
    cutter_->OfferCuts(wal_sink_->wal(), true, true);
    cutter_->CutAll();
    cutter_->OfferCuts(wal_sink_->wal(), true, true);
  }
  SnapshotWal();
}

// Everything still queued when the deadline passed fails with Closed.
void Worker::Abort(TaskBatch* batch) {
  std::vector<Task> rest = queue_.TakeAll();
  for (Task& t : rest) batch->push_back(std::move(t));  // the popped batch first, then the rest
  for (Task& t : *batch) {
    ctx_.metrics->aborted++;
    ++aborted_;
    std::visit(
        [](auto& task) {
          task.ticket->Complete(
              Status(Code::kClosed, "engine closed before this record was written"), {});
        },
        t);
  }
  batch->clear();
}

std::atomic<uint64_t>* Worker::CounterFor(const Record& r) {
  const LastStream& last = last_;
  if (last.counter != nullptr && last.counter_stream == r.stream && last.counter_kind == r.kind) {
    return last.counter;
  }
  std::atomic<uint64_t>* counter = nullptr;
  if (auto c = counter_cache_.find(StringViewPair(r.kind, r.stream)); c != counter_cache_.end()) {
    counter = c->second;
  } else {  // every label set this worker added below the cap is in counter_cache_
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    if (appended_by_.size() >= kMaxLabelSets) {
      counter = &appended_by_[{"_other", "_other"}];  // not cached: one per label set past the cap
    } else {
      counter = &appended_by_[{r.kind, r.stream}];
      counter_cache_.emplace(StringPair(r.kind, r.stream), counter);
    }
  }
  last_.counter_kind = r.kind;
  last_.counter_stream = r.stream;
  last_.counter = counter;  // map nodes never move
  return counter;
}

Result<SinkStream*> Worker::StreamFor(const std::string& writer, const std::string& stream,
                                      uint64_t seq) {
  if (const StringPair* key = last_.stream_key;
      key != nullptr && key->second == stream && key->first == writer) {
    return last_.sink_stream;
  }
  auto it = stream_cache_.find(StringViewPair(writer, stream));
  if (it == stream_cache_.end()) {
    if (!sink_->Holds(writer, stream)) {
      // Only a genesis record can start a stream: anything else is a gap, answered without
      // creating the stream (no directory, no preallocated segment, no RAM entry).
      if (seq > 1) {
        return Status(Code::kSeqGap,
                      "seq " + std::to_string(seq) + " after head 0 (no such stream)");
      }
      RON_RETURN_IF_ERROR(RoomForNewStream());
    }
    auto got = sink_->GetStream(writer, stream);
    if (!got.ok()) return got.status();
    it = stream_cache_.emplace(StringPair(writer, stream), got.value()).first;
  }
  last_.stream_key = &it->first;  // nodes stay put until the cache is cleared
  last_.sink_stream = it->second;
  return it->second;
}

void Worker::RefuseWhileSuspended(TaskBatch* batch) {
  for (Task& t : *batch) {
    std::visit(
        [&](auto& task) {
          using T = std::decay_t<decltype(task)>;
          if constexpr (std::is_same_v<T, FlushTask>) {
            task.ticket->Complete(Status::Ok(), {});
          } else if constexpr (std::is_same_v<T, ReadTask>) {
            // A WAL read asks only for frames held back, which cannot be written now.
            task.ticket->Complete(Status(Code::kIo,
                                         "disk_full: writes are suspended until space returns; "
                                         "the newest records are in the commit journal",
                                         ENOSPC),
                                  {});
          } else {
            ctx_.metrics->drop_io++;
            Reject(task.ticket,
                   Status(Code::kIo, "disk_full: writes are suspended until space returns",
                          ENOSPC));
          }
        },
        t);
  }
  batch->clear();
}

namespace {

// A task's record was written on its caller's CPU: the writer's first read of it (the copy
// SpliceDraft makes, or the frame of a sealed record) waits on lines from another core's
// cache. Asked for one task ahead, they arrive while the record before it is handled
// (`emit_bound`: a small gain, CPU per record −6 % at the median; two ahead gained nothing).
void PrefetchRecord(Task* task) {
  const std::string* bytes = RecordBytes(task);
  if (bytes == nullptr) return;
  // Every 64-byte line the bytes touch, from the one their first byte is in.
  const auto first = reinterpret_cast<uintptr_t>(bytes->data()) & ~uintptr_t{63};
  const uintptr_t end = reinterpret_cast<uintptr_t>(bytes->data() + bytes->size());
  for (uintptr_t line = first; line < end; line += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
}

}  // namespace

// A batch of sealed records only (a bulk import's closed loop: AppendSealed, OfferSealedMany)
// with nothing queued behind it: its commit, if one write, runs on this thread rather than
// through io_uring's workers (wal/io.h), 10-20 % more records a second in bench/peers' bulk
// rows. Emits keep the ring: one stream's Emits from one producer ran slower on the thread
// (docs/PERFORMANCE_LOG.md).
bool Worker::CommitsAlone(const TaskBatch& batch) const {
  if (batch.empty()) return false;
  for (const Task& task : batch) {
    if (!std::holds_alternative<SealedTask>(task)) return false;
  }
  return queue_.depth() == 0;
}

void Worker::ProcessBatch(TaskBatch* batch) {
  if (suspended_) TryResume();
  if (suspended_) {  // disk_full_action=suspend: refuse until space returns
    RefuseWhileSuspended(batch);
    return;
  }
  last_ = {};
  std::vector<Staged>& staged = staged_;  // empty; its capacity kept from batch to batch
  staged.reserve(batch->size());
  std::vector<std::shared_ptr<TicketState>> flushes;
  bool checkpoint_requested = false;
  const auto started = Clock::now();
  for (size_t i = 0; i < batch->size(); ++i) {
    Task& task = (*batch)[i];
    if (i + 1 < batch->size()) PrefetchRecord(&(*batch)[i + 1]);
    if (auto* e = std::get_if<EmitTask>(&task)) {
      QueueEmit(e, &staged);
      continue;
    }
    StageEmits(&staged);  // in order: this task may read or seal into the same streams
    if (auto* s = std::get_if<SealedTask>(&task)) {
      HandleSealed(s, &staged);
    } else if (auto* r = std::get_if<ReadTask>(&task)) {
      sink_->Read(r);
    } else {
      flushes.push_back(std::get<FlushTask>(task).ticket);
      checkpoint_requested = checkpoint_requested || std::get<FlushTask>(task).checkpoint;
    }
  }
  StageEmits(&staged);
  const auto staged_at = Clock::now();
  const Status committed = sink_->Commit(CommitsAlone(*batch));
  const auto committed_at = Clock::now();
  if (wal_sink_ != nullptr) {
    if (committed_at - staged_at > options_.wal_time_budget) ctx_.metrics->wal_timeouts++;
    WatchSpace(committed);
  }
  // Heads are published once per batch, before any ticket of it completes, so a host that saw
  // its ticket complete also sees a head at least that far along.
  PublishHeads();
  SnapshotWal();
  const auto completing_at = Clock::now();
  CompleteStaged(committed, &staged);
  if (!staged.empty()) {
    const auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const double completed = seconds(Clock::now() - completing_at);
    std::lock_guard<std::mutex> lock(snapshot_mu_);
    batch_times_.stage.Observe(seconds(staged_at - started));
    batch_times_.commit.Observe(seconds(committed_at - staged_at));
    batch_times_.complete.Observe(completed);
    batch_times_.records += staged.size();
  }
  if (checkpoint_requested && cutter_ != nullptr) {
    cutter_->CutAll();
    cutter_->OfferCuts(wal_sink_->wal(), true);
  }
  // Flush means durable under every fsync policy: on_checkpoint and never sync here.
  Status flushed = committed;
  if (!flushes.empty() && flushed.ok()) {
    flushed = sink_->Sync();
    SnapshotWal();
  }
  for (auto& f : flushes) f->Complete(flushed, {});
  staged.clear();
  // The tasks stay in *batch (staged entries pointed at their stream names until now): the next
  // PopBatch leaves their record buffers and tickets in the queue, where producers take them
  // for reuse (TaskQueue::PopBatch).
}

void Worker::CompleteStaged(const Status& committed, std::vector<Staged>* staged) {
  for (Staged& st : *staged) {
    Status status;
    if (st.stream->durable_seq() < st.receipt.seq) {
      status = st.stream->failure().ok() ? committed : wal::AsIoError(st.stream->failure());
      if (status.ok()) status = Status(Code::kIo, "record not durable");
    }
    if (status.ok() && st.outcome == AppendOutcome::kDuplicate) {
      ctx_.metrics->dedupe_hits++;
    } else if (status.ok()) {
      ctx_.metrics->appended++;
      ctx_.metrics->bytes += st.bytes;
      st.counter->fetch_add(1, std::memory_order_relaxed);
      if (options_.log_appends) {
        ctx_.log->Log("info", "audit.append.ok",
                      {.stream = st.stream_name,
                       .seq = st.receipt.seq,
                       .self_hash = &st.receipt.self_hash});
      }
    } else {
      ctx_.log->CountReject(status, {.stream = st.stream_name, .seq = st.receipt.seq});
    }
    st.ticket->Complete(status, st.receipt, st.outcome);
  }
}

// canonicalize_in_emit = false: the caller queued the raw draft; prepare it here.
Status Worker::Prepare(EmitTask* task) {
  if (task->draft.empty()) return Status::Ok();
  if (canonicalizer_ == nullptr) canonicalizer_ = std::make_unique<Canonicalizer>(ctx_.limits);
  const Canonicalizer::DraftContext dc{ctx_.writer_id, task->stream, 1, kGenesisPrev, NowMs()};
  RON_RETURN_IF_ERROR(canonicalizer_->PrepareDraft(task->draft, dc, &task->prepared));
  return ctx_.apply_ip_policy(canonicalizer_.get(), &task->prepared);
}

// Room for one more stream (a stream not held yet is opened only below the cap: memory, fds).
Status Worker::RoomForNewStream() const {
  const size_t held = sink_->stream_count();
  if (held < options_.max_streams_per_worker) return Status::Ok();
  // Not Busy: waiting does not make room (streams are held until Close), and a host retries
  // Busy. Io: this stream cannot be written by this engine, as after a failure.
  return Status(Code::kIo, "stream limit: this writer thread already holds " +
                               std::to_string(held) +
                               " streams (EngineOptions::max_streams_per_worker); retrying will "
                               "not help, a higher limit at the next Open will");
}

namespace {

// The most drafts QueueEmit holds before they are staged: what a writer keeps between batches
// (records of at most max_record_bytes, 4 KiB, each) stays bounded, and the queued records
// stay in the CPU's caches (256 KiB of 1 KiB records).
constexpr size_t kMaxQueuedEmits = 256;
// The prev a queued record holds while the record before it in its stream is queued too: any
// valid hash text of the real one's length.
constexpr std::string_view kStandInPrev =
    "b3:0000000000000000000000000000000000000000000000000000000000000000";
static_assert(kStandInPrev.size() == kHashTextBytes);

}  // namespace

void Worker::QueueEmit(EmitTask* task, std::vector<Staged>* staged) {
  auto got = StreamFor(ctx_.writer_id, task->stream, /*seq=*/0);
  if (!got.ok()) return Reject(task->ticket, got.status());
  SinkStream* s = got.value();
  Status st = Prepare(task);
  // The stream's next seq: after its last queued record (whose hash is not known yet), else
  // after its head.
  const CanonicalRecord* before = nullptr;
  for (size_t i = queued_.size(); i-- > 0;) {
    if (queued_[i].stream == s) {
      before = &queued_records_[i];
      break;
    }
  }
  char head[kHashTextBytes];
  const uint64_t seq = before != nullptr ? before->record.seq + 1 : s->head_seq() + 1;
  const std::string_view prev = before != nullptr ? kStandInPrev : s->HeadText(head);
  if (queued_records_.size() == queued_.size()) queued_records_.emplace_back();
  CanonicalRecord& record = queued_records_[queued_.size()];
  if (st.ok()) st = Canonicalizer::SpliceDraft(&task->prepared, seq, prev, ctx_.limits, &record);
  if (!st.ok()) return Reject(task->ticket, st);
  queued_.push_back({task, s});
  if (queued_.size() >= kMaxQueuedEmits) StageEmits(staged);
}

void Worker::StageEmits(std::vector<Staged>* staged) {
  if (queued_.empty()) return;
  const size_t n = queued_.size();
  queued_views_.resize(n);
  queued_tails_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const CanonicalRecord& record = queued_records_[i];
    queued_views_[i] = record.bytes;
    queued_tails_[i] = record.bytes.size() - 2 - record.record.prev.size();  // before prev"}
  }
  prefix_.Start(queued_views_.data(), queued_tails_.data(), n);
  for (size_t i = 0; i < n; ++i) {
    const auto [task, s] = queued_[i];
    CanonicalRecord& record = queued_records_[i];
    char head[kHashTextBytes];
    const std::string_view prev = s->HeadText(head);
    Status st;
    if (record.record.seq == s->head_seq() + 1) {
      RON_CHECK(prev.size() == record.record.prev.size());
      std::memcpy(record.bytes.data() + queued_tails_[i], prev.data(), prev.size());
      record.record.prev.assign(prev);
      record.digest = prefix_.Finish(i, record.bytes);
    } else {
      // The stage of a record before it in its stream failed: its seq and prev are the
      // stream's next ones, not those it was queued with.
      st = Canonicalizer::Resplice(&record, s->head_seq() + 1, prev, ctx_.limits);
    }
    if (st.ok()) st = sink_->Stage(s, record);
    if (!st.ok()) {
      Reject(task->ticket, st);
      continue;
    }
    staged->push_back({task->ticket,
                       {record.record.seq, record.digest},
                       s,
                       record.bytes.size(),
                       CounterFor(record.record),
                       task->stream});
  }
  queued_.clear();
  // The records of a burst long past go, half at a time, while batches are much smaller (work
  // trickling in faster than kIdleRelease never lets the writer go idle).
  if (queued_records_.size() > 4 * n + 16) queued_records_.resize(queued_records_.size() / 2);
}

void Worker::HandleSealed(SealedTask* task, std::vector<Staged>* staged) {
  const Record& r = task->record.record;
  auto got = StreamFor(r.writer_id, r.stream, r.seq);
  if (!got.ok()) return Reject(task->ticket, got.status());
  SinkStream* s = got.value();
  if (s->state() == StreamState::kFrozen) return Reject(task->ticket, s->failure());
  const uint64_t head = s->head_seq();
  if (r.seq == head + 1) {
    if (!IsPrevOf(r.prev, head, s->head_hash())) {
      ctx_.metrics->verify_prev++;
      ctx_.log->Log("warn", "audit.verify.fail",
                    {.writer_id = r.writer_id,
                     .stream = r.stream,
                     .seq = r.seq,
                     .reason = "prev_mismatch"});
      return Reject(task->ticket, Status(Code::kPrevMismatch, "prev is not the stream head"));
    }
    if (const Status st = sink_->Stage(s, task->record); !st.ok()) {
      return Reject(task->ticket, st);
    }
    staged->push_back({task->ticket,
                       {r.seq, task->record.digest},
                       s,
                       task->record.bytes.size(),
                       CounterFor(r),
                       r.stream});
    return;
  }
  if (r.seq > head + 1) {
    return Reject(task->ticket, Status(Code::kSeqGap, "seq " + std::to_string(r.seq) +
                                                          " after head " + std::to_string(head)));
  }
  Digest stored{};
  if (const Status found = sink_->StoredDigest(s, r.seq, &stored); !found.ok()) {
    return Reject(task->ticket, found);
  }
  if (stored != task->record.digest) {
    return Reject(task->ticket, Status(Code::kConflict, "seq " + std::to_string(r.seq) +
                                                            " holds another record"));
  }
  if (r.seq > s->durable_seq()) {
    // The original is staged in this very batch and not durable yet: "stored" is not true
    // until it is. The duplicate's ticket completes with the original's outcome.
    staged->push_back(
        {task->ticket, {r.seq, stored}, s, 0, nullptr, r.stream, AppendOutcome::kDuplicate});
    return;
  }
  ctx_.metrics->dedupe_hits++;
  task->ticket->Complete(Status::Ok(), {r.seq, stored}, AppendOutcome::kDuplicate);
}

void Worker::Reject(const std::shared_ptr<TicketState>& ticket, const Status& status) {
  ctx_.log->CountReject(status, {});
  ticket->Complete(status, {});
}

void Worker::PublishHeads() {
  if (sink_ != nullptr) sink_->PublishHeads(ctx_.publish);
}

void Worker::AppendedCounts(std::map<std::pair<std::string, std::string>, uint64_t>* out) const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  for (const auto& [key, n] : appended_by_) (*out)[key] += n.load(std::memory_order_relaxed);
}

void Worker::AddBatchTimes(BatchTimes* out) const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  out->Merge(batch_times_);
}

bool Worker::WalMetrics(wal::WalMetricsSnapshot* out) const {
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  if (!has_wal_metrics_) return false;
  out->Merge(wal_metrics_);
  return true;
}

// Per batch: the counters are copied every time, the list of streams and their states only
// when a stream was added or changed state since the last copy (a WAL of thousands of streams
// would otherwise copy every name per batch).
void Worker::SnapshotWal() {
  if (wal_sink_ == nullptr) return;
  const wal::Wal& wal = *wal_sink_->wal();
  const bool same_streams = snapshot_wal_ == &wal && snapshot_version_ == wal.stream_set_version();
  wal::WalMetricsSnapshot snapshot = wal::WalMetricsSnapshot::Of(wal, !same_streams);
  snapshot.AddTotals(retired_totals_);
  std::lock_guard<std::mutex> lock(snapshot_mu_);
  if (same_streams) snapshot.streams = std::move(wal_metrics_.streams);
  wal_metrics_ = std::move(snapshot);
  has_wal_metrics_ = true;
  snapshot_wal_ = &wal;
  snapshot_version_ = wal.stream_set_version();
}

uint64_t Worker::FreeBytes() const {
  struct statvfs fs {};
  if (statvfs(options_.config.wal.dir.c_str(), &fs) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

// auditd's vocabulary: warn below space_left; on a full disk either fail the stream (the WAL's
// fatal-error rule) or suspend all writes of this worker until space returns.
void Worker::WatchSpace(const Status& committed) {
  const AuditConfig& config = options_.config;
  if (committed.IsDiskFull() && config.wal.disk_full_action == DiskFullAction::kSuspend) {
    suspended_ = true;
    (*ctx_.suspended_workers)++;
    ctx_.log->Log("error", "wal.disk_full", "writes suspended until free space returns");
    return;
  }
  const auto now = Clock::now();
  if (now - last_space_check_ < std::chrono::seconds(1)) return;
  last_space_check_ = now;
  const bool low = FreeBytes() < config.wal.space_left_bytes;
  if (low && !space_warned_) {
    ctx_.log->Log("warn", "wal.space_left", "free space below wal.space_left");
  }
  space_warned_ = low;
}

// Reopens the WAL (recovery cuts whatever the failed batch left) once space is back.
void Worker::TryResume() {
  const uint64_t needed =
      std::min<uint64_t>(options_.config.wal.space_left_bytes, limits::kResumeFreeBytes);
  if (FreeBytes() < needed) return;
  if (wal_sink_ != nullptr) {
    retired_totals_.AddTotals(wal::WalMetricsSnapshot::Of(*wal_sink_->wal()));
  }
  wal_sink_ = nullptr;
  snapshot_wal_ = nullptr;  // the next WAL may be allocated where this one was
  sink_.reset();
  // Its journal is the next WAL's to apply (the failed commit's records stay out of it).
  if (ctx_.live_journals != nullptr) ctx_.live_journals->Remove(journal_path_);
  if (!OpenSink().ok()) return;  // still no room: stay suspended
  suspended_ = false;
  (*ctx_.suspended_workers)--;
  ctx_.log->Log("info", "wal.resumed", "free space returned; writes resumed");
}

}  // namespace ron
