// Arbitrary bytes as a commit journal's batches (the file is the journal's header, then the
// input), read as a journal of format v3 (generations 2 and 1) and as one of format v2. Where a
// block starts with the batch magic and the first two bytes of its checksum are zero, the
// checksum is filled in first (last block first), so that mutated batches stay whole and their
// frames get read. Properties: ScanJournal (wal/journal.h) never crashes or reads out of bounds
// (ASan), delivers exactly the whole batches in file order with frames that fill them, and
// gives the verdict of the rule in docs/FORMAT.md ("The commit journal"), recomputed here byte
// by byte with XXH3 of its own: the whole batches, then the end (zeros), a torn tail, or Io (a
// batch header after the damage, a length no writer makes, or frames that do not fill a batch);
// in v3, a whole batch of an earlier generation is stale (the end), one of a later generation
// Io, and from generation 2 on only a batch header of the generation at the end makes a torn
// tail.
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

// A format: the batch magic, the batch header's size, and (v3) the journal's generation.
struct Fmt {
  const uint8_t* magic;
  size_t head;
  uint64_t generation;  // 0: v2, no generation field
  size_t first;         // where batches start: the journal header's bytes
};

bool MagicAt(const std::string& file, size_t pos, const Fmt& f) {
  return pos + 8 <= file.size() && std::memcmp(file.data() + pos, f.magic, 8) == 0;
}

// A batch header a writer makes: the magic, then (at +16) a length of at most 64 MiB, and (v3)
// the generation at +24.
bool HeaderAt(const std::string& file, size_t pos, const Fmt& f) {
  return pos + f.head <= file.size() && MagicAt(file, pos, f) &&
         LoadLe(file.data() + pos + 16, 8) <= (64u << 20) &&
         (f.generation == 0 || LoadLe(file.data() + pos + 24, 8) == f.generation);
}

// The frames' length when the batch at `pos` is whole (FORMAT.md), else -1 (in v3 also a
// stale batch, of an earlier generation); -2 for the magic with a length no writer makes (over
// 64 MiB) or a whole batch of a later generation, which are Io.
int64_t WholeLength(const std::string& file, size_t pos, const Fmt& f) {
  if (pos + f.head > file.size() || !MagicAt(file, pos, f)) return -1;
  const uint64_t length = LoadLe(file.data() + pos + 16, 8);
  if (length > (64u << 20)) return -2;
  if (length > file.size() - pos - f.head) return -1;
  if (XXH3_64bits(file.data() + pos + 16, f.head - 16 + length) !=
      LoadLe(file.data() + pos + 8, 8)) {
    return -1;
  }
  if (f.generation != 0) {
    const uint64_t generation = LoadLe(file.data() + pos + 24, 8);
    if (generation > f.generation) return -2;
    if (generation < f.generation) return -1;
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

void Check(const uint8_t* data, size_t size, const Fmt& f) {
  std::string file = f.generation == 0 ? std::string(ron::wal::kJournalHeaderBytesV2, '\0')
                                       : ron::wal::JournalHeaderBlock(f.generation);
  if (f.generation == 0) {
    std::memcpy(file.data(), ron::wal::kJournalMagicV2, sizeof(ron::wal::kJournalMagicV2));
  }
  file.append(reinterpret_cast<const char*>(data), size);
  for (size_t pos = (file.size() - 1) / kBlock * kBlock; pos >= f.first; pos -= kBlock) {
    if (!MagicAt(file, pos, f) || pos + f.head > file.size() || file[pos + 8] != 0 ||
        file[pos + 9] != 0) {
      continue;
    }
    const uint64_t length = LoadLe(file.data() + pos + 16, 8);
    if (length > file.size() - pos - f.head) continue;
    const uint64_t checksum = XXH3_64bits(file.data() + pos + 16, f.head - 16 + length);
    for (int i = 0; i < 8; ++i) file[pos + 8 + i] = static_cast<char>(checksum >> (8 * i));
  }

  // The rule.
  std::vector<Batch> whole;
  size_t pos = f.first;
  bool malformed = false;
  int64_t length = -1;
  for (; pos < file.size() && (length = WholeLength(file, pos, f)) >= 0;) {
    whole.push_back({pos, static_cast<size_t>(length)});
    if (!FramesFill(file, pos + f.head, pos + f.head + static_cast<size_t>(length))) {
      malformed = true;
      break;
    }
    pos = (pos + f.head + static_cast<size_t>(length) + kBlock - 1) / kBlock * kBlock;
  }
  const bool refused = pos < file.size() && length == -2;
  bool torn = false, header_after = false;
  if (!malformed && !refused) {
    if (f.generation <= 1) {
      for (size_t i = pos; i < file.size(); ++i) torn = torn || file[i] != 0;
    } else {
      torn = HeaderAt(file, pos, f);
    }
    for (size_t b = pos + kBlock; b < file.size(); b += kBlock) {
      header_after |= HeaderAt(file, b, f);
    }
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
        if (bytes != std::string_view(file).substr(b.pos + f.head, b.length)) std::abort();
        size_t at = b.pos + f.head;
        for (const ron::segment::FrameView& fr : frames) {
          if (fr.offset != at || fr.json.size() + 53 != fr.size) std::abort();
          if (fr.json != std::string_view(file).substr(at + 13, fr.json.size())) std::abort();
          if (fr.json.data() < bytes.data() || fr.json.data() + fr.json.size() > bytes.end()) {
            std::abort();
          }
          at += fr.size;
        }
        if (at != b.pos + f.head + b.length) std::abort();
        return ron::Status::Ok();
      },
      &got_torn);
  if (malformed || refused || header_after) {
    if (st.code() != ron::Code::kIo) std::abort();
    if (delivered != whole.size() - (malformed ? 1 : 0)) std::abort();
  } else {
    if (!st.ok() || got_torn != torn || delivered != whole.size()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace w = ron::wal;
  for (const uint64_t generation : {2, 1}) {
    Check(data, size, Fmt{w::kJournalBatchMagic, w::kJournalBatchHeaderBytes, generation,
                          w::kJournalHeaderBytes});
  }
  Check(data, size,
        Fmt{w::kJournalBatchMagicV2, w::kJournalBatchHeaderBytesV2, 0, w::kJournalHeaderBytesV2});
  return 0;
}
