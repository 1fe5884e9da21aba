// The engine: the front door hosts link. Start here.
//
//   auto engine = Engine::Open(options);                  // recovers the WAL (Macronode)
//   Result<Ticket> t = engine->Emit("ingress", draft);    // never blocks: Busy when full
//   Result<Receipt> r = t.value().Wait(deadline);         // seq + self_hash once durable
//   engine->AppendSealed(sealed_record, deadline);        // replay/import: Appended | Duplicate
//   engine->Close(deadline);
//
// Threads: `workers` writer threads; each (writer_id, stream) belongs to exactly one of them
// (a stable hash), so a chain head has a single writer. Each worker owns a bounded queue and, in
// the WAL profile, its own WAL (and io_uring). Callers never wait for I/O in Emit: a full queue
// is shed with Busy and counted (audit_drop_total{reason="audit_backpressure"},
// busy_rejections_total{endpoint="emit"}).
//
// Profiles: sink=ram (Micronode, the default: a bounded in-memory ring of sealed records per
// stream, never a file) and sink=wal (Macronode: a write-ahead log of segments,
// docs/FORMAT.md §3).
//
// Thread-safety: every method may be called from any thread, concurrently. Tickets are values.
// Ownership and lifetimes: Open hands the engine over as a unique_ptr; destroying it closes it
// (an immediate deadline). The engine keeps its copy of the options, the signers (shared) and
// the log callback until it is destroyed; a Ticket may outlive the engine (its outcome is kept).
// Which calls block: Emit never waits for I/O (under shed_policy=block, for tests, it waits for
// room); Ticket::Wait, AppendSealed, Read, Flush, Checkpoint, RotateSigner and Close wait until
// done or their deadline (Busy "deadline exceeded"). From inside the log callback, calls that
// would wait for the engine's own threads answer Busy at once.
// The full contract (Close, Flush, Duplicate, failed tickets, the log callback, what each stream
// costs) is docs/API.md.
#ifndef RON_AUDIT_ENGINE_H_
#define RON_AUDIT_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ron_audit/config.h"
#include "ron_audit/export.h"
#include "ron_audit/signer.h"
#include "ron_audit/status.h"
#include "ron_audit/types.h"

namespace ron {

struct EngineOptions {
  AuditConfig config;     // validated by Open
  std::string writer_id;  // this host's identity for Emit, e.g. "svc-gateway@inst-1"
  IoBackend io_backend = IoBackend::kAuto;
  WriteMode write_mode = WriteMode::kBuffered;
  // Buffered writes: a batch written with its fdatasync (fsync=always; under the other policies,
  // what a Flush commits) has its pages dropped from the page cache once durable (they are
  // clean then). An audit log is rarely read right after it is written, and a page cache that
  // grew by every record written made each write slower: one stream ran 1.5-1.7x faster with
  // the drop (docs/PERFORMANCE_LOG.md). Reads of recent records (Read, ronctl audit verify) then
  // come from the disk. True: keep them cached.
  bool keep_written_pages_cached = false;
  // Zero-fill each active stream's next segment ahead of need, on a helper thread (O_DIRECT,
  // at most 128 MB/s), so that its commits overwrite written blocks: an fdatasync then carries
  // no size or extent metadata (one device round trip, not two). The price is that the disk
  // writes every segment twice (zeros, then records): about 2 bytes per record byte, which
  // halves what a bandwidth-capped volume (cloud block storage) can take and doubles flash wear.
  // False: segments grow with their records (each fdatasync also commits the new size). Which
  // is faster depends on the device and on the commits: `bench/peers --preallocate on|off`
  // measures it, with the disk's bytes per record byte (docs/BENCH_RIG.md). Even when true, a
  // stream whose writes average more than 16 KiB a commit (bulk imports, busy streams) appends:
  // its commits are large enough that the size an fdatasync commits costs less than the zeros.
  bool preallocate_segments = true;
  // fsync=always, buffered writes: a commit that writes at least this many segment files (one
  // per stream it touches) makes them durable with one syncfs per file system instead of one
  // fdatasync per file, so one device cache flush instead of one per file: ~2x the records/s
  // with 100 and more streams (docs/PERFORMANCE_LOG.md). syncfs also writes back whatever else is
  // dirty on that file system; 0 turns it off for a WAL that shares one with busy writers.
  // After a syncfs error every file of the commit gets its own fdatasync, so only the streams
  // whose data was lost fail. Only on Linux >= 5.17 (older kernels' syncfs can return 0 after
  // a failed write-back or journal commit) and for files on ext4, xfs or btrfs (not network,
  // FUSE or overlay file systems, whose syncfs may not sync what fdatasync would); other
  // files always get their fdatasync.
  size_t syncfs_min_streams = 4;
  // fsync=always, buffered writes: a commit that writes at least this many segment files is made
  // durable by the WAL's commit journal instead: its frames are appended to one journal file
  // (`#journal-*.jnl` in wal.dir) with one fdatasync, and the segments are written without a
  // sync of their own, then synced together (one syncfs) whenever the journal reaches
  // journal_max_bytes, at Flush and at Close. One sequential write per commit however many
  // streams it touches (docs/PERFORMANCE_LOG.md, "Many streams"). Recovery applies the journals it
  // finds before the WAL takes writes. 0: no journal (commits of many files use syncfs, above).
  // Same platform conditions as syncfs_min_streams.
  // 4: from 4 files a commit the journal measured faster than syncfs (docs/PERFORMANCE_LOG.md; 16
  // before the journal stopped truncating when emptied). At the defaults, where the journal is
  // on, it takes every commit that syncfs_min_streams would: syncfs is then for WALs whose
  // journal_min_streams is set higher, or 0.
  size_t journal_min_streams = 4;
  uint64_t journal_max_bytes = 64ull << 20;  // [1 MiB, 1 GiB]
  // A journaled commit leaves a stream's frames out of its segment while it has fewer than this
  // many bytes of them (they are durable in the journal; each writer thread holds at most 8 MiB
  // so): they go in with the stream's next frames, one write instead of one per commit. Written
  // out when the journal is emptied, before a segment is sealed, when the writer thread is idle
  // (10 ms) and before Read; other processes reading a live WAL may lag by that much per stream.
  // At most 1 MiB; 0: every journaled commit writes every segment it touches. Not with an export
  // sink (its manifests name each record's offset as soon as it is durable).
  size_t journal_hold_bytes = 16 << 10;
  size_t ram_records_per_stream = 65536;  // sink=ram: ring size per stream
  // Streams one writer thread holds at most (each has a chain head, and a segment fd or a RAM
  // ring). A record for one more stream is refused with Io ("stream limit": waiting does not
  // help, so not Busy, which hosts retry); streams already
  // held are unaffected. Memory is thus bounded by workers × max_streams_per_worker ×
  // (ram_records_per_stream × record size for sink=ram).
  size_t max_streams_per_worker = 1024;
  size_t max_batch_records = 1024;        // group commit: records per worker per commit
  // Segment files the engine keeps open at most, all writer threads together; past it, idle
  // streams' files are closed and reopened on their next write. 0 (default): half of what the
  // soft RLIMIT_NOFILE leaves after 64 (a quarter of a limit below 64).
  size_t max_open_segment_fds = 0;
  // Where a draft is canonicalized (parsed, NFC, validated, rendered): true (default) on the
  // caller's thread inside Emit, so the stream's owner only splices in seq and prev and hashes
  // — the owner is the serialization point, so this scales with the callers' cores; false on
  // the owner, which keeps Emit itself at ~0.3 µs (better when callers outnumber cores).
  // Measured both ways in docs/PERFORMANCE_LOG.md.
  bool canonicalize_in_emit = true;
  // Signs checkpoints (export sinks with export.alg = ed25519): the host's key, e.g. an
  // Ed25519Signer over a 0600 key file; its key_id must equal export.signer_key_id.
  std::shared_ptr<Signer> signer;
  // A restart with a new key (docs/RUNBOOK.md: rotate by restarting with the new key): the key
  // the export was signed with until now. Open then appends a KeyRotated record (attrs
  // old_key_id, new_key_id) to every stream whose last checkpoint another key signed, and the
  // first checkpoint of each under `signer` carries this key's cross-signature. Without it
  // such a restart still works, logs audit.key.rotated at warn level, and verifiers that trust
  // both keys report missing_cross_signature: a rotation nobody vouched for.
  std::shared_ptr<Signer> previous_signer;
  // The `service` label of every metric and log line (docs/OBSERVABILITY.md), e.g. "svc-gateway".
  std::string service = "ron-audit";
  // A WAL commit (write + fdatasync) slower than this counts in io_timeouts_total{op="wal"}.
  std::chrono::milliseconds wal_time_budget{1000};
  // Where the engine's JSON-lines log goes: one event per line with the docs/OBSERVABILITY.md fields
  // (ts in RFC 3339 UTC, level, service, event, writer_id, and where they apply stream, seq,
  // self_hash, reason, msg). Never receives record bodies, attrs, keys, salts or IPs. Rejections
  // are rate-limited (20 lines a second, then one audit.log.suppressed line with the count).
  // Called from engine and caller threads; must be thread-safe.
  std::function<void(std::string_view json_line)> log;
  bool log_appends = false;  // also log audit.append.ok for every durable record (debugging)
};

// Where a record landed.
struct Receipt {
  uint64_t seq = 0;
  Digest self_hash{};
};

class TicketState;
enum class AppendOutcome { kAppended, kDuplicate };

// The promise of one Emit or OfferSealed. Copyable; all copies see the same outcome.
class RON_AUDIT_EXPORT Ticket {
 public:
  explicit Ticket(std::shared_ptr<TicketState> state) : state_(std::move(state)) {}
  // The record's position once it is durable under the fsync policy, or its error. At the
  // deadline without an outcome: Busy ("deadline exceeded"); the record may still land.
  Result<Receipt> Wait(Deadline deadline) const;
  bool done() const;
  // Once Wait answered Ok: kDuplicate for a sealed record that was stored already (the receipt
  // is then the original's position), else kAppended.
  AppendOutcome outcome() const;

 private:
  std::shared_ptr<TicketState> state_;
};

struct AppendResult {
  AppendOutcome outcome = AppendOutcome::kAppended;
  Receipt receipt;  // for a duplicate: the original position
};

struct StreamInfo {
  uint64_t head_seq = 0;
  std::string head = "b3:0";
  StreamState state = StreamState::kOk;
};

class RON_AUDIT_EXPORT Engine {
 public:
  static Result<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  ~Engine();  // Close() with an immediate deadline if the host did not
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a draft (kind, actor, subject, reason, attrs, optional ts_ms) for `stream` under this
  // engine's writer_id. Never blocks: Busy when the owner's queue holds queue_depth tasks or the
  // stream holds its streams.<name>.queue_depth override (shed_policy=block, for tests only,
  // waits for room instead). Closed after Close. Schema errors of the draft come through the
  // ticket. IP address literals among the attrs values are dropped, coarsened or hashed first
  // (privacy.ip_mode, default drop: docs/CONFIG.md), so the sealed record never holds one.
  Result<Ticket> Emit(std::string_view stream, std::string_view draft_json);

  // Emit of many drafts to one stream, as a host with a batch in hand emits it: each draft is
  // prepared exactly as Emit prepares it, and what Emit would have returned for it is appended
  // to *results (its ticket, or its error; a bad draft's ticket has already failed). The
  // prepared drafts are handed to the stream's writer thread together (up to 256 at a time), so
  // that it commits them together rather than in fragments as each call wakes it. Stops after
  // the first Busy or Closed (that entry included): the drafts after it were not taken; emit
  // them again, from there, once the writer has caught up. Returns the number of entries
  // appended. Never blocks. Records of one thread's calls land in the order given.
  size_t EmitMany(std::string_view stream, std::span<const std::string_view> drafts,
                  std::vector<Result<Ticket>>* results);

  // A sealed record from replay, import or a retry (docs/API.md): seq == head+1 and prev == head
  // → Appended; seq ≤ head and the stored record at seq has the same self_hash → Duplicate (the
  // original position, counted in audit_dedupe_hits_total); same seq, other hash → Conflict;
  // seq > head+1 → SeqGap. A record that holds an IP address literal in attrs is Schema
  // (privacy.ip_mode: it cannot be redacted without breaking its hash). sink=ram can confirm a
  // duplicate only while its ring holds the position (ram_records_per_stream): an older seq is
  // SeqGap ("no longer held in RAM"), never Conflict. Blocks until durable or the deadline: OfferSealed, then Wait.
  Result<AppendResult> AppendSealed(std::string_view sealed, Deadline deadline);

  // AppendSealed without the wait, for replays and imports that keep many records in flight:
  // the record is verified here (its errors are answered at once), queued to its stream's
  // owner, and its outcome comes through the ticket (Ticket::outcome tells Duplicate). Records
  // offered from one thread are applied in the order offered. Never blocks: Busy when the
  // owner's queue is full.
  Result<Ticket> OfferSealed(std::string_view sealed);

  // OfferSealed for many records, as an import reading a file offers them: the records'
  // self_hashes are checked side by side (SIMD lanes across records: several times cheaper per
  // record than one by one), then each record is offered in order exactly as OfferSealed
  // would. Appends to *results one entry per record taken — its ticket, or its error — and
  // stops after the first Busy or Closed (that entry included): the records after it were not
  // offered; offer them again, from there, once the writer has caught up. Returns the number
  // of entries appended. Never blocks.
  size_t OfferSealedMany(std::span<const std::string_view> sealed,
                         std::vector<Result<Ticket>>* results);

  // Up to `max_records` (at most kMaxReadRecords) sealed records of (writer_id, stream) from
  // `from_seq` on, each verified on read — canonical bytes, self_hash, and every link between
  // them; a failure is returned (HashMismatch, PrevMismatch, SeqGap) and counted in
  // audit_verify_fail_total. sink=ram reads the stream's ring through its owner (SeqGap for
  // records the ring no longer holds); sink=wal reads the segments. Empty past the head.
  static constexpr size_t kMaxReadRecords = 65536;
  Result<std::vector<std::string>> Read(std::string_view writer_id, std::string_view stream,
                                        uint64_t from_seq, size_t max_records, Deadline deadline);

  // The chain head of (writer_id, stream) as its owner last published it.
  StreamInfo State(std::string_view writer_id, std::string_view stream) const;

  // Returns once everything queued before the call is durable — fdatasync'd under every fsync
  // policy — or the deadline passed (Busy). docs/API.md.
  Status Flush(Deadline deadline);

  // Export sinks (sink = wal+export): cuts a checkpoint of every stream with records since its
  // last one, and returns once the builder has signed it and written its manifest. Checkpoints
  // are otherwise cut every export.checkpoint_every records, every export.export_every, and at
  // Close. Schema without an export sink.
  Status Checkpoint(Deadline deadline);

  // Key rotation (docs/RUNBOOK.md): appends a KeyRotated record (attrs: old_key_id, new_key_id) to
  // every stream of this writer, then signs later checkpoints with `next`; the first checkpoint
  // of each stream under `next` also carries a cross-signature by the previous key.
  Status RotateSigner(std::shared_ptr<Signer> next, Deadline deadline);

  // Stops intake (later calls get Closed), drains, fsyncs, seals open segments and joins every
  // thread. Work still queued at the deadline fails with Closed (tasks_aborted_total), and then
  // Close answers Closed, never Ok. Every caller (another thread, ~Engine) returns only once the
  // engine is closed, with the same status. Busy from inside the log callback. docs/API.md.
  Status Close(Deadline deadline);

  // Readiness (docs/OBSERVABILITY.md): true iff every key of Readiness() holds (so it agrees with
  // ReadinessJson): false while closed, while a full disk suspends writes
  // (disk_full_action=suspend), or while a stream is frozen or failed; `why` names the key.
  bool Ready(std::string* why = nullptr) const;

  // The readiness keys of docs/OBSERVABILITY.md that apply to this engine's profile, each true or
  // false: audit.config_loaded, audit.queue_bound_ok, audit.verify_on_read, audit.wal_ready
  // (WAL profile), audit.export_ready and audit.checkpoint_timer_active (export sinks).
  std::vector<std::pair<std::string, bool>> Readiness() const;
  // The /readyz payload a host serves: {"degraded":false,"missing":[]} or, when a key is false,
  // {"degraded":true,"missing":["audit.wal_ready"],"retry_after":5}.
  std::string ReadinessJson() const;

  // Prometheus text exposition of the engine's metrics.
  std::string MetricsText() const;

  const std::string& writer_id() const;
  // "io_uring" or "pwritev" for the WAL profile (as the writers' WALs report it), "" for RAM.
  std::string io_backend() const;

 private:
  class Impl;
  friend struct EngineAccess;  // test hooks, not part of the API
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ron

#endif  // RON_AUDIT_ENGINE_H_
