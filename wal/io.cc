#include "wal/io.h"

#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace ron::wal {
namespace {

using Clock = std::chrono::steady_clock;

bool Retryable(int negative_errno) {
  return negative_errno == -EAGAIN || negative_errno == -EINTR || negative_errno == -EBUSY;
}

// ---- pwritev + fdatasync -------------------------------------------------------------------

class PwritevBackend final : public IoBackend {
 public:
  explicit PwritevBackend(FaultInjector* faults) : faults_(faults) {}
  std::string_view name() const override { return "pwritev"; }
  double last_fsync_seconds() const override { return fsync_seconds_; }
  bool last_on_caller() const override { return true; }

  void Execute(std::span<const WriteOp> ops, std::span<int> results, bool /*alone*/) override {
    fsync_seconds_ = 0;
    for (size_t i = 0; i < ops.size(); ++i) results[i] = Run(ops[i]);
  }

 private:
  int Run(const WriteOp& op) {
    if (faults_ != nullptr) {
      if (const int e = faults_->OnWrite(op.fd, op.size); e < 0) return e;
    }
    size_t done = 0;
    const auto write_start = Clock::now();
    while (done < op.size) {
      iovec iov{const_cast<char*>(op.data + done), op.size - done};
      const ssize_t n =
          pwritev2(op.fd, &iov, 1, static_cast<off_t>(op.offset + done), op.dsync ? RWF_DSYNC : 0);
      if (n < 0) {
        if (Retryable(-errno)) continue;
        return -errno;
      }
      if (n == 0) return -EIO;  // no progress: never spin
      done += static_cast<size_t>(n);
    }
    if (op.dsync) {  // the write itself was the sync
      fsync_seconds_ += std::chrono::duration<double>(Clock::now() - write_start).count();
      if (faults_ != nullptr) {
        if (const int e = faults_->OnFsync(op.fd); e < 0) return e;
      }
    }
    if (!op.sync) return 0;
    if (faults_ != nullptr) {
      if (const int e = faults_->OnFsync(op.fd); e < 0) return e;
    }
    const auto start = Clock::now();
    const int rc = fdatasync(op.fd);
    fsync_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
    return rc == 0 ? 0 : -errno;
  }

  FaultInjector* faults_;
  double fsync_seconds_ = 0;
};

// ---- io_uring: write SQEs, each linked to an fdatasync ---------------------------------------

class IoUringBackend final : public IoBackend {
 public:
  static constexpr unsigned kSqEntries = 64;  // bounds the ops in flight (2 SQEs per op)
  static constexpr size_t kMaxOpsInFlight = kMaxWritesInFlight;
  static_assert(2 * kMaxOpsInFlight <= kSqEntries, "a write and its fsync per op");

  IoUringBackend(io_uring ring, FaultInjector* faults, size_t inline_max_bytes)
      : ring_(ring), faults_(faults), inline_(faults), inline_max_bytes_(inline_max_bytes) {}
  ~IoUringBackend() override { io_uring_queue_exit(&ring_); }
  std::string_view name() const override { return "io_uring"; }
  double last_fsync_seconds() const override { return fsync_seconds_; }
  bool last_on_caller() const override { return on_caller_; }

  void Execute(std::span<const WriteOp> ops, std::span<int> results, bool alone) override {
    // One small write, one write its caller waits for alone, or writes that wait on nothing
    // (no fdatasync, no RWF_DSYNC: copies into the page cache, as when the WAL syncs the file
    // system afterwards): on this thread (see kDefaultInlineWriteBytes). 0 sends everything
    // through the ring.
    const bool none_waits = std::none_of(ops.begin(), ops.end(),
                                         [](const WriteOp& op) { return op.sync || op.dsync; });
    on_caller_ = inline_max_bytes_ > 0 &&
                 ((ops.size() == 1 && (alone || ops[0].size <= inline_max_bytes_)) || none_waits);
    if (on_caller_) {
      inline_.Execute(ops, results, alone);
      fsync_seconds_ = inline_.last_fsync_seconds();
      return;
    }
    fsync_seconds_ = 0;
    for (size_t begin = 0; begin < ops.size(); begin += kMaxOpsInFlight) {
      const size_t end = std::min(ops.size(), begin + kMaxOpsInFlight);
      RunChunk(ops.subspan(begin, end - begin), results.subspan(begin, end - begin));
    }
  }

 private:
  struct OpState {
    size_t done = 0;  // bytes written so far
    bool write_pending = false;
    bool fsync_pending = false;
    bool resubmit = false;  // a short write: the rest (and the fsync) go out again
    int error = 0;
  };

  void Prep(const WriteOp& op, size_t index, OpState* st) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    io_uring_prep_write(sqe, op.fd, op.data + st->done, static_cast<unsigned>(op.size - st->done),
                        op.offset + st->done);
    if (op.dsync) sqe->rw_flags = RWF_DSYNC;
    io_uring_sqe_set_data64(sqe, index << 1);
    st->write_pending = true;
    if (!op.sync) return;
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe* fsync = io_uring_get_sqe(&ring_);
    io_uring_prep_fsync(fsync, op.fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(fsync, index << 1 | 1);
    st->fsync_pending = true;
  }

  void RunChunk(std::span<const WriteOp> ops, std::span<int> results) {
    std::vector<OpState> states(ops.size());
    size_t in_flight = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (faults_ != nullptr) {
        if (const int e = faults_->OnWrite(ops[i].fd, ops[i].size); e < 0) {
          states[i].error = e;
          continue;
        }
      }
      Prep(ops[i], i, &states[i]);
      in_flight += ops[i].sync ? 2 : 1;
    }
    const auto start = Clock::now();
    while (in_flight > 0) {
      const int submitted = io_uring_submit_and_wait(&ring_, 1);
      if (submitted < 0 && !Retryable(submitted)) {
        for (size_t i = 0; i < ops.size(); ++i) {
          if (states[i].write_pending || states[i].fsync_pending) states[i].error = submitted;
        }
        // Drain what the kernel still owns before we give the buffers back.
        DrainAll(&in_flight);
        break;
      }
      io_uring_cqe* cqe = nullptr;
      unsigned head = 0, seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        --in_flight;
        Complete(ops, &states, io_uring_cqe_get_data64(cqe), cqe->res, start);
      }
      io_uring_cq_advance(&ring_, seen);
      // Resubmit the rest of short writes once their whole link has completed.
      for (size_t i = 0; i < ops.size(); ++i) {
        OpState& st = states[i];
        if (st.resubmit && !st.write_pending && !st.fsync_pending && st.error == 0) {
          st.resubmit = false;
          Prep(ops[i], i, &st);
          in_flight += ops[i].sync ? 2 : 1;
        }
      }
    }
    for (size_t i = 0; i < ops.size(); ++i) results[i] = states[i].error;
  }

  void Complete(std::span<const WriteOp> ops, std::vector<OpState>* states, uint64_t data, int res,
                Clock::time_point start) {
    const size_t index = static_cast<size_t>(data >> 1);
    OpState& st = (*states)[index];
    const WriteOp& op = ops[index];
    if ((data & 1) == 0) {  // the write
      st.write_pending = false;
      if (res < 0) {
        if (Retryable(res)) {
          st.resubmit = true;
        } else if (st.error == 0) {
          st.error = res;
        }
      } else if (res == 0) {
        if (st.error == 0) st.error = -EIO;  // no progress is an error, never a spin
      } else {
        st.done += static_cast<size_t>(res);
        if (st.done < op.size) {
          st.resubmit = true;   // short write: the linked fsync is canceled
        } else if (op.dsync) {  // the write was the sync
          fsync_seconds_ =
              std::max(fsync_seconds_, std::chrono::duration<double>(Clock::now() - start).count());
          if (faults_ != nullptr && st.error == 0) {
            if (const int e = faults_->OnFsync(op.fd); e < 0) st.error = e;
          }
        }
      }
      return;
    }
    st.fsync_pending = false;  // the fdatasync
    // The batch is durable when its slowest linked fdatasync completes (they run in parallel).
    fsync_seconds_ =
        std::max(fsync_seconds_, std::chrono::duration<double>(Clock::now() - start).count());
    if (res == -ECANCELED && st.resubmit) return;  // canceled by our own short write
    if (res < 0 && st.error == 0) {
      st.error = res;  // includes -ECANCELED after a failed write: never retried
      return;
    }
    if (res == 0 && faults_ != nullptr && st.error == 0) {
      if (const int e = faults_->OnFsync(op.fd); e < 0) st.error = e;
    }
  }

  void DrainAll(size_t* in_flight) {
    while (*in_flight > 0) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring_, &cqe) < 0) break;
      io_uring_cqe_seen(&ring_, cqe);
      --*in_flight;
    }
  }

  io_uring ring_;
  FaultInjector* faults_;
  PwritevBackend inline_;
  const size_t inline_max_bytes_;
  bool on_caller_ = false;
  double fsync_seconds_ = 0;
};

bool InitRing(io_uring* ring, std::string* note) {
  // Newest flags first; older kernels reject them with EINVAL.
  const unsigned kFlagSets[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
                                IORING_SETUP_COOP_TASKRUN, 0};
  int rc = 0;
  for (unsigned flags : kFlagSets) {
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = 2 * IoUringBackend::kSqEntries;  // CQ at least 2× the SQ
    rc = io_uring_queue_init_params(IoUringBackend::kSqEntries, ring, &params);
    if (rc == 0) return true;
  }
  *note = std::string("io_uring_queue_init failed (") + std::strerror(-rc) +
          "); using pwritev + fdatasync";
  return false;
}

}  // namespace

bool ParseIoBackendKind(std::string_view name, IoBackendKind* kind) {
  if (name == "auto")
    *kind = IoBackendKind::kAuto;
  else if (name == "io_uring")
    *kind = IoBackendKind::kIoUring;
  else if (name == "pwritev")
    *kind = IoBackendKind::kPwritev;
  else
    return false;
  return true;
}

std::unique_ptr<IoBackend> MakeIoBackend(IoBackendKind kind, FaultInjector* faults,
                                         std::string* note, size_t inline_write_max_bytes) {
  note->clear();
  if (kind != IoBackendKind::kPwritev) {
    io_uring ring;
    if (InitRing(&ring, note)) {
      return std::make_unique<IoUringBackend>(ring, faults, inline_write_max_bytes);
    }
    if (kind == IoBackendKind::kIoUring) return nullptr;
  }
  return std::make_unique<PwritevBackend>(faults);
}

int WriteAllAndSync(int fd, std::string_view data, uint64_t offset, FaultInjector* faults) {
  if (const int rc = WriteAll(fd, data, offset, faults); rc < 0) return rc;
  if (faults != nullptr) {
    if (const int e = faults->OnFsync(fd); e < 0) return e;
  }
  return fdatasync(fd) == 0 ? 0 : -errno;
}

int WriteAll(int fd, std::string_view data, uint64_t offset, FaultInjector* faults) {
  if (faults != nullptr) {
    if (const int e = faults->OnWrite(fd, data.size()); e < 0) return e;
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

Status IoErrorStatus(int negative_errno, std::string_view what) {
  const int e = -negative_errno;
  const char* prefix = e == ENOSPC || e == EDQUOT ? "disk_full: " : "";
  return Status(Code::kIo, prefix + std::string(what) + ": " + std::strerror(e), e);
}

}  // namespace ron::wal
