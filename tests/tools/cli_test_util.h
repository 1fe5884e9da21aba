// What the ronctl tests of backups, salvage, the runbook and operations share: ronctl under a
// timeout, drafts of about 1 KiB, and where a record sits in a segment file.
#ifndef TESTS_TOOLS_CLI_TEST_UTIL_H_
#define TESTS_TOOLS_CLI_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "segment/segment_format.h"
#include "tests/test_util.h"

namespace ron::testing {

// ronctl under `timeout` (60 s), so that a hang fails the test instead of stalling it.
inline CommandResult Ronctl(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {"/usr/bin/timeout", "60", RonctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

// `n` drafts of about 1 KiB, numbered from `first` (attrs.i), one per line.
inline std::string KiBDrafts(int first, int n) {
  std::string s;
  for (int i = first; i < first + n; ++i) {
    s += R"({"kind":"K","actor":{"passport_id":"u:1"},"subject":{"content_id":"c"},)"
         R"("reason":"ok","attrs":{"i":)" +
         std::to_string(i) + R"(,"pad":")" + std::string(900, 'x') + "\"}}\n";
  }
  return s;
}

// The offset of record `seq`'s frame in the segment bytes `file` (walking its frames), or 0.
inline uint64_t FrameOffsetOf(const std::string& file, uint64_t seq) {
  uint64_t offset = segment::kHeaderBytes;
  for (;;) {
    segment::FrameView frame;
    const auto status = segment::DecodeFrame(file, offset, 4096, &frame);
    if (status == segment::FrameStatus::kPadding) {
      offset = segment::AfterPadding(offset);
      continue;
    }
    if (status != segment::FrameStatus::kOk) return 0;
    if (frame.seq == seq) return offset;
    offset += frame.size;
  }
}

}  // namespace ron::testing

#endif  // TESTS_TOOLS_CLI_TEST_UTIL_H_
