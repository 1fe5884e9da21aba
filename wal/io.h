// Batched durable writes: io_uring (writes + linked fdatasync) or the pwritev fallback, plus a
// fault-injection hook for tests and chaos drills. This is where -errno becomes a Status.
//
// Thread-safety: an IoBackend is owned and used by one thread (its ring is SINGLE_ISSUER).
#ifndef WAL_IO_H_
#define WAL_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ron_audit/status.h"
#include "ron_audit/types.h"
#include "engine/core/limits.h"

namespace ron::wal {

using IoBackendKind = ::ron::IoBackend;  // ron_audit/types.h
bool ParseIoBackendKind(std::string_view name, IoBackendKind* kind);

// Test and drill hook: each call may return 0 (go on) or a negative errno to fail that
// operation as if the kernel had. Must be thread-safe if shared between WALs.
class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  virtual int OnWrite(int fd, size_t size) = 0;
  virtual int OnFsync(int fd) = 0;
};

// At most this many writes are in flight at once (the io_uring backend submits them together).
inline constexpr size_t kMaxWritesInFlight = limits::kMaxWritesInFlight;

// One write of a batch: `data` at `offset` of `fd`, followed by one fdatasync of `fd` when
// `sync` is set (ordered after the write: linked on io_uring). `dsync` makes the write itself
// durable on completion (RWF_DSYNC), for O_DIRECT segments.
struct WriteOp {
  int fd = -1;
  const char* data = nullptr;
  size_t size = 0;
  uint64_t offset = 0;
  bool sync = false;
  bool dsync = false;
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;
  virtual std::string_view name() const = 0;  // "io_uring" or "pwritev"
  // Performs every op in full (short writes and EAGAIN/EINTR/EBUSY are resubmitted) and fills
  // `results[i]` with 0 or the negative errno of the first failure of op i. A failed fdatasync is
  // reported, never retried: the kernel may already have dropped the dirty pages.
  // `alone`: the caller waits for this Execute with nothing else to do (kDefaultInlineWriteBytes
  // says what io_uring does with it). REQUIRES: results.size() == ops.size().
  virtual void Execute(std::span<const WriteOp> ops, std::span<int> results, bool alone) = 0;
  // How long the last Execute waited for durability: through io_uring's ring, from submission
  // until the slowest linked fdatasync completed; on the calling thread (pwritev, io_uring's
  // inline writes), the fdatasync calls' total.
  virtual double last_fsync_seconds() const = 0;
  // Whether the last Execute ran on the calling thread (pwritev always does).
  virtual bool last_on_caller() const = 0;
};

// io_uring: an Execute of one write of at most this many bytes runs on the calling thread
// (pwrite + fdatasync, as the pwritev backend does). Through the ring a buffered write goes to
// an io-wq worker and its completion back to the caller, two thread hops that cost more than a
// small write: one record at a time ran ~1.3x faster with p50 ~190 instead of ~260 µs
// (docs/PERFORMANCE_LOG.md). So do writes that wait on nothing (neither sync nor dsync: copies into
// the page cache, made durable later or never), and one write of any size when the caller
// waits for it alone (`alone`: the engine's writer with an empty queue behind a batch of
// sealed records, a bulk import's closed loop; 10-20 % more records a second there). Larger
// batches otherwise, and several writes at once that sync (the ring runs their fdatasyncs in
// parallel), go through the ring: under a steady load of Emits it kept more records a second
// (docs/PERFORMANCE_LOG.md).
inline constexpr size_t kDefaultInlineWriteBytes = 64 << 10;

// Creates the backend. kAuto tries io_uring and falls back to pwritev when the kernel refuses
// (seccomp, kernel.io_uring_disabled); `*note` then says why, for a one-time log line.
// `inline_write_max_bytes`: see kDefaultInlineWriteBytes (0: every write through the ring).
std::unique_ptr<IoBackend> MakeIoBackend(IoBackendKind kind, FaultInjector* faults,
                                         std::string* note,
                                         size_t inline_write_max_bytes = kDefaultInlineWriteBytes);

// Synchronous write + fdatasync for the rare paths (segment creation, sealing, recovery),
// honouring the fault injector like the batched path does: 0 or a negative errno.
int WriteAllAndSync(int fd, std::string_view data, uint64_t offset, FaultInjector* faults);
// The same without the fdatasync.
int WriteAll(int fd, std::string_view data, uint64_t offset, FaultInjector* faults);

// Converts a negative errno from a write/fsync into the stream-fatal Status (Io; ENOSPC and
// EDQUOT are reported as disk_full).
Status IoErrorStatus(int negative_errno, std::string_view what);
// `status` as an Io error, with its message and errno (a stream failed by it answers Io).
inline Status AsIoError(const Status& status) {
  return Status(Code::kIo, status.message(), status.sys_errno());
}

}  // namespace ron::wal

#endif  // WAL_IO_H_
