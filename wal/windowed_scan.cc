#include "wal/windowed_scan.h"

#include <algorithm>

#include "engine/core/check.h"
#include "engine/core/limits.h"

namespace ron::wal {

namespace seg = ::ron::segment;

static_assert(limits::kReadWindowBytes >=
                  4 * (seg::kFrameOverheadBytes + Limits::kDefaultMaxRecordBytes),
              "the readers' window holds a few of the largest frames");

segment::ScanResult ScanSegmentWindowed(
    const WindowedScanIo& io, const segment::ScanOptions& options,
    const std::function<void(const segment::FrameView&)>& on_frame,
    const std::function<void()>& before_slide, uint64_t* file_bytes, Status* error) {
  *error = Status::Ok();
  *file_bytes = io.size;
  FileWindow& window = *io.window;
  const uint64_t frame_max = seg::FrameBytes(options.max_record_bytes);
  RON_CHECK(window.capacity() >= frame_max);
  uint64_t size = io.size;  // lowered if the file turns out shorter (cut while we read)
  // The whole file, from scratch (nothing delivered yet) or from the frame at result.valid_end.
  const auto whole = [&](const seg::ScanResult* resume) {
    *error = io.whole->Read(io.fd, io.size, io.path);
    if (!error->ok()) return seg::ScanResult();
    const std::string_view file = io.whole->bytes();
    *file_bytes = file.size();
    return resume == nullptr ? seg::ScanSegment(file, options, on_frame)
                             : seg::ScanSegmentFrom(file, options, *resume, on_frame);
  };
  const auto slide = [&](uint64_t offset) {
    if (before_slide) before_slide();
    *error = window.Slide(io.fd, offset, size, io.path);
    if (window.cut()) size = *file_bytes = window.end();
    return error->ok();
  };

  window.Clear();  // it may hold the last file's bytes
  if (!slide(0)) return seg::ScanResult();
  seg::ScanResult result;
  // A header that does not decode is judged by what follows it in the whole file.
  seg::SegmentHeader header;
  if (seg::DecodeHeader(window.bytes(), &header) != seg::HeaderStatus::kOk) return whole(nullptr);
  if (!seg::ScanHeader(window.bytes(), options, &result)) return result;

  uint64_t expected_seq = result.header.first_seq;
  uint64_t offset = result.valid_end;
  while (offset < size) {
    // The window holds the largest frame from here (or the rest of the file), so a frame
    // decodes exactly as in the whole file: whole, too long, or cut by the file's end.
    if (offset + std::min(frame_max, size - offset) > window.end()) {
      if (!slide(offset)) return result;
      if (offset >= size) break;
    }
    const std::string_view bytes = window.bytes();
    const uint64_t at = offset - window.base();
    seg::FrameView frame;
    const seg::FrameStatus status = seg::DecodeFrame(bytes, at, options.max_record_bytes, &frame);
    if (status == seg::FrameStatus::kOk && frame.seq == expected_seq) {
      frame.offset = offset;  // decoded at its place in the window
      on_frame(frame);
      offset = seg::CountFrame(frame, &result);
      ++expected_seq;
      if (io.stop != nullptr && *io.stop) return result;
      continue;
    }
    if (status == seg::FrameStatus::kPadding) {
      offset = seg::AfterPadding(offset);
      result.valid_end = std::min(offset, size);
      continue;
    }
    if (status == seg::FrameStatus::kEnd) {
      // Zeros to the end of the file: the end (kZeroFilledTail). Anything else after the
      // marker is for the whole-file scanner to judge.
      uint64_t at_zero = offset;
      bool zeros = true;
      while (zeros && at_zero < size) {
        if (at_zero >= window.end() && !slide(at_zero)) return result;
        const std::string_view rest = window.bytes().substr(at_zero - window.base());
        zeros = rest.find_first_not_of('\0') == std::string_view::npos;
        at_zero = window.end();
        if (window.bytes().empty()) break;  // cut: nothing more to read
      }
      if (zeros) {
        result.outcome = seg::ScanOutcome::kZeroFilledTail;
        seg::FinishScan(options, size, offset, &result);
        return result;
      }
    }
    // Damage, a seq out of order, or data after an end marker: the whole file decides, from
    // this frame on (result.valid_end == offset: every frame before it was delivered).
    return whole(&result);
  }
  seg::FinishScan(options, size, offset, &result);
  return result;
}

}  // namespace ron::wal
