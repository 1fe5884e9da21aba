// Arbitrary bytes as a segment file. Properties: the scanner never crashes or reads out of bounds
// (ASan), and never delivers a frame unless its length and checksum hold and its seq continues.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "segment/scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  for (bool newest : {false, true}) {
    ron::segment::ScanOptions options;
    options.newest = newest;
    options.expected_segment_no = 1;
    options.torn_window_bytes = newest ? 8192 : 0;
    uint64_t expected_seq = 0;
    const auto result =
        ron::segment::ScanSegment(file, options, [&](const ron::segment::FrameView& f) {
          ron::segment::FrameView again;
          if (ron::segment::DecodeFrame(file, f.offset, options.max_record_bytes, &again) !=
              ron::segment::FrameStatus::kOk) {
            std::abort();
          }
          if (f.json.empty() || f.json.size() > options.max_record_bytes) std::abort();
          if (expected_seq != 0 && f.seq != expected_seq) std::abort();
          expected_seq = f.seq + 1;
        });
    if (result.valid_end > size && size >= ron::segment::kHeaderBytes) std::abort();
  }
  return 0;
}
