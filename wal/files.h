// File-system helpers of the WAL: private directories (0700, our owner, refused otherwise),
// directory fsync, and read-only mappings of segment files.
#ifndef WAL_FILES_H_
#define WAL_FILES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/status.h"

namespace ron::wal {

// Creates `path` with mode 0700 if missing (parents must exist), else checks it: a directory,
// owned by the effective uid, no group/other permission bits. Fails closed with Io.
Status EnsurePrivateDir(const std::string& path, bool create);

// fsync of a directory, so that a created/renamed entry in it is durable.
Status FsyncDir(const std::string& path);

// Names of the entries of a directory (no "." or ".."), sorted.
Status ListDir(const std::string& path, std::vector<std::string>* names);

// A read-only view of a whole file (mmap; empty files map to an empty view).
class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  Status Open(const std::string& path);
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ron::wal

#endif  // WAL_FILES_H_
