// Small value types shared by the public headers: digests, deadlines, the WAL's durability and
// I/O choices, and a stream's state. Plain values, thread-safe to copy.
#ifndef RON_AUDIT_TYPES_H_
#define RON_AUDIT_TYPES_H_

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ron_audit/export.h"

namespace ron {

// A BLAKE3-256 digest; its text form is "b3:" + 64 lowercase hex digits.
inline constexpr size_t kDigestBytes = 32;
using Digest = std::array<uint8_t, kDigestBytes>;

// "b3:" + the lowercase hex of `digest`.
RON_AUDIT_EXPORT std::string HashText(const Digest& digest);
// Parses "b3:" + exactly 64 lowercase hex digits; false otherwise ("b3:0" included).
RON_AUDIT_EXPORT bool ParseHashText(std::string_view text, Digest* digest);

// Every blocking call takes an absolute deadline on the steady clock.
using Deadline = std::chrono::steady_clock::time_point;

// When the WAL fdatasyncs (docs/FORMAT.md): kAlways before each acknowledgement (an
// acknowledged record survives power loss); kOnCheckpoint at checkpoints, Flush and Close
// (survives kill -9, not power loss); kNever only at Close.
enum class FsyncPolicy { kAlways, kOnCheckpoint, kNever };

// How batches reach the disk; both are durable under FsyncPolicy::kAlways. kBuffered: buffered
// writes, each followed by an fdatasync of its file; kDirect: O_DIRECT, 4 KiB-aligned batches
// written with RWF_DSYNC.
enum class WriteMode { kBuffered, kDirect };

// The WAL's submission path: kAuto picks io_uring when the kernel allows it, else pwritev.
enum class IoBackend { kAuto, kIoUring, kPwritev };

// A stream's state: kFrozen after corruption or a disagreement with its export (writes refused
// with Frozen, reads still served); kFailed after an I/O error (fsync errors are never retried).
enum class StreamState { kOk, kFrozen, kFailed };

}  // namespace ron

#endif  // RON_AUDIT_TYPES_H_
