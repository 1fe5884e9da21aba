#include "wal/reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "engine/core/canonical.h"
#include "engine/core/verify.h"
#include "wal/files.h"
#include "engine/core/limits.h"

namespace ron::wal {
namespace {

// Checks one frame as a record: canonical bytes, self_hash, its directory's chain, the link.
Status CheckRecord(Canonicalizer* canonicalizer, CanonicalRecord* scratch,
                   const segment::FrameView& frame, const std::string& writer_id,
                   const std::string& stream, uint64_t prev_seq, const Digest& prev_hash) {
  if (canonicalizer->ReadCanonical(frame.json, scratch)) {  // the common case
    scratch->digest = Blake3(scratch->bytes);
  } else {
    RON_RETURN_IF_ERROR(canonicalizer->Canonicalize(frame.json, scratch));
    if (scratch->bytes != frame.json) {
      return Status(Code::kSchema, "stored record is not in canonical form");
    }
  }
  if (scratch->digest != frame.self_hash) {
    return Status(Code::kHashMismatch, "self_hash does not match the canonical bytes");
  }
  const Record& r = scratch->record;
  if (r.seq != frame.seq) return Status(Code::kSchema, "frame seq differs from the record's");
  if (r.writer_id != writer_id || r.stream != stream) {
    return Status(Code::kPrevMismatch, "record belongs to another (writer_id, stream)");
  }
  RON_RETURN_IF_ERROR(VerifyGenesisRule(r));
  if (prev_seq != 0) {
    Digest linked;
    if (!ParseHashText(r.prev, &linked) || linked != prev_hash) {
      return Status(Code::kPrevMismatch, "prev does not equal the previous self_hash");
    }
  }
  return Status::Ok();
}

// The header of a segment file, or false if it cannot be read or decoded.
bool ReadSegmentHeader(const std::string& path, segment::SegmentHeader* header) {
  int fd = -1;
  uint64_t size = 0;
  if (!OpenRegularFile(path, Links::kRefuse, &fd, &size).ok()) return false;
  char bytes[segment::kHeaderBytes];
  const ssize_t n = pread(fd, bytes, sizeof(bytes), 0);
  close(fd);
  return n == static_cast<ssize_t>(sizeof(bytes)) &&
         segment::DecodeHeader(std::string_view(bytes, sizeof(bytes)), header) ==
             segment::HeaderStatus::kOk;
}

Code CodeOfScan(segment::ScanOutcome outcome) {
  return outcome == segment::ScanOutcome::kSeqDiscontinuity ? Code::kSeqGap : Code::kHashMismatch;
}

}  // namespace

std::string StreamReport::HeadText() const {
  return head_seq == 0 ? std::string(kGenesisPrev) : HashText(head_hash);
}

std::string StreamDir(const std::string& root, const std::string& writer_id,
                      const std::string& stream) {
  return root + "/" + segment::EscapePathComponent(writer_id) + "/" +
         segment::EscapePathComponent(stream);
}

Status ListStreams(const std::string& root,
                   std::vector<std::pair<std::string, std::string>>* streams) {
  streams->clear();
  std::vector<std::string> writers;
  RON_RETURN_IF_ERROR(ListDir(root, &writers));
  for (const std::string& w : writers) {
    std::string writer_id;
    // Not ours: no valid escaping of a valid name (the lock file, stray files).
    if (!segment::UnescapePathComponent(w, &writer_id) ||
        !CheckName(writer_id, NameKind::kWriterId).ok()) {
      continue;
    }
    struct stat st {};
    if (lstat((root + "/" + w).c_str(), &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      return Status(Code::kIo, root + "/" + w + " is a symbolic link; refusing to follow it");
    }
    if (!S_ISDIR(st.st_mode)) continue;
    // A writer's directory that cannot be listed is an error, never a writer with no streams:
    // a verifier that skipped it would say ok about evidence it never read.
    std::vector<std::string> names;
    RON_RETURN_IF_ERROR(ListDir(root + "/" + w, &names));
    for (const std::string& s : names) {
      std::string stream;
      if (!segment::UnescapePathComponent(s, &stream) || !CheckName(stream, NameKind::kStream).ok()) {
        continue;
      }
      const std::string path = root + "/" + w + "/" + s;
      if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        return Status(Code::kIo, path + " is a symbolic link; refusing to follow it");
      }
      streams->emplace_back(writer_id, stream);
    }
  }
  return Status::Ok();
}

Status ScanStream(const std::string& dir, const std::string& writer_id, const std::string& stream,
                  const Limits& limits, VerifyLevel level, StreamReport* report,
                  const RecordCallback& on_record, uint64_t torn_window_bytes,
                  uint64_t lost_write_window_bytes, uint64_t from_seq) {
  *report = StreamReport();
  report->writer_id = writer_id;
  report->stream = stream;
  report->dir = dir;
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(ListDir(dir, &names));
  std::vector<uint64_t> numbers;
  std::string odd_name;  // a segment-like name that is not the canonical spelling
  for (const std::string& name : names) {
    uint64_t no = 0;
    if (segment::ParseSegmentFileName(name, &no)) {
      numbers.push_back(no);
    } else if (odd_name.empty() && name.starts_with("wal-") && name.ends_with(".seg")) {
      odd_name = name;
    }
  }
  // The last sealed segment is the one before the newest (sealing precedes creating the next).
  const size_t full_from = level == VerifyLevel::kFull ? 0
                           : level == VerifyLevel::kChecksums
                               ? numbers.size()
                               : (numbers.size() >= 2 ? numbers.size() - 2 : 0);
  Canonicalizer canonicalizer(limits);
  CanonicalRecord scratch;
  FileContents file;
  bool stopped = false;
  const auto freeze = [&](Status problem, const std::string& path, uint64_t offset) {
    report->frozen = true;
    report->problem = std::move(problem);
    report->problem_file = path;
    report->problem_offset = offset;
    report->problem_seq = report->head_seq + 1;
  };
  // With from_seq, start at the newest segment whose header says it begins at or before it
  // (segment headers carry first_seq): a read near the head costs one segment, not the stream.
  size_t start = 0;
  bool link_known = true;  // the first record read links to one checked before it
  if (from_seq > 1) {
    for (size_t i = numbers.size(); i-- > 1;) {
      segment::SegmentHeader header;
      if (!ReadSegmentHeader(dir + "/" + segment::SegmentFileName(numbers[i]), &header)) break;
      if (header.first_seq <= from_seq) {
        start = i;
        report->head_seq = header.first_seq - 1;
        link_known = false;
        break;
      }
    }
  }
  for (size_t i = start; i < numbers.size() && !report->frozen && !stopped; ++i) {
    SegmentReport seg;
    seg.segment_no = numbers[i];
    seg.path = dir + "/" + segment::SegmentFileName(numbers[i]);
    int fd = -1;
    uint64_t size = 0;
    bool refused = false;
    const Status opened = OpenRegularFile(seg.path, Links::kRefuse, &fd, &size, &refused);
    if (!opened.ok()) {
      // Something else in a segment's place (a FIFO, a device, a link) is damage to the
      // stream, not a reason to stop reading the others; a file we may not open is an error.
      if (refused) {
        freeze(Status(Code::kIo, "bad_file: " + opened.message()), seg.path, 0);
        report->segments.push_back(std::move(seg));
        break;
      }
      // The newest segment can vanish between the listing and the open: a recovery beside
      // this reader removed one whose header never completed. It held nothing acknowledged.
      if (i + 1 == numbers.size() && access(seg.path.c_str(), F_OK) != 0 && errno == ENOENT) {
        break;
      }
      return opened;
    }
    if (size > segment::kMaxSegmentBytes) {
      close(fd);
      freeze(Status(Code::kHashMismatch,
                    "bad_header: the file has " + std::to_string(size) +
                        " bytes, more than any writer makes"),
             seg.path, segment::kMaxSegmentBytes);
      report->segments.push_back(std::move(seg));
      break;
    }
    segment::ScanOptions options;
    options.newest = i + 1 == numbers.size();
    options.expected_segment_no = numbers[i];
    // A chain starts at seq 1; a stream whose oldest segment starts later lost records.
    options.expected_first_seq = report->head_seq + 1;
    options.max_record_bytes = limits.max_record_bytes;
    options.torn_window_bytes = torn_window_bytes;
    options.lost_write_window_bytes = lost_write_window_bytes;
    const bool check_records = i >= full_from;
    Status record_problem;
    uint64_t problem_offset = 0, problem_seq = 0;
    // A reader beside a live writer can copy a batch while it is being written (the kernel
    // copies page by page), and see damage with valid frames after it. Damage in the newest,
    // still open segment is therefore read again (kRereads times, 20 ms apart) before it
    // counts; frames delivered by an earlier attempt are not delivered twice.
    constexpr int kRereads = limits::kReaderRereads;
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0) {
        std::this_thread::sleep_for(limits::kReaderRereadDelay);
        fd = -1;
        const Status reopened = OpenRegularFile(seg.path, Links::kRefuse, &fd, &size, &refused);
        if (!reopened.ok()) {
          if (!refused) return reopened;
          record_problem = Status(Code::kIo, "bad_file: " + reopened.message());
          problem_offset = 0;
          problem_seq = report->head_seq + 1;
          break;
        }
        size = std::min(size, segment::kMaxSegmentBytes);
        record_problem = Status::Ok();
      }
      const Status read = file.Read(fd, size, seg.path);
      close(fd);
      RON_RETURN_IF_ERROR(read);
      seg.file_bytes = file.bytes().size();
      seg.scan = segment::ScanSegment(file.bytes(), options, [&](const segment::FrameView& frame) {
        if (!record_problem.ok() || stopped) return;  // deliver nothing after a problem
        if (frame.seq <= report->head_seq) return;    // delivered by an earlier attempt
        if (check_records) {
          Status s = CheckRecord(&canonicalizer, &scratch, frame, writer_id, stream,
                                 link_known ? report->head_seq : 0, report->head_hash);
          if (!s.ok()) {
            record_problem = s;
            problem_offset = frame.offset;
            problem_seq = frame.seq;
            return;
          }
        }
        report->records++;
        link_known = true;
        report->head_seq = frame.seq;
        report->head_hash = frame.self_hash;
        if (on_record && !on_record(RecordView{frame.seq, frame.json, frame.self_hash, &seg.path,
                                               frame.offset})) {
          stopped = true;
        }
      });
      const bool damaged = !record_problem.ok() || segment::IsCorruption(seg.scan.outcome);
      if (!damaged || stopped || !options.newest || seg.scan.header.count != 0 ||
          attempt == kRereads) {
        break;
      }
    }
    if (!record_problem.ok()) {
      freeze(record_problem, seg.path, problem_offset);
      report->problem_seq = problem_seq;
    } else if (segment::IsCorruption(seg.scan.outcome) && !stopped) {
      freeze(Status(CodeOfScan(seg.scan.outcome),
                    std::string(segment::ScanOutcomeName(seg.scan.outcome)) + ": " +
                        seg.scan.detail),
             seg.path, seg.scan.bad_offset);
    } else if (seg.scan.outcome == segment::ScanOutcome::kTornTail) {
      report->torn_tail = true;
      report->torn_offset = seg.scan.bad_offset;
    }
    report->segments.push_back(std::move(seg));
  }
  // A file named like a segment but not in the canonical spelling (wal-0000003.seg) was not
  // written by the engine: which records it holds, and where they belong, is unknown.
  if (!odd_name.empty() && !report->frozen && !stopped) {
    // Printed in the directory escaping: a file name may hold anything, even a newline.
    const std::string printed = segment::EscapePathComponent(odd_name);
    freeze(Status(Code::kIo, "bad_file: " + printed +
                                 " is not a segment name the engine writes (wal-<6+ digits>.seg)"),
           dir + "/" + printed, 0);
  }
  return Status::Ok();
}

}  // namespace ron::wal
