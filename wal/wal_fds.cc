// A WAL's segment file descriptors: at most max_open_segments_ open at once. Past it, the
// least recently written idle stream is parked (its fd closed, synced first when the policy
// has not synced every write yet) and unparked when it is written again.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "wal/wal.h"

namespace ron::wal {

void Wal::AdoptFd(StreamWal* s, int fd) {
  struct stat st {};
  s->syncfs_ok_ = fstat(fd, &st) == 0 && SyncfsCovers(fd);
  s->dev_ = s->syncfs_ok_ ? static_cast<uint64_t>(st.st_dev) : 0;
  s->fd_ = fd;
  s->parked_ = false;
  ++open_segments_;
}

void Wal::CloseFd(StreamWal* s) {
  if (s->fd_ >= 0) {
    close(s->fd_);
    --open_segments_;
  }
  s->fd_ = -1;
  s->parked_ = false;
}

// Parks least recently written idle streams until one more segment fd fits the budget. When
// every open stream has staged records (a batch touching more streams than the budget), the
// batch is committed early so that they become idle: group commit gives way to the limit.
void Wal::MakeRoomForFd(const StreamWal* keep) {
  bool committed = false;
  while (open_segments_ >= max_open_segments_) {
    StreamWal* victim = nullptr;
    for (auto& [key, s] : streams_) {
      if (s.get() == keep || s->fd_ < 0 || s->pending_.size() > s->held_bytes_) continue;
      if (victim == nullptr || s->last_write_ < victim->last_write_) victim = s.get();
    }
    if (victim == nullptr) {
      if (committed) return;  // nothing can be parked: go over rather than fail a writer
      (void)CommitStreams(false);  // a failure is the failed streams' own (Fail)
      committed = true;
      continue;
    }
    (void)Park(victim);  // a stream that fails to sync is failed and closed by Park
  }
}

// Closes an idle stream's segment fd; it stays the active segment. Under a policy that has
// not synced every write yet, it is synced first: a closed fd can no longer be.
Status Wal::Park(StreamWal* s) {
  if (s->state_ != StreamState::kOk) {  // a failed stream never writes again
    CloseFd(s);
    return Status::Ok();
  }
  // A journaled stream's frames are synced with the others' when the journal is emptied
  // (syncfs covers closed files too); its last block is padded now, while its fd is open.
  if (s->journaled_) {
    int rc = WriteOutHeld(s);
    if (rc == 0) rc = PadToBlock(s);
    if (rc < 0) {
      const Status status = IoErrorStatus(rc, "WAL write of " + s->stream_);
      Fail(s, status);
      CloseFd(s);
      return status;
    }
  }
  if (options_.fsync != FsyncPolicy::kAlways) {
    if (const int rc = FlushFile(s->fd_); rc < 0) {
      const Status status = IoErrorStatus(rc, "fdatasync of " + s->stream_);
      Fail(s, status);
      CloseFd(s);
      return status;
    }
  }
  CloseFd(s);
  s->parked_ = true;
  ++counters_.segment_fds_parked;
  FreeWriteBuffer(s);  // a stream parked is one not written lately: its buffer goes too
  return Status::Ok();
}

Status Wal::Unpark(StreamWal* s) {
  if (!s->parked_) return Status::Ok();
  MakeRoomForFd(s);
  int fd = -1;
  RON_RETURN_IF_ERROR(
      OpenSegmentFd(s->dir_ + "/" + segment::SegmentFileName(s->segment_no_), &fd));
  AdoptFd(s, fd);
  return Status::Ok();
}

size_t SegmentFdBudget() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 32768;
  const auto soft = static_cast<size_t>(limit.rlim_cur);
  return soft > 64 ? (soft - 64) / 2 : std::max<size_t>(2, soft / 4);
}

}  // namespace ron::wal
