// The commit journal (docs/FORMAT.md §3, "The commit journal"): one file per WAL, in the WAL
// root, that makes a commit touching many streams durable with one sequential write and one
// fdatasync instead of one scattered write and sync per stream. The commit still writes each
// stream's frames into its segment, but without syncing it; the same frames go to the end of
// the journal, which is synced. The segments are synced in bulk later (when the journal holds
// WalOptions::journal_max_bytes, at Sync and at Close), and the journal is then emptied.
// Recovery applies every journal it finds before the WAL takes writes, so a record whose
// commit returned is in its segment again after kill -9 or power loss.
//
// A journal (format v3) is two 4 KiB header blocks followed by batches, one per commit, each
// starting on a 4 KiB boundary. Each header block starts with a slot (offsets 0 and 4096):
//   0  8  magic       "RON-JNL" 03
//   8  8  generation  u64 little-endian, >= 1; slot (generation - 1) % 2 holds it
//  16  8  checksum    XXH3-64 (seed 0) of bytes [0, 16) of the slot
// The valid slot with the higher generation is the journal's. A batch:
//   0  8  batch magic  FF 'R' 'O' 'N' 'J' 'B' 00 03 (an FF byte never occurs in canonical JSON,
//                      so no record body can hold a batch header)
//   8  8  checksum     XXH3-64 (seed 0) of bytes [16, 32 + length) of the batch
//  16  8  length       bytes of frames that follow (u64 little-endian)
//  24  8  generation   the header's generation when the batch was written
//  32     frames       segment frames (FORMAT.md §3, byte for byte what the segments hold) for
//                      any streams, in commit order
// then zeros up to the next 4 KiB boundary, where the next batch starts, so that no write ever
// touches a block holding an acknowledged batch. A batch is whole when its checksum matches
// (and its length is at most kMaxJournalBatchBytes); a torn write never is. Emptying the
// journal advances the generation (one slot rewritten and synced) instead of truncating the
// file: later batches overwrite blocks the file already has, so that their fdatasync has no
// metadata to commit, and the batches of earlier generations left behind them are stale, the
// end of the journal. Readers route each frame by the writer_id and stream its record names.
// Journals of format v2 (an earlier build: one 4 KiB header block with the magic "RON-JNL" 02,
// batches from 4096 with the magic ending 00 02 and a 24-byte header without the generation,
// emptied by truncation) are read as before.
//
// Thread-safety: a JournalWriter belongs to its Wal's owner thread; the functions are reentrant.
#ifndef WAL_JOURNAL_H_
#define WAL_JOURNAL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ron_audit/status.h"
#include "engine/core/limits.h"
#include "segment/segment_format.h"
#include "wal/io.h"

namespace ron::wal {

inline constexpr uint8_t kJournalMagic[8] = {0x52, 0x4F, 0x4E, 0x2D, 0x4A, 0x4E, 0x4C, 0x03};
inline constexpr uint8_t kJournalMagicV2[8] = {0x52, 0x4F, 0x4E, 0x2D, 0x4A, 0x4E, 0x4C, 0x02};
// Two header slots, each in a 4 KiB block of its own (a torn write of one block, even on a
// disk that rewrites 4 KiB physical sectors, leaves the other whole); batches start after them.
inline constexpr size_t kJournalHeaderBytes = 8192;
inline constexpr size_t kJournalHeaderBytesV2 = 4096;  // v2: one header block
inline constexpr size_t kJournalSlotBytes = 24;        // magic, generation, checksum
inline constexpr size_t kJournalSlotStride = 4096;     // slot k at k * 4096

// The 24 bytes of the header slot that names `generation` (at ((generation - 1) % 2) * 4096).
std::string JournalSlot(uint64_t generation);
// A header block naming `generation` in its slot, the other slot zeros.
std::string JournalHeaderBlock(uint64_t generation);

// "#journal-<16 hex digits>.jnl": '#' never appears in an escaped writer or stream name, so the
// file can never be taken for a writer's directory.
bool IsJournalFileName(std::string_view name);

inline constexpr uint8_t kJournalBatchMagic[8] = {0xFF, 0x52, 0x4F, 0x4E, 0x4A, 0x42, 0x00, 0x03};
inline constexpr uint8_t kJournalBatchMagicV2[8] = {0xFF, 0x52, 0x4F, 0x4E, 0x4A, 0x42, 0x00, 0x02};
inline constexpr size_t kJournalBatchHeaderBytes = 32;
inline constexpr size_t kJournalBatchHeaderBytesV2 = 24;

// The frames one batch holds at most, in bytes: a commit whose journaled frames would be more
// is made durable file by file instead (Wal::CommitStreams). Readers take a longer batch for
// damage, so that no length read from a file makes them hold more than this.
inline constexpr uint64_t kMaxJournalBatchBytes = 64ull << 20;
static_assert(limits::kMaxBatchRecords *
                      (Limits::kDefaultMaxRecordBytes + kSealSuffixBytes +
                       segment::kFrameOverheadBytes) <=
                  kMaxJournalBatchBytes,
              "an engine commit at the default max_batch_records fits one batch");
// WalOptions::journal_max_bytes at most. A journal is emptied once it holds journal_max_bytes,
// so no WAL writes one longer than kMaxJournalFileBytes: readers refuse a longer file as
// damage before reading it.
inline constexpr uint64_t kMaxJournalMaxBytes = 1ull << 30;
inline constexpr uint64_t kMaxJournalFileBytes =
    kMaxJournalMaxBytes + kMaxJournalBatchBytes + 2 * segment::kPaddingAlignBytes;

// Starts a batch in `out` (cleared): room for its header; the frames are appended after it.
void BeginJournalBatch(std::string* out);
// Completes the batch begun in `out` for a journal of `generation`: its header filled in,
// zeros up to whole 4 KiB blocks.
void EndJournalBatch(std::string* out, uint64_t generation);

class JournalWriter {
 public:
  // Creates a journal with a fresh name in `dir`, durably (the header synced, then the
  // directory). `use_ring`: appends go through an io_uring of its own where one can be set up
  // (false: always synchronous, as where the WAL was told to use pwritev).
  static Result<std::unique_ptr<JournalWriter>> Create(const std::string& dir,
                                                       FaultInjector* faults,
                                                       bool use_ring = true);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Writes `batch` (BeginJournalBatch, frames, EndJournalBatch) at the end and fdatasyncs the
  // journal. 0, or -errno: the batch was not acknowledged, and it is cut back
  // out of the file (cut_failed() if even that failed), so that recovery never adopts it; the
  // caller stops using the journal (it is never written again).
  int Append(std::string_view batch);
  // Append in two halves, so that the caller's segment writes overlap the journal's write and
  // sync: Begin submits the write and its fdatasync (through an io_uring of the journal's own;
  // without one, Begin does all of Append), Finish waits for them and gives Append's result.
  // `batch` must stay alive until Finish. Between the two, nothing else may touch the journal.
  void BeginAppend(std::string_view batch);
  int FinishAppend();
  // Cuts the last appended batch back out (its commit failed after all), durably: 0, or -errno
  // (then cut_failed()).
  int CutLast();
  bool cut_failed() const { return cut_failed_; }
  // Where the next batch starts; bytes past kJournalHeaderBytes are the journal's batches.
  uint64_t end_offset() const { return end_; }
  // Empties the journal (every segment it covered is synced): its generation advanced in the
  // header, synced; the file keeps its length and blocks (the batches before are stale).
  int Reset();
  // The generation the next batch is written for (EndJournalBatch).
  uint64_t generation() const { return generation_; }
  // Removes the file and syncs the directory (a clean close: nothing in it is needed).
  Status Remove();
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  JournalWriter(std::string dir, std::string path, int fd, FaultInjector* faults, bool use_ring);
  int Cut(uint64_t end);
  std::string dir_, path_;
  int fd_;
  FaultInjector* faults_;
  uint64_t end_ = kJournalHeaderBytes;
  uint64_t last_begin_ = kJournalHeaderBytes;  // where the last appended batch starts
  uint64_t generation_ = 1;
  bool cut_failed_ = false;
  struct Ring;
  std::unique_ptr<Ring> ring_;  // null: appends are synchronous
  std::string_view pending_;    // the batch BeginAppend submitted
  int pending_rc_ = 0;          // its result when it could not be submitted
};

// Reads the journal at `path` batch by batch (memory: one batch), calling `on_batch` with each
// whole batch's frames in file order (`bytes` the batch's frames, `frames` views into them, both
// valid during the call; frame offsets are the file's); in v3, the batches of the header's
// generation up to the first position that holds none (a stale batch of an earlier generation
// there is the end). A last batch that is cut short or damaged is a torn tail (*torn: its
// commit never returned; from generation 2 on, only where a batch header of the generation
// starts it, since stale batches follow the end). Damage followed by another batch header (of
// the generation), whole or not, is Io: a writer starts a batch only once the one before it
// was acknowledged, so the damaged batch was; so are a batch header claiming more than
// kMaxJournalBatchBytes (no writer or torn write makes one), a v3 header with no valid slot and
// a whole batch of a generation newer than the header's, unless the journal moved on when it
// is looked at again (a live journal read by a tool: the header's generation advanced, or a
// whole batch of the generation now where the batches ended; the read ends there, Ok, and the
// same goes for a torn tail). A batch whose checksum matches but whose frames do not fill it
// exactly is Io (no writer makes one), and so is a file longer than kMaxJournalFileBytes. Time:
// linear in the file's size; memory: one batch, at most kMaxJournalBatchBytes. `on_batch` may
// stop the read with an error of its own. `before_recheck` (tests: what a live writer does in
// the meantime) is called when the read has found damage or a torn tail in a journal of
// generation 1 or later, just before it looks at the journal again.
using JournalBatchFn =
    std::function<Status(uint32_t batch, std::string_view bytes,
                         std::span<const segment::FrameView> frames)>;
Status ScanJournal(const std::string& path, size_t max_record_bytes, const JournalBatchFn& on_batch,
                   bool* torn, const std::function<void()>& before_recheck = nullptr);

// One journal as read back whole (for tools and tests): its valid frames in file order (views
// into `batches`), each with the index of its batch.
struct JournalContents {
  std::string path;
  std::deque<std::string> batches;
  std::vector<segment::FrameView> frames;
  std::vector<uint32_t> batch_of;  // batch_of[i]: the batch of frames[i], counted from 0
  bool torn = false;               // the last batch was cut short (never acknowledged)
};
Status ReadJournal(const std::string& path, size_t max_record_bytes, JournalContents* out);

// Every journal file in `dir` (full paths, sorted).
Status ListJournals(const std::string& dir, std::vector<std::string>* paths);

// A journal whose records a frozen stream may still need is renamed to "<name>.frozen" (no
// longer a journal: never applied again, nor read as one; kept for the operator, RUNBOOK).
inline constexpr std::string_view kSetAsideSuffix = ".frozen";
Status SetJournalAside(const std::string& path);
// Every journal set aside in `dir` (full paths, sorted).
Status ListSetAsideJournals(const std::string& dir, std::vector<std::string>* paths);

// Retires every journal in `dir` but those in `keep` (full paths): those in `set_aside` are set
// aside, the others removed; then the directory is synced. For the engine, once each of its
// WALs has applied what it owns of them.
Status RetireJournals(const std::string& dir, const std::set<std::string>& keep,
                      const std::set<std::string>& set_aside);

}  // namespace ron::wal

#endif  // WAL_JOURNAL_H_
