// Arbitrary bytes as a commit journal's batches (the file is the journal's header block, then
// the input). Where a block starts with the batch magic and the first two bytes of its checksum
// are zero, the checksum is filled in first (last block first), so that mutated batches stay
// whole and their frames get read. Properties: ScanJournal (wal/journal.h) never crashes or
// reads out of bounds (ASan), delivers exactly the whole batches in file order with frames that
// fill them, and gives the verdict of the rule in docs/FORMAT.md ("The commit journal"),
// recomputed here byte by byte with XXH3 of its own: the whole batches, then the end (zeros),
// a torn tail, or Io (a batch header after the damage, a length no writer makes, or frames
// that do not fill a batch).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "wal/journal.h"

namespace {

constexpr size_t kBlock = 4096;
constexpr size_t kMaxRecordBytes = 4096;

uint64_t LoadLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(p[i]);
  return v;
}

bool MagicAt(const std::string& file, size_t pos) {
  return pos + 8 <= file.size() &&
         std::memcmp(file.data() + pos, ron::wal::kJournalBatchMagic, 8) == 0;
}

// A batch header a writer makes: the magic, then (at +16) a length of at most 64 MiB.
bool HeaderAt(const std::string& file, size_t pos) {
  return pos + 24 <= file.size() && MagicAt(file, pos) &&
         LoadLe(file.data() + pos + 16, 8) <= (64u << 20);
}

// The frames' length when the batch at `pos` is whole (FORMAT.md), else -1; -2 for the magic
// with a length no writer makes (over 64 MiB), which is Io.
int64_t WholeLength(const std::string& file, size_t pos) {
  if (pos + 24 > file.size() || !MagicAt(file, pos)) return -1;
  if (!HeaderAt(file, pos)) return -2;
  const uint64_t length = LoadLe(file.data() + pos + 16, 8);
  if (length > file.size() - pos - 24) return -1;
  if (XXH3_64bits(file.data() + pos + 16, 8 + length) != LoadLe(file.data() + pos + 8, 8)) {
    return -1;
  }
  return static_cast<int64_t>(length);
}

// Whether [begin, end) of `file` is a run of §3 frames that fills it exactly.
bool FramesFill(const std::string& file, size_t begin, size_t end) {
  for (size_t at = begin; at < end;) {
    if (at + 4 > end) return false;
    const uint64_t len = LoadLe(file.data() + at, 4);
    if (len == 0 || len > kMaxRecordBytes) return false;  // also the end and padding markers
    const size_t size = 4 + 1 + 8 + len + 32 + 8;
    if (at + size > end || file[at + 4] != 1) return false;
    if (XXH3_64bits(file.data() + at, size - 8) != LoadLe(file.data() + at + size - 8, 8)) {
      return false;
    }
    at += size;
  }
  return true;
}

struct Batch {
  size_t pos;
  size_t length;
};

// A directory of its own under $TMPDIR (or /tmp) for one input's journal, removed with it
// (the replay test ends its child with _exit: nothing may be left for exit handlers).
struct JournalFile {
  std::string dir, path;
  explicit JournalFile(const std::string& bytes) {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ron-journal-fuzz-XXXXXX";
    if (mkdtemp(dir.data()) == nullptr) std::abort();
    path = dir + "/#journal-0123456789abcdef.jnl";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
      std::abort();
    }
    close(fd);
  }
  ~JournalFile() {
    unlink(path.c_str());
    rmdir(dir.c_str());
  }
  JournalFile(const JournalFile&) = delete;
  JournalFile& operator=(const JournalFile&) = delete;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file(ron::wal::kJournalHeaderBytes, '\0');
  std::memcpy(file.data(), ron::wal::kJournalMagic, sizeof(ron::wal::kJournalMagic));
  file.append(reinterpret_cast<const char*>(data), size);
  for (size_t pos = (file.size() - 1) / kBlock * kBlock; pos >= kBlock; pos -= kBlock) {
    if (!MagicAt(file, pos) || pos + 24 > file.size() || file[pos + 8] != 0 ||
        file[pos + 9] != 0) {
      continue;
    }
    const uint64_t length = LoadLe(file.data() + pos + 16, 8);
    if (length > file.size() - pos - 24) continue;
    const uint64_t checksum = XXH3_64bits(file.data() + pos + 16, 8 + length);
    for (int i = 0; i < 8; ++i) file[pos + 8 + i] = static_cast<char>(checksum >> (8 * i));
  }

  // The rule.
  std::vector<Batch> whole;
  size_t pos = kBlock;
  bool malformed = false;
  int64_t length = -1;
  for (; pos < file.size() && (length = WholeLength(file, pos)) >= 0;) {
    whole.push_back({pos, static_cast<size_t>(length)});
    if (!FramesFill(file, pos + 24, pos + 24 + static_cast<size_t>(length))) {
      malformed = true;
      break;
    }
    pos = (pos + 24 + static_cast<size_t>(length) + kBlock - 1) / kBlock * kBlock;
  }
  const bool oversize = pos < file.size() && length == -2;
  bool torn = false, header_after = false;
  if (!malformed && !oversize) {
    for (size_t i = pos; i < file.size(); ++i) torn = torn || file[i] != 0;
    for (size_t b = pos + kBlock; b < file.size(); b += kBlock) header_after |= HeaderAt(file, b);
  }

  const JournalFile journal(file);
  const std::string& path = journal.path;
  size_t delivered = 0;
  bool got_torn = false;
  const ron::Status st = ron::wal::ScanJournal(
      path, kMaxRecordBytes,
      [&](uint32_t index, std::string_view bytes, std::span<const ron::segment::FrameView> frames) {
        if (index != delivered || delivered >= whole.size()) std::abort();
        const Batch& b = whole[delivered++];
        if (bytes != std::string_view(file).substr(b.pos + 24, b.length)) std::abort();
        size_t at = b.pos + 24;
        for (const ron::segment::FrameView& f : frames) {
          if (f.offset != at || f.json.size() + 53 != f.size) std::abort();
          if (f.json != std::string_view(file).substr(at + 13, f.json.size())) std::abort();
          if (f.json.data() < bytes.data() || f.json.data() + f.json.size() > bytes.end()) {
            std::abort();
          }
          at += f.size;
        }
        if (at != b.pos + 24 + b.length) std::abort();
        return ron::Status::Ok();
      },
      &got_torn);
  if (malformed || oversize || header_after) {
    if (st.code() != ron::Code::kIo) std::abort();
    if (delivered != whole.size() - (malformed ? 1 : 0)) std::abort();
  } else {
    if (!st.ok() || got_torn != torn || delivered != whole.size()) std::abort();
  }
  return 0;
}
