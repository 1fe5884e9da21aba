// The file layer: every file the engine and its tools open goes through these helpers, so that
// the rules hold everywhere at once:
//   - a FIFO, device or socket in place of a file is refused, never opened blocking;
//   - files the engine writes are never reached through a symbolic link, temporary files are
//     created exclusively, and existing ones must be regular, ours and 0600;
//   - directories are 0700 and ours (refused otherwise: fail closed);
//   - a file that shrinks while it is read gives a shorter read, never a fault (no mmap).
// Errors are Io with the path and the reason; nothing here logs.
//
// Thread-safety: functions are reentrant; FileContents and DirLock are single-owner values.
#ifndef WAL_FILES_H_
#define WAL_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ron_audit/status.h"

namespace ron::wal {

// Creates `path` with mode 0700 if missing (parents must exist), else checks it: a directory,
// owned by the effective uid, no group/other permission bits. Fails closed with Io.
Status EnsurePrivateDir(const std::string& path, bool create);

// fsync of a directory, so that a created/renamed entry in it is durable.
Status FsyncDir(const std::string& path);

// Names of the entries of a directory (no "." or ".."), sorted.
Status ListDir(const std::string& path, std::vector<std::string>* names);

// Whether a path's last component may be a symbolic link. Files the engine writes, and the
// segments and manifests it reads back, never are (kRefuse); files an operator hands in (keys,
// configuration) may be (kFollow).
enum class Links { kRefuse, kFollow };

// Opens an existing file read-only. The open cannot block (O_NONBLOCK: a FIFO would wait for a
// writer forever), and anything but a regular file is refused with Io "... is not a regular
// file". On success *fd is open (blocking mode restored) and *size is its size at open. When
// `refused` is given, it tells a refusal (something other than a regular file, or a link under
// kRefuse) from a failure to open (missing, permissions, no fds).
Status OpenRegularFile(const std::string& path, Links links, int* fd, uint64_t* size,
                       bool* refused = nullptr);

// The same for a file the engine writes (segments): opened write-only (plus `extra_flags`, e.g.
// O_DIRECT), never through a link, and refused unless it is a regular file owned by the
// effective uid with no group/other permission bits. Never creates.
Status OpenOwnFileForWrite(const std::string& path, int extra_flags, int* fd);

// Reads up to `size` bytes of fd from `offset`; *done is how many arrived (less at end of file).
// `path` names the file in errors.
Status PreadAll(int fd, char* out, size_t size, const std::string& path, size_t* done,
                uint64_t offset = 0);

// Reads a whole regular file of at most `max_bytes` (Io if longer) into *out.
Status ReadSmallFile(const std::string& path, size_t max_bytes, std::string* out,
                     Links links = Links::kRefuse);

// Files an operator hands in that may hold a secret (key files; trusted-keys lists): reads a
// whole regular file of at most `max_bytes` into *out without reallocating it, so a secret
// leaves no stray copy, and wipes *out on failure. `what` names the file in messages ("key
// file"). Schema (the key-file contract) when it is not a regular file, longer than
// `max_bytes`, or, with `require_0600`, of any mode but exactly 0600; Io when it cannot be
// opened or read.
Status ReadSecretFile(const std::string& path, std::string_view what, size_t max_bytes,
                      bool require_0600, std::string* out);

// Creates `path` exclusively (O_EXCL, never through a link) with mode exactly 0600, writes
// `data`, and makes the file and its directory entry durable; on failure removes what it
// created. An existing path is Io ("already exists; refusing to overwrite").
Status CreateExclusiveFile(const std::string& path, std::string_view what, std::string_view data);

// Zeroes every byte a string may hold, including capacity past its size, then empties it.
void Wipe(std::string* s);

// Writes `bytes` to `path` atomically, mode 0600: a temporary file beside it is created
// exclusively (a stale one from a crash is removed first; neither is ever followed through a
// link), written, fsync'd, renamed over `path`, and the directory fsync'd. With
// Replace::kNever an existing `path` is left as it is and the answer is Conflict (evidence such
// as a signed manifest is never overwritten).
enum class Replace { kAllow, kNever };
Status WriteFileAtomic(const std::string& path, std::string_view bytes,
                       Replace replace = Replace::kAllow);

// Memory for file bytes, freed the way it was obtained: anonymous memory on a huge-page
// boundary that asks for transparent huge pages (MADV_HUGEPAGE), or new[]. Empty (data()
// nullptr) by default and when the mapping fails.
class ReadBuffer {
 public:
  ReadBuffer() = default;
  // At least `bytes`, rounded up to whole 2 MiB pages, mapped; empty if mmap fails.
  static ReadBuffer Mapped(size_t bytes);
  // `bytes` from new[].
  static ReadBuffer Allocated(size_t bytes);
  ~ReadBuffer() { Release(); }
  ReadBuffer(ReadBuffer&& other) noexcept { *this = std::move(other); }
  ReadBuffer& operator=(ReadBuffer&& other) noexcept;
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  char* data() const { return data_; }
  size_t capacity() const { return capacity_; }

 private:
  void Release();

  char* data_ = nullptr;
  size_t capacity_ = 0;
  bool mapped_ = false;  // data_ came from mmap (capacity_ bytes), else from new[]
};

// A window onto a file: bytes [base(), end()) of it, read with pread into one
// buffer of a fixed capacity, allocated once. A reader that walks a file through it keeps the
// bytes it works on in the CPU's caches (a whole 128 MiB segment read first and walked after
// went to memory and back) and its memory bounded. Thread-compatible.
class FileWindow {
 public:
  // `huge_pages`: the buffer is anonymous memory that asks for a transparent huge page
  // (MADV_HUGEPAGE, 2 MiB-aligned): one TLB entry for the whole window, for the copy into it and
  // the walk over it (2-4 % of a one-thread verify). For long-lived windows (ReadBufferScope):
  // it costs an mmap and the zeroing of a 2 MiB page to create. Else new[].
  explicit FileWindow(size_t capacity, bool huge_pages = false);
  FileWindow(const FileWindow&) = delete;
  FileWindow& operator=(const FileWindow&) = delete;

  // Makes the window start at `offset` and hold min(capacity, file_size - offset) bytes of fd
  // (fewer if the file ends sooner: it shrank since it was measured). What the window held
  // from `offset` on is kept, not read again. REQUIRES: offset <= file_size.
  Status Slide(int fd, uint64_t offset, uint64_t file_size, const std::string& path);
  std::string_view bytes() const { return {buf_.data(), size_}; }
  uint64_t base() const { return base_; }
  uint64_t end() const { return base_ + size_; }  // the file offset just past the window
  size_t capacity() const { return capacity_; }
  // True if the last Slide found the file shorter than `file_size`.
  bool cut() const { return cut_; }
  // Forgets what the window holds (before a walk of another file).
  void Clear() { base_ = size_ = 0; }

 private:
  ReadBuffer buf_;          // at least capacity_ bytes
  const size_t capacity_;
  uint64_t base_ = 0;
  size_t size_ = 0;
  bool cut_ = false;
};

// The bytes of a whole file, read with pread into a buffer reused across files. A file that
// shrinks while it is read (a writer trimming its preallocated segment) yields the bytes that
// were there; unlike a mapping of the file, it can never fault. A buffer of 2 MiB or more is
// anonymous memory that asks for transparent huge pages (MADV_HUGEPAGE), so that filling a
// 128 MiB segment's worth takes tens of page faults instead of 32,768 (a tenth of a one-thread
// verify's time went there); without THP it behaves like any allocation.
class FileContents {
 public:
  FileContents() = default;
  FileContents(const FileContents&) = delete;
  FileContents& operator=(const FileContents&) = delete;

  // Reads all of `fd` (REQUIRES: size <= max_bytes, checked by the caller).
  Status Read(int fd, uint64_t size, const std::string& path);
  std::string_view bytes() const { return {buf_.data(), size_}; }

 private:
  ReadBuffer buf_;
  size_t size_ = 0;
};

// An exclusive advisory lock (flock) on the file kLockFileName inside a directory, held for the
// owner's lifetime and released by the kernel if the process dies. One writer per WAL (and
// export) directory: a second engine, in this process or another, is refused at once.
// Readers take no lock.
class DirLock {
 public:
  // The name of the lock file: '#' never appears in an escaped writer or stream name, so it
  // cannot collide with a stream directory.
  static constexpr const char* kLockFileName = "#ron-audit.lock";

  // Takes the lock, or fails with Io naming the directory and the holder (what the holder
  // wrote into the file: its pid and `holder`). `holder` is a short description (writer id).
  static Result<std::unique_ptr<DirLock>> Acquire(const std::string& dir,
                                                  const std::string& holder);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace ron::wal

#endif  // WAL_FILES_H_
