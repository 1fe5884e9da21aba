#include "ron_audit/engine.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>

#include "checkpoint/builder.h"
#include "engine/core/canonical.h"
#include "engine/core/check.h"
#include "engine/core/key_rotation.h"
#include "engine/core/limits.h"
#include "engine/core/verify.h"
#include "engine/draft_intake.h"
#include "engine/engine_internal.h"
#include "engine/thread_scratch.h"
#include "engine/event_log.h"
#include "engine/metrics_page.h"
#include "engine/privacy.h"
#include "engine/testing_hooks.h"
#include "engine/worker.h"
#include "segment/segment_format.h"
#include "wal/files.h"
#include "wal/journal.h"
#include "wal/metrics.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron {

static_assert(Engine::kMaxReadRecords == limits::kMaxReadRecords);

// The answer to a task its owner's queue did not take.
static Status NotQueued(PushResult pushed) {
  return pushed == PushResult::kClosed
             ? Status(Code::kClosed, "engine is closed")
             : Status(Code::kBusy, "audit_backpressure: the writer's queue is full");
}

// ---- The engine -------------------------------------------------------------------------------

class Engine::Impl {
 public:
  Impl(const EngineOptions& options)
      : options_(options),
        writer_id_(options.writer_id),
        limits_{options.config.max_attrs_bytes, options.config.max_record_bytes},
        event_log_(options.log, options.service, options.writer_id, &metrics_) {}

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
    WarnOfWeakFsync();
    worker_context_ = WorkerContext{
        .options = &options_,
        .writer_id = writer_id_,
        .limits = limits_,
        .workers = options_.config.workers,
        .faults = faults_,
        .builder = builder_.get(),
        .log = &event_log_,
        .metrics = &metrics_,
        .suspended_workers = &suspended_workers_,
        .live_journals = &live_journals_,
        .publish = std::bind_front(&HeadTable::Set, &heads_),
        .apply_ip_policy = [this](Canonicalizer* canonicalizer,
                                  CanonicalRecord* prepared) {
          return ApplyIpPolicy(canonicalizer, prepared);
        }};
    for (size_t i = 0; i < options_.config.workers; ++i)
      workers_.push_back(std::make_unique<Worker>(worker_context_, i));
    for (auto& w : workers_) {
      const Status s = w->Start();
      if (!s.ok()) {
        (void)Close(Clock::now());
        return s;
      }
    }
    // Every WAL has applied the journals of earlier runs to the streams it owns: they go, or
    // are set aside if a frozen stream may need them.
    if (options_.config.UsesWal()) {
      const Status removed = wal::RetireJournals(
          options_.config.wal.dir, live_journals_.Paths(), live_journals_.ToSetAside());
      if (!removed.ok()) {
        (void)Close(Clock::now());
        return removed;
      }
    }
    const Status rotated = RecordRestartRotations(Clock::now() + limits::kRestartRotationDeadline);
    if (!rotated.ok()) {
      (void)Close(Clock::now());
      return rotated;
    }
    return Status::Ok();
  }

  // Anything weaker than fsync=always is a choice the host made: say once what it can lose.
  void WarnOfWeakFsync() {
    const AuditConfig& c = options_.config;
    if (!c.UsesWal() || c.wal.fsync == FsyncPolicy::kAlways) return;
    const std::string window =
        c.wal.fsync == FsyncPolicy::kNever
            ? std::string("every acknowledged record not yet synced by Flush or Close")
            : "up to " + std::to_string(c.export_.checkpoint_every) + " acknowledged records or " +
                  std::to_string(c.export_.export_every_ms / 1000) + " s of them (until the next "
                  "checkpoint, Flush or Close)";
    Log("warn", "audit.fsync.weak",
        std::string("wal.fsync=") + (c.wal.fsync == FsyncPolicy::kNever ? "never" : "on_checkpoint") +
            ": a power loss can lose " + window + "; a process crash loses none");
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
    if (o.journal_max_bytes < (1ull << 20) || o.journal_max_bytes > wal::kMaxJournalMaxBytes) {
      return bad("journal_max_bytes must be in [1MiB, 1GiB]");
    }
    if (o.journal_hold_bytes > (1u << 20)) return bad("journal_hold_bytes must be at most 1MiB");
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
    const std::vector<std::string> streams = heads_.StreamsOf(writer_id_, /*ok_only=*/true);
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

  void Log(const char* level, const char* event, const LogFields& fields) {
    event_log_.Log(level, event, fields);
  }
  void Log(const char* level, const char* event, const std::string& msg) {
    event_log_.Log(level, event, msg);
  }
  void CountReject(const Status& status, LogFields fields) {
    event_log_.CountReject(status, fields);
  }

  Worker& OwnerOf(std::string_view writer, std::string_view stream) {
    return *workers_[OwnerIndex(writer, stream, workers_.size())];
  }

  Result<Ticket> Emit(std::string_view stream, std::string_view draft) {
    metrics_.emitted++;
    if (closed_) return Refuse(Status(Code::kClosed, "engine is closed"), stream);
    // Prepared in the Task it is pushed as (moving one in touched each string of the record).
    Task task(std::in_place_type<EmitTask>);
    EmitTask& emit = std::get<EmitTask>(task);
    TakeLeftovers(&emit.prepared.bytes, &emit.ticket);  // what the last push gave back
    const DraftVerdict v = PrepareDraftTask(Intake(), stream, draft, &emit);
    if (v.kind != DraftVerdict::Kind::kQueue) return Answer(v, stream, &task);
    metrics_.pii_redacted += v.redacted;
    return Queue(OwnerOf(writer_id_, stream), std::move(task), stream);
  }

  DraftIntake Intake() const {
    return {writer_id_, limits_, ip_policy_, options_.canonicalize_in_emit};
  }

  // The answer to a draft not queued, counted (and logged) now: its error, or (the contract for
  // a bad draft) a ticket that has failed with it. Its task (if given) gives its leftovers back.
  Result<Ticket> Answer(const DraftVerdict& v, std::string_view stream, Task* task = nullptr) {
    if (task != nullptr) GiveBackLeftovers(task);
    if (v.kind == DraftVerdict::Kind::kRefused) return Refuse(v.status, stream);
    CountReject(v.status, {.stream = stream});
    auto ticket = std::make_shared<TicketState>();
    ticket->Complete(v.status, {});
    return Ticket(ticket);
  }

  // Emit of many drafts to one stream: each prepared as Emit prepares it, the prepared ones
  // handed to the owner in runs of up to kGroup (one hand-over each, so that it commits them
  // together instead of one fragment per wake-up). A draft is counted (emitted, redacted,
  // refused and logged) only once answered, so that a run cut short by Busy leaves no trace of
  // the drafts the host emits again; an answer given at once goes after the run before it.
  size_t EmitMany(std::string_view stream, std::span<const std::string_view> drafts,
                  std::vector<Result<Ticket>>* results) {
    constexpr size_t kGroup = 256;
    ScratchLease lease;
    BatchScratch& scratch = lease.get();
    scratch.ResetRun();
    std::vector<size_t> redacted;  // per task of the run
    size_t taken = 0;
    const auto refused = [&](PushResult pushed, const Task&) {
      if (pushed == PushResult::kFull) metrics_.busy++;
      results->push_back(Refuse(NotQueued(pushed), stream));
    };
    const auto push = [&] {
      const size_t before = taken;
      const bool all = scratch.PushRun(results, &taken, refused);
      const size_t queued = taken - before - (all ? 0 : 1);
      for (size_t k = 0; k < queued; ++k) metrics_.pii_redacted += redacted[k];
      redacted.clear();
      return all;
    };
    for (const std::string_view draft : drafts) {
      // Prepared in the Task it is pushed as (as Emit's), into a buffer a push gave back.
      EmitTask& task = std::get<EmitTask>(scratch.run.emplace_back(std::in_place_type<EmitTask>));
      scratch.TakeReused(&task.prepared.bytes, &task.ticket);
      const DraftVerdict v = closed_ ? DraftVerdict{DraftVerdict::Kind::kRefused,
                                                    Status(Code::kClosed, "engine is closed")}
                                     : PrepareDraftTask(Intake(), stream, draft, &task);
      if (v.kind != DraftVerdict::Kind::kQueue) {
        scratch.run.pop_back();
        if (!push()) break;
        results->push_back(Answer(v, stream));
        ++taken;
        if (v.status.code() == Code::kClosed) break;
        continue;
      }
      if (scratch.run_owner == nullptr) scratch.run_owner = &OwnerOf(writer_id_, stream);
      redacted.push_back(v.redacted);
      scratch.run_tickets.push_back(task.ticket);
      if (scratch.run.size() == kGroup && !push()) break;
    }
    push();  // the last run (nothing to do when empty)
    metrics_.emitted += taken;  // each answer once, as Emit counts each call
    return taken;
  }

  // privacy.ip_mode on a draft prepared by the owner (canonicalize_in_emit = false).
  Status ApplyIpPolicy(Canonicalizer* canonicalizer, CanonicalRecord* prepared) {
    size_t redacted = 0;
    const Status status = RedactPrepared(ip_policy_, canonicalizer, prepared, &redacted);
    metrics_.pii_redacted += redacted;
    return status;
  }

  // One canonicalizer per calling thread (they are not thread-safe), rebuilt if an engine with
  // other limits is used from the same thread.
  Canonicalizer& CallerCanonicalizer() const { return ThreadCanonicalizer(limits_); }

  // Whether a verified sealed record may be queued: its verification verdict (a hash mismatch
  // is logged and counted), then privacy.ip_mode. Refused (counted) when not.
  Status Admit(const Status& verified, const CanonicalRecord& record) {
    if (!verified.ok()) {
      if (verified.code() == Code::kHashMismatch) {
        metrics_.verify_hash++;
        Log("warn", "audit.verify.fail", {.reason = "hash_mismatch", .msg = verified.message()});
      }
      return Refuse(verified, {});
    }
    // Not redactable (its hash; engine/privacy.h); scanned if an attrs string may be an address.
    if (record.attrs_may_hold_address && ip_policy_.HasAddress(record.attrs_text())) {
      metrics_.pii_blocked++;
      return Refuse(Status(Code::kSchema,
                           "attrs holds an IP address literal, which "
                           "privacy.ip_mode forbids storing"),
                    record.record.stream, record.record.writer_id);
    }
    return Status::Ok();
  }

  // An error answered on the caller's thread: counted (and logged, rate-limited).
  Status Refuse(Status status, std::string_view stream, std::string_view writer = {}) {
    if (status.code() == Code::kClosed) metrics_.drop_closed++;
    CountReject(status, {.writer_id = writer, .stream = stream});
    return status;
  }

  // `stream` and `writer` (a sealed record's; none for Emit's: this engine's) may view the
  // task: it is moved only if queued, else gives its buffer and ticket back for the next.
  Result<Ticket> Queue(Worker& owner, Task&& task, std::string_view stream,
                       std::string_view writer = {}) {
    std::shared_ptr<TicketState> ticket = *TicketOf(&task);
    SlotLeftovers leftovers;
    const PushResult pushed = owner.TryPush(std::move(task), &leftovers);
    if (pushed == PushResult::kQueued) {
      KeepLeftovers(&leftovers, &ThreadLeftovers());
      return Ticket(std::move(ticket));
    }
    ticket.reset();
    GiveBackLeftovers(&task);
    if (pushed == PushResult::kFull) (writer.empty() ? metrics_.busy : metrics_.busy_sealed)++;
    return Refuse(NotQueued(pushed), stream, writer);
  }

  Result<AppendResult> AppendSealed(std::string_view sealed, Deadline deadline) {
    if (t_in_log_callback > 0 && !closed_) return FromLogCallback("AppendSealed");
    auto offered = OfferSealed(sealed);
    if (!offered.ok()) return offered.status();
    auto result = offered.value().Wait(deadline);
    if (!result.ok()) return result.status();
    return AppendResult{offered.value().outcome(), result.value()};
  }

  Result<Ticket> OfferSealed(std::string_view sealed) {
    if (closed_) return Refuse(Status(Code::kClosed, "engine is closed"), {});
    // Verified into the Task it is pushed as (as Emit's), with a buffer and ticket a push gave
    // back; with the fields its owner reads, as OfferSealedMany's.
    Task queued(std::in_place_type<SealedTask>);
    SealedTask& task = std::get<SealedTask>(queued);
    TakeLeftovers(&task.record.bytes, &task.ticket);
    const Status verified =
        CallerCanonicalizer().VerifySealed(sealed, &task.record, Canonicalizer::Attrs::kChain);
    if (const Status admitted = Admit(verified, task.record); !admitted.ok()) {
      GiveBackLeftovers(&queued);
      return admitted;
    }
    const Record& r = task.record.record;
    return Queue(OwnerOf(r.writer_id, r.stream), std::move(queued), r.stream, r.writer_id);
  }

  // OfferSealed of many: every check but the hash per record, the hashes of the records that
  // passed side by side (Blake3Batch), then the records offered in order as OfferSealed would,
  // each run of consecutive records of one owner pushed at once (one lock, one wake-up).
  size_t OfferSealedMany(std::span<const std::string_view> sealed,
                         std::vector<Result<Ticket>>* results) {
    // Records verified (and hashed together) before any of them is pushed: an owner that
    // wakes up to a whole group commits it with one fdatasync instead of several fragments
    // (in bench/peers, 256 instead of ~120 records per sync: 25 % more). Bounds the scratch.
    constexpr size_t kGroup = 256;
    ScratchLease lease;
    BatchScratch& scratch = lease.get();
    size_t taken = 0;
    if (results->capacity() < results->size() + sealed.size()) {  // geometric, for callers
      results->reserve(std::max(2 * results->capacity(), results->size() + sealed.size()));
    }
    // Pushes the run; false (after the Busy or Closed entry) if not all of it was queued.
    const auto refused = [&](PushResult pushed, const Task& first_left) {
      const Record& r = std::get<SealedTask>(first_left).record.record;
      if (pushed == PushResult::kFull) metrics_.busy_sealed++;
      results->push_back(Refuse(NotQueued(pushed), r.stream, r.writer_id));
    };
    size_t run_begin = 0;  // the run: group[run_begin, end), admitted records of one owner
    const auto flush_run = [&](size_t end) {
      const size_t begin = std::exchange(run_begin, end);
      return scratch.PushTasks(scratch.group.data() + begin, end - begin, results, &taken, refused);
    };
    for (size_t begin = 0; begin < sealed.size(); begin += kGroup) {
      if (closed_) {
        results->push_back(Refuse(Status(Code::kClosed, "engine is closed"), {}));
        return taken + 1;
      }
      const size_t n = std::min(kGroup, sealed.size() - begin);
      scratch.ResetGroup(n);
      run_begin = 0;
      // The tasks keep the bytes and the fields the owner reads (Attrs::kChain); attrs are
      // only scanned (Admit), from the bytes. The canonicalizer is fetched per group: a log
      // callback run by Admit may use an engine with other limits on this thread, which
      // replaces the thread's canonicalizer.
      CallerCanonicalizer().VerifySealedMany(sealed.subspan(begin, n), scratch.group_records.data(),
                                             scratch.status.data(), Canonicalizer::Attrs::kChain);
      for (size_t i = 0; i < n; ++i) {
        SealedTask& task = std::get<SealedTask>(scratch.group[i]);
        const Status admitted = Admit(scratch.status[i], task.record);
        if (!admitted.ok()) {
          if (!flush_run(i)) return taken;  // the records before it first
          run_begin = i + 1;
          results->push_back(admitted);
          ++taken;
          continue;
        }
        Worker* owner = &OwnerOf(task.record.record.writer_id, task.record.record.stream);
        if (owner != scratch.run_owner && !flush_run(i)) return taken;
        scratch.run_owner = owner;
        task.ticket = scratch.TakeTicket();
        scratch.run_tickets.push_back(task.ticket);
      }
      if (!flush_run(n)) return taken;
    }
    return taken;
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
    // Through the owner: reads of the RAM ring, and a WAL stream's frames it holds back unwritten
    // (EngineOptions::journal_hold_bytes), written out for the files' reader.
    const auto ask_owner = [&]() -> Status {
      auto ticket = std::make_shared<TicketState>();
      if (!OwnerOf(writer, name)
               .PushUnbounded(ReadTask{writer, name, from_seq, max_records, sealed, ticket})) {
        return Status(Code::kClosed, "engine is closed");
      }
      if (!ticket->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
      return ticket->result().status();
    };
    if (options_.config.UsesWal()) {
      const uint64_t head = Info(writer, name).head_seq;
      if (head < from_seq) return std::vector<std::string>();
      wal::StreamReport report;
      RON_RETURN_IF_ERROR(ReadStreamFiles(options_.config.wal.dir, writer, name, limits_,
                                          {from_seq, max_records, head}, ask_owner, sealed.get(),
                                          &report));
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
      RON_RETURN_IF_ERROR(ask_owner());
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
    return heads_.Get(writer, stream);
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
    const std::vector<std::string> streams = heads_.StreamsOf(writer_id_, /*ok_only=*/false);
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

  std::string MetricsText() const {
    return RenderMetricsPage({options_.service, metrics_, workers_, builder_.get(),
                              suspended_workers_ == 0 && !closed_});
  }

  EngineOptions options_;
  std::string writer_id_;
  Limits limits_;
  EngineMetrics metrics_;
  EventLog event_log_;
  WorkerContext worker_context_;  // set in Start, before the workers
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<CheckpointBuilder> builder_;  // export sinks only
  std::unique_ptr<wal::DirLock> wal_lock_, export_lock_;  // held from Start to Close
  wal::FaultInjector* faults_ = nullptr;  // EngineAccess::OpenWithFaults; set before Start
  std::atomic<bool> closed_{false};
  std::mutex close_mu_;  // guards the three below
  std::condition_variable close_cv_;
  bool closing_ = false, close_done_ = false;
  std::atomic<int> suspended_workers_{0};
  LiveJournals live_journals_;
  Status close_status_;
  IpPolicy ip_policy_;  // set in Start, then read-only
  HeadTable heads_;
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
Result<Ticket> Engine::OfferSealed(std::string_view sealed) { return impl_->OfferSealed(sealed); }
size_t Engine::OfferSealedMany(std::span<const std::string_view> sealed,
                               std::vector<Result<Ticket>>* results) {
  return impl_->OfferSealedMany(sealed, results);
}

size_t Engine::EmitMany(std::string_view stream, std::span<const std::string_view> drafts,
                        std::vector<Result<Ticket>>* results) {
  return impl_->EmitMany(stream, drafts, results);
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
    keys.emplace_back("audit.wal_ready", wal_ready && impl_->heads_.AllOk());
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
