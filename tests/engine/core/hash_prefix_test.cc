// Blake3Prefix against the one-message Blake3 (and b3sum, an independent implementation): a
// message hashed ahead up to its tail, its tail then rewritten, must give the digest of the
// finished bytes for every length, every tail, in every mix.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/hash.h"
#include "tests/engine/core/hash_test_util.h"
#include "tests/test_util.h"

namespace ron {
namespace {

using testing::RandomBytes;

// Starts `messages` with `tails`, then rewrites every byte from each tail on (as a record's
// prev is written once the record before it is hashed) and finishes each, in a copy of its own.
// Returns the finished messages; *out their digests from Finish.
std::vector<std::string> StartRewriteFinish(Blake3Prefix* prefix, std::vector<std::string> messages,
                                            const std::vector<size_t>& tails,
                                            std::vector<Digest>* out) {
  std::vector<std::string_view> views(messages.begin(), messages.end());
  prefix->Start(views.data(), tails.data(), views.size());
  out->clear();
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string done = messages[i];  // another copy, as the WAL's staged record may be
    for (size_t k = std::min(tails[i], done.size()); k < done.size(); ++k) done[k] ^= 0x5A;
    out->push_back(prefix->Finish(i, done));
    messages[i] = std::move(done);
  }
  return messages;
}

// Every length 0..4096 (one to four chunks, every final-block length) with the tail a record's
// prev would have (67 + 2 bytes from the end), all in one Start.
TEST(HashPrefixTest, EveryLengthUpTo4096WithARecordsTail) {
  std::mt19937 rng(1);
  std::vector<std::string> messages;
  std::vector<size_t> tails;
  for (size_t size = 0; size <= 4096; ++size) {
    messages.push_back(RandomBytes(size, &rng));
    tails.push_back(size >= 69 ? size - 69 : 0);
  }
  Blake3Prefix prefix;
  std::vector<Digest> out;
  const std::vector<std::string> done = StartRewriteFinish(&prefix, messages, tails, &out);
  for (size_t size = 0; size <= 4096; ++size) {
    if (tails[size] < size) {
      ASSERT_NE(done[size], messages[size]);  // the tail was rewritten
    }
    ASSERT_EQ(out[size], Blake3(done[size])) << "length " << size;
  }
}

// Every tail of every length up to 1100 (and a sample of tails up to 4096): at and around each
// block and chunk edge, at 0 (nothing ahead) and at the length (nothing rewritten).
TEST(HashPrefixTest, EveryTailAroundBlockAndChunkEdges) {
  std::mt19937 rng(2);
  Blake3Prefix prefix;  // one instance for every call: its scratch is reused
  for (size_t size = 0; size <= 4096; size += size < 1100 ? 1 : 37) {
    const std::string message = RandomBytes(size, &rng);
    std::vector<std::string> messages;
    std::vector<size_t> tails;
    for (size_t tail = 0; tail <= size + 1; tail += (size < 1100 || tail % 64 < 2) ? 1 : 61) {
      messages.push_back(message);
      tails.push_back(tail);
    }
    std::vector<Digest> out;
    const std::vector<std::string> done = StartRewriteFinish(&prefix, messages, tails, &out);
    for (size_t i = 0; i < done.size(); ++i) {
      ASSERT_EQ(out[i], Blake3(done[i])) << "length " << size << " tail " << tails[i];
    }
  }
}

// Random lengths, tails and group sizes, shuffled: lanes are filled by shape, so every message
// must land back in its own slot whatever its neighbours; some pass the batched limit.
TEST(HashPrefixTest, ShuffledGroupsOfRandomShapes) {
  std::mt19937 rng(3);
  Blake3Prefix prefix;
  for (int round = 0; round < 200; ++round) {
    const size_t n = 1 + rng() % 70;
    std::vector<std::string> messages;
    std::vector<size_t> tails;
    for (size_t i = 0; i < n; ++i) {
      const size_t size = rng() % 4 == 0 ? rng() % 10000 : 900 + rng() % 300;
      messages.push_back(RandomBytes(size, &rng));
      tails.push_back(rng() % (size + 2));
    }
    std::vector<Digest> out;
    const std::vector<std::string> done = StartRewriteFinish(&prefix, messages, tails, &out);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(out[i], Blake3(done[i])) << "size " << done[i].size() << " tail " << tails[i];
    }
  }
}

// Finish refuses a message of another length than Start saw (a caller's bug, not a digest).
TEST(HashPrefixDeathTest, FinishOfAnotherLengthStops) {
  Blake3Prefix prefix;
  const std::string_view m = "abcdef";
  const size_t tail = 3;
  prefix.Start(&m, &tail, 1);
  EXPECT_EQ(prefix.Finish(0, "abcxyz"), Blake3("abcxyz"));
  EXPECT_DEATH(prefix.Finish(0, "abcxy"), "");
}

// A third opinion on the finished digests: b3sum (the Rust implementation) over a sample of the
// lengths 0..4096 with a record's tail, every final-block length and chunk edge among them.
TEST(HashPrefixTest, AgreesWithB3sum) {
  std::mt19937 rng(5);
  testing::TempDir dir;
  std::vector<std::string> messages;
  std::vector<size_t> tails;
  for (size_t size = 0; size <= 4096; size += (size < 130 || size % 1024 > 1000) ? 1 : 61) {
    messages.push_back(RandomBytes(size, &rng));
    tails.push_back(size >= 69 ? size - 69 : size / 2);
  }
  Blake3Prefix prefix;
  std::vector<Digest> out;
  const std::vector<std::string> done = StartRewriteFinish(&prefix, messages, tails, &out);
  testing::ExpectB3sumAgrees(done, out, dir.path());
}

}  // namespace
}  // namespace ron
