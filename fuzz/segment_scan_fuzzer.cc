// Arbitrary bytes as a segment file. Properties: the scanner never crashes or reads out of bounds
// (ASan), and never delivers a frame unless its length and checksum hold and its seq continues;
// the readers' windowed scan of the same bytes (wal/windowed_scan.h) gives the same verdict and
// the same frames.
// The frame check here is independent of segment/segment_format.cc: it reads the docs/FORMAT.md §3
// layout byte by byte and recomputes the XXH3-64 itself, so a bug shared by the scanner and the
// decoder cannot hide.
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "segment/scanner.h"
#include "wal/windowed_scan.h"

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

struct Seen {
  uint64_t offset, seq, size;
  bool operator==(const Seen&) const = default;
};

// The same bytes through a memfd and a window of two largest frames: the same scan, or abort.
void CompareWindowed(std::string_view file, const ron::segment::ScanOptions& options,
                     const ron::segment::ScanResult& whole, const std::vector<Seen>& frames) {
  const int fd = memfd_create("segment", MFD_CLOEXEC);
  if (fd < 0) return;  // no memfd here: nothing to compare against
  for (size_t done = 0; done < file.size();) {
    const ssize_t n = write(fd, file.data() + done, file.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  ron::wal::FileWindow window(2 * ron::segment::FrameBytes(options.max_record_bytes));
  ron::wal::FileContents contents;
  std::vector<Seen> seen;
  uint64_t file_bytes = 0;
  ron::Status error;
  const auto on_frame = [&](const ron::segment::FrameView& f) {
    seen.push_back({f.offset, f.seq, f.size});
  };
  const auto r = ron::wal::ScanSegmentWindowed({fd, file.size(), "fuzz", &window, &contents},
                                               options, on_frame, {}, &file_bytes, &error);
  close(fd);
  if (!error.ok() || file_bytes != file.size()) std::abort();
  if (r.outcome != whole.outcome || r.detail != whole.detail || r.frames != whole.frames ||
      r.valid_end != whole.valid_end || r.bad_offset != whole.bad_offset ||
      r.last_seq != whole.last_seq || r.last_hash != whole.last_hash || seen != frames) {
    std::abort();
  }
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
    std::vector<Seen> delivered;
    const auto result =
        ron::segment::ScanSegment(file, options, [&](const ron::segment::FrameView& f) {
          CheckFrame(data, size, f, options.max_record_bytes);
          delivered.push_back({f.offset, f.seq, f.size});
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
    CompareWindowed(file, options, result, delivered);
  }
  return 0;
}
