// `ronctl audit backup | salvage` (contracts in docs/CLI.md, procedures in docs/RUNBOOK.md).
//
// Both copy segments byte for byte, so that every file name and offset a manifest names stays
// where it was: a checkpoint the WAL reproduced before the copy, the copy reproduces. Neither
// ever writes to its source.
//   backup:  the export first, then the WAL (checkpoints cover only records already in the WAL,
//            so the copy of the WAL is at least as new as the copy of the export), safe beside a
//            running engine; the copy is verified before the command says ok.
//   salvage: a damaged WAL into a new directory: every stream up to its first damage, the
//            damaged segment cut after its last good record, nothing after it (those records
//            are written, verified one by one, to a quarantine file for the investigation).
#include "tools/salvage_cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/builder.h"
#include "checkpoint/checkpoint.h"
#include "engine/core/canonical.h"
#include "engine/core/hash.h"
#include "ron_audit/verify.h"
#include "segment/segment_format.h"
#include "tools/cli_util.h"
#include "tools/verify_report.h"
#include "wal/files.h"
#include "wal/reader.h"

namespace ron::tools {
namespace {

using Flags = std::map<std::string, std::string>;

constexpr char kBackupHelp[] =
    "usage: ronctl audit backup --dir WAL --out DEST [--export-dir EXP [--trusted-keys KEYS]]\n"
    "\n"
    "Copies the export (every manifest) into DEST/export first and the WAL (every segment,\n"
    "byte for byte) into DEST/wal second, so that the copy of the WAL holds everything the\n"
    "copied checkpoints cover. It takes no lock and may run beside the engine: a segment sealed\n"
    "while it was copied is copied again, and the newest segment is copied again until it\n"
    "reads whole (what was still being written when it was read is a torn tail that the next\n"
    "open truncates). Then it verifies the copy as 'ronctl audit verify' does (with\n"
    "--export-dir: roots, manifests and, with --trusted-keys, signatures) and prints\n"
    "'ok backup <records> records, <streams> streams, <checkpoints> checkpoints, <manifests>\n"
    "manifests' (exit 0; ', signatures not checked' is appended without --trusted-keys) or\n"
    "verify's 'err …' line (exit 1). DEST must not exist; it is created 0700 and every file\n"
    "is synced before the result is printed.\n";

constexpr char kSalvageHelp[] =
    "usage: ronctl audit salvage --dir WAL --out NEW [--backup BACKUP_WAL] [--export-dir EXP]\n"
    "         [--quarantine FILE]\n"
    "\n"
    "Rebuilds a WAL that holds damage (a frozen stream), or restores one from a backup, into\n"
    "the new directory NEW, with the engine stopped (it takes the writer lock of WAL and NEW).\n"
    "Segments are copied byte for byte, so manifests still find every record at its file and\n"
    "offset. At a stream's first damage, in this order:\n"
    "  - with --backup (the wal/ folder of 'ronctl audit backup'), the segment's bytes come\n"
    "    from the backup when it holds them whole (a segment missing from WAL too);\n"
    "  - damaged bytes after the last record of a sealed segment are trimmed;\n"
    "  - otherwise the segment is cut after its last good record and left open, and the\n"
    "    stream's later segments are left out. Records after the cut that still verify on\n"
    "    their own are written, as sealed JSON lines, to FILE (--quarantine, created 0600).\n"
    "One line per stream:\n"
    "  ok <writer>/<stream> 1..<head> copied\n"
    "  restored <writer>/<stream> 1..<head> copied, <files> from the backup\n"
    "  trimmed <writer>/<stream> 1..<head> copied, damage after the last record of <files>\n"
    "  cut <writer>/<stream> kept 1..<k> lost <k+1>..<h> at <file> offset <o> <Code>,\n"
    "      <q> quarantined\n"
    "and with --export-dir, for a stream whose export has checkpoints past what NEW keeps:\n"
    "  behind_export <writer>/<stream> kept 1..<k> export through <c>\n"
    "(the engine keeps it frozen, since appending would reissue signed seqs: restore from a\n"
    "newer backup, or continue the service under a new stream name). Last line: 'salvaged\n"
    "<streams> streams, <records> records kept, <lost> lost, <quarantined> quarantined'.\n"
    "Exit 0 if NEW holds every record of WAL and no stream is behind its export, 1 if not\n"
    "(NEW is still consistent and verifies) or on an I/O error ('err …'), 2 on a usage error.\n";

Status Errno(const std::string& what, const std::string& path) {
  return Status(Code::kIo, what + " " + path + ": " + std::strerror(errno));
}

// Copies a regular file (never through a link) to `to`, which must not exist, mode 0600, and
// syncs it. `refused`: the source is not a regular file.
Status CopyFile(const std::string& from, const std::string& to, bool* refused = nullptr) {
  int in = -1;
  uint64_t size = 0;
  RON_RETURN_IF_ERROR(wal::OpenRegularFile(from, wal::Links::kRefuse, &in, &size, refused));
  const int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    const Status s = Errno("cannot create", to);
    close(in);
    return s;
  }
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  Status status;
  for (;;) {
    const ssize_t n = read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = Errno("cannot read", from);
      break;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > segment::kMaxSegmentBytes) {
      status = Status(Code::kIo, from + " is larger than any file the engine writes");
      break;
    }
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = write(out, buf.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        status = Errno("cannot write", to);
        break;
      }
      done += w;
    }
    if (!status.ok()) break;
  }
  if (status.ok() && fsync(out) != 0) status = Errno("cannot sync", to);
  close(in);
  close(out);
  if (!status.ok()) unlink(to.c_str());
  return status;
}

// The segment numbers in a stream directory, ascending (other names are returned in `others`).
Status SegmentNumbers(const std::string& dir, std::vector<uint64_t>* numbers,
                      std::vector<std::string>* others = nullptr) {
  std::vector<std::string> names;
  RON_RETURN_IF_ERROR(wal::ListDir(dir, &names));
  numbers->clear();
  for (const std::string& name : names) {
    uint64_t no = 0;
    if (segment::ParseSegmentFileName(name, &no)) {
      numbers->push_back(no);
    } else if (others != nullptr && name != wal::DirLock::kLockFileName) {
      others->push_back(segment::EscapePathComponent(name));
    }
  }
  std::sort(numbers->begin(), numbers->end());
  return Status::Ok();
}

// Writes `header` over a copied segment and cuts the file at `size`, then syncs it.
Status RewriteSegment(const std::string& path, const segment::SegmentHeader& header,
                      uint64_t size) {
  const int fd = open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  uint8_t bytes[segment::kHeaderBytes];
  segment::EncodeHeader(header, bytes);
  Status status;
  if (pwrite(fd, bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    status = Errno("cannot write", path);
  } else if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    status = Errno("cannot truncate", path);
  } else if (fsync(fd) != 0) {
    status = Errno("cannot sync", path);
  }
  close(fd);
  return status;
}

// Creates <root>/<esc(writer)>/<esc(stream)> (0700) below an existing root.
Status MakeStreamDir(const std::string& root, const std::string& writer, const std::string& stream,
                     std::string* dir) {
  const std::string writer_dir = root + "/" + segment::EscapePathComponent(writer);
  RON_RETURN_IF_ERROR(wal::EnsurePrivateDir(writer_dir, true));
  *dir = wal::StreamDir(root, writer, stream);
  RON_RETURN_IF_ERROR(wal::EnsurePrivateDir(*dir, true));
  return wal::FsyncDir(writer_dir);
}

// DEST (or NEW) must not exist; its parent must. Created 0700.
Status MakeFreshDir(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    return Status(Code::kIo, path + " already exists; refusing to write into it");
  }
  if (mkdir(path.c_str(), 0700) != 0) return Errno("cannot create", path);
  return wal::EnsurePrivateDir(path, false);
}

// ---- salvage ----

// What a scan of the copy saw of one segment.
struct Seen {
  uint64_t count = 0, first_seq = 0, last_seq = 0, end = 0;
};

struct Salvaged {
  std::string name;  // writer/stream as printed
  uint64_t kept = 0;
  bool cut = false;
  uint64_t lost_to = 0;  // the highest seq known in the source (cut only)
  std::string cut_file;
  uint64_t cut_offset = 0;
  Status cut_reason;
  std::vector<std::string> trimmed;   // sealed segments with damage after their last record
  std::vector<std::string> restored;  // segments whose bytes came from the backup
  uint64_t quarantined = 0;
  std::vector<std::string> skipped;  // names in the stream directory that are no segment
};

// Writes every frame of `file` from `from` on whose bytes still hash to their self_hash and
// whose seq is at least `min_seq`, as sealed JSON lines; steps over damage byte by byte.
void Quarantine(std::string_view file, uint64_t from, uint64_t min_seq, FILE* out, Salvaged* s) {
  std::string line;
  uint64_t offset = std::max<uint64_t>(from, segment::kHeaderBytes);
  while (offset + segment::kFrameLenBytes <= file.size()) {
    segment::FrameView frame;
    switch (segment::DecodeFrame(file, offset, Limits::kDefaultMaxRecordBytes, &frame)) {
      case segment::FrameStatus::kOk:
        if (frame.seq >= min_seq && Blake3(frame.json) == frame.self_hash) {
          s->lost_to = std::max(s->lost_to, frame.seq);
          s->quarantined++;
          if (out != nullptr) {
            line.clear();
            AppendSealed(frame.json, frame.self_hash, &line);
            line += '\n';
            Write(out, line);
          }
        }
        offset += frame.size;
        break;
      case segment::FrameStatus::kPadding:
        offset = segment::AfterPadding(offset);
        break;
      default:
        ++offset;
    }
  }
}

// Reads a whole segment file (never through a link) into `contents`. `refused`: something
// other than a regular file is there.
Status ReadSegmentFile(const std::string& path, wal::FileContents* contents,
                       bool* refused = nullptr) {
  int fd = -1;
  uint64_t size = 0;
  RON_RETURN_IF_ERROR(wal::OpenRegularFile(path, wal::Links::kRefuse, &fd, &size, refused));
  const Status read = contents->Read(fd, std::min(size, segment::kMaxSegmentBytes), path);
  close(fd);
  return read;
}

// How segment `segment_no` at `path` ends, read as the newest of its stream (a cut write is
// torn, damage with whole frames after it corrupt); false if it cannot be read.
bool ScanSegmentFile(const std::string& path, uint64_t segment_no, wal::FileContents* contents,
                     segment::ScanResult* scan) {
  if (!ReadSegmentFile(path, contents).ok()) return false;
  segment::ScanOptions options;
  options.newest = true;
  options.expected_segment_no = segment_no;
  options.max_record_bytes = Limits::kDefaultMaxRecordBytes;
  *scan = segment::ScanSegment(contents->bytes(), options, [](const segment::FrameView&) {});
  return true;
}

Status QuarantineFrom(const std::string& path, uint64_t from, uint64_t min_seq, FILE* out,
                      Salvaged* s) {
  wal::FileContents contents;
  bool refused = false;
  const Status read = ReadSegmentFile(path, &contents, &refused);
  if (refused) return Status::Ok();  // nothing to read in a FIFO or a link
  RON_RETURN_IF_ERROR(read);
  Quarantine(contents.bytes(), from, min_seq, out, s);
  return Status::Ok();
}

// Puts the backup's good bytes of segment `no` over the copy at `dst_file`, if they reach past
// `damage`: a segment the backup holds sealed is taken whole (sealed segments never change);
// one it holds open is a prefix of what the engine went on to write, so its whole frames
// replace the copy's bytes up to where they end. False if the backup cannot help.
Status RestoreFromBackup(const std::string& backup_file, uint64_t no, const std::string& dst_file,
                         uint64_t damage, bool* restored) {
  *restored = false;
  wal::FileContents contents;
  segment::ScanResult b;
  if (!ScanSegmentFile(backup_file, no, &contents, &b)) return Status::Ok();
  if (b.header.count != 0 && !segment::IsCorruption(b.outcome)) {
    if (unlink(dst_file.c_str()) != 0 && errno != ENOENT) return Errno("cannot remove", dst_file);
    RON_RETURN_IF_ERROR(CopyFile(backup_file, dst_file));
    *restored = true;
    return Status::Ok();
  }
  if (b.valid_end <= damage || b.frames == 0) return Status::Ok();
  const int fd = open(dst_file.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", dst_file);
  segment::SegmentHeader live;
  // The copy's header stays (it may say sealed) unless it is what is damaged.
  const uint64_t from = wal::ReadSegmentHeader(dst_file, &live) ? segment::kHeaderBytes : 0;
  const std::string_view bytes = contents.bytes().substr(from, b.valid_end - from);
  Status status;
  if (pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(from)) !=
      static_cast<ssize_t>(bytes.size())) {
    status = Errno("cannot write", dst_file);
  } else if (fsync(fd) != 0) {
    status = Errno("cannot sync", dst_file);
  }
  close(fd);
  *restored = status.ok();
  return status;
}

// The segment numbers of a stream in the WAL and in the backup (empty: none), and where each
// is copied from: the WAL's file when it has one, else the backup's.
Status UnionOfSegments(const std::string& live, const std::string& backup,
                       std::vector<uint64_t>* numbers, std::vector<bool>* from_backup,
                       std::vector<std::string>* others) {
  std::vector<uint64_t> in_live, in_backup;
  if (access(live.c_str(), F_OK) == 0) RON_RETURN_IF_ERROR(SegmentNumbers(live, &in_live, others));
  if (!backup.empty() && access(backup.c_str(), F_OK) == 0) {
    RON_RETURN_IF_ERROR(SegmentNumbers(backup, &in_backup));
  }
  numbers->clear();
  std::set_union(in_live.begin(), in_live.end(), in_backup.begin(), in_backup.end(),
                 std::back_inserter(*numbers));
  from_backup->clear();
  for (const uint64_t no : *numbers) {
    from_backup->push_back(!std::binary_search(in_live.begin(), in_live.end(), no));
  }
  return Status::Ok();
}

Status SalvageStream(const std::string& src_root, const std::string& backup_root,
                     const std::string& dst_root, const std::string& writer,
                     const std::string& stream, FILE* quarantine, Salvaged* s) {
  s->name = segment::PrintedStreamName(writer, stream);
  const std::string src = wal::StreamDir(src_root, writer, stream);
  const std::string bak = backup_root.empty() ? "" : wal::StreamDir(backup_root, writer, stream);
  std::string dst;
  RON_RETURN_IF_ERROR(MakeStreamDir(dst_root, writer, stream, &dst));
  std::vector<uint64_t> numbers;
  std::vector<bool> from_backup;
  RON_RETURN_IF_ERROR(UnionOfSegments(src, bak, &numbers, &from_backup, &s->skipped));
  const auto name = [&](size_t i) { return segment::SegmentFileName(numbers[i]); };
  const auto src_path = [&](size_t i) { return src + "/" + name(i); };
  const auto bak_path = [&](size_t i) { return bak + "/" + name(i); };
  const auto dst_path = [&](size_t i) { return dst + "/" + name(i); };
  size_t copied = 0;  // segments before the first that could not be copied at all
  for (; copied < numbers.size(); ++copied) {
    bool refused = false;
    Status c = from_backup[copied] ? Status(Code::kIo, "missing")
                                   : CopyFile(src_path(copied), dst_path(copied), &refused);
    if (!c.ok() && !bak.empty() && (refused || from_backup[copied])) {
      refused = false;
      c = CopyFile(bak_path(copied), dst_path(copied), &refused);
      if (c.ok()) s->restored.push_back(name(copied));
    }
    if (refused) break;
    RON_RETURN_IF_ERROR(c);
  }
  // Scan the copy; restore, trim or cut where it breaks; again, until it reads whole. Each
  // round restores or trims a segment (each at most once) or cuts, so this ends.
  std::vector<bool> trimmed(numbers.size(), false), restored(numbers.size(), false);
  for (size_t round = 0;; ++round) {
    std::map<std::string, Seen> seen;
    wal::StreamReport report;
    RON_RETURN_IF_ERROR(wal::ScanStream(dst, writer, stream, Limits(), wal::VerifyLevel::kFull,
                                        &report, [&](const wal::RecordView& r) {
                                          Seen& g = seen[*r.file];
                                          if (g.count++ == 0) g.first_seq = r.seq;
                                          g.last_seq = r.seq;
                                          g.end = r.offset + segment::FrameBytes(r.json.size());
                                          return true;
                                        }));
    s->kept = report.head_seq;
    if (!report.frozen) break;
    if (round > 2 * numbers.size()) {
      return Status(Code::kIo, s->name + ": the copy still does not read whole after " +
                                   std::to_string(round) + " repairs");
    }
    size_t f = 0;
    while (f < copied && dst_path(f) != report.problem_file) ++f;
    if (f == copied) {
      return Status(Code::kIo,
                    s->name + ": damage outside the copied segments: " + report.problem.ToString());
    }
    if (!bak.empty() && !restored[f]) {
      restored[f] = true;
      bool done = false;
      RON_RETURN_IF_ERROR(
          RestoreFromBackup(bak_path(f), numbers[f], dst_path(f), report.problem_offset, &done));
      if (done) {
        s->restored.push_back(name(f));
        continue;
      }
    }
    const Seen g = seen[report.problem_file];
    segment::SegmentHeader header;
    const bool header_ok = wal::ReadSegmentHeader(dst_path(f), &header);
    segment::SegmentHeader next;
    const bool next_continues = f + 1 < copied && wal::ReadSegmentHeader(dst_path(f + 1), &next) &&
                                g.count > 0 && next.first_seq == g.last_seq + 1;
    // Every record the sealed segment held is good; the damage lies after them (or in the
    // header's count, when the next segment proves that nothing is missing).
    const bool slack = !trimmed[f] && g.count > 0 && header_ok && header.count != 0 &&
                       (header.count == g.count || next_continues);
    segment::SegmentHeader fixed;
    fixed.first_seq = g.count > 0 ? g.first_seq : report.head_seq + 1;
    fixed.segment_no = numbers[f];
    if (slack) {
      fixed.count = static_cast<uint32_t>(g.count);
      RON_RETURN_IF_ERROR(RewriteSegment(dst_path(f), fixed, g.end));
      trimmed[f] = true;
      s->trimmed.push_back(name(f));
      continue;
    }
    s->cut = true;
    s->cut_file = from_backup[f] ? bak_path(f) : src_path(f);
    s->cut_offset = report.problem_offset;
    s->cut_reason = report.problem;
    s->lost_to = std::max(report.problem_seq, report.head_seq + 1);
    if (g.count > 0) {
      fixed.count = 0;  // open: the stream's newest segment now
      RON_RETURN_IF_ERROR(RewriteSegment(dst_path(f), fixed, g.end));
    } else if (unlink(dst_path(f).c_str()) != 0) {
      return Errno("cannot remove", dst_path(f));
    }
    RON_RETURN_IF_ERROR(QuarantineFrom(s->cut_file, g.end, report.head_seq + 1, quarantine, s));
    for (size_t i = f + 1; i < numbers.size(); ++i) {
      if (i < copied && unlink(dst_path(i).c_str()) != 0)
        return Errno("cannot remove", dst_path(i));
      RON_RETURN_IF_ERROR(QuarantineFrom(from_backup[i] ? bak_path(i) : src_path(i), 0,
                                         report.head_seq + 1, quarantine, s));
    }
    copied = f + 1;
  }
  if (!s->cut && copied < numbers.size()) {  // a FIFO or link in a segment's place
    s->cut = true;
    s->cut_file = src_path(copied);
    s->cut_reason = Status(Code::kIo, "bad_file: not a regular file");
    s->lost_to = s->kept + 1;
    for (size_t i = copied + 1; i < numbers.size(); ++i) {
      RON_RETURN_IF_ERROR(QuarantineFrom(src_path(i), 0, s->kept + 1, quarantine, s));
    }
  }
  return wal::FsyncDir(dst);
}

// File names as printed in one field: comma-separated.
std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

int RunSalvage(const Flags& flags) {
  if (!flags.count("dir") || !flags.count("out")) {
    return UsageError("audit salvage", "--dir and --out are required");
  }
  const std::string src = flags.at("dir"), dst = flags.at("out");
  const std::string backup = flags.count("backup") ? flags.at("backup") : "";
  // The writer lock keeps an engine off the WAL while it is read. A WAL that cannot be locked
  // at all (a read-only copy) cannot be written by an engine either.
  auto src_lock = wal::DirLock::Acquire(src, "ronctl audit salvage");
  if (!src_lock.ok() &&
      src_lock.status().message().find("in use by another writer") != std::string::npos) {
    return FailWith("audit salvage", src_lock.status());
  }
  const Status made = MakeFreshDir(dst);
  if (!made.ok()) return FailWith("audit salvage", made);
  auto dst_lock = wal::DirLock::Acquire(dst, "ronctl audit salvage");
  if (!dst_lock.ok()) return FailWith("audit salvage", dst_lock.status());
  FILE* quarantine = nullptr;
  if (flags.count("quarantine")) {
    const std::string& path = flags.at("quarantine");
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return FailWith("audit salvage", Errno("cannot create", path));
    quarantine = fdopen(fd, "w");
    if (quarantine == nullptr) {
      close(fd);
      return FailWith("audit salvage", Errno("cannot open", path));
    }
  }
  // Every stream of the WAL and of the backup (a stream directory that is gone comes back).
  std::vector<std::pair<std::string, std::string>> streams, in_backup;
  Status status = wal::ListStreams(src, &streams);
  if (status.ok() && !backup.empty()) status = wal::ListStreams(backup, &in_backup);
  for (const auto& key : in_backup) {
    if (std::find(streams.begin(), streams.end(), key) == streams.end()) streams.push_back(key);
  }
  std::sort(streams.begin(), streams.end());
  std::vector<Salvaged> done;
  for (size_t i = 0; status.ok() && i < streams.size(); ++i) {
    done.emplace_back();
    status = SalvageStream(src, backup, dst, streams[i].first, streams[i].second, quarantine,
                           &done.back());
  }
  if (quarantine != nullptr) {
    if ((fflush(quarantine) != 0 || fsync(fileno(quarantine)) != 0) && status.ok()) {
      status = Errno("cannot write", flags.at("quarantine"));
    }
    fclose(quarantine);
  }
  if (status.ok()) status = wal::FsyncDir(dst);
  if (!status.ok()) return FailWith("audit salvage", status);
  const std::string export_dir = flags.count("export-dir") ? flags.at("export-dir") : "";
  uint64_t kept = 0, lost = 0, quarantined = 0;
  bool complete = true;
  for (size_t i = 0; i < done.size(); ++i) {
    const Salvaged& s = done[i];
    const auto seq = [](uint64_t n) { return std::to_string(n); };
    kept += s.kept;
    quarantined += s.quarantined;
    for (const std::string& other : s.skipped) {
      std::fprintf(stderr, "ronctl audit salvage: %s: %s is no segment; not copied\n",
                   s.name.c_str(), other.c_str());
    }
    if (s.cut) {
      complete = false;
      lost += s.lost_to - s.kept;
      std::printf("cut %s kept 1..%s lost %s..%s at %s offset %s %s, %s quarantined\n",
                  s.name.c_str(), seq(s.kept).c_str(), seq(s.kept + 1).c_str(),
                  seq(s.lost_to).c_str(), s.cut_file.c_str(), seq(s.cut_offset).c_str(),
                  std::string(CodeName(s.cut_reason.code())).c_str(), seq(s.quarantined).c_str());
      std::fprintf(stderr, "ronctl audit salvage: %s: %s\n", s.name.c_str(),
                   s.cut_reason.ToString().c_str());
    } else if (!s.restored.empty()) {
      std::printf("restored %s 1..%s copied, %s from the backup\n", s.name.c_str(),
                  seq(s.kept).c_str(), Joined(s.restored).c_str());
    } else if (!s.trimmed.empty()) {
      std::printf("trimmed %s 1..%s copied, damage after the last record of %s\n", s.name.c_str(),
                  seq(s.kept).c_str(), Joined(s.trimmed).c_str());
    } else {
      std::printf("ok %s 1..%s copied\n", s.name.c_str(), seq(s.kept).c_str());
    }
    if (export_dir.empty()) continue;
    ExportTail tail;
    const Status read = ReadExportTail(export_dir, streams[i].first, streams[i].second, &tail);
    if (!read.ok()) return FailWith("audit salvage", read);
    if (tail.last_seq > s.kept) {
      complete = false;
      std::printf("behind_export %s kept 1..%s export through %s\n", s.name.c_str(),
                  seq(s.kept).c_str(), seq(tail.last_seq).c_str());
    }
  }
  if (!export_dir.empty()) {  // exported streams that neither the WAL nor the backup holds
    std::vector<std::pair<std::string, std::string>> exported;
    const Status listed = ListExportStreams(export_dir, &exported);
    if (!listed.ok()) return FailWith("audit salvage", listed);
    for (const auto& [writer, stream] : exported) {
      if (std::find(streams.begin(), streams.end(), std::make_pair(writer, stream)) !=
          streams.end()) {
        continue;
      }
      ExportTail tail;
      const Status read = ReadExportTail(export_dir, writer, stream, &tail);
      if (!read.ok()) return FailWith("audit salvage", read);
      if (tail.last_seq == 0) continue;
      complete = false;
      std::printf("behind_export %s kept 1..0 export through %llu\n",
                  segment::PrintedStreamName(writer, stream).c_str(),
                  static_cast<unsigned long long>(tail.last_seq));
    }
  }
  std::printf("salvaged %zu streams, %llu records kept, %llu lost, %llu quarantined\n", done.size(),
              static_cast<unsigned long long>(kept), static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(quarantined));
  return complete ? kExitOk : kExitFailed;
}

// ---- backup ----

Status BackupExport(const std::string& src, const std::string& dst) {
  std::vector<std::pair<std::string, std::string>> streams;
  RON_RETURN_IF_ERROR(ListExportStreams(src, &streams));
  for (const auto& [writer, stream] : streams) {
    const std::string from = ExportStreamDir(src, writer, stream);
    std::string to;
    RON_RETURN_IF_ERROR(MakeStreamDir(dst, writer, stream, &to));
    std::vector<std::string> names;
    RON_RETURN_IF_ERROR(wal::ListDir(from, &names));
    for (const std::string& name : names) {
      uint64_t last = 0;
      if (!ParseManifestFileName(name, &last)) continue;  // temporary files of a write
      RON_RETURN_IF_ERROR(CopyFile(from + "/" + name, to + "/" + name));
    }
    RON_RETURN_IF_ERROR(wal::FsyncDir(to));
  }
  return wal::FsyncDir(dst);
}

Status BackupStream(const std::string& src_root, const std::string& dst_root,
                    const std::string& writer, const std::string& stream) {
  const std::string src = wal::StreamDir(src_root, writer, stream);
  std::string dst;
  RON_RETURN_IF_ERROR(MakeStreamDir(dst_root, writer, stream, &dst));
  std::vector<uint64_t> numbers;
  RON_RETURN_IF_ERROR(SegmentNumbers(src, &numbers));
  const auto copy = [&](uint64_t no) {
    const std::string name = segment::SegmentFileName(no);
    unlink((dst + "/" + name).c_str());
    return CopyFile(src + "/" + name, dst + "/" + name);
  };
  for (const uint64_t no : numbers) RON_RETURN_IF_ERROR(copy(no));
  // The engine seals a segment before its successor appears under a segment name, so every
  // listed segment but the newest was sealed before the listing and its copy says so. A copy
  // that does not (a writer that broke that order) is taken again: sealed segments never change.
  for (size_t i = 0; i + 1 < numbers.size(); ++i) {
    segment::SegmentHeader header;
    const std::string path = dst + "/" + segment::SegmentFileName(numbers[i]);
    if (!wal::ReadSegmentHeader(path, &header) || header.count == 0) {
      RON_RETURN_IF_ERROR(copy(numbers[i]));
    }
  }
  // The newest segment read while a batch was being written can hold part of it with whole
  // frames after it: read it again until it reads whole (the engine moves on meanwhile).
  // Only the newest copy can hold such a cut; the verify at the end reads everything once.
  wal::FileContents contents;
  for (int attempt = 0; !numbers.empty() && attempt < 5; ++attempt) {
    segment::ScanResult newest;
    const std::string path = dst + "/" + segment::SegmentFileName(numbers.back());
    if (ScanSegmentFile(path, numbers.back(), &contents, &newest) &&
        !segment::IsCorruption(newest.outcome)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    RON_RETURN_IF_ERROR(copy(numbers.back()));
  }
  return wal::FsyncDir(dst);
}

int RunBackup(const Flags& flags) {
  if (!flags.count("dir") || !flags.count("out")) {
    return UsageError("audit backup", "--dir and --out are required");
  }
  if (flags.count("trusted-keys") && !flags.count("export-dir")) {
    return UsageError("audit backup", "--trusted-keys needs --export-dir");
  }
  Result<TrustedKeys> keys = TrustedKeys();
  if (flags.count("trusted-keys")) {
    keys = TrustedKeys::Load(flags.at("trusted-keys"));
    if (!keys.ok()) return FailWith("audit backup", keys.status());
  }
  const std::string src = flags.at("dir"), dst = flags.at("out");
  Status status = MakeFreshDir(dst);
  const std::string wal_copy = dst + "/wal", export_copy = dst + "/export";
  if (status.ok()) status = wal::EnsurePrivateDir(wal_copy, true);
  if (status.ok() && flags.count("export-dir")) {
    status = wal::EnsurePrivateDir(export_copy, true);
    if (status.ok()) status = BackupExport(flags.at("export-dir"), export_copy);
  }
  std::vector<std::pair<std::string, std::string>> streams;
  if (status.ok()) status = wal::ListStreams(src, &streams);
  for (size_t i = 0; status.ok() && i < streams.size(); ++i) {
    status = BackupStream(src, wal_copy, streams[i].first, streams[i].second);
  }
  if (status.ok()) status = wal::FsyncDir(wal_copy);
  if (status.ok()) status = wal::FsyncDir(dst);
  if (!status.ok()) return FailWith("audit backup", status);
  ExportVerifyOptions options;
  options.wal_dir = wal_copy;
  if (flags.count("export-dir")) options.export_dir = export_copy;
  if (flags.count("trusted-keys")) options.keys = &keys.value();
  ExportVerifyReport report;
  status = VerifyExports(options, &report);
  if (!status.ok()) return FailWith("audit backup", status);
  for (const std::string& note : report.notes) {
    std::fprintf(stderr, "ronctl audit backup: %s\n", note.c_str());
  }
  if (!report.failure.ok()) {
    Write(stdout, VerifyFailureLine(report));
    std::fprintf(stderr, "ronctl audit backup: the copy in %s does not verify: %s\n", dst.c_str(),
                 report.failure.ToString().c_str());
    return kExitFailed;
  }
  std::printf(
      "ok backup %s%s\n", VerifyCounts(report).c_str(),
      report.checkpoints > 0 && !flags.count("trusted-keys") ? ", signatures not checked" : "");
  return kExitOk;
}

}  // namespace

bool IsSalvageCommand(std::string_view command) {
  return command == "backup" || command == "salvage";
}

int SalvageMain(int argc, char** argv) {
  const std::string command = argv[1];
  const bool backup = command == "backup";
  for (int i = 2; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      Write(stdout, backup ? kBackupHelp : kSalvageHelp);
      return kExitOk;
    }
  }
  Flags flags;
  std::string error;
  const std::vector<std::string> names =
      backup ? std::vector<std::string>{"dir", "out", "export-dir", "trusted-keys"}
             : std::vector<std::string>{"dir", "out", "export-dir", "backup", "quarantine"};
  if (!ParseFlags(argc, argv, 2, names, {}, &flags, &error)) {
    return UsageError("audit " + command, error);
  }
  return backup ? RunBackup(flags) : RunSalvage(flags);
}

}  // namespace ron::tools
