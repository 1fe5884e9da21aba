// The write-ahead log of docs/FORMAT.md §3: one segment chain per (writer_id, stream) under
// <dir>/<esc(writer_id)>/<esc(stream)>/, written with group commit.
//
// Usage, all on the thread that owns the Wal (one owner per mutable state):
//   auto wal = Wal::Open(options);            // recovers every stream found under dir
//   StreamWal* s = wal->GetStream(w, stream); // opens or creates a stream
//   wal->Stage(s, record) ...                 // frames for one or many streams
//   wal->Commit();                            // one write + linked fdatasync per touched file;
//                                             // returns once durable per the fsync policy
//
// Durability: under FsyncPolicy::kAlways a record staged before Commit() returned Ok survives
// kill -9 and power loss. A write or fsync error is fatal for its stream (kFailed: every pending
// and later append fails with Io) until the WAL is reopened, which runs recovery — a failed
// fsync is never retried (the kernel may have dropped the dirty pages).
//
// Every batch starts on a 4 KiB boundary (the previous one ends with padding), so no write ever
// touches a block holding an acknowledged frame, and recovery can tell a torn final write from
// corruption (segment/scanner.h). Batches made durable by the commit journal are not padded:
// the frames they share a block with are in the journal until the block is padded and synced.
//
// Thread-safety: not thread-safe; one owner thread.
#ifndef WAL_WAL_H_
#define WAL_WAL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/canonical.h"
#include "ron_audit/status.h"
#include "wal/files.h"
#include "wal/io.h"
#include "wal/journal.h"
#include "wal/metrics.h"
#include "wal/preallocator.h"
#include "wal/reader.h"
#include "engine/core/limits.h"

namespace ron::wal {

using FsyncPolicy = ::ron::FsyncPolicy;  // ron_audit/types.h
bool ParseFsyncPolicy(std::string_view name, FsyncPolicy* policy);

// How batches reach the disk (both are durable under FsyncPolicy::kAlways):
//   kBuffered  buffered writes, each followed by a linked fdatasync of its file;
//   kDirect    O_DIRECT segments, 4 KiB-aligned batches of ≤ direct_batch_bytes written with
//              RWF_DSYNC, several in flight at once; only the contiguous durable prefix counts.
using WriteMode = ::ron::WriteMode;
bool ParseWriteMode(std::string_view name, WriteMode* mode);

class StreamWal;

// Whether this kernel's syncfs reports every error fdatasync would (Linux >= 5.17), and whether
// the file system of `fd` is one whose syncfs covers what fdatasync of its files would (ext4,
// xfs, btrfs). Both hold before a commit of many files is synced with syncfs.
bool SyncfsReportsErrors();
bool SyncfsCovers(int fd);

// Segment files a process may keep open, all its WALs together: half of what the soft
// RLIMIT_NOFILE leaves after 64 for everything else (a quarter of a limit below 64).
size_t SegmentFdBudget();

struct WalOptions {
  static constexpr uint64_t kMinRotateBytes = limits::kMinRotateBytes;
  static constexpr uint64_t kDefaultRotateBytes = limits::kDefaultRotateBytes;
  // A segment that was not zero-filled ahead (a stream's first, or one the preallocator had not
  // finished) is sealed early — once it holds this much (or rotate_bytes, if less) and a
  // zero-filled successor is ready — because its extending writes make every fdatasync commit
  // the file size as well.
  static constexpr uint64_t kUnpreallocatedRotateBytes = 8ull << 20;

  std::string dir;                              // the WAL root; created 0700 if missing
  uint64_t rotate_bytes = kDefaultRotateBytes;  // seal a segment before it would pass this size
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  IoBackendKind backend = IoBackendKind::kAuto;
  Limits limits;
  WriteMode write_mode = WriteMode::kBuffered;
  static constexpr size_t kDefaultDirectBatchBytes = limits::kDefaultDirectBatchBytes;
  size_t direct_batch_bytes = kDefaultDirectBatchBytes;  // kDirect: bytes per write in flight
  // Zero-fill the next segment of an active stream ahead of need, twice the size of the one
  // before (16 MiB after a first segment of 8 MiB, then 32, … up to rotate_bytes), once the
  // active segment holds a quarter of its size; a segment is sealed once it passes its
  // zero-filled size with its successor ready (wal/wal_prealloc.cc). At most
  // max_prepared_segments such files wait on disk at once for this WAL. A stream that writes
  // little never gets one: its segment grows only as far as its records.
  bool preallocate = true;
  size_t max_prepared_segments = 4;
  // A stream whose writes into its active segment average more than this many bytes gets no
  // zero-filled successor: its segments grow by appending. The zeros cost the disk as many bytes
  // as the records and every fdatasync flushes them with the commit, which halved the records/s
  // of commits of 28 KiB and more on a disk that writes ~650 MB/s, while the size an appending
  // fdatasync commits is a fixed cost that only small commits feel (docs/PERFORMANCE_LOG.md). 0:
  // zero-fill whatever the writes.
  static constexpr uint64_t kDefaultZeroFillMaxWriteBytes = 16 * 1024;
  uint64_t zero_fill_max_write_bytes = kDefaultZeroFillMaxWriteBytes;
  // Segment files this WAL keeps open at most. Past it, the least recently written idle
  // stream's file is closed (synced first unless fsync=always) and reopened when the stream
  // writes again, so a WAL with more streams than descriptors neither fails them nor starves
  // the host. 0: SegmentFdBudget().
  size_t max_open_segments = 0;
  // kBuffered: a batch written with its fdatasync (fsync=always, or staged when Sync runs) has
  // its pages dropped from the page cache once durable (posix_fadvise DONTNEED: they are clean
  // by then, so nothing is lost or written again). An audit log is rarely read right after it
  // is written, and a page cache that grows by every record written made each buffered write
  // slower (docs/PERFORMANCE_LOG.md). Readers of recent records then read them from the disk.
  // False: the kernel keeps them cached.
  bool drop_synced_pages = true;
  // io_uring: a commit that is one write of at most this many bytes is written on the owner
  // thread (wal/io.h, kDefaultInlineWriteBytes); 0: every commit through the ring.
  size_t inline_write_max_bytes = kDefaultInlineWriteBytes;
  // kBuffered, fsync=always: a commit that writes at least this many segment files writes them
  // all, then makes them durable with one syncfs per file system instead of one fdatasync per
  // file: one device cache flush instead of one per file, ~2x the records/s at 100 and 1000
  // streams (docs/PERFORMANCE_LOG.md). syncfs also writes back whatever else on that file system
  // is dirty, so a file system shared with busy writers may want 0 (never). syncfs cannot say
  // whose write-back failed: after an error each file of the commit gets its own fdatasync,
  // which fails the streams whose data was lost and no other. Used only where syncfs reports
  // what fdatasync would: Linux >= 5.17 and ext4, xfs or btrfs (SyncfsCovers); files
  // elsewhere keep their fdatasync.
  static constexpr size_t kDefaultSyncfsMinFiles = 4;
  size_t syncfs_min_files = kDefaultSyncfsMinFiles;
  // kBuffered, fsync=always: a commit that writes at least this many segment files (on the file
  // system of the WAL root, one syncfs covers) is made durable by the commit journal
  // (wal/journal.h): its frames are appended to one journal file with one fdatasync, and the
  // segments are written without a sync of their own; they are synced together (syncfs) once
  // the journal holds journal_max_bytes, at Sync (which the engine calls before a checkpoint
  // cut names their offsets) and at Close, and one by one (fdatasync) before a segment is
  // sealed. Until then a stream's commits all go through the journal, whatever the number of
  // files. 0: no journal. Takes precedence
  // over syncfs_min_files for the commits it covers. Whatever the setting, Open applies every
  // journal it finds (a run with the journal may have crashed).
  size_t journal_min_files = 0;
  static constexpr uint64_t kDefaultJournalMaxBytes = 64ull << 20;
  uint64_t journal_max_bytes = kDefaultJournalMaxBytes;  // [1 MiB, 1 GiB]
  // A commit whose journaled frames would be more bytes than this is made durable file by file
  // instead (after the streams with frames only in the journal are synced in their segments).
  // No engine commit at the default max_batch_records (1024) comes near the default
  // (wal/journal.h); lower only in tests.
  uint64_t journal_max_batch_bytes = kMaxJournalBatchBytes;  // [1, kMaxJournalBatchBytes]
  // A journaled commit leaves a stream's frames unwritten (held in memory, durable in the
  // journal) while they are fewer than journal_hold_bytes, and the WAL's held frames stay within
  // journal_hold_total_bytes: a commit of many streams otherwise writes each file a frame at a
  // time, and every write updates its inode. Held frames are written to their segments (in one
  // write with the stream's next frames) once they reach the limit, and before the journal is
  // emptied, a segment sealed or parked, when the owner is idle (ReleaseBuffers) and when a
  // reader asks (WriteOutHeld). 0: a journaled commit writes every segment it touches.
  static constexpr size_t kDefaultJournalHoldBytes = 16 << 10;
  size_t journal_hold_bytes = kDefaultJournalHoldBytes;
  uint64_t journal_hold_total_bytes = 8ull << 20;
  FaultInjector* faults = nullptr;    // tests and drills only; not owned
  bool allow_small_segments = false;  // tests only: permits rotate_bytes < 8 MiB
  // Journals recovery must leave alone: those other WALs sharing the directory write now (the
  // engine's writer threads). Unset: none.
  std::function<bool(const std::string& journal_path)> live_journal;
  // Take the directory's writer lock (wal::DirLock) for the Wal's lifetime. False only when the
  // caller already holds it: an engine locks once and its writer threads share the directory.
  bool lock_dir = true;
  // Which (writer_id, stream) this WAL owns; recovery leaves the others alone, so several WALs
  // (one per engine writer thread) can share a directory. Unset: all of them.
  std::function<bool(const std::string& writer_id, const std::string& stream)> owns;
  // Called on the owner thread, inside Commit/Sync, for every record once it is written (and
  // durable under the fsync policy), in seq order per stream, with the segment and the byte
  // offset where its frame starts. Feeds the checkpoint builder without re-reading the WAL.
  std::function<void(const StreamWal& stream, uint64_t seq, const Digest& self_hash,
                     uint64_t segment_no, uint64_t offset)>
      on_durable;

  Status Validate() const;
};

using StreamState = ::ron::StreamState;  // ron_audit/types.h

struct WalCounters {
  uint64_t torn_tail_total = 0;  // wal_torn_tail_total
  uint64_t corrupt_total = 0;    // wal_corrupt_total
  uint64_t io_errors_total = 0;
  uint64_t fsync_total = 0;
  uint64_t bytes_written = 0;
  uint64_t records_written = 0;
  uint64_t segments_created = 0;
  uint64_t segments_preallocated = 0;  // of those, how many were zero-filled ahead of need
  uint64_t segment_fds_parked = 0;     // segment files closed to stay within the fd budget
  uint64_t journal_commits = 0;        // commits made durable by a journal append
  uint64_t commits_on_caller = 0;      // segment writes run on the committing thread
};

class StreamWal {
 public:
  const std::string& writer_id() const { return writer_id_; }
  const std::string& stream() const { return stream_; }
  StreamState state() const { return state_; }
  const Status& failure() const { return failure_; }  // why frozen or failed
  uint64_t head_seq() const { return head_seq_; }     // last staged-or-durable seq (0: empty)
  uint64_t durable_seq() const { return durable_seq_; }
  std::string HeadText() const;  // self_hash of head_seq, "b3:0" when empty
  const Digest& head_hash() const { return head_hash_; }  // zeros when empty

 private:
  friend class Wal;
  std::string writer_id_, stream_, dir_;
  StreamState state_ = StreamState::kOk;
  Status failure_;
  uint64_t head_seq_ = 0;
  Digest head_hash_{};
  uint64_t durable_seq_ = 0;
  Digest durable_hash_{};
  // Active segment.
  int fd_ = -1;
  uint64_t segment_no_ = 0;
  uint64_t segment_first_seq_ = 0;
  uint64_t segment_frames_ = 0;        // frames written or staged into the active segment
  // Writes into the active segment since it was opened or recovered, and their bytes.
  uint64_t segment_writes_ = 0, segment_write_bytes_ = 0;
  uint64_t write_offset_ = 0;          // where the next batch goes (4 KiB aligned)
  uint64_t segment_zone_ = 0;          // bytes of the active segment zero-filled ahead (0: none)
  uint64_t zone_grown_ = 0;            // the largest zero-filled segment this stream has had
  // Its successor's path, once asked of the preallocator (empty: not asked): SegmentFull looks
  // it up per record while the stream is past its zone, without building it each time.
  std::string successor_path_;
  bool parked_ = false;      // the active segment is open, but its fd was closed (fd budget)
  uint64_t dev_ = 0;         // the file system of the active segment (st_dev), for syncfs
  bool syncfs_ok_ = false;   // that file system is one syncfs covers (SyncfsCovers)
  uint64_t last_write_ = 0;  // Wal::write_clock_ when it last staged a record
  bool dirty_ = false;       // listed in Wal::dirty_ (frames staged since the last commit)
  bool changed_ = false;     // listed in Wal::changed_ (head or state moved since TakeChanged)
  bool journaled_ = false;   // listed in Wal::journaled_ (frames durable only in the journal)
  // Staged batch: frames back to back, and where each ends.
  struct PendingFrame {
    size_t end = 0;  // offset in pending_ just past the frame
    uint64_t seq = 0;
    Digest hash{};
  };
  std::string pending_;
  std::vector<PendingFrame> pending_frames_;
  // The first held_frames_ frames of pending_ (held_bytes_ of its bytes) are committed through
  // the journal but not written to the segment yet (WalOptions::journal_hold_bytes); they go at
  // write_offset_.
  size_t held_bytes_ = 0, held_frames_ = 0;
  // Self hashes of a window of committed records read back for duplicate checks, so that a
  // replay of a whole stream reads the WAL once per window rather than once per record.
  uint64_t digest_cache_first_ = 0;
  std::vector<Digest> digest_cache_;
};

class Wal {
 public:
  // Opens (creating if needed) the WAL root and recovers every stream under it: torn tails are
  // truncated and counted; corrupt streams open frozen; chain heads are rebuilt and records
  // re-verified from the last sealed segment on.
  static Result<std::unique_ptr<Wal>> Open(const WalOptions& options);
  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Returns the stream, creating its directory on first use. Names must satisfy the record law.
  Result<StreamWal*> GetStream(const std::string& writer_id, const std::string& stream);

  // Stages `record` as the next frame of `s`. REQUIRES: record.record.seq == s->head_seq() + 1
  // and its prev is s's head (else SeqGap/PrevMismatch). Frozen → Frozen; failed → Io.
  // May commit first when the active segment must rotate.
  Status Stage(StreamWal* s, const CanonicalRecord& record);

  // Writes every staged batch, then fdatasyncs per policy; returns when durable. Ok only if
  // every touched stream succeeded, here and in the commits Stage made since the last Commit
  // (when a segment filled); a failed stream is kFailed and its staged records are lost (never
  // acknowledged). `alone`: the caller waits for this commit with nothing queued behind it; a
  // commit that is one write (one file, buffered, or one O_DIRECT chunk) then runs on the
  // calling thread whatever its size (wal/io.h, kDefaultInlineWriteBytes).
  Status Commit(bool alone = false);

  // The self_hash of the record at `seq` of `s` (staged or on disk). REQUIRES: seq <= head.
  // For the replay path (duplicate detection), not appends: a miss reads the stream's segments
  // once and keeps the hashes of [seq, seq + kDigestWindow) (2 MiB), so replaying a whole
  // stream in order costs one checksum pass over the WAL per window.
  static constexpr size_t kDigestWindow = 65536;
  Status StoredDigest(StreamWal* s, uint64_t seq, Digest* digest);

  // Freezes `s` (fail closed, like corruption found by recovery): staged records are dropped
  // (never acknowledged), every later Stage answers Frozen with `why`, counted in
  // corrupt_total. For checks above the WAL: a stream that contradicts its signed export.
  void Freeze(StreamWal* s, const Status& why);
  // Registers (writer_id, stream) as frozen without creating anything on disk: a stream the
  // export knows whose WAL is missing. An existing stream is frozen instead.
  Status AddFrozenStream(const std::string& writer_id, const std::string& stream,
                         const Status& why);

  // Flushes with fdatasync regardless of policy (checkpoints, close).
  Status Sync();

  // Commits staged work, seals every active segment (header written, zero-filled tail trimmed)
  // and closes its file, and stops the preallocator (a segment zero-filled ahead and not taken
  // is removed).
  Status Close();

  const WalCounters& counters() const { return counters_; }
  std::string_view backend_name() const { return io_->name(); }
  const std::string& backend_note() const { return backend_note_; }
  // The sync part of the last commit: its fdatasyncs (or RWF_DSYNC writes), and its syncfs
  // calls when the commit synced its files together.
  double last_fsync_seconds() const { return last_fsync_seconds_; }
  const LatencyHistogram& fsync_histogram() const { return fsync_histogram_; }
  std::vector<const StreamWal*> streams() const;
  // The streams whose head or state may have moved since the last call (records staged or
  // dropped, a failure, a freeze, a new stream), each once; the first call after Open gives
  // every stream. What a batch publishes, without walking every stream of the WAL per batch.
  std::vector<const StreamWal*> TakeChangedStreams();
  // Moves whenever a stream is added or changes state: a list of (stream, state) taken at one
  // version is still exact while the version has not moved.
  uint64_t stream_set_version() const { return stream_set_version_; }
  // The stream if this WAL holds it (recovered or created), else null; never creates one.
  StreamWal* FindStream(const std::string& writer_id, const std::string& stream) const;
  size_t stream_count() const { return streams_.size(); }
  // Frees the write buffers of the streams with nothing staged, and the commit's own (kDirect's
  // aligned copy, the journal's batch). A stream keeps its buffer from commit to commit, at the
  // size of the largest batch it wrote (up to max_batch_records records), until this call or
  // until it is parked; the owner calls this once it has been idle for limits::kIdleRelease.
  void ReleaseBuffers();
  // Writes the stream's held frames (WalOptions::journal_hold_bytes) to its segment, so that a
  // reader of the files finds every committed record. Ok for a stream this WAL does not hold or
  // that holds none; a failed write fails the stream.
  Status WriteOutHeld(const std::string& writer_id, const std::string& stream);
  uint64_t held_bytes() const { return held_total_; }
  // Segments the preallocator has zero-filled so far (0 without preallocation).
  uint64_t segments_prepared() const { return preallocator_ ? preallocator_->prepared() : 0; }
  // Segments asked of the preallocator and not taken yet (queued, being zero-filled, or ready).
  size_t segments_ahead() const { return preallocator_ ? preallocator_->outstanding() : 0; }
  // Zeros the preallocator has written for this WAL, files abandoned or not taken included.
  uint64_t bytes_zero_filled() const { return zero_filled_.load(std::memory_order_relaxed); }
  const StreamReport* recovery_report(const StreamWal* s) const;
  // The commit journal this WAL writes ("" without one), and how many records recovery took
  // from journals into their segments.
  std::string journal_path() const { return journal_ != nullptr ? journal_->path() : ""; }
  // Whether some records may be durable only in the journal (their segments not yet synced):
  // a Sync makes them durable where they are, e.g. before their offsets go into a manifest.
  bool has_journaled_records() const { return !journaled_.empty(); }
  uint64_t journal_records_applied() const { return journal_records_applied_; }
  // Journals shared with other WALs (WalOptions::owns) that hold records of a stream of this
  // WAL that ended frozen: whoever retires them sets them aside (RetireJournals) instead.
  const std::vector<std::string>& journals_to_set_aside() const { return journals_to_set_aside_; }

 private:
  explicit Wal(const WalOptions& options) : options_(options) {}
  Status Recover();
  Status OpenRecoveredStream(StreamWal* s, const StreamReport& report);
  Status CreateSegment(StreamWal* s, uint64_t segment_no, uint64_t first_seq);
  // Rotation and preallocation (wal/wal_prealloc.cc).
  bool SegmentFull(const StreamWal* s, size_t next_frame_bytes) const;
  void MaybeRequestNextSegment(StreamWal* s);
  uint64_t SegmentZone(const StreamWal* s) const;
  std::string SuccessorPath(const StreamWal* s) const;
  Status SealActiveSegment(StreamWal* s);
  void Fail(StreamWal* s, const Status& status);
  // Frees s's write buffer (its capacity) when nothing is staged in it.
  static void FreeWriteBuffer(StreamWal* s);
  void DropStaged(StreamWal* s);
  void MarkChanged(StreamWal* s);
  Status CommitStreams(bool force_sync, bool alone = false);
  void AppendChunks(StreamWal* s, bool sync, bool pad, std::vector<WriteOp>* ops,
                    std::vector<std::pair<StreamWal*, size_t>>* chunk_ends);
  Status OpenSegmentFd(const std::string& path, int* fd) const;
  // The fd budget (WalOptions::max_open_segments): every segment fd is adopted and closed
  // through these, so that open_segments_ counts them exactly.
  void AdoptFd(StreamWal* s, int fd);
  void CloseFd(StreamWal* s);
  void MakeRoomForFd(const StreamWal* keep);
  Status Park(StreamWal* s);
  Status Unpark(StreamWal* s);
  char* Staging(size_t bytes);
  // The journal (wal/wal_journal.cc): applied at Open; a commit's frames appended.
  // One stream's frames in the journals, from every journal read (a stream's frames may sit in
  // several: runs that crashed one after another).
  struct JournalStream {
    struct Frame {
      Record record;  // the chain fields (CheckChain)
      std::string json;
      Digest hash{};
    };
    std::vector<Frame> frames;  // by seq once read
    std::string source;         // the first journal that held one, for messages
  };
  // A journal read at Open, until applied: the streams of this WAL it holds, and whether it
  // holds others' too (then the engine retires it, once every WAL has applied it).
  struct JournalRead {
    std::string path;
    std::set<std::pair<std::string, std::string>> streams;
    bool foreign = false;
  };
  using JournalStreams = std::map<std::pair<std::string, std::string>, JournalStream>;
  // Reads the journals to apply (`by_stream`) and those set aside (`set_aside`: never applied
  // as journals, but a stream behind what one holds is frozen, see ApplyJournals).
  Status ReadJournals(JournalStreams* by_stream, JournalStreams* set_aside);
  // *vanished: the file was removed since it was listed (it is then skipped).
  Status ReadJournalFile(const std::string& path, JournalRead* read, JournalStreams* by_stream,
                         bool* vanished);
  static bool JournalCoversCut(const JournalStream& js, const StreamReport& wide);
  // Appends to `s` the journal's records that continue its head; false if it froze.
  Status RestageFromJournal(StreamWal* s, const JournalStream& js);
  Status ApplyJournals(JournalStreams* by_stream, JournalStreams* set_aside);
  Status StartJournal();
  // A commit's journal append, in flight while its segments are written: Start before the
  // writes, Finish after (failures land in `results`). BuildJournalBatch: the frames of the ops
  // in the journal whose write has not failed, into journal_batch_; false if there are none.
  bool BuildJournalBatch(std::span<const WriteOp> ops,
                         const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                         std::span<const char> in_journal, std::span<const int> results);
  void StartJournalAppend(std::span<const WriteOp> ops,
                          const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                          std::span<const char> in_journal);
  int FinishJournalAppend(std::span<const WriteOp> ops,
                          const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                          std::span<const char> in_journal, std::span<int> results);
  // Whether the journal can stand in for the sync of `s` (same file system, syncfs covers it).
  bool JournalCovers(const StreamWal* s) const {
    return s->syncfs_ok_ && s->dev_ == journal_dev_;
  }
  // Pads a journaled stream's last block (its frames are about to be synced and leave the
  // journal): its next write starts on a new block, so no write touches them again.
  int PadToBlock(StreamWal* s);
  // Writes s's held frames at write_offset_ (not synced: they are durable in the journal).
  // 0 or -errno; on error they stay held.
  int WriteOutHeld(StreamWal* s);
  // Makes every stream whose frames are durable only in the journal durable in its segment
  // (one syncfs), then empties the journal.
  Status SyncJournaled();
  // Whether the frames this commit would journal (of the dirty streams `to_journal` picks) are
  // more than one batch may hold (journal_max_batch_bytes: readers refuse a longer one).
  bool JournalBatchTooLarge(const std::function<bool(const StreamWal*)>& to_journal) const;
  // `s`'s frames are synced in its segment: it no longer relies on the journal.
  void LeaveJournal(StreamWal* s);
  // A stream stopped while some of its acknowledged frames were only in the journal (`err`:
  // why): the journal is kept as it is for the next open, and takes no more batches.
  void KeepJournal(int err);
  // Flushes `fd` for a stream's durability: the fault injector first, then fdatasync (syncfs of
  // its file system when `whole_fs`); wal_fsync_total counts it if it succeeds (as it counts
  // the backend's). 0 or -errno.
  int FlushFile(int fd, bool whole_fs = false);
  void SyncFileSystems(std::span<const WriteOp> ops,
                       const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                       std::span<int> results);

  WalOptions options_;
  std::unique_ptr<DirLock> lock_;  // with options_.lock_dir
  size_t max_open_segments_ = 0;   // resolved at Open
  size_t open_segments_ = 0;
  uint64_t write_clock_ = 0;
  std::unique_ptr<IoBackend> io_;
  std::atomic<uint64_t> zero_filled_{0};  // before preallocator_, which writes it
  std::unique_ptr<Preallocator> preallocator_;
  std::string backend_note_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<StreamWal>> streams_;
  // A commit and a batch's publication touch only these, not every stream the WAL holds (a WAL
  // of thousands of streams pays per batch for what the batch did). Never owning.
  std::vector<StreamWal*> dirty_;    // with frames staged since the last commit, in stage order
  std::vector<StreamWal*> changed_;  // see TakeChangedStreams
  uint64_t stream_set_version_ = 0;
  std::set<std::string> durable_writer_dirs_;  // writer ids whose directory entry was synced
  std::map<const StreamWal*, StreamReport> reports_;
  WalCounters counters_;
  LatencyHistogram fsync_histogram_;
  double last_fsync_seconds_ = 0;
  struct FreeDeleter {
    void operator()(char* p) const { free(p); }
  };
  bool syncfs_reports_errors_ = false;          // the kernel's syncfs returns writeback errors
  std::unique_ptr<char, FreeDeleter> staging_;  // 4 KiB-aligned, for kDirect batches
  size_t staging_bytes_ = 0;
  std::unique_ptr<JournalWriter> journal_;
  bool journal_ok_ = false;    // journal_ may take batches (no write or sync of it has failed)
  bool journal_needed_ = false;  // a stream failed while its frames were only in journal_
  int journal_needed_errno_ = 0;  // why (ENOSPC: the writer suspends, and the reopen applies it)
  uint64_t journal_dev_ = 0;   // its file system (st_dev): the streams it can cover
  // The first error of a commit Stage made when a segment filled (that stream went on): the
  // next Commit returns it.
  Status inner_error_;
  std::string journal_batch_;  // the batch being built, reused (in flight until Finish)
  bool journal_started_ = false;
  std::vector<StreamWal*> journaled_;  // streams with frames durable only in the journal
  uint64_t held_total_ = 0;            // bytes held by every stream (StreamWal::held_bytes_)
  std::vector<JournalRead> journals_read_;            // at Open, until applied
  std::vector<std::string> journals_to_set_aside_;  // see journals_to_set_aside()
  uint64_t journal_records_applied_ = 0;
};

}  // namespace ron::wal

#endif  // WAL_WAL_H_
