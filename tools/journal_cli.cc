#include "tools/journal_cli.h"

#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/canonical.h"
#include "segment/segment_format.h"
#include "tools/cli_util.h"
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
    "committed (as 'audit range' prints them; with --writer-id and --stream, that stream's only,\n"
    "which 'audit verify-chain' then checks as one chain). Each is verified first (frame\n"
    "checksum, canonical bytes, self_hash); the first that fails stops with 'err <Code> batch\n"
    "<b> offset <o>' (exit 1), and damage followed by a whole batch with 'err Io <detail>'.\n"
    "stderr: one line per stream, 'stream <W>/<S> records <n> seq <first>..<last>' (names\n"
    "escaped as in the WAL's directories), and 'torn last batch' when the last batch was cut\n"
    "short (its commit never returned: nothing in it was acknowledged).\n"
    "exit: 0, 1 as above, 2 on a usage error.\n";

struct StreamSeen {
  size_t records = 0;
  uint64_t first = 0, last = 0;
};

int Run(const std::map<std::string, std::string>& flags) {
  if (!flags.count("file")) return UsageError("audit journal", "--file is required");
  if (flags.count("writer-id") != flags.count("stream")) {
    return UsageError("audit journal", "--writer-id and --stream go together");
  }
  const bool filter = flags.count("stream") != 0;
  const std::string path = flags.at("file");
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
          if (filter && (r.writer_id != flags.at("writer-id") || r.stream != flags.at("stream"))) {
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
  if (torn) std::fprintf(stderr, "torn last batch\n");
  if (!failed.ok()) {
    std::printf("err %s batch %llu offset %llu\n", std::string(CodeName(failed.code())).c_str(),
                static_cast<unsigned long long>(failed_batch),
                static_cast<unsigned long long>(failed_offset));
    std::fprintf(stderr, "ronctl audit journal: %s\n", failed.ToString().c_str());
    return kExitFailed;
  }
  if (!read.ok()) {
    std::printf("err %s %s\n", std::string(CodeName(read.code())).c_str(),
                read.message().c_str());
    std::fprintf(stderr, "ronctl audit journal: %s\n", read.ToString().c_str());
    return kExitFailed;
  }
  return kExitOk;
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
