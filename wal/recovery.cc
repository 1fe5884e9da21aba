// Wal's recovery (docs/FORMAT.md §3): every stream found under the root is scanned from its
// last sealed segment on, its torn tail cut and padded, or the stream frozen; split from wal.cc,
// which writes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "segment/segment_format.h"
#include "wal/files.h"
#include "wal/wal.h"

namespace ron::wal {
namespace {

// Prepared-but-unused segments from an earlier run may be partial: remove them.
Status RemovePreallocated(const std::string& dir) {
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(ListDir(dir, &names));
  for (const std::string& name : names) {
    const std::string suffix = ".prealloc";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      if (unlink((dir + "/" + name).c_str()) != 0) {
        return Status(Code::kIo, "cannot remove " + dir + "/" + name);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status Wal::Recover() {
  JournalStreams journal, set_aside;
  RON_RETURN_IF_ERROR(ReadJournals(&journal, &set_aside));
  std::vector<std::pair<std::string, std::string>> found;
  RON_RETURN_IF_ERROR(ListStreams(options_.dir, &found));
  for (const auto& [writer_id, stream] : found) {
    if (options_.owns && !options_.owns(writer_id, stream)) continue;
    const std::string dir = StreamDir(options_.dir, writer_id, stream);
    RON_RETURN_IF_ERROR(
        EnsurePrivateDir(options_.dir + "/" + segment::EscapePathComponent(writer_id),
                         /*create=*/false));
    RON_RETURN_IF_ERROR(EnsurePrivateDir(dir, /*create=*/false));
    RON_RETURN_IF_ERROR(RemovePreallocated(dir));
    StreamReport report;
    // With O_DIRECT, a crash can leave later batches of the last commit durable behind an
    // earlier one that is not: frames within that span after the damage are a torn tail.
    // Damage of any kind in direct mode; in either mode, zeros where a lost O_DIRECT write
    // should be (the files may come from a direct-mode run, which a buffered run may reopen
    // after a crash). A changed frame
    // in buffered mode stays corruption (freeze), never a reason to cut acknowledged records.
    uint64_t window = kMaxWritesInFlight * options_.direct_batch_bytes;
    uint64_t torn_window = options_.write_mode == WriteMode::kDirect ? window : 0;
    RON_RETURN_IF_ERROR(ScanStream(dir, writer_id, stream, options_.limits,
                                   VerifyLevel::kFromLastSealed, &report, nullptr, torn_window,
                                   window));
    // Frames durable only in the commit journal may be lost or torn anywhere in the segment's
    // unsynced span (the page cache writes back in any order, or not at all): damage the scan
    // calls corruption is a torn tail if the journal explains it (JournalCoversCut).
    const auto journaled = journal.find({writer_id, stream});
    if (report.frozen && journaled != journal.end()) {
      StreamReport wide;
      RON_RETURN_IF_ERROR(ScanStream(dir, writer_id, stream, options_.limits,
                                     VerifyLevel::kFromLastSealed, &wide, nullptr,
                                     segment::kMaxSegmentBytes, segment::kMaxSegmentBytes));
      if (JournalCoversCut(journaled->second, wide)) report = std::move(wide);
    }
    auto s = std::make_unique<StreamWal>();
    s->writer_id_ = writer_id;
    s->stream_ = stream;
    s->dir_ = dir;
    RON_RETURN_IF_ERROR(OpenRecoveredStream(s.get(), report));
    MaybeRequestNextSegment(s.get());
    MarkChanged(s.get());
    reports_[s.get()] = std::move(report);
    streams_[{writer_id, stream}] = std::move(s);
  }
  ++stream_set_version_;
  RON_RETURN_IF_ERROR(ApplyJournals(&journal, &set_aside));
  return StartJournal();
}

Status Wal::OpenRecoveredStream(StreamWal* s, const StreamReport& report) {
  s->head_seq_ = s->durable_seq_ = report.head_seq;
  s->head_hash_ = s->durable_hash_ = report.head_hash;
  if (report.frozen) {
    ++counters_.corrupt_total;
    s->state_ = StreamState::kFrozen;
    s->failure_ = Status(Code::kFrozen, "stream frozen: " + report.problem.ToString() + " in " +
                                            report.problem_file + " at offset " +
                                            std::to_string(report.problem_offset));
    return Status::Ok();
  }
  if (report.segments.empty()) return Status::Ok();
  const SegmentReport& newest = report.segments.back();
  s->segment_no_ = newest.segment_no;
  if (report.torn_tail && report.torn_offset < segment::kHeaderBytes) {
    // The newest segment never got its header: nothing in it was ever acknowledged.
    ++counters_.torn_tail_total;
    if (unlink(newest.path.c_str()) != 0) {
      return Status(Code::kIo, "cannot remove unfinished segment " + newest.path);
    }
    RON_RETURN_IF_ERROR(FsyncDir(s->dir_));
    s->segment_no_ = newest.segment_no - 1;
    return Status::Ok();
  }
  // A sealed newest segment cannot be torn (the scanner calls any damage in it corruption):
  // the next Stage rotates.
  if (newest.scan.header.count != 0) return Status::Ok();
  // Repairs go through a buffered descriptor (they are unaligned); appends may then use
  // O_DIRECT on a fresh one.
  int repair_fd = -1;
  RON_RETURN_IF_ERROR(OpenOwnFileForWrite(newest.path, 0, &repair_fd));
  uint64_t end = newest.scan.valid_end;
  Status repaired;
  if (report.torn_tail) {
    ++counters_.torn_tail_total;
    end = report.torn_offset;
    if (ftruncate(repair_fd, static_cast<off_t>(end)) != 0) {
      repaired = Status(Code::kIo, "cannot truncate torn tail of " + newest.path);
    }
  }
  // The next batch starts on a 4 KiB boundary: pad up to it now, durably, before any append.
  if (repaired.ok() && end % segment::kPaddingAlignBytes != 0) {
    std::string padding;
    segment::AppendPadding(end, &padding);
    const int rc = WriteAllAndSync(repair_fd, padding, end, options_.faults);
    if (rc < 0) repaired = IoErrorStatus(rc, "padding after recovery of " + newest.path);
    end += padding.size();
  }
  if (repaired.ok() && report.torn_tail && fdatasync(repair_fd) != 0) {
    repaired = IoErrorStatus(-errno, "fdatasync after truncating " + newest.path);
  }
  close(repair_fd);
  RON_RETURN_IF_ERROR(repaired);
  MakeRoomForFd(s);
  int fd = -1;
  RON_RETURN_IF_ERROR(OpenSegmentFd(newest.path, &fd));
  AdoptFd(s, fd);
  s->write_offset_ = end;
  // A zero-filled segment keeps its zeros after the records (unless a torn tail was cut).
  s->segment_zone_ = !report.torn_tail && newest.file_bytes > end ? newest.file_bytes : 0;
  s->zone_grown_ = s->segment_zone_;
  s->segment_first_seq_ = newest.scan.header.first_seq;
  s->segment_frames_ = newest.scan.frames;
  return Status::Ok();
}

}  // namespace ron::wal
