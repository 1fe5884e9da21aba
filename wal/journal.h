// The commit journal (docs/FORMAT.md §3, "The commit journal"): one file per WAL, in the WAL
// root, that makes a commit touching many streams durable with one sequential write and one
// fdatasync instead of one scattered write and sync per stream. The commit still writes each
// stream's frames into its segment, but without syncing it; the same frames go to the end of
// the journal, which is synced. The segments are synced in bulk later (when the journal holds
// WalOptions::journal_max_bytes, at Sync and at Close), and the journal is then emptied.
// Recovery applies every journal it finds before the WAL takes writes, so a record whose
// commit returned is in its segment again after kill -9 or power loss.
//
// A journal is a 4 KiB header block (magic "RON-JNL" v1, then zeros) followed by batches, one
// per commit: segment frames (FORMAT.md §3, byte for byte what the segments hold) for any
// streams, in commit order, each batch ended by a padding marker (always, even at a 4 KiB
// boundary), so that the next batch starts on a 4 KiB boundary and no write ever touches a block
// holding an acknowledged frame. Readers route each frame by the writer_id and stream its record
// names.
//
// Thread-safety: a JournalWriter belongs to its Wal's owner thread; the functions are reentrant.
#ifndef WAL_JOURNAL_H_
#define WAL_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ron_audit/status.h"
#include "segment/segment_format.h"
#include "wal/io.h"

namespace ron::wal {

inline constexpr uint8_t kJournalMagic[8] = {0x52, 0x4F, 0x4E, 0x2D, 0x4A, 0x4E, 0x4C, 0x01};
inline constexpr size_t kJournalHeaderBytes = 4096;  // frames start at the second block

// "#journal-<16 hex digits>.jnl": '#' never appears in an escaped writer or stream name, so the
// file can never be taken for a writer's directory.
bool IsJournalFileName(std::string_view name);

// Appends one batch to `out`: the frames, then the batch end (a padding marker and zeros up to
// the next 4 KiB boundary of the file, `base_offset` being where `out` will be written).
void AppendJournalBatchEnd(uint64_t base_offset, std::string* out);

class JournalWriter {
 public:
  // Creates a journal with a fresh name in `dir`, durably (the header synced, then the
  // directory).
  static Result<std::unique_ptr<JournalWriter>> Create(const std::string& dir,
                                                       FaultInjector* faults);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Writes `batch` (frames followed by AppendJournalBatchEnd(end_offset())) at the end and
  // fdatasyncs the journal. 0, or -errno: the batch was not acknowledged, and it is cut back
  // out of the file (cut_failed() if even that failed), so that recovery never adopts it; the
  // caller stops using the journal (it is never written again).
  int Append(std::string_view batch);
  bool cut_failed() const { return cut_failed_; }
  // Where the next batch starts; bytes past kJournalHeaderBytes are the journal's batches.
  uint64_t end_offset() const { return end_; }
  // Empties the journal (every segment it covered is synced): truncated to its header, synced.
  int Reset();
  // Removes the file and syncs the directory (a clean close: nothing in it is needed).
  Status Remove();
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }

 private:
  JournalWriter(std::string dir, std::string path, int fd, FaultInjector* faults)
      : dir_(std::move(dir)), path_(std::move(path)), fd_(fd), faults_(faults) {}
  std::string dir_, path_;
  int fd_;
  FaultInjector* faults_;
  uint64_t end_ = kJournalHeaderBytes;
  bool cut_failed_ = false;
};

// One journal as read back: its valid frames in file order (views into `bytes`), each with the
// index of its batch.
struct JournalContents {
  std::string path;
  std::string bytes;
  std::vector<segment::FrameView> frames;
  std::vector<uint32_t> batch_of;  // batch_of[i]: the batch of frames[i], counted from 0
  bool torn = false;               // the last batch was cut short (never acknowledged)
};

// Reads the journal at `path`. A short, cut or damaged last batch is a torn tail (its commit
// never returned; its frames are left out). Damage followed by a complete batch is Io: batches
// after it were acknowledged, and the damaged one may have been too.
Status ReadJournal(const std::string& path, size_t max_record_bytes, JournalContents* out);

// Every journal file in `dir` (full paths, sorted).
Status ListJournals(const std::string& dir, std::vector<std::string>* paths);

// Removes every journal in `dir` but those in `keep` (full paths), then syncs the directory.
// For the engine, once each of its WALs has applied what it owns of them.
Status RemoveJournalsExcept(const std::string& dir, const std::set<std::string>& keep);

}  // namespace ron::wal

#endif  // WAL_JOURNAL_H_
