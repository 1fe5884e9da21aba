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

// The rig's summary line of one run: 32 streams for a second under `ulimit -n 24`, with
// `extra` flags. Empty (and a test failure) if the rig did not exit 0.
std::string SummaryUnder24Fds(const std::string& extra) {
  testing::TempDir tmp;
  const std::string wal = tmp.path() + "/wal";
  EXPECT_EQ(mkdir(wal.c_str(), 0700), 0);
  const auto r = testing::RunCommand(
      {"/bin/bash", "-c",
       "ulimit -n 24 && exec " + RigPath() + " --wal " + wal +
           " --streams 32 --producers 2 --seconds 1 --rate 4000 --report-ms 5000 " + extra},
      "");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const size_t at = r.out.rfind("{\"summary\":true");
  return at == std::string::npos ? std::string() : r.out.substr(at);
}

// A segment fd must not leak when the directory fsync after creating the segment fails with
// EMFILE: with more segment files allowed than `ulimit -n 24` has, streams fail with Io, and
// after Close every fd the engine opened is closed again.
TEST(ChaosRigTest, NoFdLeaksWhenFilesRunOut) {
  const std::string summary = SummaryUnder24Fds("--segment-fd-budget 64");
  EXPECT_NE(Field(summary, "errors"), "0") << summary;  // the limit did bite
  EXPECT_NE(summary.find("Too many open files"), std::string::npos) << summary;
  EXPECT_EQ(Field(summary, "fds_end"), Field(summary, "fds_start")) << summary;
}

// At 24 descriptors, 32 streams all write: idle streams' segment files are closed and reopened
// within the budget the engine derives from the limit.
TEST(ChaosRigTest, ManyStreamsWriteUnderASmallDescriptorLimit) {
  const std::string summary = SummaryUnder24Fds("");
  EXPECT_EQ(Field(summary, "errors"), "0") << summary;
  EXPECT_NE(Field(summary, "acked"), "0") << summary;
  EXPECT_EQ(Field(summary, "fds_end"), Field(summary, "fds_start")) << summary;
}

}  // namespace
}  // namespace ron
