#include "tools/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ron::tools {
namespace {
constexpr size_t kReadChunkBytes = 1 << 20;
}  // namespace

LineReader::LineReader(int fd, size_t max_line_bytes)
    : fd_(fd), max_line_bytes_(max_line_bytes), buf_(kReadChunkBytes + max_line_bytes + 1) {}

bool LineReader::Fill() {
  if (eof_ || error_) return false;
  if (start_ > 0) {  // keep the partial line at the front
    std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  if (end_ == buf_.size()) end_ = 0;  // only reachable while skipping a too-long line
  for (;;) {
    const ssize_t n = read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno != EINTR) {
      error_ = true;
      return false;
    }
  }
}

bool LineReader::HasBufferedLine() const {
  if (lf_at_ != kNoLf) return true;
  const void* nl = std::memchr(buf_.data() + start_, '\n', end_ - start_);
  if (nl == nullptr) return false;
  lf_at_ = static_cast<size_t>(static_cast<const char*>(nl) - buf_.data());
  return true;
}

LineReader::Result LineReader::Next(std::string_view* line) {
  bool skipping = false;  // inside a line that is already known to be too long
  for (;;) {
    char* begin = buf_.data() + start_;
    const size_t available = end_ - start_;
    auto* nl = lf_at_ != kNoLf ? buf_.data() + lf_at_
                               : static_cast<char*>(std::memchr(begin, '\n', available));
    lf_at_ = kNoLf;
    if (nl != nullptr) {
      const size_t length = static_cast<size_t>(nl - begin);
      start_ += length + 1;
      if (skipping || length > max_line_bytes_) return Result::kTooLong;
      *line = std::string_view(begin, length);
      return Result::kLine;
    }
    if (available > max_line_bytes_) {
      skipping = true;
      start_ = end_ = 0;  // drop what we have of the too-long line
    }
    if (!Fill()) {
      if (error_) return Result::kError;
      if (skipping) {  // the rest of the too-long last line is part of it, not a line
        start_ = end_ = 0;
        return Result::kTooLong;
      }
      if (end_ > start_) {
        *line = std::string_view(buf_.data() + start_, end_ - start_);
        start_ = end_;
        return Result::kLine;
      }
      return Result::kEnd;
    }
  }
}

}  // namespace ron::tools
