#include "wal/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "engine/core/limits.h"

namespace ron::wal {
namespace {

Status Errno(const std::string& what, const std::string& path, int err = errno) {
  const char* prefix = err == ENOSPC || err == EDQUOT ? "disk_full: " : "";
  return Status(Code::kIo, prefix + what + " " + path + ": " + std::strerror(err), err);
}

std::string ModeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// The reason a non-regular file is refused, in words an operator recognizes.
std::string KindOf(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// An open() failure, with ELOOP under O_NOFOLLOW said plainly.
Status OpenError(const std::string& path, bool nofollow, int err) {
  if (nofollow && err == ELOOP) {
    return Status(Code::kIo, path + " is a symbolic link; refusing to follow it");
  }
  return Errno("cannot open", path, err);
}

// fstat of an fd opened with O_NONBLOCK: refuses anything but a regular file (closing the fd)
// and restores blocking mode.
Status CheckRegular(int fd, const std::string& path, struct stat* st) {
  Status status;
  if (fstat(fd, st) != 0) {
    status = Errno("cannot stat", path);
  } else if (!S_ISREG(st->st_mode)) {
    status = Status(Code::kIo, path + " is " + KindOf(st->st_mode) + ", not a regular file");
  } else {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
      status = Errno("cannot set blocking mode on", path);
    }
  }
  if (!status.ok()) close(fd);
  return status;
}

constexpr size_t kHugePage = size_t{2} << 20;

size_t HugePageMultiple(size_t bytes) { return (bytes + kHugePage - 1) / kHugePage * kHugePage; }

// `bytes` (a HugePageMultiple) of anonymous memory starting on a huge-page boundary and
// asking for transparent huge pages (MADV_HUGEPAGE: a hint; without THP, ordinary pages), or
// nullptr if it cannot be mapped. Only the pages touched are backed. Freed with munmap(p, bytes).
char* MapHugePages(size_t bytes) {
  // One huge page more, so that an aligned start lies inside; the rest is given back.
  void* p = mmap(nullptr, bytes + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(p);
  const auto at = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (at > start) munmap(p, at - start);
  munmap(reinterpret_cast<void*>(at + bytes), start + kHugePage - at);  // at least a byte
  char* aligned = reinterpret_cast<char*>(at);
  (void)madvise(aligned, bytes, MADV_HUGEPAGE);
  return aligned;
}

}  // namespace

Status PreadAll(int fd, char* out, size_t size, const std::string& path, size_t* done,
                uint64_t offset) {
  *done = 0;
  while (*done < size) {
    const ssize_t n = pread(fd, out + *done, size - *done, static_cast<off_t>(offset + *done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read", path);
    if (n == 0) break;
    *done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

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
    return Status(Code::kIo, path + " has mode " + ModeText(st.st_mode) +
                                 "; WAL directories must be 0700 (chmod 700 it)");
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open directory", path);
  const int rc = fsync(fd);
  const int saved = errno;
  close(fd);
  if (rc != 0) return Errno("fsync of directory failed:", path, saved);
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

Status OpenRegularFile(const std::string& path, Links links, int* fd, uint64_t* size,
                       bool* refused) {
  const bool nofollow = links == Links::kRefuse;
  if (refused != nullptr) *refused = false;
  *fd = open(path.c_str(),
             O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0));
  if (*fd < 0) {
    if (refused != nullptr) *refused = nofollow && errno == ELOOP;
    return OpenError(path, nofollow, errno);
  }
  struct stat st {};
  const Status regular = CheckRegular(*fd, path, &st);
  if (!regular.ok()) {
    if (refused != nullptr) *refused = st.st_mode != 0 && !S_ISREG(st.st_mode);
    *fd = -1;
    return regular;
  }
  *size = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

Status OpenOwnFileForWrite(const std::string& path, int extra_flags, int* fd) {
  // O_NONBLOCK: a FIFO without a reader fails the open (ENXIO) instead of waiting for one.
  *fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | extra_flags);
  if (*fd < 0) return OpenError(path, /*nofollow=*/true, errno);
  struct stat st {};
  Status status = CheckRegular(*fd, path, &st);
  if (!status.ok()) {
    *fd = -1;
    return status;
  }
  if (st.st_uid != geteuid()) {
    status = Status(Code::kIo, path + " is owned by uid " + std::to_string(st.st_uid) +
                                   ", not by this process; refusing to write it");
  } else if ((st.st_mode & 077) != 0) {
    status = Status(Code::kIo, path + " has mode " + ModeText(st.st_mode) +
                                   "; files the engine writes must be 0600");
  }
  if (!status.ok()) {
    close(*fd);
    *fd = -1;
  }
  return status;
}

Status ReadSmallFile(const std::string& path, size_t max_bytes, std::string* out, Links links) {
  int fd = -1;
  uint64_t size = 0;
  RON_RETURN_IF_ERROR(OpenRegularFile(path, links, &fd, &size));
  Status status;
  if (size > max_bytes) {
    status = Status(Code::kIo, path + " is larger than " + std::to_string(max_bytes) + " bytes");
  } else {
    // One spare byte tells a file that grew after fstat from one that did not.
    out->resize(size + 1);
    size_t done = 0;
    status = PreadAll(fd, out->data(), out->size(), path, &done);
    out->resize(done);
    if (status.ok() && done > max_bytes) {
      status = Status(Code::kIo, path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  close(fd);
  return status;
}

void Wipe(std::string* s) {
  s->resize(s->capacity());
  explicit_bzero(s->data(), s->size());
  s->clear();
}

Status ReadSecretFile(const std::string& path, std::string_view what, size_t max_bytes,
                      bool require_0600, std::string* out) {
  const std::string name = std::string(what) + " " + path;
  // O_NONBLOCK keeps a FIFO from blocking the open; it is refused below as not regular.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Errno("cannot open", name);
  struct stat st {};
  Status status;
  if (fstat(fd, &st) != 0) {
    status = Errno("cannot stat", name);
  } else if (!S_ISREG(st.st_mode)) {
    status = Status(Code::kSchema, name + " is not a regular file");
  } else if (require_0600 && (st.st_mode & 07777) != 0600) {
    status = Status(Code::kSchema, name + " has mode " + ModeText(st.st_mode) + "; must be 0600");
  } else if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    status =
        Status(Code::kSchema, name + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!status.ok()) {
    close(fd);
    return status;
  }
  out->clear();
  out->resize(max_bytes + 1);  // one spare byte detects a file that grew after fstat
  size_t size = 0;
  while (size < out->size()) {
    const ssize_t n = read(fd, out->data() + size, out->size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Errno("cannot read", name);
      break;
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  if (status.ok() && size > max_bytes) {
    status =
        Status(Code::kSchema, name + " is longer than " + std::to_string(max_bytes) + " bytes");
  }
  if (!status.ok()) {
    Wipe(out);
    return status;
  }
  explicit_bzero(out->data() + size, out->size() - size);
  out->resize(size);
  return Status::Ok();
}

Status CreateExclusiveFile(const std::string& path, std::string_view what, std::string_view data) {
  const std::string name = std::string(what) + " " + path;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == EEXIST) {
    return Status(Code::kIo, name + " already exists; refusing to overwrite", EEXIST);
  }
  if (fd < 0) return Errno("cannot create", name);
  Status status;
  // The umask may have taken bits away from 0600; set it exactly.
  if (fchmod(fd, 0600) != 0) status = Errno("cannot chmod", name);
  size_t done = 0;
  while (status.ok() && done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = Errno("cannot write", name);
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (status.ok() && fsync(fd) != 0) status = Errno("cannot fsync", name);
  if (close(fd) != 0 && status.ok()) status = Errno("cannot close", name);
  if (status.ok()) {
    const size_t slash = path.find_last_of('/');
    status = FsyncDir(slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash));
  }
  if (!status.ok()) unlink(path.c_str());
  return status;
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes, Replace replace) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string temp = path + ".tmp";
  // A temporary file left by a crash (or anything planted there, a link included) goes first;
  // O_EXCL then guarantees a new file of our own.
  if (unlink(temp.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", temp);
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot create", temp);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      close(fd);
      unlink(temp.c_str());
      return Errno("cannot write", temp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    unlink(temp.c_str());
    return Errno("fsync failed:", temp, err);
  }
  close(fd);
  // rename() replaces a link at `path` itself; it never writes through one.
  const int renamed = replace == Replace::kNever
                          ? renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, path.c_str(),
                                      RENAME_NOREPLACE)
                          : rename(temp.c_str(), path.c_str());
  if (renamed != 0) {
    const int err = errno;
    unlink(temp.c_str());
    if (err == EEXIST) return Status(Code::kConflict, path + " exists; refusing to replace it");
    return Errno("cannot rename to", path, err);
  }
  return FsyncDir(dir);
}

ReadBuffer ReadBuffer::Mapped(size_t bytes) {
  ReadBuffer b;
  const size_t rounded = HugePageMultiple(bytes);
  b.data_ = MapHugePages(rounded);
  if (b.data_ != nullptr) {
    b.capacity_ = rounded;
    b.mapped_ = true;
  }
  return b;
}

ReadBuffer ReadBuffer::Allocated(size_t bytes) {
  ReadBuffer b;
  b.data_ = new char[bytes];
  b.capacity_ = bytes;
  return b;
}

ReadBuffer& ReadBuffer::operator=(ReadBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

void ReadBuffer::Release() {
  if (data_ == nullptr) return;
  if (mapped_) {
    munmap(data_, capacity_);
  } else {
    delete[] data_;
  }
  data_ = nullptr;
  capacity_ = 0;
  mapped_ = false;
}

FileWindow::FileWindow(size_t capacity, bool huge_pages) : capacity_(capacity) {
  if (huge_pages) buf_ = ReadBuffer::Mapped(capacity);
  if (buf_.data() == nullptr) buf_ = ReadBuffer::Allocated(capacity);
}

Status FileWindow::Slide(int fd, uint64_t offset, uint64_t file_size, const std::string& path) {
  size_t keep = 0;
  if (offset >= base_ && offset < base_ + size_) {
    keep = static_cast<size_t>(base_ + size_ - offset);
    std::memmove(buf_.data(), buf_.data() + (offset - base_), keep);
  }
  const size_t want = static_cast<size_t>(std::min<uint64_t>(capacity_, file_size - offset));
  base_ = offset;
  size_ = keep;
  cut_ = false;
  if (want <= keep) return Status::Ok();
  size_t done = 0;
  const Status read = PreadAll(fd, buf_.data() + keep, want - keep, path, &done, offset + keep);
  size_ = keep + done;
  cut_ = size_ < want;
  return read;
}

Status FileContents::Read(int fd, uint64_t size, const std::string& path) {
  if (size + 1 > buf_.capacity()) {
    buf_ = ReadBuffer();  // the old one given back before the new one is taken
    const size_t want = size + 1;
    if (want >= kHugePage) {
      // Address space for a whole default-sized segment at once: only the pages a read
      // touches are ever backed, so a smaller first segment costs nothing more, and the next,
      // larger one does not unmap, map and fault (zero) everything again (it did: a fifth of
      // a one-thread verify went to the kernel zeroing fresh pages).
      constexpr size_t kReserve = limits::kDefaultRotateBytes + kHugePage;
      buf_ = ReadBuffer::Mapped(std::max(want, kReserve));
    }
    if (buf_.data() == nullptr) buf_ = ReadBuffer::Allocated(want);
  }
  // A file that grew since fstat is read as it was measured: what a writer adds later is the
  // next reader's business, and the scanner treats the cut like any other end.
  return PreadAll(fd, buf_.data(), size, path, &size_);
}

Result<std::unique_ptr<DirLock>> DirLock::Acquire(const std::string& dir,
                                                  const std::string& holder) {
  const std::string path = dir + "/" + kLockFileName;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  if (fd < 0) return OpenError(path, /*nofollow=*/true, errno);
  struct stat st {};
  RON_RETURN_IF_ERROR(CheckRegular(fd, path, &st));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string who(256, '\0');
    const ssize_t n = pread(fd, who.data(), who.size(), 0);
    close(fd);
    if (err != EWOULDBLOCK) return Errno("cannot lock", path, err);
    who.resize(n > 0 ? static_cast<size_t>(n) : 0);
    while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
    for (char& c : who) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return Status(Code::kIo, dir + " is in use by another writer (" +
                                 (who.empty() ? std::string("holder unknown") : who) +
                                 "); one engine at a time writes a directory");
  }
  const std::string text = "pid " + std::to_string(getpid()) + " " + holder + "\n";
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const Status status = Errno("cannot write", path);
    close(fd);
    return status;
  }
  return std::unique_ptr<DirLock>(new DirLock(fd));
}

DirLock::~DirLock() { close(fd_); }

}  // namespace ron::wal
