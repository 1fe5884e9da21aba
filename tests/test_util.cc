#include "tests/test_util.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ron::testing {

std::string BuildDir() {
  const char* dir = std::getenv("RON_BUILD_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "build";
}

std::string RonctlPath() { return BuildDir() + "/ronctl"; }

std::string TestDataDir() {
  const char* dir = std::getenv("RON_TESTDATA_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "build/testdata";
}

CommandResult RonctlFromFile(const std::vector<std::string>& args, const std::string& file) {
  std::string command = "exec /usr/bin/timeout 60 " + RonctlPath();
  for (const std::string& a : args) command += " '" + a + "'";
  command += " < '" + file + "'";
  return RunCommand({"/bin/bash", "-c", command}, "");
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input,
                         bool discard_out) {
  CommandResult result;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return result;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
  size_t written = 0;
  if (input.empty()) close(in_pipe[1]);
  bool in_open = !input.empty(), out_open = true, err_open = true;
  char buf[1 << 16];
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out_open) fds[out_i = n++] = {out_pipe[0], POLLIN, 0};
    if (err_open) fds[err_i = n++] = {err_pipe[0], POLLIN, 0};
    if (in_open) fds[in_i = n++] = {in_pipe[1], POLLOUT, 0};
    if (poll(fds, static_cast<nfds_t>(n), -1) < 0) continue;
    if (in_i >= 0 && fds[in_i].revents != 0) {
      const ssize_t w = write(in_pipe[1], input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN) written = input.size();  // child closed stdin
      if (written == input.size()) {
        close(in_pipe[1]);
        in_open = false;
      }
    }
    const auto drain = [&](int index, int fd, std::string* sink, bool keep, bool* open) {
      if (index < 0 || fds[index].revents == 0) return;
      const ssize_t r = read(fd, buf, sizeof(buf));
      if (r <= 0) {
        *open = false;
        close(fd);
      } else if (keep) {
        sink->append(buf, static_cast<size_t>(r));
      }
    };
    drain(out_i, out_pipe[0], &result.out, !discard_out, &out_open);
    drain(err_i, err_pipe[0], &result.err, true, &err_open);
  }
  if (in_open) close(in_pipe[1]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.max_rss_kb = usage.ru_maxrss;
  return result;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ron-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

LoopMount::LoopMount(const std::string& dir, int size_mib)
    : image_(dir + "/fs.img"), mount_(dir + "/mnt") {
  const std::string cmd = "truncate -s " + std::to_string(size_mib) + "M " + image_ +
                          " && mkfs.ext4 -q -F " + image_ + " >/dev/null 2>&1 && mkdir -p " +
                          mount_ + " && mount -o loop " + image_ + " " + mount_ + " 2>/dev/null";
  mounted_ = std::system(cmd.c_str()) == 0;
}

LoopMount::~LoopMount() {
  if (mounted_) std::system(("umount " + mount_ + " 2>/dev/null").c_str());
}

size_t CachedPages(const std::string& path, uint64_t offset) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return 0;
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0);
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  EXPECT_NE(map, MAP_FAILED);
  if (map == MAP_FAILED) return 0;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  EXPECT_EQ(mincore(map, size, resident.data()), 0);
  munmap(map, size);
  size_t cached = 0;
  for (size_t i = offset / page; i < resident.size(); ++i) cached += resident[i] & 1;
  return cached;
}

double MetricValue(const std::string& page, const std::string& name,
                   const std::string& labels) {
  std::vector<std::string> wanted;
  for (size_t at = 0; at < labels.size();) {
    size_t end = labels.find("\",", at);
    end = end == std::string::npos ? labels.size() : end + 1;
    wanted.push_back(labels.substr(at, end - at));
    at = end + 1;
  }
  double value = -1;
  int matches = 0;
  for (const std::string& line : SplitLines(page)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string series = line.substr(0, space);
    const size_t brace = series.find('{');
    if (series.substr(0, brace) != name) continue;
    const std::string label_text =
        brace == std::string::npos ? "" : "," + series.substr(brace + 1, series.size() - brace - 2) + ",";
    bool all = true;
    for (const std::string& w : wanted) all = all && label_text.find("," + w + ",") != std::string::npos;
    if (!all) continue;
    ++matches;
    value = std::stod(line.substr(space + 1));
  }
  if (matches > 1) ADD_FAILURE() << matches << " samples of " << name << " match {" << labels << "}";
  return value;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string RecordJson(uint64_t seq, const std::string& prev, const std::string& attrs,
                       const std::string& writer_id, const std::string& stream) {
  return R"({"v":1,"ts_ms":1730246400000,"writer_id":")" + writer_id + R"(","seq":)" +
         std::to_string(seq) + R"(,"stream":")" + stream +
         R"(","kind":"GetServed","actor":{"anon":true},"subject":{},"reason":"ok","attrs":)" +
         attrs + R"(,"prev":")" + prev + R"("})";
}

bool SyncfsExpected(const std::string& dir) {
  utsname u{};
  unsigned major = 0, minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) return false;
  const auto type = static_cast<unsigned long>(fs.f_type);
  return (major > 5 || (major == 5 && minor >= 17)) &&
         (type == 0xEF53 || type == 0x58465342 || type == 0x9123683E);
}

}  // namespace ron::testing

// Under ASan, freed memory waits in a quarantine (256 MiB by default) before reuse, which would
// read as growth in the tests that check that resident memory stays flat. A small quarantine
// still catches use-after-free of recent allocations.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16"; }
#endif
#endif
