// The segment scanner (segment/scanner.h) over a window of the file instead of the whole of it:
// the readers' (ScanStream's) way through a segment. Frames are decoded and delivered while
// the window holds them whole; what the window alone cannot decide (damage, an end marker with
// anything but zeros after it, a seq out of order, a header that does not decode) is handed to
// the whole-file scanner, which reads the file once more and goes on from the same frame.
// Every outcome, every delivered frame and every offset are therefore ScanSegment's on the
// whole file (tests/wal/windowed_scan_test.cc holds them to it, window sizes down to one
// frame). Intact segments, by far the common case, are read once, through the window.
//
// Thread-compatible.
#ifndef WAL_WINDOWED_SCAN_H_
#define WAL_WINDOWED_SCAN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "segment/scanner.h"
#include "wal/files.h"

namespace ron::wal {

struct WindowedScanIo {
  int fd = -1;                    // open for reading; not closed here
  uint64_t size = 0;              // of the file, as measured when it was opened
  std::string path;               // for error messages
  FileWindow* window = nullptr;   // REQUIRES: capacity >= the largest frame (a few times it)
  FileContents* whole = nullptr;  // read into when the whole file is needed
  // When *stop turns true in on_frame (the caller has what it wants), the scan ends after that
  // frame: the result then covers the frames delivered, and its outcome says nothing about the
  // rest of the file, which is not read.
  const bool* stop = nullptr;
};

// Scans the segment file `io` names, as ScanSegment would scan all of its bytes. A frame given
// to `on_frame` stays valid until `before_slide` is called (the window is about to move) or
// the scan returns, whichever comes first. *file_bytes: the bytes the file held as it was
// read (below io.size if it shrank meanwhile). *error: a read that failed (the result is then
// meaningless).
segment::ScanResult ScanSegmentWindowed(
    const WindowedScanIo& io, const segment::ScanOptions& options,
    const std::function<void(const segment::FrameView&)>& on_frame,
    const std::function<void()>& before_slide, uint64_t* file_bytes, Status* error);

}  // namespace ron::wal

#endif  // WAL_WINDOWED_SCAN_H_
