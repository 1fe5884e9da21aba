// WAL segment format, version 1 (docs/FORMAT.md §3). Pure encode/decode: this folder never opens a
// file. All integers are little-endian.
//
// File name: <wal.dir>/<esc(writer_id)>/<esc(stream)>/wal-<segment_no, ≥ 6 digits>.seg
//
// Segment header, 32 bytes:
//
//   off len field
//     0   8 magic      52 4F 4E 2D 41 55 44 01  ("RON-AUD" + format version 1)
//     8   2 flags      0
//    10   2 reserved   0
//    12   4 count      records in the segment; 0 while open, written once when sealed
//    16   8 first_seq  seq of the first frame
//    24   8 segment_no the number in the file name
//
// Frames follow back to back from offset 32:
//
//   off      len  field
//     0        4  len        length of the canonical JSON, 1..max_record_bytes
//     4        1  v          record major (1), redundant for quick scans
//     5        8  seq
//    13      len  canonical JSON of the record without self_hash
//    13+len   32  self_hash  raw BLAKE3-256 digest of the JSON
//    45+len    8  checksum   XXH3-64 (seed 0) of bytes [0, 45+len) of this frame
//
// Special values of `len`:
//   0           end of data: the rest of the file is unused (files may be zero-filled ahead).
//   0xFFFFFFFF  padding: the next frame starts at the smallest multiple of 4096 (from the start
//               of the file) that is ≥ (offset of the marker) + 4.
//
// A frame at offset X is valid if and only if
//   (1) X + 4 ≤ file size, and len is neither 0 nor 0xFFFFFFFF;
//   (2) 1 ≤ len ≤ max_record_bytes;
//   (3) X + 53 + len ≤ file size;
//   (4) the checksum equals XXH3-64 of bytes [X, X + 45 + len);
//   (5) v == 1.
// Validity of the record itself (canonical JSON, self_hash, chain) is checked above this layer.
#ifndef SEGMENT_SEGMENT_FORMAT_H_
#define SEGMENT_SEGMENT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/hash.h"
#include "ron_audit/status.h"
#include "engine/core/limits.h"

namespace ron::segment {

inline constexpr uint8_t kMagic[8] = {0x52, 0x4F, 0x4E, 0x2D, 0x41, 0x55, 0x44, 0x01};
inline constexpr size_t kHeaderBytes = 32;
inline constexpr size_t kHeaderCountOffset = 12;
inline constexpr size_t kFrameLenBytes = 4;
inline constexpr size_t kFramePrefixBytes = 13;  // len + v + seq
inline constexpr size_t kFrameChecksumBytes = 8;
inline constexpr size_t kFrameOverheadBytes =
    kFramePrefixBytes + kDigestBytes + kFrameChecksumBytes;
inline constexpr uint32_t kEndMarker = 0;
inline constexpr uint32_t kPaddingMarker = 0xFFFFFFFFu;
inline constexpr size_t kPaddingAlignBytes = 4096;
inline constexpr uint8_t kRecordMajor = 1;
// No writer makes a segment longer than this (wal.rotate_bytes is bounded by it); a reader
// refuses a longer file as damaged rather than reading it whole into memory.
inline constexpr uint64_t kMaxSegmentBytes = limits::kMaxSegmentBytes;

static_assert(sizeof(kMagic) == 8);
static_assert(kHeaderBytes == 8 + 2 + 2 + 4 + 8 + 8);
static_assert(kFramePrefixBytes == 4 + 1 + 8);
static_assert(kFrameOverheadBytes == 53);

struct SegmentHeader {
  uint16_t flags = 0;
  uint16_t reserved = 0;
  uint32_t count = 0;
  uint64_t first_seq = 0;
  uint64_t segment_no = 0;
};

// Writes the 32-byte header.
void EncodeHeader(const SegmentHeader& header, uint8_t out[kHeaderBytes]);

enum class HeaderStatus {
  kOk,
  kShort,    // fewer than 32 bytes
  kAllZero,  // 32 zero bytes: a file created but never initialized
  kBadMagic,
  kBadFields  // flags or reserved not 0, or first_seq 0
};
HeaderStatus DecodeHeader(std::string_view bytes, SegmentHeader* header);

// Appends one frame. REQUIRES: 1 ≤ json.size() < 0xFFFFFFFF.
void AppendFrame(uint64_t seq, std::string_view json, const Digest& self_hash, std::string* out);
inline size_t FrameBytes(size_t json_bytes) { return kFrameOverheadBytes + json_bytes; }

// Appends a padding marker and zeros so that base_offset + out->size() becomes a multiple of
// 4096 (exactly AfterPadding() of the marker's offset). Writes nothing if already aligned.
void AppendPadding(uint64_t base_offset, std::string* out);

// Where the next frame starts after a padding marker at `offset`.
inline uint64_t AfterPadding(uint64_t offset) {
  return (offset + kFrameLenBytes + kPaddingAlignBytes - 1) / kPaddingAlignBytes *
         kPaddingAlignBytes;
}

struct FrameView {
  uint64_t offset = 0;  // of the frame in the file
  uint64_t seq = 0;
  std::string_view json;
  Digest self_hash{};
  size_t size = 0;  // total bytes of the frame
};

enum class FrameStatus {
  kOk,
  kEnd,        // len == 0
  kPadding,    // len == 0xFFFFFFFF
  kTruncated,  // the file ends inside the frame
  kTooLong,    // len > max_record_bytes
  kChecksum,   // checksum mismatch (or bad v)
};

// Decodes the frame at `offset` of `file`. On kOk fills `frame` (views into `file`).
FrameStatus DecodeFrame(std::string_view file, uint64_t offset, size_t max_record_bytes,
                        FrameView* frame);

// XXH3-64 of a frame's checked bytes.
uint64_t FrameChecksum(std::string_view bytes);

// wal-000042.seg
std::string SegmentFileName(uint64_t segment_no);
// Parses "wal-<digits>.seg"; false for anything else.
bool ParseSegmentFileName(std::string_view name, uint64_t* segment_no);

// The path escaping of docs/FORMAT.md §3: keeps [A-Za-z0-9_.@-], writes other bytes as %XX
// (uppercase hex); "." and ".." become "%2E" and "%2E%2E".
std::string EscapePathComponent(std::string_view name);
// The longest escaped name a directory can have (NAME_MAX on Linux file systems). A stream
// (64 bytes, at most 192 escaped) always fits; a writer_id of 128 bytes may not.
inline constexpr size_t kMaxEscapedNameBytes = 255;
static_assert(3 * 64 <= kMaxEscapedNameBytes, "every stream name must fit a directory name");

// "<esc(writer_id)>/<esc(stream)>": how every tool prints a stream, so that no name can make
// two streams print alike or forge a field of the line it is printed in.
std::string PrintedStreamName(std::string_view writer_id, std::string_view stream);
// Inverse of EscapePathComponent; false if `escaped` is not a valid escaping.
bool UnescapePathComponent(std::string_view escaped, std::string* name);

}  // namespace ron::segment

#endif  // SEGMENT_SEGMENT_FORMAT_H_
