// Reading a stream's WAL: every segment scanned with the decision table of segment/scanner.h,
// every record checked at the requested level. Used by recovery and by ronctl's
// range / inspect / verify.
//
// Thread-safety: functions are reentrant; nothing is shared.
#ifndef WAL_READER_H_
#define WAL_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ron_audit/record.h"
#include "ron_audit/status.h"
#include "engine/core/limits.h"
#include "segment/scanner.h"
#include "wal/files.h"

namespace ron::wal {

enum class VerifyLevel {
  kChecksums,       // frame checksums and seq continuity only
  kFromLastSealed,  // + canonical bytes, self_hash and links from the last sealed segment on
  kFull,            // + canonical bytes, self_hash and links of every record
};

struct SegmentReport {
  uint64_t segment_no = 0;
  std::string path;
  uint64_t file_bytes = 0;
  segment::ScanResult scan;
};

struct StreamReport {
  std::string writer_id;
  std::string stream;
  std::string dir;
  std::vector<SegmentReport> segments;
  uint64_t records = 0;   // healthy records delivered
  uint64_t head_seq = 0;  // 0: empty stream
  Digest head_hash{};
  bool torn_tail = false;  // the newest segment ends in a torn write at torn_offset
  uint64_t torn_offset = 0;
  bool frozen = false;       // corruption found: writes must fail with Frozen
  Status problem;            // the first corruption, with its code
  std::string problem_file;  // where it is
  uint64_t problem_offset = 0;
  uint64_t problem_seq = 0;

  std::string HeadText() const;
};

// One healthy record as delivered to a callback.
struct RecordView {
  uint64_t seq = 0;
  std::string_view json;  // canonical bytes without self_hash
  Digest self_hash{};
  const std::string* file = nullptr;
  uint64_t offset = 0;
};
// Return false to stop the scan early.
using RecordCallback = std::function<bool(const RecordView&)>;

// The bytes a crash can leave O_DIRECT writes lost behind later ones in (writes in flight ×
// the default direct batch size): zeros at a 4 KiB boundary followed by valid frames within
// this many bytes, in the newest open segment, are a torn tail for recovery in either write
// mode and for every reader alike, so that the engine, verify, inspect and range reach one
// verdict from the same bytes.
inline constexpr uint64_t kLostWriteWindowBytes = limits::kLostWriteWindowBytes;

// Scans the stream directory `dir` of (writer_id, stream). With `from_seq` > 1 it starts at the
// newest segment that begins at or before from_seq (by the segment headers), so that reading
// near the head costs one segment; `records` then counts from there, and the first record read
// is not linked to its predecessor (which was not read).
// `torn_window_bytes`, `lost_write_window_bytes`: see segment::ScanOptions. Only recovery in
// O_DIRECT mode passes a torn window (a changed or partial frame followed by valid frames is
// torn only if the crashed run wrote with O_DIRECT, which the files do not say: readers call it
// corruption, docs/FORMAT.md).
Status ScanStream(const std::string& dir, const std::string& writer_id, const std::string& stream,
                  const Limits& limits, VerifyLevel level, StreamReport* report,
                  const RecordCallback& on_record = nullptr, uint64_t torn_window_bytes = 0,
                  uint64_t lost_write_window_bytes = kLostWriteWindowBytes,
                  uint64_t from_seq = 1);

// ScanStream(dir, writer_id, stream, limits, VerifyLevel::kFull, report) on up to `threads`
// threads, for verifiers: the stream's sealed segments are split into runs of consecutive
// segments (the newest ends the last run), each scanned on its own thread from its first
// segment's header, and each run must begin with the record after the one the run before ended
// with, naming its self_hash. If every run is clean and they link, the report is the one
// ScanStream would give; if anything else is found (damage, a torn write before the last run,
// runs that do not link), the stream is scanned again by ScanStream alone, whose report
// (verdict, file, offset) is then returned. Fewer than two sealed segments or one thread:
// ScanStream alone. `json_bytes` gets the canonical bytes of the records read; `in_runs`, if
// given, whether the report came from the runs (tests). Helper threads each hold a
// ReadBufferScope; the caller's own is used if it has one. A helper that cannot be started
// leaves its run to the calling thread.
Status VerifyStream(const std::string& dir, const std::string& writer_id,
                    const std::string& stream, const Limits& limits, unsigned threads,
                    StreamReport* report, uint64_t* json_bytes, bool* in_runs = nullptr);

// While one lives, every ScanStream on its thread walks segments through one window (and reads
// the rare file it needs whole into one buffer) instead of fresh ones per stream: the kernel
// backs (and zeroes) those pages once, not once per stream. Its window asks for a transparent
// huge page (FileWindow's huge_pages). Scopes do not nest; the engine uses
// none, so recovery keeps no buffer after it. Thread-compatible: one per thread.
class ReadBufferScope {
 public:
  ReadBufferScope();
  ~ReadBufferScope();
  ReadBufferScope(const ReadBufferScope&) = delete;
  ReadBufferScope& operator=(const ReadBufferScope&) = delete;

 private:
  const std::unique_ptr<FileContents> buffer_;
  const std::unique_ptr<FileWindow> window_;
};

// Every (writer_id, stream) under a WAL root, from the escaped directory names, sorted.
Status ListStreams(const std::string& root,
                   std::vector<std::pair<std::string, std::string>>* streams);

// The header of a segment file (never through a link), or false if it cannot be read or
// decoded.
bool ReadSegmentHeader(const std::string& path, segment::SegmentHeader* header);

// <root>/<esc(writer_id)>/<esc(stream)>
std::string StreamDir(const std::string& root, const std::string& writer_id,
                      const std::string& stream);

}  // namespace ron::wal

#endif  // WAL_READER_H_
