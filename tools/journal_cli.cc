#include "tools/journal_cli.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/canonical.h"
#include "segment/segment_format.h"
#include "tools/cli_util.h"
#include "wal/files.h"
#include "wal/journal.h"

namespace ron::tools {
namespace {

constexpr char kJournalHelp[] =
    "usage: ronctl audit journal --file F [--writer-id W --stream S]\n"
    "\n"
    "Prints the records a commit journal holds: '#journal-*.jnl' in a WAL that was not closed\n"
    "(its next open puts them back into their segments), or '#journal-*.jnl.frozen', set aside\n"
    "because a stream it names was frozen (docs/RUNBOOK.md section 9). Reads only; never\n"
    "changes the file. A journal moved out of the WAL reads the same.\n"
    "stdout: the sealed records of every whole batch, one per line, in the order they were\n"
    "committed (as 'audit range' prints them). With --writer-id and --stream (the names as the\n"
    "records hold them, not escaped), that stream's only, which 'audit verify-chain' then\n"
    "checks as one chain. Each record is verified first (frame checksum, canonical bytes,\n"
    "self_hash); the first that fails ends the output with 'err <Code> batch <b> offset <o>'\n"
    "after the records before it. A damaged batch with another batch header after it (so the\n"
    "damaged one was acknowledged; the records past the damage are not printed), a batch\n"
    "claiming more than 64 MiB, a header with no valid slot, a whole batch of a generation\n"
    "newer than the header's (unless a live journal moved on while it was read), a file\n"
    "longer than any journal and a file that is no journal end it with 'err Io <detail>'.\n"
    "Either way exit 1, and the detail goes to stderr too.\n"
    "stderr: one line per stream printed, 'stream <W>/<S> records <n> seq <first>..<last>'\n"
    "(names escaped as in the WAL's directories), 'no records of stream <W>/<S>' when the\n"
    "stream asked for has none, 'torn last batch' when the last batch was cut short (its\n"
    "commit never returned: nothing in it was acknowledged), and 'no batch' for a journal\n"
    "whose header was never written whole.\n"
    "exit: 0, 1 as above, 2 on a usage error (a name that is no valid writer_id or stream).\n";

struct StreamSeen {
  size_t records = 0;
  uint64_t first = 0, last = 0;
};

int Refuse(const Status& status) { return FailWith("audit journal", status); }

// A file shorter than the journal's magic: a journal whose creation was cut short (nothing in
// it was ever acknowledged; what it holds is the start of the magic) or no journal. -1 for a
// longer file, which ScanJournal reads; else the exit code.
int ShortFile(const std::string& path) {
  int fd = -1;
  uint64_t size = 0;
  if (const Status opened = wal::OpenRegularFile(path, wal::Links::kRefuse, &fd, &size);
      !opened.ok()) {
    return Refuse(opened);
  }
  char head[sizeof(wal::kJournalMagic)] = {};
  size_t done = 0;
  const Status read = wal::PreadAll(fd, head, sizeof(head), path, &done);
  close(fd);
  if (!read.ok()) return Refuse(read);
  if (done == sizeof(head)) return -1;
  if (std::memcmp(head, wal::kJournalMagic, done) != 0) {
    return Refuse(Status(Code::kIo, path + " is not a commit journal (bad magic)"));
  }
  std::fprintf(stderr, "no batch\n");
  return kExitOk;
}

int Run(const std::map<std::string, std::string>& flags) {
  if (!flags.count("file")) return UsageError("audit journal", "--file is required");
  if (flags.count("writer-id") != flags.count("stream")) {
    return UsageError("audit journal", "--writer-id and --stream go together");
  }
  const bool filter = flags.count("stream") != 0;
  const std::string want_writer = filter ? flags.at("writer-id") : "";
  const std::string want_stream = filter ? flags.at("stream") : "";
  if (filter) {
    for (const auto& [flag, kind] : {std::pair{"writer-id", NameKind::kWriterId},
                                     std::pair{"stream", NameKind::kStream}}) {
      if (const Status named = CheckName(flags.at(flag), kind); !named.ok()) {
        return UsageError("audit journal", "--" + std::string(flag) + ": " + named.message());
      }
    }
  }
  const std::string path = flags.at("file");
  if (const int short_file = ShortFile(path); short_file >= 0) return short_file;
  Canonicalizer canonicalizer;  // the default bounds: the widest any engine writes
  CanonicalRecord record;
  std::map<std::pair<std::string, std::string>, StreamSeen> streams;
  std::string sealed, out;
  Status failed;
  uint64_t failed_batch = 0, failed_offset = 0;
  bool torn = false;
  const Status read = wal::ScanJournal(
      path, canonicalizer.limits().max_record_bytes,
      [&](uint32_t batch, std::string_view, std::span<const segment::FrameView> frames) {
        out.clear();
        for (const segment::FrameView& frame : frames) {
          sealed.clear();
          AppendSealed(frame.json, frame.self_hash, &sealed);
          Status verified = canonicalizer.VerifySealed(sealed, &record);
          if (verified.ok() && record.record.seq != frame.seq) {
            verified = Status(Code::kSchema, "the frame's seq is not the record's");
          }
          if (!verified.ok()) {
            failed = verified;
            failed_batch = batch;
            failed_offset = frame.offset;
            Write(stdout, out);  // the records before it
            return verified;
          }
          const Record& r = record.record;
          if (filter && (r.writer_id != want_writer || r.stream != want_stream)) {
            continue;
          }
          StreamSeen& seen = streams[{r.writer_id, r.stream}];
          if (seen.records++ == 0) seen.first = r.seq;
          seen.last = r.seq;
          out += sealed;
          out += '\n';
        }
        Write(stdout, out);
        return Status::Ok();
      },
      &torn);
  for (const auto& [key, seen] : streams) {
    std::fprintf(stderr, "stream %s records %zu seq %llu..%llu\n",
                 segment::PrintedStreamName(key.first, key.second).c_str(), seen.records,
                 static_cast<unsigned long long>(seen.first),
                 static_cast<unsigned long long>(seen.last));
  }
  if (filter && streams.empty()) {
    std::fprintf(stderr, "no records of stream %s\n",
                 segment::PrintedStreamName(want_writer, want_stream).c_str());
  }
  if (torn) std::fprintf(stderr, "torn last batch\n");
  if (!failed.ok()) {
    std::printf("err %s batch %llu offset %llu\n", std::string(CodeName(failed.code())).c_str(),
                static_cast<unsigned long long>(failed_batch),
                static_cast<unsigned long long>(failed_offset));
    std::fprintf(stderr, "ronctl audit journal: %s\n", failed.ToString().c_str());
    return kExitFailed;
  }
  return read.ok() ? kExitOk : Refuse(read);
}

}  // namespace

bool IsJournalCommand(std::string_view command) { return command == "journal"; }

int JournalMain(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      Write(stdout, kJournalHelp);
      return kExitOk;
    }
  }
  std::map<std::string, std::string> flags;
  std::string error;
  if (!ParseFlags(argc, argv, 2, {"file", "writer-id", "stream"}, {}, &flags, &error)) {
    return UsageError("audit journal", error);
  }
  return Run(flags);
}

}  // namespace ron::tools
