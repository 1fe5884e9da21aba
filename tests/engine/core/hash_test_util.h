// What the BLAKE3 tests share: random messages, and b3sum (the Rust implementation, a Debian
// package) as a third opinion on digests.
#ifndef TESTS_ENGINE_CORE_HASH_TEST_UTIL_H_
#define TESTS_ENGINE_CORE_HASH_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/hash.h"
#include "tests/test_util.h"

namespace ron::testing {

inline std::string RandomBytes(size_t size, std::mt19937* rng) {
  std::string data(size, '\0');
  for (char& c : data) c = static_cast<char>((*rng)());
  return data;
}

// Writes each message to a file under `dir`, runs b3sum over them all, and expects its digest
// of messages[i] to be digests[i], for every i.
inline void ExpectB3sumAgrees(const std::vector<std::string>& messages,
                              const std::vector<Digest>& digests, const std::string& dir) {
  ASSERT_EQ(messages.size(), digests.size());
  std::vector<std::string> argv = {"/usr/bin/b3sum", "--no-names"};
  for (size_t i = 0; i < messages.size(); ++i) {
    argv.push_back(dir + "/m" + std::to_string(i));
    WriteFile(argv.back(), messages[i]);
  }
  const auto result = RunCommand(argv, "");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream lines(result.out);
  std::string line;
  size_t i = 0;
  for (; std::getline(lines, line); ++i) {
    ASSERT_LT(i, digests.size());
    EXPECT_EQ(line, ToHex(digests[i])) << "length " << messages[i].size();
  }
  EXPECT_EQ(i, messages.size());
}

}  // namespace ron::testing

#endif  // TESTS_ENGINE_CORE_HASH_TEST_UTIL_H_
