// LineReader: splits a byte stream on LF in bounded memory (for ronctl's stdin contracts).
//
// A line longer than `max_line_bytes` is not buffered: the reader skips to its LF and reports
// it as too long, so a 100 MB input with any line lengths needs only O(max_line_bytes) memory.
// A final line without LF is still a line; an input ending in LF has no empty last line.
//
// Thread-safety: not thread-safe. Does not own the fd.
#ifndef TOOLS_LINE_READER_H_
#define TOOLS_LINE_READER_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace ron::tools {

class LineReader {
 public:
  LineReader(int fd, size_t max_line_bytes);

  enum class Result { kLine, kTooLong, kEnd, kError };
  // kLine: *line views the line without its LF. It stays valid until a call of Next made when
  // HasBufferedLine() was false: only such a call reads, and reading may move the buffer; a
  // call that finds its line buffered moves nothing (ronctl's append hands a group of lines to
  // the engine as views).
  // kTooLong: the line exceeded max_line_bytes and was skipped.
  // kError: read() failed (errno is set).
  Result Next(std::string_view* line);

  // True if a complete line is already buffered (Next() will not block). The LF it finds is
  // kept for Next(), so a line is searched once.
  bool HasBufferedLine() const;

 private:
  bool Fill();  // reads more bytes; false at EOF or error

  int fd_;
  size_t max_line_bytes_;
  std::vector<char> buf_;
  size_t start_ = 0;
  size_t end_ = 0;
  static constexpr size_t kNoLf = static_cast<size_t>(-1);
  mutable size_t lf_at_ = kNoLf;  // where HasBufferedLine found the next LF, for Next()
  bool eof_ = false;
  bool error_ = false;
};

}  // namespace ron::tools

#endif  // TOOLS_LINE_READER_H_
