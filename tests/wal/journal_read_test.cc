// Reading a commit journal (wal/journal.h, ScanJournal) whatever a file holds: damage followed
// by any batch header is refused (that damaged batch was acknowledged), a batch longer than a
// writer makes is refused unread, a file longer than any journal is refused unread, holes are
// skipped, a file of batch headers on every block is read once, not once per header, and a
// live journal (emptied, or appended to, while it is read) is no damage.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/core/hash.h"
#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "wal/journal.h"

namespace ron::wal {
namespace {

constexpr size_t kBlock = 4096;

// A v3 journal's header block, of generation 1.
std::string Header() { return JournalHeaderBlock(1); }

// A whole batch with no frames: one block.
std::string EmptyBatch(uint64_t generation = 1) {
  std::string batch;
  BeginJournalBatch(&batch);
  EndJournalBatch(&batch, generation);
  return batch;
}

// The same, its checksum wrong.
std::string DamagedBatch() {
  std::string batch = EmptyBatch();
  batch[8] ^= 1;
  return batch;
}

// A batch header claiming `length` bytes of zero frames, its checksum right for them.
std::string HeaderOfZeros(uint64_t length, uint64_t generation = 1) {
  std::string checked(16 + length, '\0');
  std::memcpy(checked.data(), &length, sizeof(length));
  std::memcpy(checked.data() + 8, &generation, sizeof(generation));
  const uint64_t checksum = segment::FrameChecksum(checked);
  std::string header(kBlock, '\0');
  std::memcpy(header.data(), kJournalBatchMagic, sizeof(kJournalBatchMagic));
  std::memcpy(header.data() + 8, &checksum, sizeof(checksum));
  std::memcpy(header.data() + 16, &length, sizeof(length));
  std::memcpy(header.data() + 24, &generation, sizeof(generation));
  return header;
}

// Format v2 (an earlier build's): one header, 24-byte batch headers without a generation.
std::string HeaderV2() {
  std::string header(kJournalHeaderBytesV2, '\0');
  std::memcpy(header.data(), kJournalMagicV2, sizeof(kJournalMagicV2));
  return header;
}
std::string EmptyBatchV2() {
  std::string batch(kBlock, '\0');
  const uint64_t length = 0;
  std::memcpy(batch.data(), kJournalBatchMagicV2, sizeof(kJournalBatchMagicV2));
  const uint64_t checksum = segment::FrameChecksum(std::string_view(batch).substr(16, 8));
  std::memcpy(batch.data() + 8, &checksum, sizeof(checksum));
  std::memcpy(batch.data() + 16, &length, sizeof(length));
  return batch;
}

class JournalReadTest : public ::testing::Test {
 protected:
  // Writes `bytes` as the journal, then makes it `size` bytes long (a hole), if larger.
  void Make(const std::string& bytes, uint64_t size = 0) {
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    if (size > bytes.size()) {
      ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    }
    close(fd);
  }
  Status Scan(bool* torn) {
    batches_ = 0;
    return ScanJournal(
        path_, Limits().max_record_bytes,
        [&](uint32_t, std::string_view, std::span<const segment::FrameView>) {
          ++batches_;
          return Status::Ok();
        },
        torn);
  }

  testing::TempDir dir_;
  std::string path_ = dir_.path() + "/#journal-0123456789abcdef.jnl";
  int batches_ = 0;
};

// The magic, then a length over kMaxJournalBatchBytes: a block no writer starts.
std::string Oversized() {
  std::string block = HeaderOfZeros(0);
  const uint64_t length = kMaxJournalBatchBytes + 1;
  std::memcpy(block.data() + 16, &length, sizeof(length));
  return block;
}

TEST_F(JournalReadTest, DamageIsATornTailOnlyWhenNoBatchHeaderFollowsIt) {
  const std::string whole = EmptyBatch(), damaged = DamagedBatch();
  const std::string kAfter12288 = "offset 12288 with a commit batch header after it at offset ";
  const std::string zeros(kBlock, '\0'), junk(kBlock, 'j');
  struct Case {
    std::string after_one_whole;
    bool ok, torn;
    std::string offsets;  // named by the error
  };
  const std::vector<Case> cases = {
      {"", true, false, ""},
      {zeros + zeros, true, false, ""},
      {damaged, true, true, ""},
      {damaged + zeros + junk, true, true, ""},
      {junk + whole, false, false, kAfter12288 + "16384"},
      // A writer starts a batch only once the one before was acknowledged: a second damaged
      // batch after the first means the first was acknowledged.
      {damaged + damaged, false, false, kAfter12288 + "16384"},
      {damaged + zeros + damaged + whole, false, false, "at offset 20480"},
      {damaged + std::string(300 * kBlock, 'x') + whole, false, false,
       kAfter12288 + std::to_string(kBlock * 304)},
      // The first block of the second 1 MiB window read after the damage.
      {damaged + std::string(255 * kBlock, 'x') + whole, false, false,
       kAfter12288 + std::to_string(12288 + (1 << 20))},
      // The magic with a length no writer makes (binary frame fields can spell the magic; what
      // follows it then is no batch length): not a header, so a torn tail.
      {damaged + Oversized(), true, true, ""},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    Make(Header() + whole + cases[i].after_one_whole);
    bool torn = false;
    const Status st = Scan(&torn);
    EXPECT_EQ(st.ok(), cases[i].ok) << st.ToString();
    if (!st.ok()) {
      EXPECT_EQ(st.code(), Code::kIo);
      EXPECT_NE(st.message().find(path_), std::string::npos) << st.ToString();
      EXPECT_NE(st.message().find(cases[i].offsets), std::string::npos) << st.ToString();
      continue;
    }
    EXPECT_EQ(torn, cases[i].torn);
    EXPECT_EQ(batches_, 1);
  }
}

// No writer makes a batch of more than kMaxJournalBatchBytes of frames, and no torn write
// leaves one (the header is written whole): a longer one is refused unread, whatever its
// checksum says, and not dropped as a torn tail (an earlier build had no bound, and such a
// batch may hold acknowledged records); one of exactly that many is read.
TEST_F(JournalReadTest, ABatchLongerThanAnyWriterMakesIsRefused) {
  for (const uint64_t length : {kMaxJournalBatchBytes + 1, kMaxJournalBatchBytes}) {
    SCOPED_TRACE(length);
    const std::string head = Header() + EmptyBatch() + HeaderOfZeros(length);
    Make(head, kJournalHeaderBytes + kBlock + kJournalBatchHeaderBytes + length);
    bool torn = false;
    const Status st = Scan(&torn);
    if (length > kMaxJournalBatchBytes) {
      EXPECT_EQ(st.code(), Code::kIo);
      EXPECT_NE(st.message().find("the batch at offset 12288 claims 67108865 bytes of frames"),
                std::string::npos)
          << st.ToString();
      EXPECT_EQ(batches_, 1);
    } else {
      // Read whole, and then its frames (zeros) are no frames.
      EXPECT_EQ(st.code(), Code::kIo);
      EXPECT_NE(st.message().find("malformed frame"), std::string::npos) << st.ToString();
    }
  }
}

// No WAL writes a journal longer than kMaxJournalFileBytes: a longer file is refused before
// anything past its header is read; one of exactly that length is read to its end.
TEST_F(JournalReadTest, AFileLongerThanAnyJournalIsRefusedUnread) {
  Make(Header() + EmptyBatch(), kMaxJournalFileBytes + 1);
  bool torn = false;
  Status st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("longer than any commit journal"), std::string::npos)
      << st.ToString();
  EXPECT_EQ(batches_, 0);
  Make(Header() + EmptyBatch(), kMaxJournalFileBytes);
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(torn) << "zeros to the end";
  EXPECT_EQ(batches_, 1);
}

// Holes after damage are skipped, not taken for the end: a whole batch past a hole of more than
// the read window, at an offset that starts no window, is still found.
TEST_F(JournalReadTest, HolesAfterDamageAreSkippedNotTakenForTheEnd) {
  const uint64_t later = 8192 + 3 * (1 << 20) + 5 * kBlock;
  Make(Header() + EmptyBatch() + DamagedBatch(), later + kBlock);
  const int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::string whole = EmptyBatch();
  ASSERT_EQ(pwrite(fd, whole.data(), whole.size(), static_cast<off_t>(later)),
            static_cast<ssize_t>(whole.size()));
  close(fd);
  bool torn = false;
  Status st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("at offset " + std::to_string(later)), std::string::npos)
      << st.ToString();
  // The same hole with nothing after it: the damaged batch is a torn tail.
  Make(Header() + EmptyBatch() + DamagedBatch(), later + kBlock);
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(torn);
  EXPECT_EQ(batches_, 1);
}

// A batch header on every block, each claiming the rest of the file and none whole: refused at
// the second header, each block looked at once (it took a read and checksum of the rest of the
// file per block before).
TEST_F(JournalReadTest, HeadersOnEveryBlockAreReadOnce) {
  constexpr size_t kBlocks = 4096;  // 16 MiB
  std::string file = Header();
  for (size_t b = 0; b < kBlocks; ++b) {
    std::string header = HeaderOfZeros(0);
    const uint64_t length = (kBlocks - b) * kBlock - kJournalBatchHeaderBytes;
    std::memcpy(header.data() + 16, &length, sizeof(length));
    file += header;
  }
  Make(file);
  bool torn = false;
  const Status st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("offset 8192 with a commit batch header after it at offset 12288"),
            std::string::npos)
      << st.ToString();
  EXPECT_EQ(batches_, 0);
}

// Emptying a v3 journal advances its generation instead of truncating: the batches of an
// earlier generation that follow the journal's are stale, the end (not a torn tail, and not
// damage followed by a header), however whole they are.
TEST_F(JournalReadTest, BatchesOfAnEarlierGenerationAreStaleTheEnd) {
  const std::string header = JournalHeaderBlock(1).substr(0, kJournalSlotStride) +
                             JournalHeaderBlock(2).substr(kJournalSlotStride);
  Make(header + EmptyBatch(2) + EmptyBatch(2) + EmptyBatch(1) + EmptyBatch(1));
  bool torn = true;
  Status st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(torn);
  EXPECT_EQ(batches_, 2);
  // A stale batch, then one of the generation: the stale one hides an acknowledged batch.
  Make(header + EmptyBatch(2) + EmptyBatch(1) + EmptyBatch(2));
  st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("offset 12288 with a commit batch header after it at offset 16384"),
            std::string::npos)
      << st.ToString();
  // A damaged batch of the generation over stale ones: a torn tail.
  std::string damaged = EmptyBatch(2);
  damaged[8] ^= 1;
  Make(header + EmptyBatch(2) + damaged + EmptyBatch(1));
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(torn);
  EXPECT_EQ(batches_, 1);
}

// The header's slots: the valid one with the higher generation counts (a torn rewrite of one
// slot leaves the other, with the generation before, whose batches are then read); a whole
// batch newer than the header, or a header with no valid slot, is damage.
TEST_F(JournalReadTest, TheHeaderSlotWithTheHigherValidGenerationCounts) {
  const std::string both = JournalHeaderBlock(3).substr(0, kJournalSlotStride) +
                           JournalHeaderBlock(2).substr(kJournalSlotStride);
  Make(both + EmptyBatch(3) + EmptyBatch(2));
  bool torn = false;
  Status st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(batches_, 1);
  std::string torn_slot = both;
  torn_slot[10] ^= 1;  // slot 0 (generation 3) torn: generation 2's batches count
  Make(torn_slot + EmptyBatch(2) + EmptyBatch(2));
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(batches_, 2);
  Make(torn_slot + EmptyBatch(3));
  st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("of generation 3, newer than the journal header's 2"),
            std::string::npos)
      << st.ToString();
  std::string neither = torn_slot;
  neither[kJournalSlotStride + 17] ^= 1;
  Make(neither + EmptyBatch(2));
  st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("neither slot"), std::string::npos) << st.ToString();
  // A generation in the wrong slot is no valid slot either.
  std::string misplaced(kJournalHeaderBytes, '\0');
  misplaced.replace(0, kJournalSlotBytes, JournalSlot(2));
  Make(misplaced + EmptyBatch(2));
  st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  // A header cut short at creation: nothing was acknowledged.
  Make(Header().substr(0, 100));
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(torn);
  EXPECT_EQ(batches_, 0);
}

// A tool reading a live journal may see the writer empty it under it: the next generation's
// slot, then its batches over the ones being read. What it finds then is no damage (every batch
// the journal held is in the synced segments): the read ends there.
TEST_F(JournalReadTest, AJournalEmptiedWhileItIsReadIsNoDamage) {
  for (const bool emptied : {true, false}) {
    SCOPED_TRACE(emptied);
    Make(Header() + EmptyBatch(1) + EmptyBatch(1) + EmptyBatch(1));
    bool torn = false;
    int seen = 0;
    const Status st = ScanJournal(
        path_, Limits().max_record_bytes,
        [&](uint32_t, std::string_view, std::span<const segment::FrameView>) {
          if (++seen > 1) return Status::Ok();
          // The writer, meanwhile: generation 2 (unless not), and two batches of it.
          const int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
          EXPECT_GE(fd, 0);
          const std::string slot = JournalSlot(2);
          if (emptied) {
            EXPECT_EQ(pwrite(fd, slot.data(), slot.size(), kJournalSlotStride), 24);
          }
          const std::string next = EmptyBatch(2) + EmptyBatch(2);
          EXPECT_EQ(pwrite(fd, next.data(), next.size(), kJournalHeaderBytes), 8192);
          close(fd);
          return Status::Ok();
        },
        &torn);
    if (emptied) {
      ASSERT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(seen, 1);
      EXPECT_FALSE(torn);
    } else {
      EXPECT_EQ(st.code(), Code::kIo);
      EXPECT_NE(st.message().find("newer than the journal header's 1"), std::string::npos)
          << st.ToString();
    }
  }
}

// From generation 2 on, the writer appends a batch over stale ones the reader took for the end.
// A tool that reads while the batch is half written sees a torn tail; looked at again, the
// batch is whole, and the read ends there, Ok, with no torn tail. A batch still half written
// when looked at again is the torn tail it seemed.
TEST_F(JournalReadTest, ABatchAppendedWhileItIsReadIsNoTornTail) {
  std::string batch;
  BeginJournalBatch(&batch);
  const std::string json(3000, 'j');  // not a record: the journal reader does not parse them
  segment::AppendFrame(1, json, Blake3(json), &batch);
  segment::AppendFrame(2, json, Blake3(json), &batch);
  EndJournalBatch(&batch, 2);
  ASSERT_EQ(batch.size(), 2 * kBlock);
  const uint64_t at = kJournalHeaderBytes + kBlock;  // after the first batch
  // The first block of the new batch written, the second still a stale batch of generation 1.
  const std::string half = batch.substr(0, kBlock);
  for (const bool completed : {true, false}) {
    SCOPED_TRACE(completed);
    Make(JournalHeaderBlock(2) + EmptyBatch(2) + half + EmptyBatch(1) + EmptyBatch(1));
    bool torn = false;
    int rechecks = 0;
    batches_ = 0;
    const Status st = ScanJournal(
        path_, Limits().max_record_bytes,
        [&](uint32_t, std::string_view, std::span<const segment::FrameView>) {
          ++batches_;
          return Status::Ok();
        },
        &torn, [&] {
          ++rechecks;
          if (!completed) return;
          // The writer, meanwhile: the rest of the batch.
          const int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
          ASSERT_GE(fd, 0);
          EXPECT_EQ(pwrite(fd, batch.data() + kBlock, kBlock, static_cast<off_t>(at + kBlock)),
                    static_cast<ssize_t>(kBlock));
          close(fd);
        });
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(rechecks, 1);
    EXPECT_EQ(batches_, 1);
    EXPECT_EQ(torn, !completed);
  }
  // Read again once the writer is done: both batches, nothing torn, nothing looked at twice.
  bool torn = true;
  Make(JournalHeaderBlock(2) + EmptyBatch(2) + batch + EmptyBatch(1));
  const Status st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(batches_, 2);
  EXPECT_FALSE(torn);
}

// A journal of format v2, left by an earlier build's crash, is still read (and its damage rule
// still holds).
TEST_F(JournalReadTest, AJournalOfFormatV2IsStillRead) {
  Make(HeaderV2() + EmptyBatchV2() + EmptyBatchV2());
  bool torn = true;
  Status st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(torn);
  EXPECT_EQ(batches_, 2);
  std::string damaged = EmptyBatchV2();
  damaged[8] ^= 1;
  Make(HeaderV2() + EmptyBatchV2() + damaged + EmptyBatchV2());
  st = Scan(&torn);
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("offset 8192 with a commit batch header after it at offset 12288"),
            std::string::npos)
      << st.ToString();
  Make(HeaderV2() + EmptyBatchV2() + damaged);
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(torn);
  EXPECT_EQ(batches_, 1);
  // v3 batches in a v2 journal are no batches of it.
  Make(HeaderV2() + EmptyBatch(1));
  st = Scan(&torn);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(batches_, 0);
}

}  // namespace
}  // namespace ron::wal
