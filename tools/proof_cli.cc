// `ronctl audit prove | prove-consistency | check-proof` (contracts in docs/CLI.md).
#include "tools/proof_cli.h"

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "checkpoint/receipt.h"
#include "tools/cli_util.h"
#include "wal/files.h"
#include "wal/reader.h"

namespace ron::tools {
namespace {

using Flags = std::map<std::string, std::string>;

constexpr char kProveHelp[] =
    "usage: ronctl audit prove --dir WAL --export-dir EXP --stream S [--writer-id W] --seq N\n"
    "\n"
    "Prints a self-contained JSON receipt for record N: the sealed record, the signed\n"
    "checkpoint that covers it, and the RFC 6962 audit paths from its leaf to the range root\n"
    "and to tree_root. Every record up to the checkpoint's end is read and verified, and the\n"
    "checkpoint's roots must be reproduced. Exit 1 with one line on stderr when N is not yet\n"
    "covered by a checkpoint or the WAL does not match it.\n";

constexpr char kConsistencyHelp[] =
    "usage: ronctl audit prove-consistency --dir WAL --export-dir EXP --stream S [--writer-id W]\n"
    "         --from-size A --to-size B\n"
    "\n"
    "Prints a JSON receipt proving that the stream's tree at the checkpoint with tree_size A\n"
    "is a prefix of the one at tree_size B (RFC 6962 consistency proof), with both signed\n"
    "checkpoints. The subtree hashes are rebuilt from the WAL.\n";

constexpr char kCheckHelp[] =
    "usage: ronctl audit check-proof FILE --trusted-keys KEYS\n"
    "\n"
    "Checks a receipt offline: its canonical form, the record's self_hash, every element and\n"
    "the exact length of every audit or consistency path, and every checkpoint signature (by a\n"
    "key in KEYS; cosignatures by unknown keys are ignored). Prints 'ok inclusion …' or\n"
    "'ok consistency …' (exit 0), or 'err <Code> <reason>' (exit 1; detail on stderr).\n";

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "ronctl audit %s: %s\n", command, status.ToString().c_str());
  return kExitFailed;
}

// --writer-id, or the only writer that has the stream in the WAL.
bool Source(const Flags& flags, ProofSource* source, std::string* error) {
  source->wal_dir = flags.at("dir");
  source->export_dir = flags.at("export-dir");
  source->stream = flags.at("stream");
  if (flags.count("writer-id")) {
    source->writer_id = flags.at("writer-id");
    return true;
  }
  std::vector<std::pair<std::string, std::string>> streams;
  const Status listed = wal::ListStreams(source->wal_dir, &streams);
  if (!listed.ok()) {
    *error = listed.message();
    return false;
  }
  int found = 0;
  for (const auto& [w, s] : streams) {
    if (s == source->stream) {
      source->writer_id = w;
      ++found;
    }
  }
  if (found == 1) return true;
  *error = found == 0 ? "no stream '" + source->stream + "' under " + source->wal_dir
                      : "several writers have stream '" + source->stream + "'; pass --writer-id";
  return false;
}

int RunProve(const Flags& flags) {
  if (!flags.count("dir") || !flags.count("export-dir") || !flags.count("stream") ||
      !flags.count("seq")) {
    return UsageError("audit prove", "--dir, --export-dir, --stream and --seq are required");
  }
  uint64_t seq = 0;
  if (!ParseUint64(flags.at("seq"), &seq) || seq == 0) {
    return UsageError("audit prove", "--seq must be a number >= 1");
  }
  ProofSource source;
  std::string error;
  if (!Source(flags, &source, &error)) return Fail("prove", Status(Code::kSchema, error));
  InclusionReceipt receipt;
  const Status s = BuildInclusionReceipt(source, seq, &receipt);
  if (!s.ok()) return Fail("prove", s);
  Write(stdout, receipt.Json() + "\n");
  return kExitOk;
}

int RunProveConsistency(const Flags& flags) {
  if (!flags.count("dir") || !flags.count("export-dir") || !flags.count("stream") ||
      !flags.count("from-size") || !flags.count("to-size")) {
    return UsageError("audit prove-consistency",
                      "--dir, --export-dir, --stream, --from-size and --to-size are required");
  }
  uint64_t from = 0, to = 0;
  if (!ParseUint64(flags.at("from-size"), &from) || !ParseUint64(flags.at("to-size"), &to)) {
    return UsageError("audit prove-consistency", "--from-size and --to-size must be numbers");
  }
  ProofSource source;
  std::string error;
  if (!Source(flags, &source, &error)) {
    return Fail("prove-consistency", Status(Code::kSchema, error));
  }
  ConsistencyReceipt receipt;
  const Status s = BuildConsistencyReceipt(source, from, to, &receipt);
  if (!s.ok()) return Fail("prove-consistency", s);
  Write(stdout, receipt.Json() + "\n");
  return kExitOk;
}

int RunCheck(const std::string& file, const Flags& flags) {
  if (!flags.count("trusted-keys")) {
    return UsageError("audit check-proof", "--trusted-keys is required");
  }
  auto keys = TrustedKeys::Load(flags.at("trusted-keys"));
  if (!keys.ok()) return Fail("check-proof", keys.status());
  std::string text;
  const Status read = wal::ReadSmallFile(file, 1u << 20, &text, wal::Links::kFollow);
  if (!read.ok()) return Fail("check-proof", read);
  while (!text.empty() && text.back() == '\n') text.pop_back();  // one trailing newline
  std::string summary;
  const Status s = CheckReceipt(text, keys.value(), &summary);
  if (!s.ok()) {
    const std::string& msg = s.message();
    std::printf("err %s %s\n", std::string(CodeName(s.code())).c_str(),
                msg.substr(0, msg.find(':')).c_str());
    return Fail("check-proof", s);
  }
  std::printf("%s\n", summary.c_str());
  return kExitOk;
}

}  // namespace

bool IsProofCommand(std::string_view command) {
  return command == "prove" || command == "prove-consistency" || command == "check-proof";
}

int ProofMain(int argc, char** argv) {
  const std::string command = argv[1];
  const char* help = command == "prove"               ? kProveHelp
                     : command == "prove-consistency" ? kConsistencyHelp
                                                      : kCheckHelp;
  for (int i = 2; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      Write(stdout, help);
      return kExitOk;
    }
  }
  Flags flags;
  std::string error;
  if (command == "check-proof") {
    if (argc < 3 || std::string_view(argv[2]).starts_with("--")) {
      return UsageError("audit check-proof", "the receipt FILE comes first");
    }
    if (!ParseFlags(argc, argv, 3, {"trusted-keys"}, {}, &flags, &error)) {
      return UsageError("audit check-proof", error);
    }
    return RunCheck(argv[2], flags);
  }
  const std::vector<std::string> common = {"dir", "export-dir", "stream", "writer-id"};
  std::vector<std::string> names = common;
  if (command == "prove") {
    names.push_back("seq");
  } else {
    names.push_back("from-size");
    names.push_back("to-size");
  }
  if (!ParseFlags(argc, argv, 2, names, {}, &flags, &error)) {
    return UsageError("audit " + command, error);
  }
  return command == "prove" ? RunProve(flags) : RunProveConsistency(flags);
}

}  // namespace ron::tools
