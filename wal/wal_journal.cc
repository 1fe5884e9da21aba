// The Wal's side of the commit journal (wal/journal.h): journals found at Open are applied to
// their segments before the WAL takes writes, and commits of many streams are made durable by
// one append to this WAL's journal. Split from wal.cc and recovery.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/hash.h"
#include "wal/wal.h"

namespace ron::wal {

Status Wal::ReadJournals(std::map<std::pair<std::string, std::string>, JournalStream>* by_stream) {
  std::vector<std::string> paths;
  RON_RETURN_IF_ERROR(ListJournals(options_.dir, &paths));
  if (paths.empty()) return Status::Ok();
  journals_read_.resize(paths.size());
  Canonicalizer canonicalizer(options_.limits);
  CanonicalRecord full;
  for (size_t j = 0; j < paths.size(); ++j) {
    if (options_.live_journal && options_.live_journal(paths[j])) continue;
    JournalContents& journal = journals_read_[j];
    RON_RETURN_IF_ERROR(ReadJournal(paths[j], options_.limits.max_record_bytes, &journal));
    bool all_owned = !journal.frames.empty() || !options_.owns;
    for (const segment::FrameView& frame : journal.frames) {
      const auto where = [&] { return paths[j] + " at offset " + std::to_string(frame.offset); };
      JournalStream::Frame f{&frame, Record()};
      if (!canonicalizer.CheckChain(frame.json, &f.record)) {
        const Status st = canonicalizer.Canonicalize(frame.json, &full);
        if (!st.ok() || full.bytes != frame.json) {
          return Status(Code::kIo, "commit journal " + where() + ": not a canonical record");
        }
        f.record = full.record;
      }
      if (f.record.seq != frame.seq || Blake3(frame.json) != frame.self_hash) {
        return Status(Code::kIo, "commit journal " + where() + ": frame and record disagree");
      }
      if (options_.owns && !options_.owns(f.record.writer_id, f.record.stream)) {
        all_owned = false;
        continue;
      }
      JournalStream& js = (*by_stream)[{f.record.writer_id, f.record.stream}];
      js.window += segment::FrameBytes(frame.json.size()) + segment::kPaddingAlignBytes;
      js.max_seq = std::max(js.max_seq, frame.seq);
      js.frames.push_back(std::move(f));
    }
    // Once its frames are in their segments, a journal that held only this WAL's streams is
    // removed by it; others are the engine's to remove, when every WAL has applied them.
    if (all_owned) applied_journals_.push_back(paths[j]);
  }
  for (auto& [key, js] : *by_stream) {
    std::stable_sort(js.frames.begin(), js.frames.end(),
                     [](const JournalStream::Frame& a, const JournalStream::Frame& b) {
                       return a.record.seq < b.record.seq;
                     });
  }
  return Status::Ok();
}

// A torn tail found with the journal's window cut only what the journal holds: frames after the
// cut with a seq past the journal's newest for the stream were synced before (a commit without
// the journal), so their damage is corruption.
Status Wal::CheckTornTail(const JournalStream& js, StreamReport* report) {
  if (!report->torn_tail || report->frozen || report->segments.empty()) return Status::Ok();
  const SegmentReport& newest = report->segments.back();
  std::string file;
  RON_RETURN_IF_ERROR(ReadSmallFile(newest.path, segment::kMaxSegmentBytes, &file));
  uint64_t cut_max = 0;
  for (uint64_t at =
           report->torn_offset / segment::kPaddingAlignBytes * segment::kPaddingAlignBytes;
       at < file.size(); at += segment::kPaddingAlignBytes) {
    uint64_t offset = at;
    segment::FrameView frame;
    while (segment::DecodeFrame(file, offset, options_.limits.max_record_bytes, &frame) ==
           segment::FrameStatus::kOk) {
      if (offset >= report->torn_offset) cut_max = std::max(cut_max, frame.seq);
      offset += frame.size;
    }
  }
  const bool covered = js.frames.empty() ? cut_max == 0
                                         : js.frames.front().record.seq <= report->head_seq + 1 &&
                                               cut_max <= js.max_seq;
  if (covered) return Status::Ok();
  report->frozen = true;
  report->problem = Status(Code::kFrozen, "damage the commit journal does not cover");
  report->problem_file = newest.path;
  report->problem_offset = report->torn_offset;
  report->torn_tail = false;
  return Status::Ok();
}

Status Wal::ApplyJournals(std::map<std::pair<std::string, std::string>, JournalStream>* by_stream) {
  for (auto& [key, js] : *by_stream) {
    StreamWal* s = FindStream(key.first, key.second);
    if (s == nullptr) {
      // Streams are created durably before their first record: a directory gone since.
      RON_RETURN_IF_ERROR(AddFrozenStream(
          key.first, key.second,
          Status(Code::kFrozen, "the commit journal holds records of a stream not on disk")));
      continue;
    }
    for (const JournalStream::Frame& f : js.frames) {
      if (s->state_ != StreamState::kOk) break;
      if (f.record.seq <= s->head_seq_) continue;  // in the segment already (or a repeat)
      if (f.record.seq != s->head_seq_ + 1) {
        Freeze(s, Status(Code::kSeqGap, "commit journal: seq " + std::to_string(s->head_seq_ + 1) +
                                            " is in neither the segments nor the journal"));
        break;
      }
      CanonicalRecord record;
      record.record = f.record;
      record.bytes.assign(f.frame->json);
      record.digest = f.frame->self_hash;
      const Status staged = Stage(s, record);
      if (staged.code() == Code::kPrevMismatch) {
        Freeze(s,
               Status(Code::kPrevMismatch, "commit journal: seq " + std::to_string(f.record.seq) +
                                               " does not link to the segment's record before"));
        break;
      }
      RON_RETURN_IF_ERROR(staged);
      ++journal_records_applied_;
    }
  }
  by_stream->clear();
  RON_RETURN_IF_ERROR(CommitStreams(/*force_sync=*/true));
  journals_read_.clear();
  // A journal's records may be in segments that were never synced (a kill -9 leaves them in the
  // page cache, found whole by the scan): sync them all before the journal goes.
  if (!applied_journals_.empty()) {
    bool frozen = false;
    for (const auto& [key, s] : streams_) frozen = frozen || s->state_ != StreamState::kOk;
    if (frozen) applied_journals_.clear();  // kept: it may hold a frozen stream's only copy
    const int dir_fd = open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int rc = dir_fd < 0 ? -errno : (syncfs(dir_fd) == 0 ? 0 : -errno);
    if (dir_fd >= 0) close(dir_fd);
    if (rc < 0) return IoErrorStatus(rc, "syncfs before removing applied commit journals");
  }
  for (const std::string& path : applied_journals_) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IoErrorStatus(-errno, "cannot remove applied commit journal " + path);
    }
  }
  if (!applied_journals_.empty()) RON_RETURN_IF_ERROR(FsyncDir(options_.dir));
  applied_journals_.clear();
  return Status::Ok();
}

Status Wal::StartJournal() {
  if (options_.journal_min_files == 0 || options_.fsync != FsyncPolicy::kAlways ||
      options_.write_mode != WriteMode::kBuffered || !syncfs_reports_errors_) {
    return Status::Ok();
  }
  auto created = JournalWriter::Create(options_.dir, options_.faults);
  if (!created.ok()) return created.status();
  journal_ = std::move(created).value();
  struct stat st {};
  if (fstat(journal_->fd(), &st) != 0 || !SyncfsCovers(journal_->fd())) {
    // A file system whose syncfs does not report what fdatasync would: no journal.
    const Status removed = journal_->Remove();
    journal_.reset();
    return removed;
  }
  journal_dev_ = static_cast<uint64_t>(st.st_dev);
  journal_ok_ = true;
  return Status::Ok();
}

int Wal::AppendToJournal(std::span<const WriteOp> ops,
                         const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                         std::span<const char> in_journal, std::span<int> results) {
  journal_batch_.clear();
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!in_journal[i] || results[i] != 0) continue;  // a failed write's frames are not stored
    const StreamWal* s = chunk_ends[i].first;
    journal_batch_.append(s->pending_.data(), s->pending_frames_.back().end);
  }
  if (journal_batch_.empty()) return 0;
  AppendJournalBatchEnd(journal_->end_offset(), &journal_batch_);
  const int rc = journal_->Append(journal_batch_);
  ++counters_.fsync_total;
  ++counters_.journal_commits;
  if (rc < 0) {
    journal_ok_ = false;  // never written again; what it holds stays for recovery
    for (size_t i = 0; i < ops.size(); ++i) {
      if (in_journal[i] && results[i] == 0) results[i] = rc;
    }
    return rc;
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    StreamWal* s = chunk_ends[i].first;
    if (!in_journal[i] || results[i] != 0 || s->journaled_) continue;
    s->journaled_ = true;
    journaled_.push_back(s);
  }
  return 0;
}

int Wal::PadToBlock(StreamWal* s) {
  if (s->write_offset_ % segment::kPaddingAlignBytes == 0) return 0;
  std::string padding;
  segment::AppendPadding(s->write_offset_, &padding);
  const int rc = WriteAll(s->fd_, padding, s->write_offset_, options_.faults);
  if (rc == 0) s->write_offset_ += padding.size();
  return rc;
}

Status Wal::SyncJournaled() {
  if (journal_ == nullptr) return Status::Ok();
  Status first_error;
  for (StreamWal* s : journaled_) {
    if (!s->journaled_ || s->fd_ < 0 || s->state_ != StreamState::kOk) continue;
    if (const int rc = PadToBlock(s); rc < 0) {
      const Status status = IoErrorStatus(rc, "padding of " + s->stream_);
      Fail(s, status);  // keeps the journal: its frames may be nowhere else
      if (first_error.ok()) first_error = status;
    }
  }
  if (!journaled_.empty()) {
    int rc = options_.faults != nullptr ? options_.faults->OnFsync(journal_->fd()) : 0;
    if (rc == 0 && syncfs(journal_->fd()) != 0) rc = -errno;
    ++counters_.fsync_total;
    for (StreamWal* s : journaled_) {
      if (!s->journaled_) continue;  // synced since (sealed, parked)
      s->journaled_ = false;
      if (rc == 0) continue;
      // syncfs cannot say whose write-back failed: each stream's own fdatasync does (a stream
      // whose file is closed cannot tell: it counts as failed).
      int own = -EIO;
      if (s->fd_ >= 0) {
        own = options_.faults != nullptr ? options_.faults->OnFsync(s->fd_) : 0;
        if (own == 0 && fdatasync(s->fd_) != 0) own = -errno;
        ++counters_.fsync_total;
      }
      if (own == 0) continue;
      // Its acknowledged frames are in the journal, which is kept for the recovery of a reopen.
      const Status status = IoErrorStatus(own, "fdatasync of " + s->stream_);
      if (s->state_ == StreamState::kOk) Fail(s, status);
      if (first_error.ok()) first_error = status;
    }
    journaled_.clear();
  }
  if (!first_error.ok()) {
    journal_ok_ = false;
    return first_error;
  }
  if (!journal_ok_ || journal_->end_offset() == kJournalHeaderBytes) return Status::Ok();
  if (const int rc = journal_->Reset(); rc < 0) {
    journal_ok_ = false;
    return IoErrorStatus(rc, "cannot empty the commit journal " + journal_->path());
  }
  return Status::Ok();
}

}  // namespace ron::wal
