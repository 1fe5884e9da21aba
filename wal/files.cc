#include "wal/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ron::wal {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Status(Code::kIo, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Status EnsurePrivateDir(const std::string& path, bool create) {
  if (create && mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create directory", path);
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return Errno("cannot stat", path);
  if (!S_ISDIR(st.st_mode)) return Status(Code::kIo, path + " is not a directory");
  if (st.st_uid != geteuid()) {
    return Status(Code::kIo, path + " is owned by uid " + std::to_string(st.st_uid) +
                                 ", not by this process (uid " + std::to_string(geteuid()) +
                                 "); refusing to use it");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(Code::kIo,
                  path + " has mode " + mode + "; WAL directories must be 0700 (chmod 700 it)");
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory", path);
  const int rc = fsync(fd);
  const int saved = errno;
  close(fd);
  if (rc != 0) {
    errno = saved;
    return Errno("fsync of directory failed:", path);
  }
  return Status::Ok();
}

Status ListDir(const std::string& path, std::vector<std::string>* names) {
  names->clear();
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Errno("cannot list", path);
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names->push_back(name);
  }
  closedir(dir);
  std::sort(names->begin(), names->end());
  return Status::Ok();
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(data_, size_);
}

Status MappedFile::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("cannot stat", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    data_ = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      close(fd);
      return Errno("cannot map", path);
    }
  }
  close(fd);
  return Status::Ok();
}

}  // namespace ron::wal
