#include "wal/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "engine/core/check.h"
#include "segment/segment_format.h"
#include "wal/files.h"

namespace ron::wal {
namespace {

constexpr size_t kBlockBytes = segment::kPaddingAlignBytes;
static_assert(kLostWriteWindowBytes == kMaxWritesInFlight * WalOptions::kDefaultDirectBatchBytes,
              "readers and recovery must agree on the lost-write window");

// The first block of a segment: header (with `count`) and padding up to 4096, in a 4 KiB-aligned
// buffer so it can be written to O_DIRECT files too.
std::unique_ptr<char, void (*)(void*)> HeaderBlock(const segment::SegmentHeader& header) {
  void* raw = nullptr;
  RON_CHECK(posix_memalign(&raw, kBlockBytes, kBlockBytes) == 0);
  std::unique_ptr<char, void (*)(void*)> block(static_cast<char*>(raw), &free);
  std::memset(block.get(), 0, kBlockBytes);
  segment::EncodeHeader(header, reinterpret_cast<uint8_t*>(block.get()));
  std::string padding;
  segment::AppendPadding(segment::kHeaderBytes, &padding);
  std::memcpy(block.get() + segment::kHeaderBytes, padding.data(), padding.size());
  return block;
}

}  // namespace

// Whether this kernel's syncfs reports every error fdatasync would: write-back errors since
// Linux 5.8, and the file system's own sync (journal commit, cache flush) since 5.17. Before,
// syncfs could return 0 after a failure, so it could not stand in for fdatasync.
bool SyncfsReportsErrors() {
  utsname u{};
  if (uname(&u) != 0) return false;
  unsigned major = 0, minor = 0;
  if (std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
  return major > 5 || (major == 5 && minor >= 17);
}

// Local file systems whose syncfs makes durable what fdatasync of each file would (ext4, xfs,
// btrfs). Not network or FUSE file systems (fdatasync asks the server or daemon to sync, syncfs
// may not) nor overlayfs (write-back errors are recorded on the layer below).
bool SyncfsCovers(int fd) {
  struct statfs fs {};
  if (fstatfs(fd, &fs) != 0) return false;
  constexpr unsigned long kExt4 = 0xEF53, kXfs = 0x58465342, kBtrfs = 0x9123683E;
  const auto type = static_cast<unsigned long>(fs.f_type);
  return type == kExt4 || type == kXfs || type == kBtrfs;
}


bool ParseWriteMode(std::string_view name, WriteMode* mode) {
  if (name == "buffered")
    *mode = WriteMode::kBuffered;
  else if (name == "direct")
    *mode = WriteMode::kDirect;
  else
    return false;
  return true;
}

bool ParseFsyncPolicy(std::string_view name, FsyncPolicy* policy) {
  if (name == "always")
    *policy = FsyncPolicy::kAlways;
  else if (name == "on_checkpoint")
    *policy = FsyncPolicy::kOnCheckpoint;
  else if (name == "never")
    *policy = FsyncPolicy::kNever;
  else
    return false;
  return true;
}

Status WalOptions::Validate() const {
  if (dir.empty()) return Status(Code::kSchema, "wal.dir must be set");
  if (rotate_bytes < kMinRotateBytes && !allow_small_segments) {
    return Status(Code::kSchema, "wal.rotate_bytes must be at least 8MiB");
  }
  if (rotate_bytes > segment::kMaxSegmentBytes) {
    return Status(Code::kSchema, "wal.rotate_bytes must be at most 1GiB");
  }
  if (rotate_bytes < 2 * segment::kPaddingAlignBytes + limits.max_record_bytes + 64) {
    return Status(Code::kSchema, "wal.rotate_bytes is too small for one record");
  }
  if (direct_batch_bytes < 2 * segment::kPaddingAlignBytes || direct_batch_bytes > (8u << 20)) {
    return Status(Code::kSchema, "direct_batch_bytes must be in [8KiB, 8MiB]");
  }
  if (journal_max_bytes < (1ull << 20) || journal_max_bytes > kMaxJournalMaxBytes) {
    return Status(Code::kSchema, "journal_max_bytes must be in [1MiB, 1GiB]");
  }
  if (journal_max_batch_bytes == 0 || journal_max_batch_bytes > kMaxJournalBatchBytes) {
    return Status(Code::kSchema, "journal_max_batch_bytes must be in [1, 64MiB]");
  }
  return limits.Validate();
}

std::string StreamWal::HeadText() const {
  char text[kHashTextBytes];
  return std::string(ron::HeadText(head_seq_, head_hash_, text));
}

Result<std::unique_ptr<Wal>> Wal::Open(const WalOptions& options) {
  RON_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Wal> wal(new Wal(options));
  RON_RETURN_IF_ERROR(EnsurePrivateDir(options.dir, /*create=*/true));
  if (options.lock_dir) {
    auto locked = DirLock::Acquire(options.dir, "wal");
    if (!locked.ok()) return locked.status();
    wal->lock_ = std::move(locked).value();
  }
  wal->io_ = MakeIoBackend(options.backend, options.faults, &wal->backend_note_,
                           options.inline_write_max_bytes);
  if (wal->io_ == nullptr) return Status(Code::kIo, wal->backend_note_);
  wal->syncfs_reports_errors_ = SyncfsReportsErrors();
  if (options.preallocate) {
    wal->preallocator_ = std::make_unique<Preallocator>(&wal->zero_filled_);
  }
  wal->max_open_segments_ =
      options.max_open_segments != 0 ? options.max_open_segments : SegmentFdBudget();
  RON_RETURN_IF_ERROR(wal->Recover());
  return wal;
}

Wal::~Wal() {
  for (auto& [key, s] : streams_) {
    if (s->fd_ >= 0) close(s->fd_);
  }
  // Dropped without Close (a sink that failed to open after it, an engine's writer thread
  // reopening after a full disk): a journal that holds nothing goes; one that holds records is
  // the next Open's.
  if (journal_ != nullptr && journal_ok_ && journaled_.empty() &&
      journal_->end_offset() == kJournalHeaderBytes) {
    (void)journal_->Remove();  // at worst an empty journal, which the next Open removes
  }
}

Result<StreamWal*> Wal::GetStream(const std::string& writer_id, const std::string& stream) {
  const auto it = streams_.find({writer_id, stream});
  if (it != streams_.end()) return it->second.get();
  // Names must be what the record law accepts, or records could never be written to them.
  RON_RETURN_IF_ERROR(CheckName(writer_id, NameKind::kWriterId));
  RON_RETURN_IF_ERROR(CheckName(stream, NameKind::kStream));
  if (segment::EscapePathComponent(writer_id).size() > segment::kMaxEscapedNameBytes) {
    return Status(Code::kSchema, "writer_id is longer than a directory name can be once escaped");
  }
  const std::string writer_dir = options_.dir + "/" + segment::EscapePathComponent(writer_id);
  RON_RETURN_IF_ERROR(EnsurePrivateDir(writer_dir, /*create=*/true));
  // The writer's directory entry is made durable once per WAL lifetime (it may have been
  // created by a run that crashed before syncing it), not once per new stream of the writer.
  if (durable_writer_dirs_.count(writer_id) == 0) {
    RON_RETURN_IF_ERROR(FsyncDir(options_.dir));
    durable_writer_dirs_.insert(writer_id);
  }
  auto s = std::make_unique<StreamWal>();
  s->writer_id_ = writer_id;
  s->stream_ = stream;
  s->dir_ = StreamDir(options_.dir, writer_id, stream);
  RON_RETURN_IF_ERROR(EnsurePrivateDir(s->dir_, /*create=*/true));
  RON_RETURN_IF_ERROR(FsyncDir(writer_dir));
  StreamWal* raw = s.get();
  streams_[{writer_id, stream}] = std::move(s);
  MarkChanged(raw);
  ++stream_set_version_;
  return raw;
}

Status Wal::OpenSegmentFd(const std::string& path, int* fd) const {
  return OpenOwnFileForWrite(path, options_.write_mode == WriteMode::kDirect ? O_DIRECT : 0, fd);
}

Status Wal::CreateSegment(StreamWal* s, uint64_t segment_no, uint64_t first_seq) {
  const std::string path = s->dir_ + "/" + segment::SegmentFileName(segment_no);
  // A zero-filled file prepared ahead of time is renamed into place once its header is durable.
  const std::string prepared = PreallocPath(path);
  const bool use_prepared = preallocator_ != nullptr && preallocator_->Take(prepared);
  if (preallocator_ != nullptr && !use_prepared) preallocator_->Discard(prepared);  // too late
  MakeRoomForFd(s);
  int fd = -1;
  if (use_prepared) {
    RON_RETURN_IF_ERROR(OpenSegmentFd(prepared, &fd));
  } else {
    // O_EXCL: a new file of our own, never an existing one or the target of a link.
    const int direct = options_.write_mode == WriteMode::kDirect ? O_DIRECT : 0;
    fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | direct, 0600);
    if (fd < 0) return IoErrorStatus(-errno, "cannot create " + path);
  }
  segment::SegmentHeader header;
  header.first_seq = first_seq;
  header.segment_no = segment_no;
  // Frames start at 4096 so that sealing (rewriting `count`) never touches a block with frames.
  const auto block = HeaderBlock(header);
  const int rc =
      WriteAllAndSync(fd, std::string_view(block.get(), kBlockBytes), 0, options_.faults);
  if (rc < 0) {
    close(fd);
    unlink(use_prepared ? prepared.c_str() : path.c_str());
    return IoErrorStatus(rc, "cannot initialize " + path);
  }
  if (use_prepared && rename(prepared.c_str(), path.c_str()) != 0) {
    const Status status = IoErrorStatus(-errno, "cannot rename " + prepared);
    close(fd);
    return status;
  }
  if (Status synced = FsyncDir(s->dir_); !synced.ok()) {
    // The directory may not open (EMFILE): close the fd all the same, and, as the entry may
    // not be durable either, take the file back out.
    close(fd);
    unlink(path.c_str());
    return synced;
  }
  uint64_t zone = 0;  // the prepared file's zero-filled size
  if (use_prepared) {
    struct stat st {};
    zone = fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    s->zone_grown_ = std::max(s->zone_grown_, zone);
    ++counters_.segments_preallocated;
  }
  AdoptFd(s, fd);
  s->segment_no_ = segment_no;
  s->segment_first_seq_ = first_seq;
  s->segment_frames_ = 0;
  s->segment_writes_ = s->segment_write_bytes_ = 0;
  s->write_offset_ = kBlockBytes;
  s->segment_zone_ = zone;
  s->successor_path_.clear();
  ++counters_.segments_created;
  return Status::Ok();
}

Status Wal::SealActiveSegment(StreamWal* s) {
  if (s->parked_) RON_RETURN_IF_ERROR(Unpark(s));
  if (s->fd_ < 0) return Status::Ok();
  if (const int rc = WriteOutHeld(s); rc < 0) {
    return IoErrorStatus(rc, "WAL write of " + s->stream_);
  }
  RON_CHECK(s->pending_.empty());
  // Frames durable only in the journal are synced before the header says the segment is sealed:
  // one write-back may land in any order, and a sealed segment must hold all it counts.
  if (s->journaled_) {
    if (const int rc = FlushFile(s->fd_); rc < 0) {
      const Status status = IoErrorStatus(rc, "fdatasync of " + s->stream_);
      CloseFd(s);
      return status;
    }
    LeaveJournal(s);
  }
  segment::SegmentHeader header;
  header.count = static_cast<uint32_t>(s->segment_frames_);
  header.first_seq = s->segment_first_seq_;
  header.segment_no = s->segment_no_;
  const auto block = HeaderBlock(header);
  // A zero-filled segment sealed before it is full (at close) gives its unused zeros back; the
  // seal's fdatasync below also makes the new size durable.
  if (s->segment_zone_ != 0 && ftruncate(s->fd_, static_cast<off_t>(s->write_offset_)) != 0) {
    const Status status =
        IoErrorStatus(-errno, "cannot trim segment " + std::to_string(s->segment_no_));
    CloseFd(s);
    return status;
  }
  const int rc =
      WriteAllAndSync(s->fd_, std::string_view(block.get(), kBlockBytes), 0, options_.faults);
  CloseFd(s);
  if (rc < 0) return IoErrorStatus(rc, "cannot seal segment " + std::to_string(s->segment_no_));
  return Status::Ok();
}

// Staged records were never acknowledged: the head goes back to the durable one. For a stream
// that stops (Fail, Freeze): frames still held are given up here, the journal kept for them.
void Wal::DropStaged(StreamWal* s) {
  held_total_ -= s->held_bytes_;
  s->held_bytes_ = s->held_frames_ = 0;
  s->pending_.clear();
  s->pending_frames_.clear();
  s->head_seq_ = s->durable_seq_;
  s->head_hash_ = s->durable_hash_;
  MarkChanged(s);
}

void Wal::MarkChanged(StreamWal* s) {
  if (s->changed_) return;
  s->changed_ = true;
  changed_.push_back(s);
}

std::vector<const StreamWal*> Wal::TakeChangedStreams() {
  std::vector<const StreamWal*> out(changed_.begin(), changed_.end());
  for (StreamWal* s : changed_) s->changed_ = false;
  changed_.clear();
  return out;
}

void Wal::Freeze(StreamWal* s, const Status& why) {
  if (s->state_ == StreamState::kFrozen) return;
  ++counters_.corrupt_total;
  s->state_ = StreamState::kFrozen;
  s->failure_ = Status(Code::kFrozen, "stream frozen: " + why.ToString());
  ++stream_set_version_;
  if (s->held_bytes_ > 0) KeepJournal(EIO);  // only at Open today, where none are held
  DropStaged(s);
  CloseFd(s);
}

Status Wal::AddFrozenStream(const std::string& writer_id, const std::string& stream,
                            const Status& why) {
  if (StreamWal* s = FindStream(writer_id, stream)) {
    Freeze(s, why);
    return Status::Ok();
  }
  auto s = std::make_unique<StreamWal>();
  s->writer_id_ = writer_id;
  s->stream_ = stream;
  s->dir_ = StreamDir(options_.dir, writer_id, stream);
  Freeze(s.get(), why);
  streams_[{writer_id, stream}] = std::move(s);
  return Status::Ok();
}

void Wal::Fail(StreamWal* s, const Status& status) {
  s->state_ = StreamState::kFailed;
  s->failure_ = status;
  ++stream_set_version_;
  // A failed ticket means "not stored": whatever the failed batch left after the durable prefix
  // (a write that landed before its fsync failed, part of a write on a full disk) is cut, so
  // that recovery can never adopt a record whose ticket failed. If even that fails, say so.
  // A journaled stream's acknowledged frames are synced in its segment by the same fdatasync;
  // if that fails they may be only in the journal, which is then kept as it is (never emptied
  // nor removed) for the next open.
  // Frames held for the journal are written first: they were acknowledged. If that fails, the
  // file is cut before them and the journal kept, which gives them back at the next open.
  const int held = s->held_bytes_ == 0 ? 0 : WriteOutHeld(s);
  const bool pending = s->pending_frames_.size() > s->held_frames_ || held < 0;
  bool synced = false;
  if (s->fd_ >= 0 && (pending || s->journaled_)) {
    int rc = pending && ftruncate(s->fd_, static_cast<off_t>(s->write_offset_)) != 0 ? -errno : 0;
    if (rc == 0) rc = FlushFile(s->fd_);
    synced = rc == 0 && held == 0;
    if (rc != 0 && pending) {
      s->failure_ = Status(status.code(), status.message() +
                                              "; outcome unknown: the failed batch could not be "
                                              "removed (State or Read tell after a reopen)");
    }
    if (pending) s->segment_zone_ = 0;  // cut back: no zeros left after write_offset_
  }
  if (s->journaled_) {
    if (synced) {
      LeaveJournal(s);
    } else {
      KeepJournal(held < 0 ? -held : status.sys_errno());
    }
  }
  DropStaged(s);
  ++counters_.io_errors_total;
}

void Wal::KeepJournal(int err) {
  journal_ok_ = false;
  if (!journal_needed_) journal_needed_errno_ = err;
  journal_needed_ = true;
}

void Wal::LeaveJournal(StreamWal* s) {
  s->journaled_ = false;
  std::erase(journaled_, s);
}

Status Wal::Stage(StreamWal* s, const CanonicalRecord& record) {
  if (s->state_ == StreamState::kFrozen) return s->failure_;
  if (s->state_ == StreamState::kFailed) return AsIoError(s->failure_);
  if (record.record.seq != s->head_seq_ + 1) {
    return Status(Code::kSeqGap, "seq " + std::to_string(record.record.seq) + " after head " +
                                     std::to_string(s->head_seq_));
  }
  char head[kHashTextBytes];
  if (record.record.prev != ron::HeadText(s->head_seq_, s->head_hash_, head)) {
    return Status(Code::kPrevMismatch, "prev is not the stream head");
  }
  if (s->parked_) {
    Status unparked = Unpark(s);
    if (!unparked.ok()) {
      Fail(s, unparked);
      return unparked;
    }
  }
  s->last_write_ = ++write_clock_;
  if (SegmentFull(s, segment::FrameBytes(record.bytes.size()))) {
    // What is staged goes out before the segment is sealed. A failure of another stream's
    // write fails that stream alone (its records answer with it): this one goes on. The error
    // is still the batch's: the next Commit returns it (a full disk suspends the writer).
    if (Status committed = CommitStreams(false); !committed.ok() && inner_error_.ok()) {
      inner_error_ = std::move(committed);
    }
    if (s->state_ != StreamState::kOk) return AsIoError(s->failure_);
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
  s->pending_frames_.push_back({s->pending_.size(), record.record.seq, record.digest});
  ++s->segment_frames_;
  s->head_seq_ = record.record.seq;
  s->head_hash_ = record.digest;
  if (!s->dirty_) {
    s->dirty_ = true;
    dirty_.push_back(s);
  }
  MarkChanged(s);
  return Status::Ok();
}

char* Wal::Staging(size_t bytes) {
  if (bytes > staging_bytes_) {
    void* raw = nullptr;
    RON_CHECK(posix_memalign(&raw, kBlockBytes, bytes) == 0);
    staging_.reset(static_cast<char*>(raw));
    staging_bytes_ = bytes;
  }
  return staging_.get();
}

// Turns a stream's staged frames into write ops. kBuffered: one padded write (+ linked
// fdatasync). kDirect: 4 KiB-aligned chunks of at most direct_batch_bytes, each padded and
// written with RWF_DSYNC; `chunk_ends` records (stream, index of the first frame after the
// chunk) so that the durable prefix can be found afterwards.
void Wal::AppendChunks(StreamWal* s, bool sync, bool pad, std::vector<WriteOp>* ops,
                       std::vector<std::pair<StreamWal*, size_t>>* chunk_ends) {
  if (options_.write_mode == WriteMode::kBuffered) {
    if (pad) segment::AppendPadding(s->write_offset_, &s->pending_);
    ops->push_back(
        WriteOp{s->fd_, s->pending_.data(), s->pending_.size(), s->write_offset_, sync, false});
    chunk_ends->emplace_back(s, s->pending_frames_.size());
    return;
  }
  size_t frame = 0, begin = 0;
  uint64_t offset = s->write_offset_;
  while (frame < s->pending_frames_.size()) {
    size_t end_frame = frame;
    // Frames up to the limit, leaving room for a padding marker; at least one frame.
    while (end_frame < s->pending_frames_.size() &&
           (end_frame == frame ||
            s->pending_frames_[end_frame].end - begin + segment::kFrameLenBytes <=
                options_.direct_batch_bytes)) {
      ++end_frame;
    }
    const size_t end = s->pending_frames_[end_frame - 1].end;
    ops->push_back(WriteOp{s->fd_, s->pending_.data() + begin, end - begin, offset, false, sync});
    chunk_ends->emplace_back(s, end_frame);
    // The chunk is padded to the next boundary (AppendPadding); the next one starts there.
    const uint64_t chunk_end = offset + (end - begin);
    offset = chunk_end % kBlockBytes == 0 ? chunk_end : segment::AfterPadding(chunk_end);
    frame = end_frame;
    begin = end;
  }
}

Status Wal::CommitStreams(bool force_sync, bool alone) {
  std::vector<WriteOp> ops;
  std::vector<std::pair<StreamWal*, size_t>> chunk_ends;
  const bool sync = force_sync || options_.fsync == FsyncPolicy::kAlways;
  // A journal that can take no more batches: the streams with frames only in it are synced in
  // their segments first (see below: their commits may not bypass the journal).
  Status left = !journal_ok_ && !journaled_.empty() ? SyncJournaled() : Status::Ok();
  // Many files on the journal's file system: written without a sync (nor padding), made
  // durable by one append to the journal (wal/journal.h). A stream whose frames are durable
  // only in the journal commits through it whatever the count, until it is synced: so every
  // acknowledged frame after its first journaled one is in the journal, which is what lets
  // recovery take damage to them for a torn write (JournalCoversCut).
  bool journal_open = sync && journal_ok_ && options_.write_mode == WriteMode::kBuffered;
  bool use_journal = false;
  if (journal_open && !force_sync) {
    size_t covered_files = 0;
    for (const StreamWal* s : dirty_) {
      covered_files += s->pending_.size() > s->held_bytes_ && s->state_ == StreamState::kOk &&
                       JournalCovers(s);
    }
    use_journal = covered_files >= options_.journal_min_files;
  }
  const auto to_journal = [&](const StreamWal* s) {
    return journal_open && JournalCovers(s) && (use_journal || s->journaled_);
  };
  if (journal_open && JournalBatchTooLarge(to_journal)) {
    // The streams with frames only in the journal are synced in their segments, then this
    // commit syncs each file.
    const Status synced = SyncJournaled();
    if (left.ok()) left = synced;
    journal_open = false;
  }
  for (StreamWal* s : dirty_) {
    s->dirty_ = false;
    if (s->pending_.size() == s->held_bytes_ || s->state_ != StreamState::kOk) continue;
    AppendChunks(s, sync, !to_journal(s), &ops, &chunk_ends);
  }
  dirty_.clear();
  if (ops.empty()) return left;
  if (options_.write_mode == WriteMode::kDirect) {
    // Copy every chunk, padded to a whole number of blocks, into aligned memory.
    size_t total = 0;
    for (const WriteOp& op : ops)
      total += (op.size + segment::kFrameLenBytes + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
    char* out = Staging(total);
    for (WriteOp& op : ops) {
      std::string chunk(op.data, op.size);
      segment::AppendPadding(op.offset, &chunk);
      std::memcpy(out, chunk.data(), chunk.size());
      op.data = out;
      op.size = chunk.size();
      out += chunk.size();
    }
  }
  std::vector<int> results(ops.size(), 0);
  const auto started = std::chrono::steady_clock::now();
  // Many files: those on a file system syncfs covers are written without their fdatasyncs,
  // then synced with one syncfs per file system (SyncFileSystems); the others keep theirs.
  size_t covered = 0;
  if (sync && options_.write_mode == WriteMode::kBuffered && syncfs_reports_errors_ &&
      options_.syncfs_min_files > 0) {
    for (size_t i = 0; i < ops.size(); ++i) covered += chunk_ends[i].first->syncfs_ok_ ? 1 : 0;
  }
  std::vector<char> in_journal;
  size_t journal_files = 0;
  if (journal_open) {
    in_journal.resize(ops.size(), 0);
    for (size_t i = 0; i < ops.size(); ++i) {
      in_journal[i] = to_journal(chunk_ends[i].first);
      journal_files += in_journal[i];
    }
  }
  // Not while records are durable only in the journal: a syncfs would write back every
  // journaled stream's pages at random places for a commit of a few files (each file's own
  // fdatasync syncs only what it wrote).
  const bool one_sync = covered > 0 && covered >= options_.syncfs_min_files &&
                        journal_files == 0 && journaled_.empty();
  for (size_t i = 0; i < ops.size(); ++i) {
    if ((one_sync && chunk_ends[i].first->syncfs_ok_) || (journal_files > 0 && in_journal[i])) {
      ops[i].sync = false;
    }
  }
  // A journaled stream's frames may be held instead of written (WalOptions::journal_hold_bytes).
  std::vector<char> hold;
  size_t held = 0;
  if (journal_files > 0 && !force_sync && options_.journal_hold_bytes > 0) {
    hold.resize(ops.size(), 0);
    uint64_t total = held_total_;
    for (size_t i = 0; i < ops.size(); ++i) {
      const StreamWal* s = chunk_ends[i].first;
      const size_t adds = s->pending_.size() - s->held_bytes_;
      if (!in_journal[i] || s->pending_.size() >= options_.journal_hold_bytes ||
          total + adds > options_.journal_hold_total_bytes) {
        continue;
      }
      hold[i] = 1;
      total += adds;
      ++held;
    }
  }
  // The journal's write and sync go out first and run while the segments are written.
  if (journal_files > 0) StartJournalAppend(ops, chunk_ends, in_journal);
  if (held == 0) {
    io_->Execute(ops, results, alone);
  } else if (held < ops.size()) {
    std::vector<WriteOp> writes;
    std::vector<int> written(ops.size() - held, 0);
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!hold[i]) writes.push_back(ops[i]);
    }
    io_->Execute(writes, written, alone);
    for (size_t i = 0, k = 0; i < ops.size(); ++i) {
      if (!hold[i]) results[i] = written[k++];
    }
  }
  last_fsync_seconds_ = held == ops.size() ? 0 : io_->last_fsync_seconds();
  if (held < ops.size() && io_->last_on_caller()) ++counters_.commits_on_caller;
  if (journal_files > 0) {
    const auto journal_started = std::chrono::steady_clock::now();
    // Failures are in results; the other journaled streams leave the failed journal at the
    // next commit (above).
    (void)FinishJournalAppend(ops, chunk_ends, in_journal, results);
    last_fsync_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - journal_started).count();
  }
  if (one_sync) {
    const auto syncfs_started = std::chrono::steady_clock::now();
    SyncFileSystems(ops, chunk_ends, results);
    last_fsync_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - syncfs_started).count();
  }
  if (sync) {  // kBuffered: write + fdatasync; kDirect: the RWF_DSYNC writes
    fsync_histogram_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  Status first_error;
  for (size_t i = 0; i < ops.size(); ++i) {
    StreamWal* s = chunk_ends[i].first;
    if (s->state_ != StreamState::kOk) continue;  // an earlier chunk of it failed
    if (results[i] < 0) {
      Status status = IoErrorStatus(results[i], "WAL write of " + s->stream_);
      if (journal_files > 0 && in_journal[i] && journal_->cut_failed()) {
        status = Status(status.code(),
                        status.message() + "; outcome unknown: the failed batch could not be cut "
                                           "from the commit journal (State or Read tell after a "
                                           "reopen)",
                        status.sys_errno());
      }
      Fail(s, status);
      if (first_error.ok()) first_error = status;
      continue;
    }
    // This chunk and every one before it are durable: advance the durable prefix.
    const size_t next_frame = chunk_ends[i].second;
    if (options_.on_durable) {
      // Held frames were reported when their commit made them durable (they lead the chunk).
      const bool first_chunk = i == 0 || chunk_ends[i - 1].first != s;
      const size_t first_frame = first_chunk ? 0 : chunk_ends[i - 1].second;
      const size_t chunk_begin = first_frame == 0 ? 0 : s->pending_frames_[first_frame - 1].end;
      const size_t report_from = first_chunk ? s->held_frames_ : first_frame;
      size_t frame_begin = report_from == 0 ? 0 : s->pending_frames_[report_from - 1].end;
      for (size_t f = report_from; f < next_frame; ++f) {
        const StreamWal::PendingFrame& frame = s->pending_frames_[f];
        options_.on_durable(*s, frame.seq, frame.hash, s->segment_no_,
                            ops[i].offset + (frame_begin - chunk_begin));
        frame_begin = frame.end;
      }
    }
    const StreamWal::PendingFrame& last = s->pending_frames_[next_frame - 1];
    s->durable_seq_ = last.seq;
    s->durable_hash_ = last.hash;
    if (!hold.empty() && hold[i]) {  // one chunk (kBuffered): all its frames are held now
      counters_.records_written += s->pending_frames_.size() - s->held_frames_;
      held_total_ += s->pending_.size() - s->held_bytes_;
      s->held_bytes_ = s->pending_.size();
      s->held_frames_ = s->pending_frames_.size();
      continue;
    }
    s->write_offset_ = ops[i].offset + ops[i].size;
    const bool journaled = journal_files > 0 && in_journal[i];  // its pages are still dirty
    if (sync && !journaled && options_.drop_synced_pages &&
        options_.write_mode == WriteMode::kBuffered) {
      // Advisory: an error here costs speed, never data (the pages are clean).
      (void)posix_fadvise(s->fd_, static_cast<off_t>(ops[i].offset),
                          static_cast<off_t>(ops[i].size), POSIX_FADV_DONTNEED);
    }
    ++s->segment_writes_;
    s->segment_write_bytes_ += ops[i].size;
    MaybeRequestNextSegment(s);
    counters_.bytes_written += ops[i].size;
    if (ops[i].sync || ops[i].dsync) ++counters_.fsync_total;  // syncfs counts its own
    const bool last_chunk = i + 1 == ops.size() || chunk_ends[i + 1].first != s;
    if (last_chunk) {
      counters_.records_written += s->pending_frames_.size() - s->held_frames_;
      held_total_ -= s->held_bytes_;
      s->held_bytes_ = s->held_frames_ = 0;
      s->pending_.clear();
      s->pending_frames_.clear();
    }
  }
  if (journal_files > 0 && journal_ok_ && journal_->end_offset() >= options_.journal_max_bytes) {
    const Status synced = SyncJournaled();
    if (first_error.ok()) first_error = synced;
  }
  return first_error.ok() ? left : first_error;
}

Status Wal::Commit(bool alone) {
  Status committed = CommitStreams(false, alone);
  Status inner = std::exchange(inner_error_, Status::Ok());  // reported once
  return committed.ok() ? inner : committed;
}

void Wal::FreeWriteBuffer(StreamWal* s) {
  if (!s->pending_.empty()) return;  // staged, not committed yet
  std::string().swap(s->pending_);
  std::vector<StreamWal::PendingFrame>().swap(s->pending_frames_);
}

void Wal::ReleaseBuffers() {
  for (auto& [key, s] : streams_) {
    // Held frames are written out: a reader of the files finds them once the owner is idle.
    if (s->state_ == StreamState::kOk && s->held_bytes_ > 0) {
      if (const int rc = WriteOutHeld(s.get()); rc < 0) {
        Fail(s.get(), IoErrorStatus(rc, "WAL write of " + s->stream_));
      }
    }
    FreeWriteBuffer(s.get());
  }
  // kDirect's aligned copy of a commit and the journal's batch are used within a commit only.
  staging_.reset();
  staging_bytes_ = 0;
  std::string().swap(journal_batch_);
}

Status Wal::StoredDigest(StreamWal* s, uint64_t seq, Digest* digest) {
  for (const StreamWal::PendingFrame& f : s->pending_frames_) {
    if (f.seq == seq) {
      *digest = f.hash;
      return Status::Ok();
    }
  }
  const auto cached = [&] {
    if (seq < s->digest_cache_first_ || seq - s->digest_cache_first_ >= s->digest_cache_.size()) {
      return false;
    }
    *digest = s->digest_cache_[seq - s->digest_cache_first_];
    return true;
  };
  if (cached()) return Status::Ok();
  // Read the window [seq, seq + kDigestWindow) in one pass (replays go forward).
  s->digest_cache_.clear();
  s->digest_cache_first_ = seq;
  StreamReport report;
  RON_RETURN_IF_ERROR(ScanStream(s->dir_, s->writer_id_, s->stream_, options_.limits,
                                 VerifyLevel::kChecksums, &report, [&](const RecordView& r) {
                                   if (r.seq < seq) return true;
                                   s->digest_cache_.push_back(r.self_hash);
                                   return s->digest_cache_.size() < kDigestWindow;
                                 }));
  if (!cached()) return Status(Code::kIo, "seq " + std::to_string(seq) + " not found in the WAL");
  return Status::Ok();
}

Status Wal::Close() {
  Status status = Sync();
  for (auto& [key, s] : streams_) {
    if (s->state_ != StreamState::kOk) continue;
    Status sealed = SealActiveSegment(s.get());
    if (status.ok() && !sealed.ok()) status = sealed;
  }
  preallocator_.reset();  // stops its thread: a zero-fill is abandoned, unused files removed
  // Everything the journal held is in synced segments now; one kept for a stream that failed
  // (journal_ok_ false) stays for the next Open.
  if (journal_ != nullptr && journal_ok_ && journaled_.empty() &&
      journal_->end_offset() == kJournalHeaderBytes) {
    const Status removed = journal_->Remove();
    if (status.ok()) status = removed;
    journal_.reset();
    journal_ok_ = false;
  }
  return status;
}

StreamWal* Wal::FindStream(const std::string& writer_id, const std::string& stream) const {
  const auto it = streams_.find({writer_id, stream});
  return it == streams_.end() ? nullptr : it->second.get();
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
