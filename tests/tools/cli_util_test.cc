#include "tools/cli_util.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace ron::tools {
namespace {

// NumberFlag: a flag not given leaves the default; a given one must be a number within its
// bounds (both ends included), and a refused one leaves the value as it was.
TEST(CliUtilTest, NumberFlagTakesANumberWithinItsBounds) {
  const std::map<std::string, std::string> flags = {
      {"low", "1"}, {"high", "8"}, {"zero", "0"}, {"nine", "9"},
      {"word", "x"}, {"signed", "-1"}, {"spaced", " 4"}, {"huge", "18446744073709551616"}};
  uint64_t value = 42;
  EXPECT_TRUE(NumberFlag(flags, "absent", 1, 8, &value));
  EXPECT_EQ(value, 42u);
  EXPECT_TRUE(NumberFlag(flags, "low", 1, 8, &value));
  EXPECT_EQ(value, 1u);
  EXPECT_TRUE(NumberFlag(flags, "high", 1, 8, &value));
  EXPECT_EQ(value, 8u);
  for (const char* bad : {"zero", "nine", "word", "signed", "spaced", "huge"}) {
    value = 42;
    EXPECT_FALSE(NumberFlag(flags, bad, 1, 8, &value)) << bad;
    EXPECT_EQ(value, 42u) << bad;
  }
}

}  // namespace
}  // namespace ron::tools
