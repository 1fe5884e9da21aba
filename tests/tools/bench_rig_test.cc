// tools/bench_rig.sh (make bench-rig) around a stand-in for bench/peers that records how it was
// called: the second pass (ron-audit's rows without zero-filled segments) runs the ron-audit
// systems asked for, with the device limit, and none when no ron-audit system was asked for.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ron {
namespace {

class BenchRigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stub_ = tmp_.path() + "/peers";
    calls_ = tmp_.path() + "/calls";
    // One line per call: its arguments after --dir DIR; then a summary line as peers prints.
    testing::WriteFile(stub_, "#!/usr/bin/env bash\nshift 2\necho \"$*\" >> " + calls_ +
                                  "\necho 'summary: ron-audit Emit writers=1 batch=1 vs device "
                                  "0.50x'\n");
    ASSERT_EQ(chmod(stub_.c_str(), 0700), 0);
    ASSERT_EQ(mkdir((tmp_.path() + "/disk").c_str(), 0700), 0);
  }
  // Runs the rig with `flags`; returns the stand-in's calls, one per line.
  std::vector<std::string> Run(const std::vector<std::string>& flags, std::string* out) {
    std::vector<std::string> argv = {"/usr/bin/env", "PEERS=" + stub_, "bash",
                                     "tools/bench_rig.sh", tmp_.path() + "/disk"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const testing::CommandResult r = testing::RunCommand(argv, "");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    *out = r.out;
    std::vector<std::string> calls;
    const std::string text = testing::ReadFile(calls_);
    for (size_t at = 0; at < text.size();) {
      const size_t end = text.find('\n', at);
      calls.push_back(text.substr(at, end - at));
      at = end == std::string::npos ? text.size() : end + 1;
    }
    return calls;
  }
  testing::TempDir tmp_;
  std::string stub_, calls_;
};

TEST_F(BenchRigTest, WithoutSystemsTheSecondPassRunsBothRonRows) {
  std::string out;
  const auto calls = Run({"--seconds", "1", "--json", tmp_.path() + "/j.json"}, &out);
  ASSERT_EQ(calls.size(), 2u) << out;
  EXPECT_EQ(calls[0], "--seconds 1 --json " + tmp_.path() + "/j.json");
  EXPECT_EQ(calls[1],
            "--seconds 1 --systems device,ron-sealed,ron-emit,ron-pipelined --preallocate off");
  EXPECT_NE(out.find("== the same without zero-filled segments"), std::string::npos) << out;
}

TEST_F(BenchRigTest, TheSecondPassKeepsToTheRonSystemsAskedFor) {
  std::string out;
  const auto calls = Run({"--systems", "sqlite,ron-emit,rocksdb", "--only", "grid"}, &out);
  ASSERT_EQ(calls.size(), 2u) << out;
  EXPECT_EQ(calls[0], "--systems sqlite,ron-emit,rocksdb --only grid");
  EXPECT_EQ(calls[1], "--only grid --systems device,ron-emit --preallocate off");
}

TEST_F(BenchRigTest, NoSecondPassWithoutRonSystems) {
  std::string out;
  const auto calls = Run({"--systems", "device,sqlite"}, &out);
  ASSERT_EQ(calls.size(), 1u) << out;
  EXPECT_EQ(calls[0], "--systems device,sqlite");
  EXPECT_NE(out.find("no ron-audit rows in --systems"), std::string::npos) << out;
}

}  // namespace
}  // namespace ron
