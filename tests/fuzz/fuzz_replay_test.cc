// Every libFuzzer target's seed corpus (fuzz/corpus/<target>/) and kept crashers
// (fuzz/regressions/<target>/) replayed through the target's own entry point, under `make test`
// and the sanitizer runs (g++ or clang, no libFuzzer needed). The Makefile compiles each
// fuzz/<target>.cc a second time with LLVMFuzzerTestOneInput renamed to RonFuzz_<target>.
// A target reports a broken property with abort(), so each target runs in a child process.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/test_util.h"

extern "C" int RonFuzz_canonicalize_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_export_manifest_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_hash_batch_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_hash_prefix_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_journal_scan_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_proof_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_record_parse_fuzzer(const uint8_t*, size_t);
extern "C" int RonFuzz_segment_scan_fuzzer(const uint8_t*, size_t);

namespace ron {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  int (*entry)(const uint8_t*, size_t);
};

std::vector<std::string> Inputs(const std::string& dir) {
  std::vector<std::string> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
  }
  return files;
}

class FuzzReplayTest : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplayTest, SeedsAndKeptCrashersKeepEveryProperty) {
  const Target& t = GetParam();
  std::vector<std::string> files = Inputs(std::string("fuzz/corpus/") + t.name);
  ASSERT_FALSE(files.empty()) << "no seed corpus for " << t.name;
  for (const std::string& f : Inputs(std::string("fuzz/regressions/") + t.name)) {
    files.push_back(f);
  }
  std::vector<std::string> inputs;
  for (const std::string& f : files) inputs.push_back(testing::ReadFile(f));
  // The child writes each input's index to a pipe before running it: the last index read is
  // the input that broke a property.
  int progress[2];
  ASSERT_EQ(pipe(progress), 0);
  std::fflush(nullptr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(progress[0]);
    for (uint32_t i = 0; i < inputs.size(); ++i) {
      if (write(progress[1], &i, sizeof(i)) != sizeof(i)) _exit(3);
      t.entry(reinterpret_cast<const uint8_t*>(inputs[i].data()), inputs[i].size());
    }
    _exit(0);
  }
  close(progress[1]);
  uint32_t last = 0, index = 0;
  while (read(progress[0], &index, sizeof(index)) == sizeof(index)) last = index;
  close(progress[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << t.name << " broke a property on " << files[last] << " (status " << status << ")";
}

INSTANTIATE_TEST_SUITE_P(
    Targets, FuzzReplayTest,
    ::testing::Values(Target{"canonicalize_fuzzer", RonFuzz_canonicalize_fuzzer},
                      Target{"export_manifest_fuzzer", RonFuzz_export_manifest_fuzzer},
                      Target{"hash_batch_fuzzer", RonFuzz_hash_batch_fuzzer},
                      Target{"hash_prefix_fuzzer", RonFuzz_hash_prefix_fuzzer},
                      Target{"journal_scan_fuzzer", RonFuzz_journal_scan_fuzzer},
                      Target{"proof_fuzzer", RonFuzz_proof_fuzzer},
                      Target{"record_parse_fuzzer", RonFuzz_record_parse_fuzzer},
                      Target{"segment_scan_fuzzer", RonFuzz_segment_scan_fuzzer}),
    [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ron
