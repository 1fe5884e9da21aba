// Helpers shared by the tests: paths, child processes, temporary directories, record builders.
#ifndef TESTS_TEST_UTIL_H_
#define TESTS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ron_audit/record.h"

namespace ron::testing {

// The build directory of the binaries under test ($RON_BUILD_DIR, default "build").
std::string BuildDir();
// build/ronctl.
std::string RonctlPath();
// Test data from outside the project ($RON_TESTDATA_DIR, default build/testdata, which
// `make deps` fills: tools/testdata/fetch.sh).
std::string TestDataDir();

struct CommandResult {
  int exit_code = -1;  // -1 if the child did not exit normally (signal)
  std::string out;
  std::string err;
  long max_rss_kb = 0;  // the child's peak resident set
};

// Runs argv[0] with argv (no shell), feeding `input` on stdin. When `discard_out` is set the
// child's stdout is drained but not kept (for very large outputs).
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         bool discard_out = false);
// ronctl with stdin from a file (reads come in the reader's own chunk size, and input is
// always ready, as when an operator imports a file), killed after 60 s.
CommandResult RonctlFromFile(const std::vector<std::string>& args, const std::string& file);

// Reads a whole file; fails the current test (ADD_FAILURE) if it cannot.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& data);

// A fresh directory under $TMPDIR removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A small ext4 file system on a loop device, mounted under `dir`/mnt (needs root); unmounted
// at destruction. mounted() is false if it could not be made.
class LoopMount {
 public:
  LoopMount(const std::string& dir, int size_mib);
  ~LoopMount();
  bool mounted() const { return mounted_; }
  const std::string& path() const { return mount_; }

 private:
  std::string image_, mount_;
  bool mounted_ = false;
};

// The value of the sample of metric `name` whose labels include every one of `labels` (a
// comma-separated list such as `reason="x",op="y"`, or "" for any), from a Prometheus text
// page; -1 when no sample matches. Fails the test when two samples match.
double MetricValue(const std::string& page, const std::string& name,
                   const std::string& labels = "");

// How many pages of `path` from `offset` to its end are in the page cache (mincore of a
// mapping, which itself reads nothing).
size_t CachedPages(const std::string& path, uint64_t offset);

// Whether syncfs stands in for fdatasync for files under `dir` (so the WAL syncs many files
// with one syncfs and may write a commit journal), worked out apart from the WAL's own check:
// Linux >= 5.17 and ext4, xfs or btrfs.
bool SyncfsExpected(const std::string& dir);

// Splits on LF; no empty last element for text ending in LF.
std::vector<std::string> SplitLines(const std::string& text);

// A valid unsealed record as JSON text with the given chain position and attrs.
std::string RecordJson(uint64_t seq, const std::string& prev, const std::string& attrs = "{}",
                       const std::string& writer_id = "svc-test@inst-1",
                       const std::string& stream = "ingress");

// `r` as Canonicalizer::Attrs::kChain keeps it: its reason, actor, subject and attrs emptied.
inline Record ChainFieldsOf(Record r) {
  r.actor = Actor();
  r.subject = Subject();
  r.reason.clear();
  r.attrs.clear();
  return r;
}

}  // namespace ron::testing

#endif  // TESTS_TEST_UTIL_H_
