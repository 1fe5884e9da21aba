// When a stream's segment is sealed, and when its successor is zero-filled ahead and how large.
//
// A segment zero-filled ahead (wal/preallocator.h) is overwritten in place, so that its commits'
// fdatasyncs carry no size or extent metadata; the price is that the disk writes its bytes
// twice. Sizes therefore follow what a stream has shown it writes: a stream's first segment grows
// by appending; once it holds a quarter of its zone (below), a zero-filled successor twice that
// zone is asked for (16 MiB after the first segment's 8 MiB, then 32, 64, … up to rotate_bytes),
// and the segment is sealed as soon as it passes its zone with the successor ready. So a stream
// that stops leaves at most one successor it did not use, no larger than twice the segment it
// follows (which it had filled to a quarter at least) — where a fixed rotate_bytes successor
// asked for at 1 MiB made a stream of 10 MiB write 128 MiB of zeros (docs/PERFORMANCE_LOG.md).
// Only a stream whose writes are small gets one (WalOptions::zero_fill_max_write_bytes): for
// large commits the zeros cost more than the size an appending fdatasync commits.
#include <algorithm>

#include "segment/segment_format.h"
#include "wal/wal.h"

namespace ron::wal {

std::string Wal::SuccessorPath(const StreamWal* s) const {
  return PreallocPath(s->dir_ + "/" + segment::SegmentFileName(s->segment_no_ + 1));
}

// A zero-filled segment's zone is its zero-filled size; a segment that was not zero-filled (a
// stream's first, or one whose successor was not ready in time) has kUnpreallocatedRotateBytes:
// past it, its appends are sealed off as soon as a zero-filled successor is ready. Neither is
// more than rotate_bytes, the hard bound.
uint64_t Wal::SegmentZone(const StreamWal* s) const {
  const uint64_t zone =
      s->segment_zone_ != 0 ? s->segment_zone_ : WalOptions::kUnpreallocatedRotateBytes;
  return std::min(zone, options_.rotate_bytes);
}

// Room is kept for two paddings: the commit's own, and one that emptying the commit journal
// (SyncJournaled, at the start of a commit) may write under frames already staged. With one, a
// segment could end up to 4 KiB past rotate_bytes, and past kMaxSegmentBytes, which readers
// refuse, at the largest rotate_bytes.
bool Wal::SegmentFull(const StreamWal* s, size_t next_frame_bytes) const {
  if (s->fd_ < 0 || s->segment_frames_ == 0) return false;
  const uint64_t size_after = s->write_offset_ + s->pending_.size() + next_frame_bytes +
                              2 * segment::kPaddingAlignBytes;
  if (size_after > options_.rotate_bytes) return true;
  // Past its zone a segment grows by appending: sealed once a zero-filled successor is ready.
  // Only one that was asked for can be (no path built, no lock taken per record otherwise: a
  // stream past its zone while the budget of prepared files is spent stages many).
  return !s->successor_path_.empty() && preallocator_ != nullptr &&
         size_after > SegmentZone(s) && preallocator_->IsReady(s->successor_path_);
}

// Asks for the active segment's successor once the stream has filled a quarter of the zone
// (so a stream that writes little never gets one) and the WAL's budget of prepared files
// allows; else asks again after the stream's next commit. A quarter leaves the zero-fill
// (at most 128 MB/s) time to finish before the writer reaches the zone's end at up to ~48
// MB/s a stream while sizes double, ~96 MB/s once they stay at rotate_bytes; a faster stream
// appends past its zone until the successor is ready (SegmentFull).
void Wal::MaybeRequestNextSegment(StreamWal* s) {
  if (preallocator_ == nullptr || s->state_ != StreamState::kOk || !s->successor_path_.empty() ||
      s->fd_ < 0) {
    return;
  }
  const uint64_t zone = SegmentZone(s);
  // Frames start at 4096 (the header's block).
  if (s->write_offset_ < segment::kPaddingAlignBytes + zone / 4) return;
  // A stream that writes in large commits appends (WalOptions::zero_fill_max_write_bytes); one
  // recovered and not written since is judged after its next write.
  if (options_.zero_fill_max_write_bytes != 0 &&
      (s->segment_writes_ == 0 ||
       s->segment_write_bytes_ / s->segment_writes_ > options_.zero_fill_max_write_bytes)) {
    return;
  }
  if (preallocator_->outstanding() >= options_.max_prepared_segments) return;
  // Whole 4 KiB blocks, which O_DIRECT zero-filling needs (rotate_bytes, and a zone recovered
  // from a file's size, need not be).
  const uint64_t bytes = std::min(options_.rotate_bytes, 2 * std::max(zone, s->zone_grown_)) /
                         segment::kPaddingAlignBytes * segment::kPaddingAlignBytes;
  s->successor_path_ = SuccessorPath(s);
  preallocator_->Request(s->successor_path_, bytes);
}

}  // namespace ron::wal
