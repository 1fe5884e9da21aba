// The Wal's side of the commit journal (wal/journal.h): journals found at Open are applied to
// their segments before the WAL takes writes, and commits of many streams are made durable by
// one append to this WAL's journal; the syncfs that makes many segment files durable at once,
// and Sync. Split from wal.cc and recovery.cc.
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

Status Wal::ReadJournalFile(const std::string& path, JournalRead* read,
                            std::map<std::pair<std::string, std::string>, JournalStream>* by_stream,
                            bool* vanished) {
  *vanished = false;
  Canonicalizer canonicalizer(options_.limits);
  CanonicalRecord full;
  read->path = path;
  // A frame's owner is in its record: each frame is parsed, and only this WAL's are checked
  // further (their hash) and kept; the batch checksum has vouched for the bytes.
  const auto on_batch = [&](uint32_t, std::string_view,
                            std::span<const segment::FrameView> frames) {
    for (const segment::FrameView& frame : frames) {
      const auto where = [&] { return path + " at offset " + std::to_string(frame.offset); };
      JournalStream::Frame f;
      if (!canonicalizer.CheckChain(frame.json, &f.record)) {
        const Status st = canonicalizer.Canonicalize(frame.json, &full);
        if (!st.ok() || full.bytes != frame.json) {
          return Status(Code::kIo, "commit journal " + where() + ": not a canonical record");
        }
        f.record = full.record;
      }
      if (f.record.seq != frame.seq) {
        return Status(Code::kIo, "commit journal " + where() + ": frame and record disagree");
      }
      if (options_.owns && !options_.owns(f.record.writer_id, f.record.stream)) {
        read->foreign = true;
        continue;
      }
      if (Blake3(frame.json) != frame.self_hash) {
        return Status(Code::kIo, "commit journal " + where() + ": frame and record disagree");
      }
      f.json.assign(frame.json);
      f.hash = frame.self_hash;
      std::pair<std::string, std::string> key{f.record.writer_id, f.record.stream};
      read->streams.insert(key);
      JournalStream& js = (*by_stream)[std::move(key)];
      if (js.source.empty()) js.source = path;
      js.frames.push_back(std::move(f));
    }
    return Status::Ok();
  };
  bool torn = false;
  const Status scanned = ScanJournal(path, options_.limits.max_record_bytes, on_batch, &torn);
  if (!scanned.ok() && access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    *vanished = true;  // another writer thread of the engine removed its own since the listing
    return Status::Ok();
  }
  RON_RETURN_IF_ERROR(scanned);
  // An empty journal is this WAL's to remove only without an owner predicate: it cannot tell
  // whose it was.
  if (read->streams.empty() && options_.owns) read->foreign = true;
  return Status::Ok();
}

Status Wal::ReadJournals(std::map<std::pair<std::string, std::string>, JournalStream>* by_stream,
                         std::map<std::pair<std::string, std::string>, JournalStream>* set_aside) {
  std::vector<std::string> paths;
  RON_RETURN_IF_ERROR(ListJournals(options_.dir, &paths));
  bool vanished = false;
  for (const std::string& path : paths) {
    if (options_.live_journal && options_.live_journal(path)) continue;
    RON_RETURN_IF_ERROR(
        ReadJournalFile(path, &journals_read_.emplace_back(), by_stream, &vanished));
    if (vanished) journals_read_.pop_back();
  }
  RON_RETURN_IF_ERROR(ListSetAsideJournals(options_.dir, &paths));
  for (const std::string& path : paths) {
    JournalRead read;
    RON_RETURN_IF_ERROR(ReadJournalFile(path, &read, set_aside, &vanished));
  }
  for (auto* streams : {by_stream, set_aside}) {
    for (auto& [key, js] : *streams) {
      std::stable_sort(js.frames.begin(), js.frames.end(),
                       [](const JournalStream::Frame& a, const JournalStream::Frame& b) {
                         return a.record.seq < b.record.seq;
                       });
    }
  }
  return Status::Ok();
}

// A stream whose newest segment is damaged with valid frames after the damage is frozen by the
// scan (corruption) unless the journal explains the damage. While a stream has frames only in
// the journal, every commit of it goes through the journal, and it leaves the journal only by
// a sync of its file (which empties the journal, or seals the segment): so in a segment that
// holds any of its journaled frames, every frame after the first of them was acknowledged
// through the journal or not at all, and a journaled frame is damaged only if no sync of the
// file finished after it was written. The cut is therefore taken for a torn write when the
// journal holds a frame of the newest segment and either every record from the first one lost
// up to the journal's newest for the stream, or (the first one lost is newer than that) none
// of the lost records was acknowledged.
bool Wal::JournalCoversCut(const JournalStream& js, const StreamReport& wide) {
  if (!wide.torn_tail || wide.frozen || wide.segments.empty() || js.frames.empty() ||
      wide.torn_offset < segment::kHeaderBytes) {
    return false;
  }
  if (js.frames.back().record.seq < wide.segments.back().scan.header.first_seq) return false;
  uint64_t expect = wide.head_seq + 1;
  for (const JournalStream::Frame& f : js.frames) {
    if (f.record.seq < expect) continue;  // before the cut, or a repeat
    if (f.record.seq != expect) return false;
    ++expect;
  }
  return true;
}

Status Wal::RestageFromJournal(StreamWal* s, const JournalStream& js) {
  for (const JournalStream::Frame& f : js.frames) {
    if (s->state_ != StreamState::kOk) break;
    if (f.record.seq <= s->head_seq_) continue;  // in the segment already (or a repeat)
    if (f.record.seq != s->head_seq_ + 1) {
      Freeze(s, Status(Code::kSeqGap, "commit journal " + js.source + ": seq " +
                                          std::to_string(s->head_seq_ + 1) +
                                          " is in neither the segments nor the journal"));
      break;
    }
    CanonicalRecord record;
    record.record = f.record;
    record.bytes = f.json;
    record.digest = f.hash;
    const Status staged = Stage(s, record);
    if (staged.code() == Code::kPrevMismatch) {
      Freeze(s, Status(Code::kPrevMismatch, "commit journal " + js.source + ": seq " +
                                                std::to_string(f.record.seq) +
                                                " does not link to the segment's record before"));
      break;
    }
    RON_RETURN_IF_ERROR(staged);
    ++journal_records_applied_;
  }
  return Status::Ok();
}

Status Wal::ApplyJournals(JournalStreams* by_stream, JournalStreams* set_aside) {
  for (auto& [key, js] : *by_stream) {
    StreamWal* s = FindStream(key.first, key.second);
    if (s == nullptr) {
      // Streams are created durably before their first record: a directory gone since.
      RON_RETURN_IF_ERROR(AddFrozenStream(
          key.first, key.second,
          Status(Code::kFrozen, "the commit journal holds records of a stream not on disk")));
      continue;
    }
    RON_RETURN_IF_ERROR(RestageFromJournal(s, js));
  }
  // A journal set aside (a stream of it ended frozen at an earlier open) keeps every stream
  // that lacks records it holds frozen, at every open, until the operator resolves it (RUNBOOK
  // §9): a stream that went on would reissue their seqs. Its records that continue a stream's
  // head are taken, as from any journal (a stream restored from a backup, say).
  for (auto& [key, js] : *set_aside) {
    StreamWal* s = FindStream(key.first, key.second);
    const std::string why = "the commit journal set aside as " + js.source +
                            " holds records of this stream up to seq " +
                            std::to_string(js.frames.back().record.seq) + " that it lacks";
    if (s == nullptr) {
      RON_RETURN_IF_ERROR(AddFrozenStream(key.first, key.second, Status(Code::kFrozen, why)));
      continue;
    }
    if (s->state_ != StreamState::kOk || s->head_seq_ >= js.frames.back().record.seq) continue;
    RON_RETURN_IF_ERROR(RestageFromJournal(s, js));
    if (s->state_ == StreamState::kOk && s->head_seq_ < js.frames.back().record.seq) {
      Freeze(s, Status(Code::kSeqGap, why));
    }
  }
  set_aside->clear();
  by_stream->clear();
  RON_RETURN_IF_ERROR(CommitStreams(/*force_sync=*/true));
  if (journals_read_.empty()) return Status::Ok();
  // A journal's records may be in segments that were never synced (a kill -9 leaves them in the
  // page cache, found whole by the scan): sync them all before the journal goes.
  const int dir_fd = open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int rc = dir_fd < 0 ? -errno : (syncfs(dir_fd) == 0 ? 0 : -errno);
  if (dir_fd >= 0) close(dir_fd);
  if (rc < 0) return IoErrorStatus(rc, "syncfs before removing applied commit journals");
  // A journal holding records of a stream that ended frozen may hold its only copy of them: it
  // is set aside for the operator (never applied again, so that it cannot later vouch for a cut
  // of records synced since). Journals with other WALs' streams are the engine's to retire.
  bool changed = false;
  for (const JournalRead& read : journals_read_) {
    bool frozen = false;
    for (const auto& key : read.streams) {
      const StreamWal* s = FindStream(key.first, key.second);
      frozen = frozen || s == nullptr || s->state_ != StreamState::kOk;
    }
    if (read.foreign) {
      if (frozen) journals_to_set_aside_.push_back(read.path);
      continue;
    }
    if (frozen) {
      RON_RETURN_IF_ERROR(SetJournalAside(read.path));
    } else if (unlink(read.path.c_str()) != 0 && errno != ENOENT) {
      return IoErrorStatus(-errno, "cannot remove applied commit journal " + read.path);
    }
    changed = true;
  }
  journals_read_.clear();
  return changed ? FsyncDir(options_.dir) : Status::Ok();
}

Status Wal::StartJournal() {
  if (options_.journal_min_files == 0 || options_.fsync != FsyncPolicy::kAlways ||
      options_.write_mode != WriteMode::kBuffered || !syncfs_reports_errors_) {
    return Status::Ok();
  }
  auto created = JournalWriter::Create(options_.dir, options_.faults,
                                       options_.backend != IoBackendKind::kPwritev);
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

bool Wal::BuildJournalBatch(std::span<const WriteOp> ops,
                            const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                            std::span<const char> in_journal, std::span<const int> results) {
  BeginJournalBatch(&journal_batch_);
  for (size_t i = 0; i < ops.size(); ++i) {
    // A failed write's frames are not stored (no results: none has failed yet).
    if (!in_journal[i] || (!results.empty() && results[i] != 0)) continue;
    const StreamWal* s = chunk_ends[i].first;
    journal_batch_.append(s->pending_.data() + s->held_bytes_,
                          s->pending_frames_.back().end - s->held_bytes_);  // held: journaled
  }
  if (journal_batch_.size() == kJournalBatchHeaderBytes) return false;
  EndJournalBatch(&journal_batch_, journal_->generation());
  return true;
}

void Wal::StartJournalAppend(std::span<const WriteOp> ops,
                             const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                             std::span<const char> in_journal) {
  journal_started_ = BuildJournalBatch(ops, chunk_ends, in_journal, {});
  if (journal_started_) journal_->BeginAppend(journal_batch_);
}

int Wal::FinishJournalAppend(std::span<const WriteOp> ops,
                             const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                             std::span<const char> in_journal, std::span<int> results) {
  if (!journal_started_) return 0;
  journal_started_ = false;
  int rc = journal_->FinishAppend();
  if (rc == 0) ++counters_.fsync_total;  // counted if it succeeds, as FlushFile counts
  ++counters_.journal_commits;
  bool write_failed = false;
  for (size_t i = 0; i < ops.size(); ++i) {
    write_failed = write_failed || (in_journal[i] && results[i] != 0);
  }
  if (rc == 0 && write_failed) {
    // The batch holds frames of streams whose segment write failed (never acknowledged, so
    // recovery must not put them back): it is cut out, and the others' frames appended again.
    // If the cut fails, the others' frames are durable in it all the same, and the failed
    // streams' outcome is unknown (cut_failed); the journal takes no more batches.
    if (journal_->CutLast() == 0) {
      const bool any = BuildJournalBatch(ops, chunk_ends, in_journal, results);
      rc = any ? journal_->Append(journal_batch_) : 0;
      if (any && rc == 0) ++counters_.fsync_total;
    } else {
      journal_ok_ = false;
    }
  }
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

int Wal::WriteOutHeld(StreamWal* s) {
  const size_t held = s->held_bytes_;
  if (held == 0) return 0;
  if (s->fd_ < 0) return -EBADF;  // Park writes them out before it closes the fd
  const int rc = WriteAll(s->fd_, std::string_view(s->pending_.data(), held), s->write_offset_,
                          options_.faults);
  if (rc < 0) return rc;
  s->write_offset_ += held;
  ++s->segment_writes_;
  s->segment_write_bytes_ += held;
  counters_.bytes_written += held;
  s->pending_.erase(0, held);  // what follows is staged, not committed yet
  auto& frames = s->pending_frames_;
  frames.erase(frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(s->held_frames_));
  for (StreamWal::PendingFrame& f : frames) f.end -= held;
  held_total_ -= held;
  s->held_bytes_ = s->held_frames_ = 0;
  MaybeRequestNextSegment(s);
  return 0;
}

Status Wal::WriteOutHeld(const std::string& writer_id, const std::string& stream) {
  StreamWal* s = FindStream(writer_id, stream);
  if (s == nullptr) return Status::Ok();
  // A stream that stopped gave up frames it could not write (they are in the kept journal).
  if (s->state_ != StreamState::kOk) return s->failure_;
  if (s->held_bytes_ == 0) return Status::Ok();
  if (const int rc = WriteOutHeld(s); rc < 0) {
    const Status status = IoErrorStatus(rc, "WAL write of " + s->stream_);
    Fail(s, status);
    return status;
  }
  return Status::Ok();
}

int Wal::PadToBlock(StreamWal* s) {
  if (s->write_offset_ % segment::kPaddingAlignBytes == 0) return 0;
  std::string padding;
  segment::AppendPadding(s->write_offset_, &padding);
  const int rc = WriteAll(s->fd_, padding, s->write_offset_, options_.faults);
  if (rc == 0) s->write_offset_ += padding.size();
  return rc;
}

bool Wal::JournalBatchTooLarge(const std::function<bool(const StreamWal*)>& to_journal) const {
  uint64_t batch_bytes = 0;
  for (const StreamWal* s : dirty_) {
    if (s->state_ == StreamState::kOk && to_journal(s)) {
      batch_bytes += s->pending_.size() - s->held_bytes_;
    }
  }
  return batch_bytes > options_.journal_max_batch_bytes;
}

Status Wal::SyncJournaled() {
  if (journal_ == nullptr) return Status::Ok();
  const std::vector<StreamWal*> epoch = journaled_;  // Fail takes streams out of journaled_
  Status first_error;
  const auto fail = [&](StreamWal* s, const Status& status) {
    if (s->state_ == StreamState::kOk) Fail(s, status);
    if (first_error.ok()) first_error = status;
  };
  for (StreamWal* s : epoch) {
    if (s->fd_ < 0 || s->state_ != StreamState::kOk) continue;
    if (const int rc = WriteOutHeld(s); rc < 0) {
      fail(s, IoErrorStatus(rc, "WAL write of " + s->stream_));
    } else if (const int pad = PadToBlock(s); pad < 0) {
      fail(s, IoErrorStatus(pad, "padding of " + s->stream_));
    }
  }
  if (!epoch.empty()) {
    const int rc = FlushFile(journal_->fd(), /*whole_fs=*/true);
    // syncfs cannot say whose write-back failed: each stream's own fdatasync does (a stream
    // whose file is closed cannot tell: it counts as failed, and Fail keeps the journal).
    for (StreamWal* s : epoch) {
      if (rc == 0 || !s->journaled_ || s->state_ != StreamState::kOk) continue;
      int own = -EIO;
      if (s->fd_ >= 0) own = FlushFile(s->fd_);
      if (own < 0) fail(s, IoErrorStatus(own, "fdatasync of " + s->stream_));
    }
  }
  // A journal kept for a stream that failed before its frames were synced stays as it is
  // until a reopen applies it; the streams with records in it stop too: going on without it,
  // they would sync records it could later vouch for cutting (JournalCoversCut).
  if (journal_needed_) {
    journal_ok_ = false;
    const int e = journal_needed_errno_;
    const std::string full = e == ENOSPC || e == EDQUOT ? "disk_full: " : "";
    for (StreamWal* s : epoch) {
      fail(s, Status(Code::kIo,
                     full + "the commit journal is kept for a stream whose write or sync failed; " +
                         s->stream_ + " has records in it and stops until a reopen",
                     e));
    }
    for (StreamWal* s : epoch) s->journaled_ = false;
    journaled_.clear();
    return first_error;
  }
  // Everything the journal holds is synced in the segments now (a stream that failed synced
  // its own, or the journal would be needed): it is emptied, or removed if it can take no more
  // batches. Left in place, it could later vouch for a cut of records synced since.
  for (StreamWal* s : epoch) s->journaled_ = false;
  journaled_.clear();
  if (journal_ok_ && journal_->end_offset() == kJournalHeaderBytes) return first_error;
  Status retired;
  if (journal_ok_) {
    if (const int rc = journal_->Reset(); rc < 0) {
      journal_ok_ = false;
      retired = IoErrorStatus(rc, "cannot empty the commit journal " + journal_->path());
    }
  }
  if (!journal_ok_) {
    const std::string path = journal_->path();
    const Status removed = journal_->Remove();
    journal_.reset();
    if (!removed.ok()) {
      for (StreamWal* s : epoch) {
        fail(s, Status(Code::kIo, "the commit journal " + path + " could not be removed (" +
                                      removed.ToString() + "); " + s->stream_ +
                                      " has records in it and stops until a reopen"));
      }
      if (retired.ok()) retired = removed;
    }
  }
  return first_error.ok() ? retired : first_error;
}

// The ops written without their fdatasync (sync cleared by CommitStreams) are made durable by
// one syncfs per file system they are on (one, unless a stream's directory is a mount point of
// its own), with one device cache flush. syncfs reports an error from any file of its file
// system, not whose: after one, each of those files gets its own fdatasync, which says whether
// that file's data is durable (a file whose write-back failed reports it; the others do not
// fail for someone else's error).
void Wal::SyncFileSystems(std::span<const WriteOp> ops,
                          const std::vector<std::pair<StreamWal*, size_t>>& chunk_ends,
                          std::span<int> results) {
  std::vector<uint64_t> synced;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].sync || ops[i].dsync) continue;  // synced by its own fdatasync
    const uint64_t dev = chunk_ends[i].first->dev_;
    if (std::find(synced.begin(), synced.end(), dev) != synced.end()) continue;
    synced.push_back(dev);
    if (FlushFile(ops[i].fd, /*whole_fs=*/true) == 0) continue;
    for (size_t j = i; j < ops.size(); ++j) {
      if (ops[j].sync || chunk_ends[j].first->dev_ != dev || results[j] != 0) continue;
      results[j] = FlushFile(ops[j].fd);
    }
  }
}

Status Wal::Sync() {
  RON_RETURN_IF_ERROR(CommitStreams(true));
  RON_RETURN_IF_ERROR(SyncJournaled());
  if (options_.fsync == FsyncPolicy::kAlways) return Status::Ok();
  for (auto& [key, s] : streams_) {
    if (s->fd_ < 0 || s->state_ != StreamState::kOk) continue;
    if (const int rc = FlushFile(s->fd_); rc < 0) {
      Status status = IoErrorStatus(rc, "fdatasync of " + s->stream_);
      Fail(s.get(), status);
      return status;
    }
  }
  return Status::Ok();
}

int Wal::FlushFile(int fd, bool whole_fs) {
  if (options_.faults != nullptr) {
    if (const int rc = options_.faults->OnFsync(fd); rc < 0) return rc;
  }
  if ((whole_fs ? syncfs(fd) : fdatasync(fd)) != 0) return -errno;
  ++counters_.fsync_total;
  return 0;
}

}  // namespace ron::wal
