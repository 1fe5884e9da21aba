// One test per row of the scanner's decision table (segment/scanner.h), named after the row.
#include "segment/scanner.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

namespace ron::segment {
namespace {

// Builds segment files the way the WAL writes them: header, padding to 4096, then batches that
// each end with padding to the next 4 KiB boundary.
class SegmentBuilder {
 public:
  SegmentBuilder(uint64_t first_seq, uint64_t segment_no) : next_seq_(first_seq) {
    SegmentHeader h;
    h.first_seq = first_seq;
    h.segment_no = segment_no;
    bytes_.resize(kHeaderBytes);
    EncodeHeader(h, reinterpret_cast<uint8_t*>(bytes_.data()));
    AppendPadding(0, &bytes_);
  }
  // One batch of n frames, padded.
  SegmentBuilder& Batch(int n, bool pad = true) {
    for (int i = 0; i < n; ++i) {
      const std::string json =
          "{\"seq\":" + std::to_string(next_seq_) + ",\"body\":\"" + std::string(100, 'x') + "\"}";
      frame_offsets_.push_back(bytes_.size());
      AppendFrame(next_seq_++, json, Blake3(json), &bytes_);
    }
    if (pad) AppendPadding(0, &bytes_);
    return *this;
  }
  SegmentBuilder& Seal() {
    const uint32_t count = static_cast<uint32_t>(frame_offsets_.size());
    for (int i = 0; i < 4; ++i)
      bytes_[kHeaderCountOffset + i] = static_cast<char>(count >> (8 * i));
    return *this;
  }
  std::string bytes() const { return bytes_; }
  uint64_t frame(size_t i) const { return frame_offsets_[i]; }

 private:
  std::string bytes_;
  uint64_t next_seq_;
  std::vector<uint64_t> frame_offsets_;
};

// Small helpers so each test reads like the spec.
void IncrementByte(std::string* s, uint64_t offset) {
  (*s)[offset] = static_cast<char>((*s)[offset] + 1);
}
void ShrinkSize(std::string* s, size_t bytes) { s->resize(s->size() - bytes); }

ScanResult Scan(const std::string& file, bool newest, uint64_t segment_no = 1,
                std::vector<uint64_t>* seqs = nullptr) {
  ScanOptions options;
  options.newest = newest;
  options.expected_segment_no = segment_no;
  options.max_record_bytes = 4096;
  return ScanSegment(file, options, [&](const FrameView& f) {
    if (seqs != nullptr) seqs->push_back(f.seq);
  });
}

TEST(ScannerTest, CleanEnd) {
  const SegmentBuilder b = SegmentBuilder(1, 1).Batch(3).Batch(2);
  std::vector<uint64_t> seqs;
  const ScanResult r = Scan(b.bytes(), true, 1, &seqs);
  EXPECT_EQ(r.outcome, ScanOutcome::kCleanEnd);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(r.last_seq, 5u);
  EXPECT_EQ(r.valid_end, b.bytes().size());
  // A batch without final padding also ends cleanly at end of file.
  EXPECT_EQ(Scan(SegmentBuilder(1, 1).Batch(2, /*pad=*/false).bytes(), true).outcome,
            ScanOutcome::kCleanEnd);
}

TEST(ScannerTest, ZeroFilledTail) {
  std::string file = SegmentBuilder(1, 1).Batch(4).bytes();
  const size_t end = file.size();
  file.resize(end + 3 * 4096, '\0');  // preallocated, zero-filled ahead
  const ScanResult r = Scan(file, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kZeroFilledTail);
  EXPECT_EQ(r.frames, 4u);
  EXPECT_EQ(r.valid_end, end);
}

TEST(ScannerTest, TornTail) {
  // A partial final frame.
  const SegmentBuilder b = SegmentBuilder(1, 1).Batch(2).Batch(3, /*pad=*/false);
  std::string partial = b.bytes();
  ShrinkSize(&partial, 20);
  ScanResult r = Scan(partial, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kTornTail);
  EXPECT_EQ(r.bad_offset, b.frame(4));
  EXPECT_EQ(r.frames, 4u);
  // A checksum mismatch in the last frame, nothing valid after it.
  std::string garbled = b.bytes();
  IncrementByte(&garbled, b.frame(4) + 20);
  r = Scan(garbled, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kTornTail);
  EXPECT_EQ(r.bad_offset, b.frame(4));
  EXPECT_EQ(r.frames, 4u);
  // Garbage where the length should be.
  std::string garbage = SegmentBuilder(1, 1).Batch(2).bytes() + "\x13\x37\xBE\xEF garbage";
  EXPECT_EQ(Scan(garbage, true).outcome, ScanOutcome::kTornTail);
  // Frames left behind a hole (an O_DIRECT batch written after one that failed).
  std::string orphan = SegmentBuilder(1, 1).Batch(2).bytes() + std::string(4096, '\0');
  orphan += SegmentBuilder(1, 1).Batch(1).bytes().substr(4096);
  ScanOptions direct;
  direct.newest = true;
  direct.expected_segment_no = 1;
  direct.torn_window_bytes = 32 * 8192;  // O_DIRECT batches in flight may leave this behind
  r = ScanSegment(orphan, direct, [](const FrameView&) {});
  EXPECT_EQ(r.outcome, ScanOutcome::kTornTail);
  EXPECT_EQ(r.bad_offset, 8192u);
  EXPECT_EQ(r.frames, 2u);
  // Without in-flight batches (buffered writes) the same bytes mean a zeroed record.
  EXPECT_EQ(Scan(orphan, true).outcome, ScanOutcome::kCorruptMidLog);
  // The lost-write window (recovery in either mode) covers the zeros at a 4 KiB boundary...
  ScanOptions lost;
  lost.newest = true;
  lost.expected_segment_no = 1;
  lost.lost_write_window_bytes = 32 * 8192;
  r = ScanSegment(orphan, lost, [](const FrameView&) {});
  EXPECT_EQ(r.outcome, ScanOutcome::kTornTail);
  EXPECT_EQ(r.bad_offset, 8192u);
  // ...but never a changed frame with frames after it (bitrot, tampering: freeze, do not cut),
  std::string changed = SegmentBuilder(1, 1).Batch(2).Batch(2).bytes();
  IncrementByte(&changed, SegmentBuilder(1, 1).Batch(2).Batch(2).frame(1) + 30);
  EXPECT_EQ(ScanSegment(changed, lost, [](const FrameView&) {}).outcome,
            ScanOutcome::kCorruptMidLog);
  // ...nor zeros that do not start on a 4 KiB boundary (a zeroed record inside a batch).
  const SegmentBuilder three = SegmentBuilder(1, 1).Batch(3).Batch(1);
  std::string zeroed = three.bytes();
  std::fill(zeroed.begin() + static_cast<long>(three.frame(1)),
            zeroed.begin() + static_cast<long>(three.frame(2)), '\0');
  EXPECT_EQ(ScanSegment(zeroed, lost, [](const FrameView&) {}).outcome,
            ScanOutcome::kCorruptMidLog);
  // A segment whose header was never completed.
  EXPECT_EQ(Scan(std::string(10, 'R'), true).outcome, ScanOutcome::kTornTail);
  EXPECT_EQ(Scan(std::string(4096, '\0'), true).outcome, ScanOutcome::kTornTail);
}

TEST(ScannerTest, CorruptMidLog) {
  const SegmentBuilder b = SegmentBuilder(1, 1).Batch(2).Batch(2).Batch(2);
  std::string file = b.bytes();
  IncrementByte(&file, b.frame(1) + 30);
  // In the newest segment: a later batch (on a 4 KiB boundary) proves the damage is not a torn
  // final write.
  ScanResult r = Scan(file, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kCorruptMidLog);
  EXPECT_EQ(r.bad_offset, b.frame(1));
  EXPECT_EQ(r.frames, 1u);  // only the healthy record before it is served
  // A record changed inside the final batch, with valid records after it in the same batch, is
  // corruption too: a torn write leaves nothing valid behind it.
  const SegmentBuilder last = SegmentBuilder(1, 1).Batch(1).Batch(8);
  std::string changed = last.bytes();
  IncrementByte(&changed, last.frame(4) + 20);
  r = Scan(changed, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kCorruptMidLog);
  EXPECT_EQ(r.bad_offset, last.frame(4));
  EXPECT_EQ(r.frames, 4u);
  // In an older segment any damage is corruption, even at its end.
  std::string sealed = SegmentBuilder(1, 1).Batch(3).Seal().bytes();
  IncrementByte(&sealed, 4096 + 3 * 150);
  EXPECT_EQ(Scan(sealed, false).outcome, ScanOutcome::kCorruptMidLog);
}

TEST(ScannerTest, SeqDiscontinuity) {
  const SegmentBuilder b = SegmentBuilder(1, 1).Batch(2);
  // A frame from another position: valid checksum, wrong seq.
  std::string file = b.bytes();
  std::string stray;
  const std::string json = "{\"stray\":1}";
  AppendFrame(9, json, Blake3(json), &stray);
  file += stray;
  const ScanResult r = Scan(file, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kSeqDiscontinuity);
  EXPECT_EQ(r.frames, 2u);
  EXPECT_TRUE(IsCorruption(r.outcome));
  // A segment that does not continue the previous one (a segment was deleted in between).
  ScanOptions options;
  options.newest = true;
  options.expected_segment_no = 3;
  options.expected_first_seq = 10;
  const ScanResult gap =
      ScanSegment(SegmentBuilder(20, 3).Batch(1).bytes(), options, [](const FrameView&) {});
  EXPECT_EQ(gap.outcome, ScanOutcome::kSeqDiscontinuity);
}

TEST(ScannerTest, BadHeader) {
  std::string file = SegmentBuilder(1, 1).Batch(2).bytes();
  file[0] = 'X';
  EXPECT_EQ(Scan(file, true).outcome, ScanOutcome::kBadHeader);
  // The header names another segment than the file name.
  EXPECT_EQ(Scan(SegmentBuilder(1, 7).Batch(1).bytes(), true, 1).outcome, ScanOutcome::kBadHeader);
  // A sealed count that disagrees with the frames.
  std::string sealed = SegmentBuilder(1, 1).Batch(3).Seal().bytes();
  sealed[kHeaderCountOffset] = 5;
  EXPECT_EQ(Scan(sealed, false).outcome, ScanOutcome::kBadHeader);
  // An older segment that was never sealed.
  EXPECT_EQ(Scan(SegmentBuilder(1, 1).Batch(3).bytes(), false).outcome, ScanOutcome::kBadHeader);
  EXPECT_EQ(Scan(SegmentBuilder(1, 1).Batch(3).Seal().bytes(), false).outcome,
            ScanOutcome::kCleanEnd);
}

TEST(ScannerTest, FrameTooLong) {
  const SegmentBuilder b = SegmentBuilder(1, 1).Batch(2).Batch(2);
  std::string file = b.bytes();
  file[b.frame(1) + 2] = 0x7F;  // len becomes ~8 MB, above max_record_bytes
  // Not at the tail (a later batch follows): corruption, not a torn write.
  const ScanResult r = Scan(file, true);
  EXPECT_EQ(r.outcome, ScanOutcome::kFrameTooLong);
  EXPECT_EQ(r.frames, 1u);
  // The same damage in the final batch of the newest segment is a torn tail.
  const SegmentBuilder last = SegmentBuilder(1, 1).Batch(2);
  std::string tail = last.bytes();
  tail[last.frame(1) + 2] = 0x7F;
  EXPECT_EQ(Scan(tail, true).outcome, ScanOutcome::kTornTail);
}

}  // namespace
}  // namespace ron::segment
