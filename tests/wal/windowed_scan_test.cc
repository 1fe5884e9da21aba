// The readers' windowed scan (wal/windowed_scan.h) is the whole-file scanner (ScanSegment) on
// every segment: the same outcome, detail, offsets, header and delivered frames, for random
// segments — intact, padded or not, zero-filled or sealed, and damaged every way the decision
// table knows — through windows from one largest frame up to the readers' 1 MiB.
#include "wal/windowed_scan.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/core/hash.h"
#include "engine/core/limits.h"
#include "tests/test_util.h"

namespace ron::wal {
namespace {

using segment::FrameView;
using segment::ScanOptions;
using segment::ScanResult;
using testing::TempDir;
using testing::WriteFile;

struct Delivered {
  uint64_t offset = 0, seq = 0;
  std::string json;
  Digest hash{};
  size_t size = 0;
  bool operator==(const Delivered&) const = default;
};

// A random segment as the WAL writes them, then damaged (or not) in one random way.
std::string RandomSegment(std::mt19937_64* rng, bool* sealed) {
  const auto pick = [&](uint64_t n) { return (*rng)() % n; };
  segment::SegmentHeader h;
  h.first_seq = 1;
  h.segment_no = 1;
  std::string bytes(segment::kHeaderBytes, '\0');
  segment::EncodeHeader(h, reinterpret_cast<uint8_t*>(bytes.data()));
  segment::AppendPadding(0, &bytes);
  uint64_t seq = 1;
  uint32_t frames = 0;
  const uint64_t batches = 1 + pick(12);
  for (uint64_t b = 0; b < batches; ++b) {
    for (uint64_t n = 1 + pick(30); n > 0; --n) {
      const size_t len = pick(4) == 0 ? 4096 - pick(8) : 1 + pick(2500);
      std::string json(len, 'a');
      for (char& c : json) c = static_cast<char>('a' + pick(26));
      segment::AppendFrame(seq++, json, Blake3(json), &bytes);
      ++frames;
    }
    if (pick(3) != 0) segment::AppendPadding(0, &bytes);
  }
  *sealed = pick(3) == 0;
  if (*sealed) {
    for (int i = 0; i < 4; ++i) {
      bytes[segment::kHeaderCountOffset + i] = static_cast<char>(frames >> (8 * i));
    }
  } else if (pick(3) != 0) {
    bytes.append(pick(3) * segment::kPaddingAlignBytes + pick(5000), '\0');  // preallocated
  }
  const size_t at = segment::kHeaderBytes + pick(bytes.size() - segment::kHeaderBytes);
  switch (pick(9)) {
    case 0:  // a flipped byte anywhere after the header
      bytes[at] = static_cast<char>(bytes[at] ^ (1 + pick(255)));
      break;
    case 1:  // cut anywhere
      bytes.resize(at);
      break;
    case 2: {  // a whole zero block at a 4 KiB boundary (a lost O_DIRECT write)
      const size_t block = at / segment::kPaddingAlignBytes * segment::kPaddingAlignBytes;
      for (size_t i = block; i < std::min(bytes.size(), block + segment::kPaddingAlignBytes); ++i) {
        bytes[i] = '\0';
      }
      break;
    }
    case 3:  // data after an end marker (zeros, then something)
      bytes.append(pick(9000), '\0');
      bytes.append(1 + pick(100), 'z');
      break;
    case 4: {  // a frame out of seq order at the end
      const std::string json = "{\"late\":1}";
      segment::AppendFrame(seq + 1 + pick(3), json, Blake3(json), &bytes);
      break;
    }
    case 5:  // a header that does not decode
      bytes[pick(8)] ^= 0x40;
      break;
    case 6:  // a header cut short, or nothing but it
      bytes.resize(pick(2) == 0 ? pick(segment::kHeaderBytes) : segment::kPaddingAlignBytes);
      break;
    default:  // intact
      break;
  }
  return bytes;
}

// A random segment that scans to its end intact (clean, or zero-filled after the last frame)
// and is at least `min_bytes` long; options->newest is set to fit it (an unsealed one).
std::string IntactSegment(std::mt19937_64* rng, size_t min_bytes, ScanOptions* options,
                          uint64_t* frames) {
  for (;;) {
    bool sealed = false;
    std::string file = RandomSegment(rng, &sealed);
    options->newest = !sealed;
    const ScanResult whole = segment::ScanSegment(file, *options, [](const FrameView&) {});
    const bool intact = whole.outcome == segment::ScanOutcome::kCleanEnd ||
                        whole.outcome == segment::ScanOutcome::kZeroFilledTail;
    if (intact && file.size() >= min_bytes) {
      *frames = whole.frames;
      return file;
    }
  }
}

ScanOptions RandomOptions(std::mt19937_64* rng) {
  ScanOptions o;
  o.newest = (*rng)() % 2 == 0;
  o.expected_segment_no = 1;
  o.max_record_bytes = 4096;
  o.torn_window_bytes = (*rng)() % 3 == 0 ? (*rng)() % 20000 : 0;
  o.lost_write_window_bytes = (*rng)() % 2 == 0 ? limits::kLostWriteWindowBytes : 0;
  return o;
}

void ExpectSameScan(const ScanResult& a, const ScanResult& b, const std::string& what) {
  EXPECT_EQ(a.outcome, b.outcome) << what << ": " << a.detail << " | " << b.detail;
  EXPECT_EQ(a.detail, b.detail) << what;
  EXPECT_EQ(a.frames, b.frames) << what;
  EXPECT_EQ(a.last_seq, b.last_seq) << what;
  EXPECT_EQ(a.last_hash, b.last_hash) << what;
  EXPECT_EQ(a.valid_end, b.valid_end) << what;
  EXPECT_EQ(a.bad_offset, b.bad_offset) << what;
  EXPECT_EQ(a.header.first_seq, b.header.first_seq) << what;
  EXPECT_EQ(a.header.segment_no, b.header.segment_no) << what;
  EXPECT_EQ(a.header.count, b.header.count) << what;
}

TEST(WindowedScanTest, EveryVerdictAndFrameIsTheWholeFileScannersThroughAnyWindow) {
  TempDir dir;
  const std::string path = dir.path() + "/wal-000001.seg";
  std::mt19937_64 rng(20261203);
  const size_t largest = segment::FrameBytes(4096);
  // One window of each size for all rounds, as a reader keeps one across files.
  std::vector<std::unique_ptr<FileWindow>> windows;
  for (const size_t capacity :
       {largest, largest + 1, 2 * largest + 17, size_t{64} * 1024, limits::kReadWindowBytes}) {
    windows.push_back(std::make_unique<FileWindow>(capacity));
  }
  FileContents whole;
  int slid = 0, damaged = 0, zero_tails = 0;
  std::map<segment::ScanOutcome, int> outcomes;
  for (int round = 0; round < 200; ++round) {
    bool sealed = false;
    const std::string file = RandomSegment(&rng, &sealed);
    const ScanOptions options = RandomOptions(&rng);
    std::vector<Delivered> expected;
    const ScanResult want = segment::ScanSegment(file, options, [&](const FrameView& f) {
      expected.push_back({f.offset, f.seq, std::string(f.json), f.self_hash, f.size});
    });
    damaged +=
        segment::IsCorruption(want.outcome) || want.outcome == segment::ScanOutcome::kTornTail;
    zero_tails += want.outcome == segment::ScanOutcome::kZeroFilledTail;
    outcomes[want.outcome]++;
    WriteFile(path, file);
    for (const auto& owned : windows) {
      FileWindow& window = *owned;
      const size_t capacity = window.capacity();
      const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      std::vector<Delivered> got;
      uint64_t file_bytes = 0;
      Status error;
      const ScanResult r = ScanSegmentWindowed(
          {fd, file.size(), path, &window, &whole}, options,
          [&](const FrameView& f) {
            got.push_back({f.offset, f.seq, std::string(f.json), f.self_hash, f.size});
          },
          [&] { ++slid; }, &file_bytes, &error);
      close(fd);
      ASSERT_TRUE(error.ok()) << error.ToString();
      const std::string what =
          "round " + std::to_string(round) + ", window " + std::to_string(capacity);
      ExpectSameScan(want, r, what);
      EXPECT_EQ(got, expected) << what;
      EXPECT_EQ(file_bytes, file.size()) << what;
      if (HasFailure()) return;
    }
  }
  // The cases above exercised what they are for.
  EXPECT_GT(slid, 2000);
  EXPECT_GT(damaged, 40);
  EXPECT_GT(zero_tails, 10);
  EXPECT_GE(outcomes.size(), 6u);  // of the seven rows
}

// Frames handed out stay readable until the window is about to move: a checker may hold them
// until before_slide (what ScanStream does with its batch of 64).
TEST(WindowedScanTest, FramesStayValidUntilTheWindowMoves) {
  TempDir dir;
  const std::string path = dir.path() + "/wal-000001.seg";
  std::mt19937_64 rng(7);
  ScanOptions options;
  options.expected_segment_no = 1;
  options.max_record_bytes = 4096;
  uint64_t frames_in_file = 0;
  const std::string file = IntactSegment(&rng, 200 * 1024, &options, &frames_in_file);
  WriteFile(path, file);
  FileWindow window(3 * segment::FrameBytes(4096));
  FileContents whole;
  std::vector<FrameView> held;
  std::vector<std::string> copies;
  size_t checked = 0;
  const auto check_held = [&] {
    for (size_t i = 0; i < held.size(); ++i) EXPECT_EQ(held[i].json, copies[i]);
    checked += held.size();
    held.clear();
    copies.clear();
  };
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint64_t file_bytes = 0;
  Status error;
  const ScanResult r = ScanSegmentWindowed(
      {fd, file.size(), path, &window, &whole}, options,
      [&](const FrameView& f) {
        held.push_back(f);
        copies.emplace_back(f.json);
      },
      check_held, &file_bytes, &error);
  close(fd);
  check_held();
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(checked, r.frames);
  EXPECT_GT(r.frames, 50u);
}

// A reader that has what it wants stops the scan: nothing after that frame is read (a range
// near a segment's start costs a window, not the segment).
TEST(WindowedScanTest, AStopEndsTheScanAfterThatFrame) {
  TempDir dir;
  const std::string path = dir.path() + "/wal-000001.seg";
  std::mt19937_64 rng(11);
  ScanOptions options;
  options.expected_segment_no = 1;
  options.max_record_bytes = 4096;
  uint64_t frames_in_file = 0;  // an intact segment many windows long
  const std::string file = IntactSegment(&rng, 300 * 1024, &options, &frames_in_file);
  WriteFile(path, file);
  FileWindow window(64 * 1024);
  FileContents whole;
  bool stop = false;
  uint64_t delivered = 0;
  int slides = 0;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  uint64_t file_bytes = 0;
  Status error;
  const ScanResult r = ScanSegmentWindowed(
      {fd, file.size(), path, &window, &whole, &stop}, options,
      [&](const FrameView&) { stop = ++delivered == 10; }, [&] { ++slides; }, &file_bytes, &error);
  close(fd);
  ASSERT_TRUE(error.ok());
  EXPECT_EQ(delivered, 10u);
  EXPECT_EQ(r.frames, 10u);
  EXPECT_GT(frames_in_file, 10u);
  EXPECT_EQ(slides, 1);  // the first window only
}

}  // namespace
}  // namespace ron::wal
