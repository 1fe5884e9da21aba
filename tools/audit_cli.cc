#include "tools/audit_cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "checkpoint/merkle.h"
#include "engine/core/canonical.h"
#include "engine/core/verify.h"
#include "tools/cli_util.h"
#include "tools/journal_cli.h"
#include "tools/line_reader.h"
#include "tools/proof_cli.h"
#include "tools/salvage_cli.h"
#include "tools/wal_cli.h"

namespace ron::tools {
namespace {

constexpr char kAuditHelp[] =
    "usage: ronctl audit <command> [options] < input\n"
    "\n"
    "commands:\n"
    "  canon          canonicalize JSON records (one per line, without self_hash)\n"
    "  merkle         print the Merkle root over the records on stdin\n"
    "  verify-chain   verify sealed records (with self_hash) forming one chain\n"
    "  append         append drafts to a stream's WAL (group commit, fsync policy)\n"
    "  range          print verified sealed records of a stream from the WAL\n"
    "  inspect        show every stream, segment and what the scanner found\n"
    "  verify         verify a WAL directory (and its exports: roots, manifests, signatures)\n"
    "  prove          write an inclusion receipt for one record (self-contained JSON)\n"
    "  prove-consistency  write a consistency receipt between two checkpoints of a stream\n"
    "  check-proof    check a receipt offline against trusted keys\n"
    "  backup         copy the export, then the WAL, beside a running engine; verify the copy\n"
    "  salvage        rebuild a damaged WAL into a new directory, byte for byte up to the damage\n"
    "  journal        print the records a commit journal holds (left by a crash, or set aside)\n"
    "\n"
    "Run 'ronctl audit <command> --help' for the exact input and output of a command.\n";

constexpr char kLimitOptionsHelp[] =
    "options:\n"
    "  --max-attrs-bytes N    bound on canonical attrs (256..1024, default 1024)\n"
    "  --max-record-bytes N   bound on the canonical record (attrs+512..4096, default 4096)\n"
    "  --help                 show this help\n";

constexpr char kCanonHelp[] =
    "usage: ronctl audit canon [--max-attrs-bytes N] [--max-record-bytes N] < records.jsonl\n"
    "\n"
    "stdin: JSON records without self_hash, one per line (split on LF only).\n"
    "stdout: one line per input line:\n"
    "  ok <self_hash> <canonical JSON>\n"
    "  err <Code>          Code is Schema, Float, Utf8, AttrsTooLarge or RecordTooLarge\n"
    "exit: 0 if every line is ok, 1 if any line is err, 2 on a usage error.\n";

constexpr char kMerkleHelp[] =
    "usage: ronctl audit merkle [--max-attrs-bytes N] [--max-record-bytes N] < records.jsonl\n"
    "\n"
    "stdin: JSON records, one per line: without self_hash (as for canon), or sealed (as\n"
    "'audit range' prints them; their self_hash must hold).\n"
    "stdout: one line b3:<hex>, the RFC 6962 Merkle root (BLAKE3) over the records' self_hash\n"
    "digests in input order (docs/FORMAT.md §2; empty input gives BLAKE3 of the empty string).\n"
    "On the first invalid line: 'err <Code> line <n>' on stderr, exit 1.\n";

constexpr char kVerifyChainHelp[] =
    "usage: ronctl audit verify-chain [--max-attrs-bytes N] [--max-record-bytes N] < sealed.jsonl\n"
    "\n"
    "stdin: sealed records (with self_hash), one per line, all of one (writer_id, stream) chain\n"
    "in seq order. The first record may start mid-chain; seq 1 must have prev b3:0.\n"
    "stdout: 'ok <count> <head self_hash>' (head is b3:0 for empty input), or\n"
    "        'err <Code> line <n>' for the first failure (exit 1), with detail on stderr.\n"
    "Codes: Schema, Float, Utf8, AttrsTooLarge, RecordTooLarge, HashMismatch, PrevMismatch, "
    "SeqGap.\n";

struct Options {
  Limits limits;
};

// Parses the options shared by the record commands. Returns -1 to continue, else an exit code.
int ParseOptions(std::string_view command, const char* help, int argc, char** argv,
                 Options* options) {
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      Write(stdout, help);
      Write(stdout, "\n");
      Write(stdout, kLimitOptionsHelp);
      return kExitOk;
    }
    if (arg == "--max-attrs-bytes" || arg == "--max-record-bytes") {
      uint64_t value = 0;
      if (i + 1 >= argc || !ParseUint64(argv[i + 1], &value)) {
        return UsageError(command, std::string(arg) + " needs a non-negative integer");
      }
      (arg == "--max-attrs-bytes" ? options->limits.max_attrs_bytes
                                  : options->limits.max_record_bytes) = value;
      ++i;
      continue;
    }
    return UsageError(command, "unknown argument '" + std::string(arg) + "'");
  }
  const Status valid = options->limits.Validate();
  if (!valid.ok()) return UsageError(command, valid.message());
  return -1;
}

int ReadError(std::string_view command) {
  std::fprintf(stderr, "ronctl audit %.*s: cannot read stdin: %s\n",
               static_cast<int>(command.size()), command.data(), std::strerror(errno));
  return kExitFailed;
}

Status TooLong() { return Status(Code::kRecordTooLarge, "line longer than 65536 bytes"); }

int RunCanon(const Options& options) {
  Canonicalizer canonicalizer(options.limits);
  CanonicalRecord record;
  LineReader reader(STDIN_FILENO, kMaxInputBytes);
  std::string out;
  bool any_error = false;
  for (;;) {
    std::string_view line;
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd) break;
    if (r == LineReader::Result::kError) return ReadError("canon");
    const Status status =
        r == LineReader::Result::kTooLong ? TooLong() : canonicalizer.Canonicalize(line, &record);
    out.clear();
    if (status.ok()) {
      out.append("ok ");
      out.append(HashText(record.digest));
      out.push_back(' ');
      out.append(record.bytes);
    } else {
      any_error = true;
      out.append("err ");
      out.append(CodeName(status.code()));
    }
    out.push_back('\n');
    Write(stdout, out);
  }
  return any_error ? kExitFailed : kExitOk;
}

int RunMerkle(const Options& options) {
  Canonicalizer canonicalizer(options.limits);
  CanonicalRecord record;
  LineReader reader(STDIN_FILENO, kMaxInputBytes);
  MerkleFrontier frontier;
  for (uint64_t line_no = 1;; ++line_no) {
    std::string_view line;
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd) break;
    if (r == LineReader::Result::kError) return ReadError("merkle");
    // Sealed records (as `range` prints them) are verified; others are canonicalized.
    const bool sealed = line.find("\"self_hash\"") != std::string_view::npos;
    const Status status = r == LineReader::Result::kTooLong ? TooLong()
                          : sealed ? canonicalizer.VerifySealed(line, &record)
                                   : canonicalizer.Canonicalize(line, &record);
    if (!status.ok()) {
      std::fprintf(stderr, "err %s line %llu\n", std::string(CodeName(status.code())).c_str(),
                   static_cast<unsigned long long>(line_no));
      return kExitFailed;
    }
    frontier.Push(RecordLeafHash(record.digest));
  }
  Write(stdout, HashText(frontier.Root()) + "\n");
  return kExitOk;
}

int RunVerifyChain(const Options& options) {
  ChainVerifier verifier(options.limits);
  LineReader reader(STDIN_FILENO, kMaxInputBytes);
  for (uint64_t line_no = 1;; ++line_no) {
    std::string_view line;
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd) break;
    if (r == LineReader::Result::kError) return ReadError("verify-chain");
    const Status status = r == LineReader::Result::kTooLong ? TooLong() : verifier.Add(line);
    if (!status.ok()) {
      std::printf("err %s line %llu\n", std::string(CodeName(status.code())).c_str(),
                  static_cast<unsigned long long>(line_no));
      std::fprintf(stderr, "ronctl audit verify-chain: line %llu: %s\n",
                   static_cast<unsigned long long>(line_no), status.ToString().c_str());
      return kExitFailed;
    }
  }
  std::printf("ok %llu %s\n", static_cast<unsigned long long>(verifier.count()),
              verifier.HeadText().c_str());
  return kExitOk;
}

}  // namespace

int AuditMain(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    Write(argc < 2 ? stderr : stdout, kAuditHelp);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  const std::string_view command = argv[1];
  if (IsWalCommand(command)) return WalMain(argc, argv);
  if (IsProofCommand(command)) return ProofMain(argc, argv);
  if (IsSalvageCommand(command)) return SalvageMain(argc, argv);
  if (IsJournalCommand(command)) return JournalMain(argc, argv);
  using Runner = int (*)(const Options&);
  struct CommandEntry {
    std::string_view name;
    const char* help;
    Runner run;
  };
  static const CommandEntry kCommands[] = {
      {"canon", kCanonHelp, &RunCanon},
      {"merkle", kMerkleHelp, &RunMerkle},
      {"verify-chain", kVerifyChainHelp, &RunVerifyChain},
  };
  for (const CommandEntry& entry : kCommands) {
    if (entry.name != command) continue;
    Options options;
    const int parsed = ParseOptions(command, entry.help, argc, argv, &options);
    if (parsed >= 0) return parsed;
    return entry.run(options);
  }
  return UsageError("audit", "unknown command '" + std::string(command) + "'");
}

}  // namespace ron::tools
