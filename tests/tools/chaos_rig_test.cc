// Regression tests for what the chaos drills (tools/chaos/) found, run through the same rig.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "tests/test_util.h"

namespace ron {
namespace {

std::string RigPath() { return testing::BuildDir() + "/ron_chaos"; }

std::string Field(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return "";
  const size_t start = at + key.size() + 3;
  return json.substr(start, json.find_first_of(",}", start) - start);
}

// A segment fd must not leak when the directory fsync after creating the segment fails with
// EMFILE: with more segment files allowed than `ulimit -n 24` has, streams fail with Io, and
// after Close every fd the engine opened is closed again.
TEST(ChaosRigTest, NoFdLeaksWhenFilesRunOut) {
  testing::TempDir tmp;
  const std::string wal = tmp.path() + "/wal";
  ASSERT_EQ(mkdir(wal.c_str(), 0700), 0);
  // A segment-fd budget above what `ulimit -n 24` allows: the limit bites (clean Io errors),
  // and no descriptor may leak on any of the failing paths.
  const auto r = testing::RunCommand(
      {"/bin/bash", "-c",
       "ulimit -n 24 && exec " + RigPath() + " --wal " + wal +
           " --streams 32 --producers 2 --seconds 1 --rate 4000 --report-ms 5000"
           " --segment-fd-budget 64"},
      "");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string summary = r.out.substr(r.out.rfind("{\"summary\":true"));
  EXPECT_NE(Field(summary, "errors"), "0") << summary;  // the limit did bite
  EXPECT_NE(summary.find("Too many open files"), std::string::npos) << summary;
  EXPECT_EQ(Field(summary, "fds_end"), Field(summary, "fds_start")) << summary;
}

// At 24 descriptors, 32 streams all write: idle streams' segment files are closed and reopened
// within the budget the engine derives from the limit.
TEST(ChaosRigTest, ManyStreamsWriteUnderASmallDescriptorLimit) {
  testing::TempDir tmp;
  const std::string wal = tmp.path() + "/wal";
  ASSERT_EQ(mkdir(wal.c_str(), 0700), 0);
  const auto r = testing::RunCommand(
      {"/bin/bash", "-c",
       "ulimit -n 24 && exec " + RigPath() + " --wal " + wal +
           " --streams 32 --producers 2 --seconds 1 --rate 4000 --report-ms 5000"},
      "");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string summary = r.out.substr(r.out.rfind("{\"summary\":true"));
  EXPECT_EQ(Field(summary, "errors"), "0") << summary;
  EXPECT_NE(Field(summary, "acked"), "0") << summary;
  EXPECT_EQ(Field(summary, "fds_end"), Field(summary, "fds_start")) << summary;
}

}  // namespace
}  // namespace ron
