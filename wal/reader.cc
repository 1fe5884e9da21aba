#include "wal/reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iterator>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/equal_bytes.h"
#include "engine/core/hash.h"
#include "engine/core/verify.h"
#include "wal/files.h"
#include "wal/windowed_scan.h"
#include "engine/core/limits.h"

namespace ron::wal {
namespace {

// Checks the frames of a segment as records: canonical bytes, self_hash, the frame's and the
// directory's (writer_id, stream), the genesis rule and the link to the record before. Frames
// are collected kBatch at a time so that their self_hashes, independent of each other, are
// computed side by side in SIMD lanes (Blake3Batch, bit-identical to one at a time); they are
// then judged and delivered one by one in file order, exactly as a one-at-a-time check would:
// nothing is delivered after the first problem, and that problem is the first in the file.
class RecordChecker {
 public:
  static constexpr size_t kBatch = 256;

  RecordChecker(const Limits& limits, const std::string& writer_id, const std::string& stream)
      : canonicalizer_(limits), writer_id_(writer_id), stream_(stream) {
    slots_.resize(kBatch);
  }

  bool full() const { return pending_ == kBatch; }

  // Reads the frame's record (the canonical walk, or the full path when the walk gives up).
  // REQUIRES: !full(); the frame's bytes stay valid until Flush.
  void Add(const segment::FrameView& frame) {
    Slot& slot = slots_[pending_++];
    slot.frame = frame;
    slot.status = Status::Ok();
    // The walk checks the bytes and keeps only the chain fields, which are all the judgement
    // reads (the hash is of frame.json itself): as views into the frame, or, for a name written
    // with an escape, decoded into the slot's record.
    slot.hashed = canonicalizer_.CheckChain(frame.json, &slot.chain);
    if (slot.hashed) return;
    slot.hashed = canonicalizer_.CheckChain(frame.json, &slot.record.record);
    if (!slot.hashed) {
      slot.status = canonicalizer_.Canonicalize(frame.json, &slot.record);
      if (slot.status.ok() && slot.record.bytes != frame.json) {
        slot.status = Status(Code::kSchema, "stored record is not in canonical form");
      }
      slot.digest = slot.record.digest;
    }
    const Record& r = slot.record.record;
    slot.chain = ChainView{r.ts_ms, r.seq, r.writer_id, r.stream, r.kind, r.prev};
  }

  // Judges the pending frames in order. `link(seq_before, hash_before)` gives the link the next
  // frame must hold (seq_before 0: not known, e.g. a read that starts mid-stream);
  // `accept(frame)` delivers a good one and returns false to stop; at the first bad frame
  // `reject(frame, problem)` is called and the rest are dropped.
  template <typename Link, typename Accept, typename Reject>
  void Flush(const Link& link, const Accept& accept, const Reject& reject) {
    views_.clear();
    for (size_t i = 0; i < pending_; ++i) {
      if (slots_[i].hashed) views_.push_back(slots_[i].frame.json);
    }
    digests_.resize(views_.size());
    hasher_.Hash(views_.data(), views_.size(), digests_.data());
    size_t next_digest = 0;
    const size_t n = pending_;
    pending_ = 0;
    for (size_t i = 0; i < n; ++i) {
      Slot& slot = slots_[i];
      if (slot.hashed) slot.digest = digests_[next_digest++];
      uint64_t seq_before = 0;
      Digest hash_before{};
      link(&seq_before, &hash_before);
      const Status s = slot.status.ok() ? Judge(slot, seq_before, hash_before) : slot.status;
      if (!s.ok()) {
        reject(slot.frame, s);
        return;
      }
      if (!accept(slot.frame)) return;
    }
  }

 private:
  struct Slot {
    segment::FrameView frame;
    ChainView chain;        // views into frame.json, or into record.record
    CanonicalRecord record;  // the full path's record (or the walk's, for an escaped name)
    Digest digest{};         // of frame.json
    bool hashed = false;     // read by the canonical walk; its digest comes from the batch
    Status status;           // the full path's verdict when the walk gave up
  };

  Status Judge(const Slot& slot, uint64_t prev_seq, const Digest& prev_hash) const {
    const segment::FrameView& frame = slot.frame;
    if (!internal::EqualBytes<kDigestBytes>(slot.digest.data(), frame.self_hash.data())) {
      return Status(Code::kHashMismatch, "self_hash does not match the canonical bytes");
    }
    const ChainView& r = slot.chain;
    if (r.seq != frame.seq) return Status(Code::kSchema, "frame seq differs from the record's");
    if (!internal::SameText(r.writer_id, writer_id_) || !internal::SameText(r.stream, stream_)) {
      return Status(Code::kPrevMismatch, "record belongs to another (writer_id, stream)");
    }
    RON_RETURN_IF_ERROR(VerifyGenesisRule(r.seq, r.prev));
    // Compared as text: the previous self_hash's digits (16 a step) are cheaper than decoding
    // prev a second time (the canonical walk checked it is lowercase hex).
    if (prev_seq != 0 && !IsHashTextOf(r.prev, prev_hash)) {
      return Status(Code::kPrevMismatch, "prev does not equal the previous self_hash");
    }
    return Status::Ok();
  }

  Canonicalizer canonicalizer_;
  const std::string& writer_id_;
  const std::string& stream_;
  std::vector<Slot> slots_;
  size_t pending_ = 0;
  Blake3Batch hasher_;
  std::vector<std::string_view> views_;
  std::vector<Digest> digests_;
};

Code CodeOfScan(segment::ScanOutcome outcome) {
  return outcome == segment::ScanOutcome::kSeqDiscontinuity ? Code::kSeqGap : Code::kHashMismatch;
}

thread_local FileContents* tls_read_buffer = nullptr;
thread_local FileWindow* tls_read_window = nullptr;

}  // namespace

ReadBufferScope::ReadBufferScope()
    : buffer_(std::make_unique<FileContents>()),
      window_(std::make_unique<FileWindow>(limits::kReadWindowBytes, /*huge_pages=*/true)) {
  tls_read_buffer = buffer_.get();
  tls_read_window = window_.get();
}

ReadBufferScope::~ReadBufferScope() {
  tls_read_buffer = nullptr;
  tls_read_window = nullptr;
}

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

namespace {

// A stream directory's segments: their numbers in order, and the first file named like one
// but not in the canonical spelling.
struct SegmentList {
  std::vector<uint64_t> numbers;
  std::string odd_name;
};

Status ListSegments(const std::string& dir, SegmentList* list) {
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(ListDir(dir, &names));
  for (const std::string& name : names) {
    uint64_t no = 0;
    if (segment::ParseSegmentFileName(name, &no)) {
      list->numbers.push_back(no);
    } else if (list->odd_name.empty() && name.starts_with("wal-") && name.ends_with(".seg")) {
      list->odd_name = name;
    }
  }
  return Status::Ok();
}

// What ScanStream reads of a listing: segments [begin, end). A run that begins after the first
// segment starts from that segment's header (its first record is not linked: the run before
// reads the record it links to). Only the run that ends the listing checks for odd names.
struct Run {
  size_t begin = 0;
  size_t end = 0;
};

Status ScanRun(const std::string& dir, const std::string& writer_id, const std::string& stream,
               const Limits& limits, VerifyLevel level, StreamReport* report,
               const RecordCallback& on_record, uint64_t torn_window_bytes,
               uint64_t lost_write_window_bytes, uint64_t from_seq, const SegmentList& list,
               Run run) {
  *report = StreamReport();
  report->writer_id = writer_id;
  report->stream = stream;
  report->dir = dir;
  const std::vector<uint64_t>& numbers = list.numbers;
  const std::string& odd_name = list.odd_name;
  // The last sealed segment is the one before the newest (sealing precedes creating the next).
  const size_t full_from = level == VerifyLevel::kFull ? 0
                           : level == VerifyLevel::kChecksums
                               ? numbers.size()
                               : (numbers.size() >= 2 ? numbers.size() - 2 : 0);
  RecordChecker checker(limits, writer_id, stream);
  // Segments are walked through a window (wal/windowed_scan.h); a whole file is read only
  // where the window cannot decide. Both buffers come from a ReadBufferScope if there is one.
  FileContents own;
  FileContents& file = tls_read_buffer != nullptr ? *tls_read_buffer : own;
  std::unique_ptr<FileWindow> own_window;
  if (tls_read_window == nullptr) {
    own_window = std::make_unique<FileWindow>(limits::kReadWindowBytes);
  }
  FileWindow& window = tls_read_window != nullptr ? *tls_read_window : *own_window;
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
  size_t start = run.begin;
  bool link_known = true;  // the first record read links to one checked before it
  if (run.begin > 0) {
    segment::SegmentHeader header;
    const std::string path = dir + "/" + segment::SegmentFileName(numbers[run.begin]);
    if (!ReadSegmentHeader(path, &header)) {
      freeze(Status(Code::kHashMismatch, "bad_header: the run's first header does not decode"),
             path, 0);
      return Status::Ok();
    }
    report->head_seq = header.first_seq - 1;
    link_known = false;
  } else if (from_seq > 1) {
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
  for (size_t i = start; i < run.end && !report->frozen && !stopped; ++i) {
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
      // A good record: the new head, and the caller's.
      const auto accept = [&](const segment::FrameView& frame) {
        report->records++;
        link_known = true;
        report->head_seq = frame.seq;
        report->head_hash = frame.self_hash;
        if (on_record && !on_record(RecordView{frame.seq, frame.json, frame.self_hash, &seg.path,
                                               frame.offset})) {
          stopped = true;
        }
        return !stopped;
      };
      const auto link = [&](uint64_t* seq_before, Digest* hash_before) {
        *seq_before = link_known ? report->head_seq : 0;
        *hash_before = report->head_hash;
      };
      const auto reject = [&](const segment::FrameView& frame, const Status& problem) {
        record_problem = problem;
        problem_offset = frame.offset;
        problem_seq = frame.seq;
      };
      const auto on_frame = [&](const segment::FrameView& frame) {
        if (!record_problem.ok() || stopped) return;  // deliver nothing after a problem
        // Delivered by an earlier attempt (frames of one attempt are consecutive, so the
        // frames still pending in the checker are all newer than the head).
        if (frame.seq <= report->head_seq) return;
        if (!check_records) {
          accept(frame);
          return;
        }
        checker.Add(frame);
        if (checker.full()) checker.Flush(link, accept, reject);
      };
      // The checker's pending frames point into the window: judged before it moves.
      const auto before_slide = [&] {
        if (record_problem.ok() && !stopped) checker.Flush(link, accept, reject);
      };
      Status read;
      // A reader whose callback said stop reads no further (not the rest of the segment).
      seg.scan = ScanSegmentWindowed({fd, size, seg.path, &window, &file, &stopped}, options,
                                     on_frame, before_slide, &seg.file_bytes, &read);
      close(fd);
      RON_RETURN_IF_ERROR(read);
      if (record_problem.ok() && !stopped) checker.Flush(link, accept, reject);
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
  if (!odd_name.empty() && run.end == numbers.size() && !report->frozen && !stopped) {
    // Printed in the directory escaping: a file name may hold anything, even a newline.
    const std::string printed = segment::EscapePathComponent(odd_name);
    freeze(Status(Code::kIo, "bad_file: " + printed +
                                 " is not a segment name the engine writes (wal-<6+ digits>.seg)"),
           dir + "/" + printed, 0);
  }
  return Status::Ok();
}

// The prev a record names, from its canonical bytes (prev is their last key, as
// `,"prev":"b3:<64 hex>"}`), or false if they do not end so.
bool TrailingPrev(std::string_view json, Digest* prev) {
  constexpr std::string_view kKey = ",\"prev\":\"";
  constexpr size_t kTail = kKey.size() + kHashTextBytes + 2;  // the quote and the brace
  if (json.size() < kTail || !json.ends_with("\"}")) return false;
  const std::string_view tail = json.substr(json.size() - kTail);
  return tail.starts_with(kKey) &&
         ParseHashText(tail.substr(kKey.size(), kHashTextBytes), prev);
}

}  // namespace

Status ScanStream(const std::string& dir, const std::string& writer_id, const std::string& stream,
                  const Limits& limits, VerifyLevel level, StreamReport* report,
                  const RecordCallback& on_record, uint64_t torn_window_bytes,
                  uint64_t lost_write_window_bytes, uint64_t from_seq) {
  SegmentList list;
  *report = StreamReport();
  report->writer_id = writer_id;
  report->stream = stream;
  report->dir = dir;
  RON_RETURN_IF_ERROR(ListSegments(dir, &list));
  return ScanRun(dir, writer_id, stream, limits, level, report, on_record, torn_window_bytes,
                 lost_write_window_bytes, from_seq, list, Run{0, list.numbers.size()});
}

Status VerifyStream(const std::string& dir, const std::string& writer_id,
                    const std::string& stream, const Limits& limits, unsigned threads,
                    StreamReport* report, uint64_t* json_bytes, bool* in_runs) {
  SegmentList list;
  *report = StreamReport();
  report->writer_id = writer_id;
  report->stream = stream;
  report->dir = dir;
  RON_RETURN_IF_ERROR(ListSegments(dir, &list));
  const size_t n = list.numbers.size();
  // ScanStream over the same listing.
  const auto alone = [&] {
    *json_bytes = 0;
    return ScanRun(dir, writer_id, stream, limits, VerifyLevel::kFull, report,
                   [&](const RecordView& r) {
                     *json_bytes += r.json.size();
                     return true;
                   },
                   0, kLostWriteWindowBytes, 1, list, Run{0, n});
  };
  if (in_runs != nullptr) *in_runs = false;
  // The segments before the newest are sealed, so each holds records: they are split into runs,
  // and the newest (perhaps empty, or with a header not yet complete) ends the last one.
  const size_t sealed = n == 0 ? 0 : n - 1;
  const size_t runs = std::min<size_t>(threads, sealed);
  if (runs < 2) return alone();
  struct Part {
    Status status;
    StreamReport report;
    uint64_t bytes = 0;
    uint64_t first_seq = 0;  // of its first record, and the prev that record names
    Digest first_prev{};
    bool first_prev_read = false;
  };
  std::vector<Part> parts(runs);
  const auto scan = [&](size_t k) {
    Part& part = parts[k];
    part.status = ScanRun(dir, writer_id, stream, limits, VerifyLevel::kFull, &part.report,
                          [&](const RecordView& r) {
                            if (part.first_seq == 0) {
                              part.first_seq = r.seq;
                              part.first_prev_read = TrailingPrev(r.json, &part.first_prev);
                            }
                            part.bytes += r.json.size();
                            return true;
                          },
                          0, kLostWriteWindowBytes, 1, list,
                          Run{k * sealed / runs, k + 1 == runs ? n : (k + 1) * sealed / runs});
  };
  std::vector<std::thread> helpers;
  std::vector<size_t> here = {0};  // the runs scanned on this thread
  for (size_t k = 1; k < runs; ++k) {
    try {
      helpers.emplace_back([&, k] {
        const ReadBufferScope buffers;  // this thread's window
        scan(k);
      });
    } catch (const std::system_error&) {  // no thread to be had: this one scans it
      here.push_back(k);
    }
  }
  for (size_t k : here) scan(k);
  for (std::thread& t : helpers) t.join();
  // The runs say what one scan says only if each is clean, none but the last ends in a torn
  // write, and each begins with the record after the one the run before ended with, naming its
  // self_hash. Anything else is left to the one scan, whose verdict and offsets are the law.
  for (size_t k = 0; k < runs; ++k) {
    const Part& part = parts[k];
    if (!part.status.ok() || part.report.frozen || part.report.records == 0 ||
        (part.report.torn_tail && k + 1 < runs)) {
      return alone();
    }
    if (k > 0 && (part.first_seq != parts[k - 1].report.head_seq + 1 || !part.first_prev_read ||
                  part.first_prev != parts[k - 1].report.head_hash)) {
      return alone();
    }
  }
  // The last run's report (head, torn tail), with every run's records and segments.
  std::vector<SegmentReport> segments;
  uint64_t records = 0;
  *json_bytes = 0;
  for (Part& part : parts) {
    records += part.report.records;
    *json_bytes += part.bytes;
    std::move(part.report.segments.begin(), part.report.segments.end(),
              std::back_inserter(segments));
  }
  *report = std::move(parts.back().report);
  report->records = records;
  report->segments = std::move(segments);
  if (in_runs != nullptr) *in_runs = true;
  return Status::Ok();
}

}  // namespace ron::wal
