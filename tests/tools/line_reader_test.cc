#include "tools/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace ron::tools {
namespace {

// Feeds `input` through a pipe and collects what the reader reports ("!" marks a too-long line).
// peek: ask HasBufferedLine before each line (0, 1 or 2 times, by a fixed pattern), as ronctl's
// append does; the lines must not change.
std::vector<std::string> ReadAll(const std::string& input, size_t max_line, bool peek = false) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < input.size()) {
      const ssize_t n =
          write(fds[1], input.data() + off, std::min<size_t>(input.size() - off, 7000));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fds[1]);
  });
  LineReader reader(fds[0], max_line);
  std::vector<std::string> lines;
  for (size_t k = 0;; ++k) {
    if (peek) {
      for (size_t i = 0; i < k % 3; ++i) (void)reader.HasBufferedLine();
    }
    std::string_view line;
    const auto r = reader.Next(&line);
    if (r == LineReader::Result::kEnd || r == LineReader::Result::kError) break;
    lines.push_back(r == LineReader::Result::kTooLong ? "!" : std::string(line));
  }
  writer.join();
  close(fds[0]);
  return lines;
}

TEST(LineReaderTest, SplitsOnLfOnly) {
  EXPECT_EQ(ReadAll("a\nb\r\n\nc", 100), (std::vector<std::string>{"a", "b\r", "", "c"}));
  EXPECT_EQ(ReadAll("a\n", 100), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(ReadAll("", 100).empty());
}

TEST(LineReaderTest, TooLongLinesAreSkippedWithoutBuffering) {
  const std::string big(5'000'000, 'x');
  EXPECT_EQ(ReadAll("ok\n" + big + "\nafter\n" + big, 1000),
            (std::vector<std::string>{"ok", "!", "after", "!"}));
  EXPECT_EQ(ReadAll(std::string(1000, 'y') + "\n" + std::string(1001, 'z') + "\n", 1000),
            (std::vector<std::string>{std::string(1000, 'y'), "!"}));
}

// A too-long final line without LF is one verdict: its tail, arriving after the reader gave up
// on the line, must not come back as a line of its own (it could smuggle a record).
TEST(LineReaderTest, TheTailOfATooLongLastLineIsNoLine) {
  for (const size_t tail : {1u, 500u, 999u}) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::thread writer([&] {
      const std::string head(3000, 'x');
      EXPECT_EQ(write(fds[1], head.data(), head.size()), 3000);
      // Let the reader take the head and give up on the line before the tail arrives.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::string rest = std::string(tail - 1, 'y') + "}";
      EXPECT_EQ(write(fds[1], rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
      close(fds[1]);
    });
    LineReader reader(fds[0], 1000);
    std::vector<LineReader::Result> results;
    for (;;) {
      std::string_view line;
      const auto r = reader.Next(&line);
      if (r == LineReader::Result::kEnd || r == LineReader::Result::kError) break;
      results.push_back(r);
    }
    writer.join();
    close(fds[0]);
    EXPECT_EQ(results, std::vector<LineReader::Result>{LineReader::Result::kTooLong})
        << "tail " << tail;
  }
}

TEST(LineReaderTest, ManyLinesAcrossChunkBoundaries) {
  std::string input;
  for (int i = 0; i < 200000; ++i) input += std::to_string(i) + "\n";
  const auto lines = ReadAll(input, 64);
  ASSERT_EQ(lines.size(), 200000u);
  EXPECT_EQ(lines[123456], "123456");
}

// HasBufferedLine keeps the LF it found for Next: with it asked before lines, every line, empty
// line, too-long line and unterminated last line comes out as without it.
TEST(LineReaderTest, AskingForABufferedLineChangesNoLine) {
  std::string input;
  uint32_t x = 7;
  for (int i = 0; i < 20000; ++i) {
    x = x * 1103515245 + 12345;
    const size_t length = (x >> 8) % 5 == 0 ? 0 : (x >> 12) % 100;  // some over max_line = 80
    input += std::string(length, static_cast<char>('a' + i % 26)) + "\n";
  }
  input += "last line without LF";
  for (const size_t max_line : {80, 4096}) {
    const auto plain = ReadAll(input, max_line);
    EXPECT_EQ(ReadAll(input, max_line, /*peek=*/true), plain);
    EXPECT_EQ(plain.back(), "last line without LF");
    EXPECT_EQ(plain.size(), 20001u);
  }
}

// Lines taken while HasBufferedLine() said one was buffered stay as they were until a Next made
// without one (ronctl's append offers such a group as views of the buffer): groups of up to
// 256 lines of every length, across many reads of the buffer.
TEST(LineReaderTest, LinesTakenFromTheBufferStayValidUntilItIsRead) {
  std::vector<std::string> expected;
  std::string input;
  uint32_t x = 11;
  for (int i = 0; i < 30000; ++i) {
    x = x * 1103515245 + 12345;
    expected.push_back(std::string((x >> 8) % 300, static_cast<char>('a' + i % 26)) +
                       std::to_string(i));
    input += expected.back() + "\n";
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    for (size_t off = 0; off < input.size();) {
      const ssize_t n =
          write(fds[1], input.data() + off, std::min<size_t>(input.size() - off, 7000));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fds[1]);
  });
  LineReader reader(fds[0], 4096);
  std::vector<std::string_view> group;
  size_t taken = 0, checked = 0, groups = 0;
  const auto check_group = [&] {
    for (const std::string_view line : group) {
      ASSERT_LT(checked, expected.size());
      EXPECT_EQ(line, expected[checked]) << "line " << checked;
      ++checked;
    }
    group.clear();
    ++groups;
  };
  for (;;) {
    std::string_view line;
    const auto r = reader.Next(&line);
    if (r == LineReader::Result::kEnd || r == LineReader::Result::kError) break;
    ASSERT_EQ(r, LineReader::Result::kLine);
    group.push_back(line);
    ++taken;
    if (group.size() < 256 && reader.HasBufferedLine()) continue;
    check_group();
  }
  check_group();
  writer.join();
  close(fds[0]);
  EXPECT_EQ(taken, expected.size());
  EXPECT_EQ(checked, expected.size());
  EXPECT_GT(groups, 30000u / 256);  // reads of 7,000 bytes cut groups short
}

}  // namespace
}  // namespace ron::tools
