// The engine's operational limits in one place: how much it queues, holds, retries and waits,
// and how they relate (checked at compile time). The record's own bounds are part of its
// format (ron_audit/record.h); the segment layout's are in segment/segment_format.h. Changing
// a value here changes behaviour, never a format.
#ifndef ENGINE_CORE_LIMITS_H_
#define ENGINE_CORE_LIMITS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "engine/core/canonical.h"
#include "ron_audit/record.h"

namespace ron::limits {

// ---- Memory: queues, streams, label sets -------------------------------------------------------

// Streams one writer thread holds at most (EngineOptions::max_streams_per_worker's default).
inline constexpr size_t kMaxStreamsPerWorker = 1024;
// Records a writer thread commits in one batch at most (EngineOptions::max_batch_records).
inline constexpr size_t kMaxBatchRecords = 1024;
// Streams whose queue depth a writer's queue keeps tracking once they are idle.
inline constexpr size_t kQueueTrackedStreams = 1024;
// (kind, stream) label sets of audit_appended_total per writer thread; the rest count as _other.
inline constexpr size_t kMaxLabelSets = 512;
// Checkpoint cuts one stream may have waiting for a stuck builder; it accumulates beyond.
inline constexpr size_t kMaxWaitingCutsPerStream = 16;
// Records one Engine::Read returns at most.
inline constexpr size_t kMaxReadRecords = 65536;
// The record buffer and ticket state a calling thread keeps for its next record (taken from
// the answered task its push replaced in the queue; engine/thread_scratch.h): one of each for
// Emit and OfferSealed, up to kReusedRecordBuffers of each for EmitMany and OfferSealedMany,
// buffers of at most kReusedRecordBytes capacity (a larger one is freed).
inline constexpr size_t kReusedRecordBytes = 4096;
inline constexpr size_t kReusedRecordBuffers = 256;
// Rejections logged per second before audit.log.suppressed sums up the rest.
inline constexpr uint32_t kRejectLogsPerSecond = 20;

// ---- Time ----------------------------------------------------------------------------------------

// A writer suspended by a full disk looks for free space this often.
inline constexpr std::chrono::milliseconds kSuspendedPoll{100};
// A writer thread frees the buffers it reuses from batch to batch (answered tasks, queued
// records, the WAL's write buffers) once it has had no work for this long: a writer that
// outpaces its producers runs out of work between most batches, and freeing them each time
// only allocated them anew.
inline constexpr std::chrono::milliseconds kIdleRelease{10};
// A writer whose commits cost no sync (fsync=never or on_checkpoint, sink=ram) that finds fewer
// than kGatherTasks tasks waiting lets up to kGatherDelay pass for more before it takes them,
// and is not woken by each task pushed meanwhile: else a writer that outpaces its producer
// takes a few records per batch, and pays a wake-up, a write and a batch's overhead for each
// few (one-stream Emit under fsync=never ran at half the rate of fsync=always;
// docs/PERFORMANCE_LOG.md). It looks every kGatherSlice: once a whole slice brought nothing
// (callers waiting for what is queued), it takes what is there and does not gather again for
// kGatherBackoff. Tasks that do not wait for a batch (flush, read, checkpoint), a push refused
// as full, a stream at half its queue bound, and Close end a gather; it waits for at most half
// the queue (engine/task_queue.h).
inline constexpr size_t kGatherTasks = 128;
inline constexpr std::chrono::microseconds kGatherDelay{200};
inline constexpr std::chrono::microseconds kGatherSlice{50};
inline constexpr std::chrono::milliseconds kGatherBackoff{20};
// Open waits this long for the KeyRotated records of a restart under a new key.
inline constexpr std::chrono::seconds kRestartRotationDeadline{60};
// A failing export retries after kExportBackoffFirst, doubling up to kExportBackoffMax.
inline constexpr std::chrono::milliseconds kExportBackoffFirst{100};
inline constexpr std::chrono::milliseconds kExportBackoffMax{5000};
// A reader re-reads a damaged open segment this many times, this far apart, before reporting
// it (a live writer may be mid-batch).
inline constexpr int kReaderRereads = 3;
inline constexpr std::chrono::milliseconds kReaderRereadDelay{20};

// ---- Disk ----------------------------------------------------------------------------------------

inline constexpr uint64_t kMiB = 1ull << 20;
// Readers walk a segment through a window of this many bytes (wal/windowed_scan.h): small
// enough to stay in a core's cache between the read and the walk, large enough that its
// reads are few (128 per default segment). At least a few of the largest frames.
inline constexpr size_t kReadWindowBytes = 1 * kMiB;
// wal.rotate_bytes: at least kMinRotateBytes, at most kMaxSegmentBytes (a reader refuses larger
// segment files as damage).
inline constexpr uint64_t kMinRotateBytes = 8 * kMiB;
inline constexpr uint64_t kDefaultRotateBytes = 128 * kMiB;
inline constexpr uint64_t kMaxSegmentBytes = 1024 * kMiB;
// O_DIRECT: writes in flight at once, and the bytes of each.
inline constexpr size_t kMaxWritesInFlight = 32;
inline constexpr size_t kDefaultDirectBatchBytes = 64 * 1024;
// What a crash can lose behind an acknowledged O_DIRECT write: recovery and readers cut a torn
// tail only within this window.
inline constexpr uint64_t kLostWriteWindowBytes = kMaxWritesInFlight * kDefaultDirectBatchBytes;
// Free space a suspended writer needs back before it reopens its WAL.
inline constexpr uint64_t kResumeFreeBytes = 64 * kMiB;

// ---- Files read whole --------------------------------------------------------------------------

inline constexpr size_t kMaxManifestBytes = 64 * kMiB;
inline constexpr size_t kMaxConfigFileBytes = 1 * kMiB;
inline constexpr size_t kMaxSaltBytes = 1 * kMiB;

// ---- How they relate -----------------------------------------------------------------------------

static_assert(kMinRotateBytes <= kDefaultRotateBytes && kDefaultRotateBytes <= kMaxSegmentBytes);
static_assert(kDefaultDirectBatchBytes % 4096 == 0, "O_DIRECT batches are 4 KiB aligned");
static_assert(kLostWriteWindowBytes < kMinRotateBytes,
              "the lost-write window lies within one segment");
static_assert(kResumeFreeBytes >= kMinRotateBytes,
              "a resumed writer must have room for at least one new segment");
static_assert(kMaxInputBytes >= Limits::kDefaultMaxRecordBytes + kSealSuffixBytes,
              "every sealed record fits the input bound");
static_assert(kMaxBatchRecords <= kMaxReadRecords);
static_assert(kExportBackoffFirst < kExportBackoffMax);
static_assert(kReaderRereads * kReaderRereadDelay < kSuspendedPoll * 10,
              "a reader's patience stays well below a second");
static_assert(kMaxManifestBytes <= kMaxSegmentBytes);

}  // namespace ron::limits

#endif  // ENGINE_CORE_LIMITS_H_
