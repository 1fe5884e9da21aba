#include "segment/scanner.h"

#include <algorithm>

namespace ron::segment {
namespace {

// Start of the last checksum-valid frame that begins after `from`, or 0 if there is none. Every
// byte offset is a candidate (frames after damage need not be aligned); runs of zeros are
// skipped, since a frame's length has a non-zero byte among its first four.
uint64_t LastValidFrameAfter(std::string_view file, uint64_t from, size_t max_record_bytes) {
  uint64_t last = 0;
  uint64_t pos = from + 1;
  while (pos + kFrameOverheadBytes <= file.size()) {
    if (file[pos] == '\0') {
      const size_t nonzero = file.find_first_not_of('\0', pos);
      if (nonzero == std::string_view::npos) break;
      if (nonzero > pos + 3) {  // four zero bytes at pos: no frame can start there
        pos = nonzero - 3;
        continue;
      }
    }
    FrameView frame;
    if (DecodeFrame(file, pos, max_record_bytes, &frame) == FrameStatus::kOk) {
      last = pos;
      pos += frame.size;
    } else {
      ++pos;
    }
  }
  return last;
}

// Damage at `bad_offset` is a torn final write only in the newest segment while it is still open
// (header count 0: a sealed segment's count says every frame in it was acknowledged, and nothing
// is written to it after the seal), and only if no valid frame was written after it — or, with
// several O_DIRECT batches in flight, only inside the window those batches can span (a crash can
// persist a later batch and lose an earlier one).
bool IsTornTail(std::string_view file, const SegmentHeader& header, uint64_t bad_offset,
                const ScanOptions& options, uint64_t window_bytes) {
  if (!options.newest || header.count != 0) return false;
  const uint64_t last = LastValidFrameAfter(file, bad_offset, options.max_record_bytes);
  return last == 0 || last < bad_offset + window_bytes;
}

// True if `offset` starts a 4 KiB block that is all zeros (to the end of the file if shorter).
bool IsZeroBlock(std::string_view file, uint64_t offset) {
  if (offset % kPaddingAlignBytes != 0 || offset >= file.size()) return false;
  const std::string_view block = file.substr(offset, kPaddingAlignBytes);
  return block.find_first_not_of('\0') == std::string_view::npos;
}

std::string At(uint64_t offset) { return " at offset " + std::to_string(offset); }

}  // namespace

std::string_view ScanOutcomeName(ScanOutcome outcome) {
  switch (outcome) {
    case ScanOutcome::kCleanEnd:
      return "clean_end";
    case ScanOutcome::kZeroFilledTail:
      return "zero_filled_tail";
    case ScanOutcome::kTornTail:
      return "torn_tail";
    case ScanOutcome::kCorruptMidLog:
      return "corrupt_mid_log";
    case ScanOutcome::kSeqDiscontinuity:
      return "seq_discontinuity";
    case ScanOutcome::kBadHeader:
      return "bad_header";
    case ScanOutcome::kFrameTooLong:
      return "frame_too_long";
  }
  return "unknown";
}

bool ScanHeader(std::string_view file, const ScanOptions& options, ScanResult* out) {
  ScanResult& result = *out;
  result = ScanResult();
  const HeaderStatus header_status = DecodeHeader(file, &result.header);
  if (header_status != HeaderStatus::kOk) {
    // A segment's header block is written and synced before any frame (and a prepared file is
    // renamed into place only after that), so a crash while creating one leaves at most the
    // header block, or nothing but zeros. Anything more behind a missing header is damage.
    const bool unwritten =
        (header_status == HeaderStatus::kShort || header_status == HeaderStatus::kAllZero) &&
        (file.size() <= kPaddingAlignBytes ||
         file.find_first_not_of('\0') == std::string_view::npos);
    if (options.newest && unwritten) {
      result.outcome = ScanOutcome::kTornTail;
      result.detail = "segment header never completed";
      return false;
    }
    result.outcome = ScanOutcome::kBadHeader;
    result.detail = header_status == HeaderStatus::kBadMagic ? "bad magic" : "bad header fields";
    return false;
  }
  if (result.header.segment_no != options.expected_segment_no) {
    result.outcome = ScanOutcome::kBadHeader;
    result.detail = "header names segment " + std::to_string(result.header.segment_no);
    return false;
  }
  if (options.expected_first_seq != 0 && result.header.first_seq != options.expected_first_seq) {
    // Records are missing before this segment (a deleted segment, or a chain not from seq 1).
    result.outcome = ScanOutcome::kSeqDiscontinuity;
    result.bad_offset = 0;
    result.detail = "segment starts at seq " + std::to_string(result.header.first_seq) + " where " +
                    std::to_string(options.expected_first_seq) + " was expected";
    return false;
  }
  result.valid_end = kHeaderBytes;
  return true;
}

ScanResult ScanSegment(std::string_view file, const ScanOptions& options,
                       const std::function<void(const FrameView&)>& on_frame) {
  ScanResult result;
  if (!ScanHeader(file, options, &result)) return result;
  return ScanSegmentFrom(file, options, std::move(result), on_frame);
}

ScanResult ScanSegmentFrom(std::string_view file, const ScanOptions& options, ScanResult resume,
                           const std::function<void(const FrameView&)>& on_frame) {
  ScanResult result = std::move(resume);
  uint64_t expected_seq = result.header.first_seq + result.frames;
  uint64_t offset = result.valid_end;
  for (;;) {
    FrameView frame;
    const FrameStatus status = DecodeFrame(file, offset, options.max_record_bytes, &frame);
    if (status == FrameStatus::kOk) {
      if (frame.seq != expected_seq) {
        result.outcome = ScanOutcome::kSeqDiscontinuity;
        result.bad_offset = offset;
        result.detail = "seq " + std::to_string(frame.seq) + " where " +
                        std::to_string(expected_seq) + " was expected" + At(offset);
        return result;
      }
      on_frame(frame);
      offset = CountFrame(frame, &result);
      ++expected_seq;
      continue;
    }
    if (status == FrameStatus::kPadding) {
      offset = AfterPadding(offset);
      result.valid_end = std::min<uint64_t>(offset, file.size());
      if (offset >= file.size()) break;
      continue;
    }
    if (status == FrameStatus::kEnd) {
      if (offset >= file.size()) break;  // kCleanEnd
      // In the newest segment, anything but zeros after the end is left over from writes that
      // never became part of the durable prefix (an O_DIRECT batch behind a failed one): the
      // tail is torn there and must go before new batches are written over it.
      const bool zeros = file.find_first_not_of('\0', offset) == std::string_view::npos;
      if (!zeros) {
        result.bad_offset = offset;
        // A whole zero block at a 4 KiB boundary with frames after it: the signature of an
        // O_DIRECT write lost behind later ones (each writes whole blocks from a 4 KiB
        // boundary, into zero-filled space). Four zeroed bytes of a frame are not that.
        const uint64_t window =
            IsZeroBlock(file, offset)
                ? std::max(options.torn_window_bytes, options.lost_write_window_bytes)
                : options.torn_window_bytes;
        if (IsTornTail(file, result.header, offset, options, window)) {
          result.outcome = ScanOutcome::kTornTail;
          result.detail = "data after the end of the durable prefix" + At(offset);
        } else {
          result.outcome = ScanOutcome::kCorruptMidLog;
          result.detail = "zeroed frame with valid frames after it" + At(offset);
        }
        return result;
      }
      result.outcome = ScanOutcome::kZeroFilledTail;
      break;
    }
    // Damaged: kTruncated, kTooLong or kChecksum.
    result.bad_offset = offset;
    if (IsTornTail(file, result.header, offset, options, options.torn_window_bytes)) {
      result.outcome = ScanOutcome::kTornTail;
      result.detail = "torn final write" + At(offset);
    } else if (status == FrameStatus::kTooLong) {
      result.outcome = ScanOutcome::kFrameTooLong;
      result.detail = "frame length above max_record_bytes" + At(offset);
    } else {
      result.outcome = ScanOutcome::kCorruptMidLog;
      result.detail =
          (status == FrameStatus::kChecksum ? "checksum mismatch" : "partial frame") + At(offset);
    }
    return result;
  }
  FinishScan(options, file.size(), offset, &result);
  return result;
}

void FinishScan(const ScanOptions& options, uint64_t file_size, uint64_t offset, ScanResult* out) {
  ScanResult& result = *out;
  if (offset >= file_size && result.outcome == ScanOutcome::kCleanEnd) {
    result.valid_end = file_size;
  }
  const bool sealed = result.header.count != 0;
  if (sealed && result.header.count != result.frames) {
    result.outcome = ScanOutcome::kBadHeader;
    result.detail = "sealed count " + std::to_string(result.header.count) + " but " +
                    std::to_string(result.frames) + " frames";
  } else if (!options.newest && !sealed) {
    result.outcome = ScanOutcome::kBadHeader;
    result.detail = "an older segment was never sealed";
  }
}

}  // namespace ron::segment
