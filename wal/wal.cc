#include "wal/wal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/core/check.h"
#include "segment/segment_format.h"
#include "wal/files.h"

namespace ron::wal {
namespace {

// Synchronous write + fdatasync for the rare paths (segment creation, sealing, recovery),
// honouring the fault injector like the batched path does.
int WriteAllAndSync(int fd, std::string_view data, uint64_t offset, FaultInjector* faults) {
  if (faults != nullptr) {
    if (const int e = faults->OnWrite(fd, data.size()); e < 0) return e;
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = pwrite(fd, data.data() + done, data.size() - done,
                             static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    done += static_cast<size_t>(n);
  }
  if (faults != nullptr) {
    if (const int e = faults->OnFsync(fd); e < 0) return e;
  }
  return fdatasync(fd) == 0 ? 0 : -errno;
}

}  // namespace

bool ParseFsyncPolicy(std::string_view name, FsyncPolicy* policy) {
  if (name == "always") *policy = FsyncPolicy::kAlways;
  else if (name == "on_checkpoint") *policy = FsyncPolicy::kOnCheckpoint;
  else if (name == "never") *policy = FsyncPolicy::kNever;
  else return false;
  return true;
}

Status WalOptions::Validate() const {
  if (dir.empty()) return Status(Code::kSchema, "wal.dir must be set");
  if (rotate_bytes < kMinRotateBytes && !allow_small_segments) {
    return Status(Code::kSchema, "wal.rotate_bytes must be at least 8MiB");
  }
  if (rotate_bytes < 2 * segment::kPaddingAlignBytes + limits.max_record_bytes + 64) {
    return Status(Code::kSchema, "wal.rotate_bytes is too small for one record");
  }
  return limits.Validate();
}

std::string StreamWal::HeadText() const {
  return head_seq_ == 0 ? std::string(kGenesisPrev) : HashText(head_hash_);
}

Result<std::unique_ptr<Wal>> Wal::Open(const WalOptions& options) {
  RON_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Wal> wal(new Wal(options));
  RON_RETURN_IF_ERROR(EnsurePrivateDir(options.dir, /*create=*/true));
  wal->io_ = MakeIoBackend(options.backend, options.faults, &wal->backend_note_);
  if (wal->io_ == nullptr) return Status(Code::kIo, wal->backend_note_);
  RON_RETURN_IF_ERROR(wal->Recover());
  return wal;
}

Wal::~Wal() {
  for (auto& [key, s] : streams_) {
    if (s->fd_ >= 0) close(s->fd_);
  }
}

Status Wal::Recover() {
  std::vector<std::pair<std::string, std::string>> found;
  RON_RETURN_IF_ERROR(ListStreams(options_.dir, &found));
  for (const auto& [writer_id, stream] : found) {
    const std::string dir = StreamDir(options_.dir, writer_id, stream);
    RON_RETURN_IF_ERROR(EnsurePrivateDir(options_.dir + "/" + segment::EscapePathComponent(writer_id),
                                         /*create=*/false));
    RON_RETURN_IF_ERROR(EnsurePrivateDir(dir, /*create=*/false));
    StreamReport report;
    RON_RETURN_IF_ERROR(ScanStream(dir, writer_id, stream, options_.limits,
                                   VerifyLevel::kFromLastSealed, &report));
    auto s = std::make_unique<StreamWal>();
    s->writer_id_ = writer_id;
    s->stream_ = stream;
    s->dir_ = dir;
    RON_RETURN_IF_ERROR(OpenRecoveredStream(s.get(), report));
    reports_[s.get()] = std::move(report);
    streams_[{writer_id, stream}] = std::move(s);
  }
  return Status::Ok();
}

Status Wal::OpenRecoveredStream(StreamWal* s, const StreamReport& report) {
  s->head_seq_ = s->durable_seq_ = report.head_seq;
  s->head_hash_ = report.head_hash;
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
  if (newest.scan.header.count != 0) return Status::Ok();  // sealed: the next Stage rotates
  s->fd_ = open(newest.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (s->fd_ < 0) return Status(Code::kIo, "cannot open " + newest.path + ": " + std::strerror(errno));
  uint64_t end = newest.scan.valid_end;
  if (report.torn_tail) {
    ++counters_.torn_tail_total;
    end = report.torn_offset;
    if (ftruncate(s->fd_, static_cast<off_t>(end)) != 0) {
      return Status(Code::kIo, "cannot truncate torn tail of " + newest.path);
    }
  }
  // The next batch starts on a 4 KiB boundary: pad up to it now, durably, before any append.
  if (end % segment::kPaddingAlignBytes != 0) {
    std::string padding;
    segment::AppendPadding(end, &padding);
    const int rc = WriteAllAndSync(s->fd_, padding, end, options_.faults);
    if (rc < 0) return IoErrorStatus(rc, "padding after recovery of " + newest.path);
    end += padding.size();
  }
  s->write_offset_ = end;
  s->segment_first_seq_ = newest.scan.header.first_seq;
  s->segment_frames_ = newest.scan.frames;
  return Status::Ok();
}

Result<StreamWal*> Wal::GetStream(const std::string& writer_id, const std::string& stream) {
  const auto it = streams_.find({writer_id, stream});
  if (it != streams_.end()) return it->second.get();
  // Names must be what the record law accepts, or records could never be written to them.
  Canonicalizer checker(options_.limits);
  CanonicalRecord probe;
  Canonicalizer::DraftContext ctx{writer_id, stream, 1, kGenesisPrev, 0};
  RON_RETURN_IF_ERROR(checker.CanonicalizeDraft(
      R"({"kind":"Probe","actor":{},"subject":{},"reason":"ok","attrs":{}})", ctx, &probe));
  if (probe.record.writer_id != writer_id || probe.record.stream != stream) {
    return Status(Code::kSchema, "writer_id and stream must be NFC-normalized");
  }
  const std::string writer_dir = options_.dir + "/" + segment::EscapePathComponent(writer_id);
  RON_RETURN_IF_ERROR(EnsurePrivateDir(writer_dir, /*create=*/true));
  RON_RETURN_IF_ERROR(FsyncDir(options_.dir));
  auto s = std::make_unique<StreamWal>();
  s->writer_id_ = writer_id;
  s->stream_ = stream;
  s->dir_ = StreamDir(options_.dir, writer_id, stream);
  RON_RETURN_IF_ERROR(EnsurePrivateDir(s->dir_, /*create=*/true));
  RON_RETURN_IF_ERROR(FsyncDir(writer_dir));
  StreamWal* raw = s.get();
  streams_[{writer_id, stream}] = std::move(s);
  return raw;
}

Status Wal::CreateSegment(StreamWal* s, uint64_t segment_no, uint64_t first_seq) {
  const std::string path = s->dir_ + "/" + segment::SegmentFileName(segment_no);
  const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return IoErrorStatus(-errno, "cannot create " + path);
  segment::SegmentHeader header;
  header.first_seq = first_seq;
  header.segment_no = segment_no;
  std::string block(segment::kHeaderBytes, '\0');
  segment::EncodeHeader(header, reinterpret_cast<uint8_t*>(block.data()));
  // Frames start at 4096 so that sealing (rewriting `count`) never touches a block with frames.
  segment::AppendPadding(0, &block);
  const int rc = WriteAllAndSync(fd, block, 0, options_.faults);
  if (rc < 0) {
    close(fd);
    unlink(path.c_str());
    return IoErrorStatus(rc, "cannot initialize " + path);
  }
  RON_RETURN_IF_ERROR(FsyncDir(s->dir_));
  s->fd_ = fd;
  s->segment_no_ = segment_no;
  s->segment_first_seq_ = first_seq;
  s->segment_frames_ = 0;
  s->write_offset_ = block.size();
  ++counters_.segments_created;
  return Status::Ok();
}

Status Wal::SealActiveSegment(StreamWal* s) {
  if (s->fd_ < 0) return Status::Ok();
  RON_CHECK(s->pending_.empty());
  uint8_t count[4];
  for (int i = 0; i < 4; ++i) count[i] = static_cast<uint8_t>(s->segment_frames_ >> (8 * i));
  const int rc = WriteAllAndSync(
      s->fd_, std::string_view(reinterpret_cast<const char*>(count), 4),
      segment::kHeaderCountOffset, options_.faults);
  close(s->fd_);
  s->fd_ = -1;
  if (rc < 0) return IoErrorStatus(rc, "cannot seal segment " + std::to_string(s->segment_no_));
  return Status::Ok();
}

void Wal::Fail(StreamWal* s, const Status& status) {
  s->state_ = StreamState::kFailed;
  s->failure_ = status;
  s->pending_.clear();
  s->pending_records_ = 0;
  s->head_seq_ = s->durable_seq_;  // staged records were never acknowledged
  ++counters_.io_errors_total;
}

Status Wal::Stage(StreamWal* s, const CanonicalRecord& record) {
  if (s->state_ == StreamState::kFrozen) return s->failure_;
  if (s->state_ == StreamState::kFailed) return Status(Code::kIo, s->failure_.message());
  if (record.record.seq != s->head_seq_ + 1) {
    return Status(Code::kSeqGap, "seq " + std::to_string(record.record.seq) + " after head " +
                                     std::to_string(s->head_seq_));
  }
  if (record.record.prev != s->HeadText()) {
    return Status(Code::kPrevMismatch, "prev is not the stream head");
  }
  const size_t frame_bytes = segment::FrameBytes(record.bytes.size());
  const bool full = s->fd_ >= 0 && s->segment_frames_ > 0 &&
                    s->write_offset_ + s->pending_.size() + frame_bytes +
                            segment::kPaddingAlignBytes >
                        options_.rotate_bytes;
  if (full) {
    RON_RETURN_IF_ERROR(CommitStreams(false));
    if (s->state_ != StreamState::kOk) return Status(Code::kIo, s->failure_.message());
    Status sealed = SealActiveSegment(s);
    if (!sealed.ok()) {
      Fail(s, sealed);
      return sealed;
    }
  }
  if (s->fd_ < 0) {
    Status created = CreateSegment(s, s->segment_no_ + 1, record.record.seq);
    if (!created.ok()) {
      Fail(s, created);
      return created;
    }
  }
  segment::AppendFrame(record.record.seq, record.bytes, record.digest, &s->pending_);
  ++s->pending_records_;
  ++s->segment_frames_;
  s->head_seq_ = record.record.seq;
  s->head_hash_ = record.digest;
  return Status::Ok();
}

Status Wal::CommitStreams(bool force_sync) {
  std::vector<StreamWal*> touched;
  std::vector<WriteOp> ops;
  const bool sync = force_sync || options_.fsync == FsyncPolicy::kAlways;
  for (auto& [key, s] : streams_) {
    if (s->pending_.empty() || s->state_ != StreamState::kOk) continue;
    segment::AppendPadding(s->write_offset_, &s->pending_);
    touched.push_back(s.get());
    ops.push_back(WriteOp{s->fd_, s->pending_.data(), s->pending_.size(), s->write_offset_, sync});
  }
  if (ops.empty()) return Status::Ok();
  std::vector<int> results(ops.size(), 0);
  io_->Execute(ops, results);
  Status first_error;
  for (size_t i = 0; i < touched.size(); ++i) {
    StreamWal* s = touched[i];
    if (results[i] < 0) {
      Status status = IoErrorStatus(results[i], "WAL write of " + s->stream_);
      Fail(s, status);
      if (first_error.ok()) first_error = status;
      continue;
    }
    s->write_offset_ += s->pending_.size();
    counters_.bytes_written += s->pending_.size();
    counters_.records_written += s->pending_records_;
    if (sync) ++counters_.fsync_total;
    s->durable_seq_ = s->head_seq_;
    s->pending_.clear();
    s->pending_records_ = 0;
  }
  return first_error;
}

Status Wal::Commit() { return CommitStreams(false); }

Status Wal::Sync() {
  RON_RETURN_IF_ERROR(CommitStreams(true));
  if (options_.fsync == FsyncPolicy::kAlways) return Status::Ok();
  for (auto& [key, s] : streams_) {
    if (s->fd_ < 0 || s->state_ != StreamState::kOk) continue;
    if (fdatasync(s->fd_) != 0) {
      Status status = IoErrorStatus(-errno, "fdatasync of " + s->stream_);
      Fail(s.get(), status);
      return status;
    }
  }
  return Status::Ok();
}

Status Wal::Close() {
  Status status = Sync();
  for (auto& [key, s] : streams_) {
    if (s->state_ != StreamState::kOk) continue;
    Status sealed = SealActiveSegment(s.get());
    if (status.ok() && !sealed.ok()) status = sealed;
  }
  return status;
}

std::vector<const StreamWal*> Wal::streams() const {
  std::vector<const StreamWal*> out;
  for (const auto& [key, s] : streams_) out.push_back(s.get());
  return out;
}

const StreamReport* Wal::recovery_report(const StreamWal* s) const {
  const auto it = reports_.find(s);
  return it == reports_.end() ? nullptr : &it->second;
}

}  // namespace ron::wal
