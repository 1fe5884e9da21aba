#include "wal/journal.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "wal/files.h"

namespace ron::wal {
namespace {

constexpr std::string_view kPrefix = "#journal-";
constexpr std::string_view kSuffix = ".jnl";
constexpr size_t kIdDigits = 16;

std::string FreshName() {
  uint64_t id = 0;
  if (getrandom(&id, sizeof(id), 0) != static_cast<ssize_t>(sizeof(id))) {
    id = static_cast<uint64_t>(getpid()) << 32 ^ static_cast<uint64_t>(time(nullptr));
  }
  char hex[kIdDigits + 1];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(id));
  return std::string(kPrefix) + hex + std::string(kSuffix);
}

uint64_t NextBlock(uint64_t offset) {
  return (offset + segment::kPaddingAlignBytes - 1) / segment::kPaddingAlignBytes *
         segment::kPaddingAlignBytes;
}

// Whether a complete batch (frames up to its batch end) starts at `offset`.
bool BatchAt(std::string_view file, uint64_t offset, size_t max_record_bytes) {
  segment::FrameView frame;
  bool any = false;
  while (offset < file.size()) {
    switch (segment::DecodeFrame(file, offset, max_record_bytes, &frame)) {
      case segment::FrameStatus::kOk:
        any = true;
        offset += frame.size;
        break;
      case segment::FrameStatus::kPadding:
        return any;
      default:
        return false;
    }
  }
  return false;
}

}  // namespace

bool IsJournalFileName(std::string_view name) {
  if (name.size() != kPrefix.size() + kIdDigits + kSuffix.size()) return false;
  if (name.substr(0, kPrefix.size()) != kPrefix ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  for (char c : name.substr(kPrefix.size(), kIdDigits)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void AppendJournalBatchEnd(uint64_t base_offset, std::string* out) {
  // A marker at every batch end, also on a 4 KiB boundary: readers tell batches apart by it.
  const size_t start = out->size();
  const uint64_t next = segment::AfterPadding(base_offset + start);
  out->resize(start + static_cast<size_t>(next - base_offset - start), '\0');
  const uint32_t marker = segment::kPaddingMarker;
  std::memcpy(out->data() + start, &marker, sizeof(marker));  // all ones: any byte order
}

Result<std::unique_ptr<JournalWriter>> JournalWriter::Create(const std::string& dir,
                                                             FaultInjector* faults) {
  const std::string path = dir + "/" + FreshName();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoErrorStatus(-errno, "cannot create commit journal " + path);
  std::string header(kJournalHeaderBytes, '\0');
  std::memcpy(header.data(), kJournalMagic, sizeof(kJournalMagic));
  const int rc = WriteAllAndSync(fd, header, 0, faults);
  Status status = rc < 0 ? IoErrorStatus(rc, "cannot initialize " + path) : FsyncDir(dir);
  if (!status.ok()) {
    close(fd);
    unlink(path.c_str());
    return status;
  }
  return std::unique_ptr<JournalWriter>(new JournalWriter(dir, path, fd, faults));
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) close(fd_);
}

int JournalWriter::Append(std::string_view batch) {
  const int rc = WriteAllAndSync(fd_, batch, end_, faults_);
  if (rc == 0) {
    end_ += batch.size();
    return 0;
  }
  cut_failed_ = !(ftruncate(fd_, static_cast<off_t>(end_)) == 0 && fsync(fd_) == 0);
  return rc;
}

int JournalWriter::Reset() {
  if (ftruncate(fd_, static_cast<off_t>(kJournalHeaderBytes)) != 0) return -errno;
  if (faults_ != nullptr) {
    if (const int e = faults_->OnFsync(fd_); e < 0) return e;
  }
  if (fsync(fd_) != 0) return -errno;  // the new size, durably, before batches overwrite
  end_ = kJournalHeaderBytes;
  return 0;
}

Status JournalWriter::Remove() {
  close(fd_);
  fd_ = -1;
  if (unlink(path_.c_str()) != 0) return IoErrorStatus(-errno, "cannot remove " + path_);
  return FsyncDir(dir_);
}

Status ReadJournal(const std::string& path, size_t max_record_bytes, JournalContents* out) {
  out->path = path;
  out->frames.clear();
  out->batch_of.clear();
  out->torn = false;
  // A journal holds at most journal_max_bytes plus one commit; the bound only guards memory.
  RON_RETURN_IF_ERROR(ReadSmallFile(path, segment::kMaxSegmentBytes, &out->bytes));
  const std::string_view file = out->bytes;
  if (file.size() < sizeof(kJournalMagic)) {
    out->torn = !file.empty();  // created, never initialized: nothing was acknowledged
    return Status::Ok();
  }
  if (std::memcmp(file.data(), kJournalMagic, sizeof(kJournalMagic)) != 0) {
    return Status(Code::kIo, path + " is not a commit journal (bad magic)");
  }
  uint64_t offset = kJournalHeaderBytes;
  uint32_t batch = 0;
  size_t batch_first = 0;  // the first frame of the batch being read
  while (offset < file.size()) {
    segment::FrameView frame;
    const segment::FrameStatus st = segment::DecodeFrame(file, offset, max_record_bytes, &frame);
    if (st == segment::FrameStatus::kOk) {
      out->frames.push_back(frame);
      out->batch_of.push_back(batch);
      offset += frame.size;
      continue;
    }
    if (st == segment::FrameStatus::kPadding) {
      offset = segment::AfterPadding(offset);
      ++batch;
      batch_first = out->frames.size();
      continue;
    }
    if (st == segment::FrameStatus::kEnd && offset % segment::kPaddingAlignBytes == 0 &&
        batch_first == out->frames.size()) {
      // Zeros where a batch would start: the end. A complete batch after them is damage.
      for (uint64_t at = offset; at < file.size(); at += segment::kPaddingAlignBytes) {
        if (BatchAt(file, at, max_record_bytes)) {
          return Status(Code::kIo, path + ": zeros at offset " + std::to_string(offset) +
                                       " with a complete commit batch after them");
        }
      }
      return Status::Ok();
    }
    // A cut or damaged batch: its commit never returned, unless a complete batch follows.
    for (uint64_t at = NextBlock(offset + 1); at < file.size(); at += segment::kPaddingAlignBytes) {
      if (BatchAt(file, at, max_record_bytes)) {
        return Status(Code::kIo, path + ": damaged frame at offset " + std::to_string(offset) +
                                     " with a complete commit batch after it");
      }
    }
    out->frames.resize(batch_first);
    out->batch_of.resize(batch_first);
    out->torn = true;
    return Status::Ok();
  }
  // A batch without its end marker was cut short.
  if (batch_first != out->frames.size()) {
    out->frames.resize(batch_first);
    out->batch_of.resize(batch_first);
    out->torn = true;
  }
  return Status::Ok();
}

Status ListJournals(const std::string& dir, std::vector<std::string>* paths) {
  paths->clear();
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(ListDir(dir, &names));
  for (const std::string& name : names) {
    if (IsJournalFileName(name)) paths->push_back(dir + "/" + name);
  }
  return Status::Ok();
}

Status RemoveJournalsExcept(const std::string& dir, const std::set<std::string>& keep) {
  std::vector<std::string> paths;
  RON_RETURN_IF_ERROR(ListJournals(dir, &paths));
  bool removed = false;
  for (const std::string& path : paths) {
    if (keep.count(path) != 0) continue;
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IoErrorStatus(-errno, "cannot remove applied commit journal " + path);
    }
    removed = true;
  }
  return removed ? FsyncDir(dir) : Status::Ok();
}

}  // namespace ron::wal
