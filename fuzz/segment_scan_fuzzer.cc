// Arbitrary bytes as a segment file. Properties: the scanner never crashes or reads out of bounds
// (ASan), and never delivers a frame unless its length and checksum hold and its seq continues.
// The frame check here is independent of segment/segment_format.cc: it reads the docs/FORMAT.md §3
// layout byte by byte and recomputes the XXH3-64 itself, so a bug shared by the scanner and the
// decoder cannot hide.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "segment/scanner.h"

namespace {

uint64_t LoadLe(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// docs/FORMAT.md §3: len(4) v(1) seq(8) json(len) self_hash(32) checksum(8) = XXH3-64 of the rest.
void CheckFrame(const uint8_t* data, size_t size, const ron::segment::FrameView& f,
                size_t max_record_bytes) {
  if (f.offset < ron::segment::kHeaderBytes || f.offset + 13 > size) std::abort();
  const uint8_t* p = data + f.offset;
  const uint64_t len = LoadLe(p, 4);
  if (len == 0 || len > max_record_bytes) std::abort();
  const uint64_t total = 4 + 1 + 8 + len + 32 + 8;
  if (f.size != total || f.offset + total > size) std::abort();
  if (p[4] != 1 || LoadLe(p + 5, 8) != f.seq || f.json.size() != len) std::abort();  // v = 1
  if (f.json.data() != reinterpret_cast<const char*>(p + 13)) std::abort();
  if (std::memcmp(p + 13 + len, f.self_hash.data(), 32) != 0) std::abort();
  if (XXH3_64bits(p, total - 8) != LoadLe(p + total - 8, 8)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  for (bool newest : {false, true}) {
    ron::segment::ScanOptions options;
    options.newest = newest;
    options.expected_segment_no = 1;
    options.torn_window_bytes = newest ? 8192 : 0;
    uint64_t expected_seq = 0, frames = 0, last_end = 0;
    const auto result =
        ron::segment::ScanSegment(file, options, [&](const ron::segment::FrameView& f) {
          CheckFrame(data, size, f, options.max_record_bytes);
          if (expected_seq != 0 && f.seq != expected_seq) std::abort();
          if (f.offset < last_end) std::abort();  // frames never overlap, in file order
          expected_seq = f.seq + 1;
          last_end = f.offset + f.size;
          ++frames;
        });
    if (result.frames != frames) std::abort();
    if (frames > 0 && result.valid_end < last_end) std::abort();
    if (result.valid_end > size && size >= ron::segment::kHeaderBytes) std::abort();
    // A frame is delivered only from a segment whose header decoded.
    if (frames > 0 && result.header.first_seq == 0) std::abort();
  }
  return 0;
}
