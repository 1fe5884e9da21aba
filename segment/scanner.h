// The segment scanner: walks every frame of one segment file and classifies how the segment
// ends or breaks. Recovery, `ronctl audit range|inspect|verify` and the fuzzer all use it.
//
// Decision table (one row per way a segment can end or break; each row has one action, and a
// test named after it in tests/segment/scanner_test.cc):
//
//   row               what the bytes look like                               action
//   ----------------  -----------------------------------------------------  -------------------
//   kCleanEnd         frames run exactly to the end of the file              accept every frame
//   kZeroFilledTail   an end marker (len 0) or zeros after the last frame    accept every frame
//   kTornTail         the newest segment while it is open (header count 0)   truncate the file at
//                     only: a partial frame, a bad checksum, an impossible   bad_offset; count
//                     length, or non-zero bytes after an end marker — with   wal_torn_tail_total
//                     no checksum-valid frame starting anywhere after it
//                     (beyond torn_window_bytes, or for zeros at a 4 KiB
//                     boundary lost_write_window_bytes)
//   kCorruptMidLog    damage anywhere else: an older segment, a sealed one   freeze the stream;
//                     (its count says every frame in it was acknowledged;    serve frames before
//                     a cut, a changed frame or bytes after its last frame
//                     are never a crash of ours), or valid frames follow it
//   kSeqDiscontinuity a checksum-valid frame whose seq is not previous + 1,   freeze; serve before
//                     or a segment whose first_seq does not continue the
//                     previous one (or is not 1 for the first segment)
//   kBadHeader        bad magic, flags, reserved, first_seq 0, segment_no,   freeze; serve the
//                     (sealed) a count that disagrees with the frames, or   frames that passed
//                     an older segment that was never sealed
//   kFrameTooLong     len > max_record_bytes where it cannot be a torn tail  freeze; serve before
//
// A newest segment whose header is short or all zero, and that holds nothing but its header
// block or zeros, is kTornTail at offset 0 (a crash while the segment was being created):
// recovery removes it. With anything after a missing header it is kBadHeader. The lost-write
// window applies only to a whole zero 4 KiB block at a block boundary (what a lost O_DIRECT
// write leaves), never to a few zeroed bytes of a frame.
//
// Thread-safety: pure function.
#ifndef SEGMENT_SCANNER_H_
#define SEGMENT_SCANNER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "segment/segment_format.h"

namespace ron::segment {

enum class ScanOutcome {
  kCleanEnd,
  kZeroFilledTail,
  kTornTail,
  kCorruptMidLog,
  kSeqDiscontinuity,
  kBadHeader,
  kFrameTooLong,
};

std::string_view ScanOutcomeName(ScanOutcome outcome);

// True for the rows whose action is to freeze the stream.
inline bool IsCorruption(ScanOutcome o) {
  return o == ScanOutcome::kCorruptMidLog || o == ScanOutcome::kSeqDiscontinuity ||
         o == ScanOutcome::kBadHeader || o == ScanOutcome::kFrameTooLong;
}

struct ScanOptions {
  bool newest = false;               // the stream's newest segment (the only one that may be torn)
  uint64_t expected_segment_no = 0;  // from the file name
  uint64_t expected_first_seq = 0;   // 0: take the header's first_seq
  size_t max_record_bytes = 4096;
  // Damage followed by valid frames is corruption, unless all of those frames start within this
  // many bytes of it: the span a crash can leave when several O_DIRECT batches were in flight
  // (recovery in direct mode; 0 for buffered writes, whose batches land as one write).
  uint64_t torn_window_bytes = 0;
  // The same for one kind of damage only: zeros at a 4 KiB boundary (a len-0 frame) with frames
  // after them, which is what O_DIRECT writes lost behind later ones leave. Recovery passes it
  // in either write mode, since the files may come from a direct-mode run; a changed or garbled
  // frame is never covered by it. Offline readers pass 0 and report what is on disk.
  uint64_t lost_write_window_bytes = 0;
};

struct ScanResult {
  ScanOutcome outcome = ScanOutcome::kCleanEnd;
  SegmentHeader header;
  uint64_t frames = 0;      // valid frames delivered
  uint64_t last_seq = 0;    // of the last valid frame (0 if none)
  Digest last_hash{};       // of the last valid frame
  uint64_t valid_end = 0;   // offset just past the last valid frame (or its padding)
  uint64_t bad_offset = 0;  // where the problem starts (torn/corrupt rows)
  std::string detail;       // one line for operators; never record content
};

// Scans `file` (the whole segment). `on_frame` is called for each valid frame in order; frames
// after the first problem are never delivered.
ScanResult ScanSegment(std::string_view file, const ScanOptions& options,
                       const std::function<void(const FrameView&)>& on_frame);

// ScanSegment in pieces, for a reader that walks a segment through a window of it
// (wal/windowed_scan.h) and hands the whole file over only where the window cannot decide:
// ScanSegment(file) == ScanHeader, then ScanSegmentFrom(file) at valid_end, in every outcome.
//
// The header checks. False: the scan ends here with *out's outcome. A header that does not
// decode needs the whole file (whether anything follows it decides the row); a decoded one
// needs only its kHeaderBytes. True: *out holds the header and valid_end = kHeaderBytes.
bool ScanHeader(std::string_view file, const ScanOptions& options, ScanResult* out);
// Goes on with a scan whose header and first `resume.frames` frames were read (and delivered)
// already, from the frame at resume.valid_end. `file` is the whole segment.
ScanResult ScanSegmentFrom(std::string_view file, const ScanOptions& options, ScanResult resume,
                           const std::function<void(const FrameView&)>& on_frame);
// Counts a valid frame (in order: its seq continues the last) into *result and moves
// valid_end past it; returns the offset of the next frame.
inline uint64_t CountFrame(const FrameView& frame, ScanResult* result) {
  ++result->frames;
  result->last_seq = frame.seq;
  result->last_hash = frame.self_hash;
  result->valid_end = frame.offset + frame.size;
  return result->valid_end;
}
// The checks at the end of a segment whose frames ran to `offset` without a problem (or
// ended in zeros, outcome kZeroFilledTail): the sealed count, an older segment never sealed.
void FinishScan(const ScanOptions& options, uint64_t file_size, uint64_t offset, ScanResult* out);

}  // namespace ron::segment

#endif  // SEGMENT_SCANNER_H_
