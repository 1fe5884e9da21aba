#include "wal/journal.h"

#include <endian.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
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

uint64_t Load64(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return le64toh(v);
}

// Where the header slot naming `generation` starts.
uint64_t SlotOffset(uint64_t generation) { return (generation - 1) % 2 * kJournalSlotStride; }

// How a journal's batches are laid out: v2 (no generation) or v3 (of one generation).
struct Format {
  const uint8_t* batch_magic;
  size_t batch_header;  // bytes before a batch's frames
  uint64_t generation;  // v3: the header's; 0: v2
  // Where batches start: after the header (one block in v2, two in v3).
  uint64_t first_batch() const {
    return generation == 0 ? kJournalHeaderBytesV2 : kJournalHeaderBytes;
  }
};

// Whether `header` (at least format.batch_header bytes) starts a batch of the journal's
// generation, of a length a writer makes: the magic, at most kMaxJournalBatchBytes of frames.
bool BatchHeader(const char* header, const Format& format) {
  return std::memcmp(header, format.batch_magic, 8) == 0 &&
         Load64(header + 16) <= kMaxJournalBatchBytes &&
         (format.generation == 0 || Load64(header + 24) == format.generation);
}

// Reads the batch at `offset` into *buf (header and frames) if it is whole there: its magic,
// a length within the file, a matching checksum and (v3) the journal's generation. A length
// over kMaxJournalBatchBytes is Io: no writer of this format makes one, and no torn write does
// (the header is written whole, in the batch's first sector), so it is damage or a batch this
// build cannot read (an earlier build of the same format had no bound), never a torn tail to
// drop. So is a whole v3 batch of a generation newer than the header's (no writer starts one
// before its header is durable). A whole batch of an earlier generation is stale: not whole.
Status WholeBatchAt(int fd, const std::string& path, uint64_t file_size, uint64_t offset,
                    const Format& format, std::string* buf, bool* whole) {
  *whole = false;
  const size_t head = format.batch_header;
  if (offset + head > file_size) return Status::Ok();
  char header[kJournalBatchHeaderBytes];
  size_t done = 0;
  RON_RETURN_IF_ERROR(PreadAll(fd, header, head, path, &done, offset));
  if (done != head || std::memcmp(header, format.batch_magic, 8) != 0) return Status::Ok();
  const uint64_t length = Load64(header + 16);
  if (length > kMaxJournalBatchBytes) {
    return Status(Code::kIo, path + ": the batch at offset " + std::to_string(offset) +
                                 " claims " + std::to_string(length) +
                                 " bytes of frames, more than any writer puts in one batch (" +
                                 std::to_string(kMaxJournalBatchBytes) + ")");
  }
  if (length > file_size - offset - head) return Status::Ok();
  buf->resize(head + static_cast<size_t>(length));
  RON_RETURN_IF_ERROR(PreadAll(fd, buf->data(), buf->size(), path, &done, offset));
  if (done != buf->size()) return Status::Ok();
  const std::string_view checked = std::string_view(*buf).substr(16);
  *whole = segment::FrameChecksum(checked) == Load64(buf->data() + 8);
  if (!*whole || format.generation == 0) return Status::Ok();
  const uint64_t generation = Load64(buf->data() + 24);
  if (generation > format.generation) {
    return Status(Code::kIo, path + ": the batch at offset " + std::to_string(offset) +
                                 " is of generation " + std::to_string(generation) +
                                 ", newer than the journal header's " +
                                 std::to_string(format.generation) + " (a damaged header)");
  }
  *whole = generation == format.generation;
  return Status::Ok();
}

// What follows the first batch that is not whole, at `offset`, up to `size` (the file may
// grow meanwhile: a live journal read by a tool), read once through a window (holes skipped):
// the end (zeros, *torn false), or a torn last batch (*torn: its commit never returned) when
// no later block starts with a batch header. A writer starts a batch only once the one before
// was acknowledged (a failed one is cut out first, durably), and no torn write holds a header
// past its first block: the frames' JSON never holds the magic's FF, and where their binary
// fields (length, seq, self_hash, checksum) happen to spell the magic, the length that follows
// it is not one a writer makes (BatchHeader) but with a chance of about 2^-38. A header there
// means the damaged batch was acknowledged.
// From generation 2 on, what follows the journal's batches may be stale batches as well: *torn
// only when a batch header of the generation starts the first position that is not whole.
Status ReadTail(int fd, const std::string& path, uint64_t size, uint64_t offset,
                const Format& format, std::string* buf, bool* torn) {
  constexpr size_t kBlock = segment::kPaddingAlignBytes;
  buf->resize(kBlock * 256);
  for (uint64_t at = offset; at < size; at += buf->size()) {
    // A hole reads as zeros: skipped (where the file system cannot say, read).
    const off_t data = lseek(fd, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data >= 0) at = static_cast<uint64_t>(data) / kBlock * kBlock;
    if (at >= size) break;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf->size(), size - at));
    size_t done = 0;
    RON_RETURN_IF_ERROR(PreadAll(fd, buf->data(), want, path, &done, at));
    static constexpr char kZeros[kBlock] = {};
    for (size_t block = 0; block < done; block += kBlock) {
      const char* p = buf->data() + block;
      const size_t n = std::min(kBlock, done - block);
      const bool first = at == offset && block == 0;
      const bool header = n >= format.batch_header && BatchHeader(p, format);
      if (format.generation <= 1) {
        *torn = *torn || std::memcmp(p, kZeros, n) != 0;  // no stale batches before generation 2
      } else if (first) {
        *torn = header;
      }
      if (!first && header) {
        return Status(Code::kIo, path + ": damaged batch at offset " + std::to_string(offset) +
                                     " with a commit batch header after it at offset " +
                                     std::to_string(at + block) +
                                     " (so the damaged one was acknowledged)");
      }
    }
    if (done < want) break;
  }
  return Status::Ok();
}

// The start of a journal, through its second header slot (a file shorter than that has what it
// has: `done` bytes).
struct Head {
  char bytes[kJournalSlotStride + kJournalSlotBytes] = {};
  size_t done = 0;
};

Status ReadHead(int fd, const std::string& path, Head* head) {
  *head = Head();
  return PreadAll(fd, head->bytes, sizeof(head->bytes), path, &head->done);
}

// A v3 header's generation: that of its valid slot (magic, checksum, and the slot its
// generation names) with the higher generation; 0 if neither is. *magic (if given): a slot
// starts with the v3 magic.
uint64_t HeaderGeneration(const Head& head, bool* magic = nullptr) {
  uint64_t generation = 0;
  for (size_t slot = 0; slot < 2; ++slot) {
    const char* p = head.bytes + slot * kJournalSlotStride;
    if (slot * kJournalSlotStride + kJournalSlotBytes > head.done) break;
    if (std::memcmp(p, kJournalMagic, sizeof(kJournalMagic)) != 0) continue;
    if (magic != nullptr) *magic = true;
    const uint64_t g = Load64(p + 8);
    if (g != 0 && (g - 1) % 2 == slot &&
        segment::FrameChecksum(std::string_view(p, 16)) == Load64(p + 16)) {
      generation = std::max(generation, g);
    }
  }
  return generation;
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

std::string JournalSlot(uint64_t generation) {
  std::string slot(kJournalSlotBytes, '\0');
  std::memcpy(slot.data(), kJournalMagic, sizeof(kJournalMagic));
  const uint64_t le = htole64(generation);
  std::memcpy(slot.data() + 8, &le, sizeof(le));
  const uint64_t checksum = htole64(segment::FrameChecksum(std::string_view(slot).substr(0, 16)));
  std::memcpy(slot.data() + 16, &checksum, sizeof(checksum));
  return slot;
}

std::string JournalHeaderBlock(uint64_t generation) {
  std::string header(kJournalHeaderBytes, '\0');
  header.replace(SlotOffset(generation), kJournalSlotBytes, JournalSlot(generation));
  return header;
}

void BeginJournalBatch(std::string* out) { out->assign(kJournalBatchHeaderBytes, '\0'); }

void EndJournalBatch(std::string* out, uint64_t generation) {
  const uint64_t length = htole64(out->size() - kJournalBatchHeaderBytes);
  const uint64_t le_generation = htole64(generation);
  std::memcpy(out->data(), kJournalBatchMagic, sizeof(kJournalBatchMagic));
  std::memcpy(out->data() + 16, &length, sizeof(length));
  std::memcpy(out->data() + 24, &le_generation, sizeof(le_generation));
  const uint64_t checksum = htole64(segment::FrameChecksum(std::string_view(*out).substr(16)));
  std::memcpy(out->data() + 8, &checksum, sizeof(checksum));
  out->resize(NextBlock(out->size()), '\0');
}

Result<std::unique_ptr<JournalWriter>> JournalWriter::Create(const std::string& dir,
                                                             FaultInjector* faults,
                                                             bool use_ring) {
  const std::string path = dir + "/" + FreshName();
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoErrorStatus(-errno, "cannot create commit journal " + path);
  const int rc = WriteAllAndSync(fd, JournalHeaderBlock(1), 0, faults);
  Status status = rc < 0 ? IoErrorStatus(rc, "cannot initialize " + path) : FsyncDir(dir);
  if (!status.ok()) {
    close(fd);
    unlink(path.c_str());
    return status;
  }
  return std::unique_ptr<JournalWriter>(new JournalWriter(dir, path, fd, faults, use_ring));
}

// The journal's own ring: a write linked to its fdatasync, in flight while the caller writes
// the segments.
struct JournalWriter::Ring {
  io_uring ring{};
  bool ok = false;
  bool submitted = false;
  Ring() { ok = io_uring_queue_init(4, &ring, 0) == 0; }
  ~Ring() {
    if (ok) io_uring_queue_exit(&ring);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
};

JournalWriter::JournalWriter(std::string dir, std::string path, int fd, FaultInjector* faults,
                             bool use_ring)
    : dir_(std::move(dir)), path_(std::move(path)), fd_(fd), faults_(faults) {
  if (!use_ring) return;
  auto ring = std::make_unique<Ring>();
  if (ring->ok) ring_ = std::move(ring);
}

JournalWriter::~JournalWriter() {
  if (ring_ != nullptr && ring_->submitted) (void)FinishAppend();  // never leave I/O in flight
  if (fd_ >= 0) close(fd_);
}

int JournalWriter::Append(std::string_view batch) {
  BeginAppend(batch);
  return FinishAppend();
}

void JournalWriter::BeginAppend(std::string_view batch) {
  pending_ = batch;
  pending_rc_ = 0;
  if (faults_ != nullptr) {
    pending_rc_ = faults_->OnWrite(fd_, batch.size());
    if (pending_rc_ == 0) pending_rc_ = faults_->OnFsync(fd_);
    if (pending_rc_ < 0) return;
  }
  if (ring_ != nullptr) {
    io_uring_sqe* write = io_uring_get_sqe(&ring_->ring);
    io_uring_sqe* sync = write != nullptr ? io_uring_get_sqe(&ring_->ring) : nullptr;
    if (sync != nullptr) {
      io_uring_prep_write(write, fd_, batch.data(), static_cast<unsigned>(batch.size()), end_);
      write->flags |= IOSQE_IO_LINK;
      io_uring_prep_fsync(sync, fd_, IORING_FSYNC_DATASYNC);
      if (io_uring_submit(&ring_->ring) == 2) {
        ring_->submitted = true;
        return;
      }
    }
    // The ring cannot take them (never expected): from now on, appends are synchronous. What
    // was queued but not submitted is dropped with the ring.
    ring_.reset();
  }
  pending_rc_ = WriteAllAndSync(fd_, batch, end_, nullptr);
}

int JournalWriter::FinishAppend() {
  int rc = pending_rc_;
  if (ring_ != nullptr && ring_->submitted) {
    ring_->submitted = false;
    int results[2] = {-EIO, -EIO};  // the write's, the fdatasync's
    for (int seen = 0; seen < 2;) {
      io_uring_cqe* cqe = nullptr;
      const int w = io_uring_wait_cqe(&ring_->ring, &cqe);
      if (w == -EINTR) continue;
      if (w < 0) {  // the ring failed us: the outcome of the write is unknown, call it failed
        rc = w;
        break;
      }
      results[seen++] = cqe->res;
      io_uring_cqe_seen(&ring_->ring, cqe);
    }
    if (rc == 0) {
      if (results[0] < 0) {
        rc = results[0];
      } else if (static_cast<size_t>(results[0]) < pending_.size()) {
        // A short write breaks the link (the fdatasync is cancelled): finish here.
        const size_t done = static_cast<size_t>(results[0]);
        rc = WriteAllAndSync(fd_, pending_.substr(done), end_ + done, nullptr);
      } else {
        rc = results[1];
      }
    }
  }
  if (rc == 0) {
    last_begin_ = end_;
    end_ += pending_.size();
    return 0;
  }
  cut_failed_ = Cut(end_) != 0;
  return rc;
}

int JournalWriter::CutLast() {
  if (Cut(last_begin_) != 0) {
    cut_failed_ = true;
    return -EIO;
  }
  end_ = last_begin_;
  return 0;
}

int JournalWriter::Cut(uint64_t end) {
  return ftruncate(fd_, static_cast<off_t>(end)) == 0 && fsync(fd_) == 0 ? 0 : -errno;
}

int JournalWriter::Reset() {
  // The next generation's slot, synced before any batch of it is written: from then on the
  // batches in the file are stale. The blocks stay, for the next batches to overwrite.
  const uint64_t next = generation_ + 1;
  if (const int rc = WriteAll(fd_, JournalSlot(next), SlotOffset(next), nullptr); rc < 0) {
    return rc;
  }
  if (faults_ != nullptr) {
    if (const int e = faults_->OnFsync(fd_); e < 0) return e;
  }
  if (fdatasync(fd_) != 0) return -errno;
  generation_ = next;
  end_ = last_begin_ = kJournalHeaderBytes;
  return 0;
}

Status JournalWriter::Remove() {
  close(fd_);
  fd_ = -1;
  if (unlink(path_.c_str()) != 0) return IoErrorStatus(-errno, "cannot remove " + path_);
  return FsyncDir(dir_);
}

Status ScanJournal(const std::string& path, size_t max_record_bytes, const JournalBatchFn& on_batch,
                   bool* torn, const std::function<void()>& before_recheck) {
  *torn = false;
  int fd = -1;
  uint64_t size = 0;
  RON_RETURN_IF_ERROR(OpenRegularFile(path, Links::kRefuse, &fd, &size));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  Head start;
  RON_RETURN_IF_ERROR(ReadHead(fd, path, &start));
  const char* head = start.bytes;
  if (start.done < sizeof(kJournalMagic)) {
    *torn = size != 0;  // created, never initialized: nothing was acknowledged
    return Status::Ok();
  }
  if (std::memcmp(head, kJournalMagic, sizeof(kJournalMagic) - 1) == 0 && head[7] == 1) {
    return Status(Code::kIo, path + " is a commit journal of format v1, written by an earlier "
                                    "build: open this WAL once with that build (it applies and "
                                    "removes the journal), then with this one");
  }
  Format format{kJournalBatchMagicV2, kJournalBatchHeaderBytesV2, 0};
  if (std::memcmp(head, kJournalMagicV2, sizeof(kJournalMagicV2)) != 0) {
    // v3: the valid slot with the higher generation (a torn rewrite of one leaves the other).
    if (size < kJournalHeaderBytes &&
        std::memcmp(head, kJournalMagic, sizeof(kJournalMagic)) == 0) {
      return Status::Ok();  // its creation was cut short (the header is synced before use)
    }
    bool magic = false;
    const uint64_t generation = HeaderGeneration(start, &magic);
    if (!magic) return Status(Code::kIo, path + " is not a commit journal (bad magic)");
    if (generation == 0) {
      return Status(Code::kIo, path + ": neither slot of the commit journal's header is valid");
    }
    format = Format{kJournalBatchMagic, kJournalBatchHeaderBytes, generation};
  }
  if (size > kMaxJournalFileBytes) {
    return Status(Code::kIo, path + " is " + std::to_string(size) +
                                 " bytes, longer than any commit journal this build writes or "
                                 "reads (" + std::to_string(kMaxJournalFileBytes) +
                                 "): damaged, or written by an earlier build without its bound");
  }
  std::string buf;
  std::vector<segment::FrameView> frames;
  uint32_t batch = 0;
  // A reader of a live journal (a tool) may see it emptied under it, batches of the next
  // generation overwriting those it was reading: damage found then is none (every batch the
  // journal held is synced in the segments). The writer's own recovery never reads a live one.
  // Or, from generation 2 on (the file already as long as the batches it is about to get), the
  // writer may append batches of the generation over the stale ones past the end the reader
  // found: a batch there that is whole when looked at again is no damage after it, nor a torn
  // tail. Neither happens to a journal nobody writes: the read gives the same answer twice.
  const auto checked = [&](const Status& found, uint64_t end) {
    if (format.generation == 0 || (found.ok() && !*torn)) return found;
    if (before_recheck) before_recheck();
    Head again;
    if (!ReadHead(fd, path, &again).ok()) return found;
    const uint64_t now = HeaderGeneration(again);
    bool grew = false;
    if (now == format.generation && end != 0 &&
        !WholeBatchAt(fd, path, size, end, format, &buf, &grew).ok()) {
      return found;
    }
    if (now <= format.generation && !grew) return found;
    *torn = false;
    return Status::Ok();
  };
  for (uint64_t offset = format.first_batch(); offset < size; ++batch) {
    bool whole = false;
    const Status read = WholeBatchAt(fd, path, size, offset, format, &buf, &whole);
    if (!read.ok()) return checked(read, 0);
    if (!whole) return checked(ReadTail(fd, path, size, offset, format, &buf, torn), offset);
    frames.clear();
    const std::string_view bytes = buf;
    for (uint64_t at = format.batch_header; at < bytes.size();) {
      segment::FrameView frame;
      if (segment::DecodeFrame(bytes, at, max_record_bytes, &frame) != segment::FrameStatus::kOk) {
        return Status(Code::kIo, path + ": batch at offset " + std::to_string(offset) +
                                     " is whole but holds a malformed frame");
      }
      at += frame.size;
      frame.offset += offset;
      frames.push_back(frame);
    }
    RON_RETURN_IF_ERROR(on_batch(batch, bytes.substr(format.batch_header), frames));
    offset = NextBlock(offset + bytes.size());
  }
  return Status::Ok();
}

Status ReadJournal(const std::string& path, size_t max_record_bytes, JournalContents* out) {
  out->path = path;
  out->batches.clear();
  out->frames.clear();
  out->batch_of.clear();
  return ScanJournal(
      path, max_record_bytes,
      [&](uint32_t batch, std::string_view bytes, std::span<const segment::FrameView> frames) {
        const std::string& copy = out->batches.emplace_back(bytes);
        for (segment::FrameView frame : frames) {
          frame.json = std::string_view(copy).substr(
              static_cast<size_t>(frame.json.data() - bytes.data()), frame.json.size());
          out->frames.push_back(frame);
          out->batch_of.push_back(batch);
        }
        return Status::Ok();
      },
      &out->torn);
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

Status ListSetAsideJournals(const std::string& dir, std::vector<std::string>* paths) {
  paths->clear();
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(ListDir(dir, &names));
  for (const std::string& name : names) {
    const std::string_view n = name;
    if (n.ends_with(kSetAsideSuffix) &&
        IsJournalFileName(n.substr(0, n.size() - kSetAsideSuffix.size()))) {
      paths->push_back(dir + "/" + name);
    }
  }
  return Status::Ok();
}

Status SetJournalAside(const std::string& path) {
  const std::string aside = path + std::string(kSetAsideSuffix);
  if (rename(path.c_str(), aside.c_str()) != 0) {
    return IoErrorStatus(-errno, "cannot set commit journal " + path + " aside");
  }
  return Status::Ok();
}

Status RetireJournals(const std::string& dir, const std::set<std::string>& keep,
                      const std::set<std::string>& set_aside) {
  std::vector<std::string> paths;
  RON_RETURN_IF_ERROR(ListJournals(dir, &paths));
  bool changed = false;
  for (const std::string& path : paths) {
    if (keep.count(path) != 0) continue;
    if (set_aside.count(path) != 0) {
      RON_RETURN_IF_ERROR(SetJournalAside(path));
    } else if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IoErrorStatus(-errno, "cannot remove applied commit journal " + path);
    }
    changed = true;
  }
  return changed ? FsyncDir(dir) : Status::Ok();
}

}  // namespace ron::wal
