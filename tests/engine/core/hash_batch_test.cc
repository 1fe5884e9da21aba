// Blake3Batch against the one-message Blake3 (and b3sum, an independent implementation): the
// batched path must give the same digest for every length, in every mix and order.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/hash.h"
#include "engine/core/cpu.h"
#include "engine/core/hash_lanes.h"
#include "tests/engine/core/hash_test_util.h"
#include "tests/test_util.h"

// BLAKE3's own one-block compression and its SIMD width (internal to its C sources, as hash.cc
// declares them).
extern "C" void blake3_compress_in_place(uint32_t cv[8], const uint8_t block[64],
                                         uint8_t block_len, uint64_t counter, uint8_t flags);
extern "C" size_t blake3_simd_degree(void);

namespace ron {
namespace {

using testing::RandomBytes;

std::vector<Digest> HashAll(Blake3Batch* batch, const std::vector<std::string>& messages) {
  std::vector<std::string_view> views(messages.begin(), messages.end());
  std::vector<Digest> out(views.size());
  batch->Hash(views.data(), views.size(), out.data());
  return out;
}

// Each test runs with each message's final block compressed alone and, where the CPU has
// AVX-512F, 16 at a time in lanes (hash_lanes.h; elsewhere both runs take the first path).
class HashBatchTest : public ::testing::TestWithParam<bool> {};

// Every length 0..4096 (one to five chunks, every final-block length), all in one batch.
TEST_P(HashBatchTest, EveryLengthUpTo4096InOneBatchEqualsOneAtATime) {
  std::mt19937 rng(1);
  std::vector<std::string> messages;
  for (size_t size = 0; size <= 4096; ++size) messages.push_back(RandomBytes(size, &rng));
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  const std::vector<Digest> out = HashAll(&batch, messages);
  for (size_t size = 0; size <= 4096; ++size) {
    ASSERT_EQ(out[size], Blake3(messages[size])) << "length " << size;
  }
}

// The same lengths shuffled into batches of random sizes: lanes are filled by shape, so every
// message must land back in its own slot whatever its neighbours.
TEST_P(HashBatchTest, ShuffledBatchesOfRandomSizesEqualOneAtATime) {
  std::mt19937 rng(2);
  std::vector<std::string> messages;
  for (size_t size = 0; size <= 4096; ++size) messages.push_back(RandomBytes(size, &rng));
  std::shuffle(messages.begin(), messages.end(), rng);
  Blake3Batch batch;  // one instance for every call: its scratch is reused
  batch.UseFinalBlockLanes(GetParam());
  for (size_t begin = 0; begin < messages.size();) {
    const size_t n = std::min<size_t>(1 + rng() % 70, messages.size() - begin);
    const std::vector<std::string> group(messages.begin() + begin, messages.begin() + begin + n);
    const std::vector<Digest> out = HashAll(&batch, group);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], Blake3(group[i])) << group[i].size();
    begin += n;
  }
}

// Many messages of one shape fill every lane count (1, a partial group, exactly 16, more).
TEST_P(HashBatchTest, SameShapeAtEveryLaneCount) {
  std::mt19937 rng(3);
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  for (size_t size : {1u, 64u, 1000u, 1024u, 1036u, 2048u, 3000u}) {
    for (size_t n : {1u, 3u, 15u, 16u, 17u, 33u, 64u}) {
      std::vector<std::string> messages;
      for (size_t i = 0; i < n; ++i) messages.push_back(RandomBytes(size, &rng));
      const std::vector<Digest> out = HashAll(&batch, messages);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_EQ(out[i], Blake3(messages[i])) << "size " << size << " n " << n << " i " << i;
      }
    }
  }
}

// Two block counts side by side, in every number of each (0..17 and 1..10): with AVX2,
// blake3_hash_many's leftovers (not a whole pass of eight) are padded with copies of a message
// whose results are dropped (PadLanes), so each count of leftovers, 0..7, is one case here.
TEST_P(HashBatchTest, EveryLeftoverCountOfTwoBlockCounts) {
  std::mt19937 rng(6);
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  for (size_t a = 0; a <= 17; ++a) {
    for (size_t b = 1; b <= 10; ++b) {
      std::vector<std::string> messages;
      for (size_t i = 0; i < a; ++i) messages.push_back(RandomBytes(949 + rng() % 12, &rng));
      for (size_t i = 0; i < b; ++i) messages.push_back(RandomBytes(961 + rng() % 46, &rng));
      std::shuffle(messages.begin(), messages.end(), rng);
      const std::vector<Digest> out = HashAll(&batch, messages);
      for (size_t i = 0; i < messages.size(); ++i) {
        ASSERT_EQ(out[i], Blake3(messages[i])) << "a " << a << " b " << b << " i " << i;
      }
    }
  }
}

// Messages that end where the process can read no further (a page without access after each):
// BLAKE3's assembly loads bytes past the last whole block it hashes, none of which it uses;
// with AVX2 (and narrower) Blake3Batch keeps it from loading past a message's end, and with
// AVX-512 up to 48 bytes past are read (engine/core/hash.h), which this test leaves readable
// there. A read too far kills the test with SIGSEGV; the digests must be exact either way.
TEST_P(HashBatchTest, MessagesEndingAtAnUnreadablePage) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t readable_after = blake3_simd_degree() > 8 ? 48 : 0;
  std::mt19937 rng(7);
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  for (size_t size : {1u, 15u, 16u, 17u, 63u, 64u, 65u, 449u, 960u, 1000u, 1025u, 1040u, 2049u}) {
    for (size_t n = 1; n <= 17; ++n) {
      // One mapping per message: its last page unreadable, the message just before it.
      std::vector<void*> maps;
      std::vector<std::string_view> views;
      std::vector<std::string> copies;
      const size_t span = (size + readable_after + page - 1) / page * page + page;
      for (size_t i = 0; i < n; ++i) {
        void* map = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_NE(map, MAP_FAILED);
        maps.push_back(map);
        char* end = static_cast<char*>(map) + span - page;
        ASSERT_EQ(mprotect(end, page, PROT_NONE), 0);
        copies.push_back(RandomBytes(size, &rng));
        char* at = end - readable_after - size;
        std::memcpy(at, copies.back().data(), size);
        views.emplace_back(at, size);
      }
      std::vector<Digest> out(n);
      batch.Hash(views.data(), n, out.data());
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(out[i], Blake3(copies[i])) << "size " << size << " n " << n << " i " << i;
      }
      for (void* map : maps) munmap(map, span);
    }
  }
}

// Past kMaxBatchedChunks chunks a message goes to the one-message hasher; mixed with short ones.
TEST_P(HashBatchTest, LongMessagesMixedWithShortOnes) {
  std::mt19937 rng(4);
  std::vector<std::string> messages;
  const size_t limit = Blake3Batch::kMaxBatchedChunks * 1024;
  for (size_t size : {limit - 1, limit, limit + 1, size_t{65536}, size_t{0}, size_t{1025}}) {
    messages.push_back(RandomBytes(size, &rng));
  }
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  const std::vector<Digest> out = HashAll(&batch, messages);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(out[i], Blake3(messages[i])) << messages[i].size();
  }
}

// A third opinion on the batched digests: b3sum (the Rust implementation) over a sample of the
// lengths 0..4096, every final-block length and every chunk edge among them.
TEST_P(HashBatchTest, AgreesWithB3sum) {
  std::mt19937 rng(5);
  testing::TempDir dir;
  std::vector<std::string> messages;
  for (size_t size = 0; size <= 4096; size += (size < 130 || size % 1024 > 1000) ? 1 : 61) {
    messages.push_back(RandomBytes(size, &rng));
  }
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  testing::ExpectB3sumAgrees(messages, HashAll(&batch, messages), dir.path());
}

TEST_P(HashBatchTest, EmptyBatchWritesNothing) {
  Blake3Batch batch;
  batch.UseFinalBlockLanes(GetParam());
  batch.Hash(nullptr, 0, nullptr);
  Digest d{};
  const std::string_view m = "abc";
  batch.Hash(&m, 1, &d);
  EXPECT_EQ(d, Blake3("abc"));
}

// The lane kernel alone against BLAKE3's own compression, lane by lane: random chaining values,
// blocks, lengths 0..64, counters with high words, every flag combination. Each form the CPU
// runs: the one CompressInLanes picks, and the AVX2 one (CompressInLanes' own where AVX-512F is
// missing).
void ExpectEachLaneEqualsOneCompression(void (*compress)(internal::CompressLanes*)) {
  std::mt19937 rng(6);
  for (int round = 0; round < 200; ++round) {
    internal::CompressLanes lanes;
    uint32_t expected[internal::CompressLanes::kLanes][8];
    for (size_t k = 0; k < internal::CompressLanes::kLanes; ++k) {
      for (size_t w = 0; w < 8; ++w) expected[k][w] = lanes.cv[w][k] = rng();
      const uint64_t counter = round % 2 == 0 ? rng() % 8 : (uint64_t{rng()} << 32 | rng());
      lanes.counter_low[k] = static_cast<uint32_t>(counter);
      lanes.counter_high[k] = static_cast<uint32_t>(counter >> 32);
      lanes.block_len[k] = rng() % 65;
      lanes.flags[k] = rng() % 16;
      for (size_t b = 0; b < 64; ++b) {
        lanes.blocks[k][b] = b < lanes.block_len[k] ? static_cast<uint8_t>(rng()) : 0;
      }
      blake3_compress_in_place(expected[k], lanes.blocks[k],
                               static_cast<uint8_t>(lanes.block_len[k]), counter,
                               static_cast<uint8_t>(lanes.flags[k]));
    }
    compress(&lanes);
    for (size_t k = 0; k < internal::CompressLanes::kLanes; ++k) {
      for (size_t w = 0; w < 8; ++w) {
        ASSERT_EQ(lanes.cv[w][k], expected[k][w]) << "round " << round << " lane " << k;
      }
    }
  }
}

TEST(CompressLanesTest, EachLaneEqualsOneCompression) {
  if (!internal::CanCompressInLanes()) {  // nothing to run; nothing may use it either
    EXPECT_FALSE(Blake3Batch().final_block_lanes());
    return;
  }
  ExpectEachLaneEqualsOneCompression(internal::CompressInLanes);
}

TEST(CompressLanesTest, EachLaneEqualsOneCompressionWithAvx2) {
  EXPECT_EQ(internal::CanCompressInLanesAvx2(), internal::CpuHasAvx2());
  if (!internal::CanCompressInLanesAvx2()) return;  // no AVX2: the test above covers the rest
  ExpectEachLaneEqualsOneCompression(internal::CompressInLanesAvx2);
}

// Where the CPU has AVX-512F or AVX2, a Blake3Batch uses the lanes unless told not to.
TEST(CompressLanesTest, OnByDefaultWhereTheCpuHasIt) {
  Blake3Batch batch;
  EXPECT_EQ(batch.final_block_lanes(), internal::CanCompressInLanes());
  batch.UseFinalBlockLanes(false);
  EXPECT_FALSE(batch.final_block_lanes());
}

INSTANTIATE_TEST_SUITE_P(FinalBlocks, HashBatchTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "in_lanes" : "one_by_one";
                         });

}  // namespace
}  // namespace ron
