// `ronctl audit append | range | inspect | verify`: the WAL commands (contracts in docs/CLI.md).
#include "tools/wal_cli.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/verifier.h"
#include "engine/core/canonical.h"
#include "engine/core/check.h"
#include "ron_audit/engine.h"
#include "segment/segment_format.h"
#include "tools/append_guards.h"
#include "tools/cli_util.h"
#include "tools/line_reader.h"
#include "tools/verify_report.h"
#include "wal/files.h"
#include "wal/journal.h"
#include "wal/metrics.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron::tools {
namespace {

using Clock = std::chrono::steady_clock;
using Flags = std::map<std::string, std::string>;

// Records a writer thread commits at most in an import (EngineOptions::max_batch_records).
constexpr uint64_t kImportMaxBatchRecords = 4096;

constexpr char kAppendHelp[] =
    "usage: ronctl audit append --dir DIR --stream S [--writer-id W]\n"
    "       ronctl audit append --dir DIR --sealed\n"
    "         [--fsync always|on_checkpoint|never] [--ack] [--io-backend auto|io_uring|pwritev]\n"
    "         [--write-mode buffered|direct] [--queue-depth N] [--max-batch N] [--workers N]\n"
    "         [--metrics FILE] [--preallocate on|off]\n"
    "         [--export-dir DIR [--checkpoint-every N] [--export-every DUR]\n"
    "          [--signer-key FILE --key-id ID\n"
    "           [--previous-signer-key FILE | --rotate-without-cross-signature]]]\n"
    "\n"
    "stdin: drafts, one JSON object per line, with kind, actor, subject, reason, attrs and\n"
    "optional ts_ms. ronctl assigns v, seq, prev and writer_id (default <hostname>@ronctl) and\n"
    "appends them to the stream's WAL with group commit, resuming an existing chain.\n"
    "--ack prints '<seq> <self_hash>' for each record once it is durable under the fsync\n"
    "policy (default always): a printed line is a promise that survives kill -9 and power loss.\n"
    "--metrics FILE writes the WAL's metrics (Prometheus text format) at the end.\n"
    "--queue-depth N (default 8192): records in flight at most; reading faster than the disk\n"
    "writes waits for room, it never refuses a record.\n"
    "--max-batch N (1..65536; default 4096): records a writer thread commits at most at once.\n"
    "--workers N (1..8; default 1, with --sealed one per core): writer threads; each stream\n"
    "belongs to one of them (a hash of writer_id and stream).\n"
    "--write-mode: buffered writes + linked fdatasync (default), or O_DIRECT + RWF_DSYNC.\n"
    "--preallocate off: segments grow by appending instead of being zero-filled ahead (on,\n"
    "the default: syncs carry no metadata, but the disk writes each segment twice; a stream\n"
    "whose commits average over 16 KiB appends either way).\n"
    "--export-dir: also cut Merkle checkpoints every N records (default 50000, at least 1000),\n"
    "every DUR (default 15m) and at the end, each with its manifest, into DIR (0700). With\n"
    "--signer-key (an Ed25519 key file from 'ronctl keygen', mode 0600) and --key-id they are\n"
    "signed; without, unsigned (\"alg\":\"none\"). After a change of key, the first run with\n"
    "the new key appends a KeyRotated record to each stream; --previous-signer-key (the old\n"
    "key file) cross-signs the stream's first checkpoint under the new key; a new key without\n"
    "it is refused while a stream of this writer was last signed by another key, unless\n"
    "--rotate-without-cross-signature says the old key is lost.\n"
    "Without --writer-id, a warning says when the stream exists under another writer id only\n"
    "(the default differs per host: this run would start a new chain).\n"
    "--sealed: stdin holds sealed records (as 'ronctl audit range' prints them), appended as\n"
    "they are through AppendSealed into their own (writer_id, stream): the next seq with the\n"
    "right prev is appended, a record already stored is a duplicate (a no-op), another record at\n"
    "a stored seq is Conflict, a gap SeqGap. --ack prints '<seq> <self_hash> appended|duplicate'.\n"
    "A bad line gets 'err <Code> line <n>' on stderr and is skipped. Exit 0 if every line was\n"
    "appended, 1 if any was not or the WAL failed, 2 on a usage error.\n";

constexpr char kRangeHelp[] =
    "usage: ronctl audit range --dir DIR --stream S [--writer-id W] [--from N] [--to M]\n"
    "\n"
    "Prints the sealed records seq N..M (default: all), one per line, each verified (frame\n"
    "checksum, canonical bytes, self_hash, chain link) before it is printed. A failure stops\n"
    "with 'err <Code> seq <n>' (exit 1); so does a range the stream does not reach ('err SeqGap\n"
    "seq <head+1>' after the records it has). --writer-id defaults to the only writer of the\n"
    "stream.\n";

constexpr char kInspectHelp[] =
    "usage: ronctl audit inspect --dir DIR\n"
    "\n"
    "Per stream: state (ok, torn_tail, frozen), record count, head seq and hash, and per segment\n"
    "its header fields, size, frame count, where its valid data ends ('end', past the last valid\n"
    "frame and its padding) and what the scanner found (segment/scanner.h).\n"
    "Exit 1 if any stream is frozen (damage), else 0.\n";

constexpr char kVerifyHelp[] =
    "usage: ronctl audit verify --dir DIR [--threads N]\n"
    "         [--export-dir EXP [--trusted-keys FILE | --no-signatures]]\n"
    "\n"
    "Checks every frame checksum, every self_hash and every link of every stream. Prints\n"
    "'ok <records> records, <streams> streams' or the first failure:\n"
    "'err <Code> file <path> offset <n> stream <writer_id>/<stream> seq <n>' (exit 1).\n"
    "With --export-dir it also rebuilds every segment root, range root and tree_root from the\n"
    "WAL and checks the manifests (contiguous from seq 1, no gap or overlap), the checkpoint\n"
    "chain and, with --trusted-keys, every signature and key rotation. Then it prints\n"
    "'ok <records> records, <streams> streams, <checkpoints> checkpoints, <manifests> manifests'\n"
    "followed by one 'tail <writer_id>/<stream> <from>..<to> hash-chain-only' line per stream\n"
    "with records after its last checkpoint, or the first failure with ' reason <why>' appended.\n"
    "Without --trusted-keys the checkpoints' signatures are not checked: the line then starts\n"
    "with 'unchecked' and ends in ': signatures not checked (…)' (exit 1), unless\n"
    "--no-signatures accepts that explicitly ('ok …, signatures not checked', exit 0).\n"
    "A torn final write (not yet recovered by an append) is reported on stderr, not an error.\n"
    "Speed (records/s, MB/s, threads) goes to stderr. Streams are verified on --threads\n"
    "threads (default: one per core), the largest stream first; threads beyond one a stream\n"
    "go to the streams with the most bytes per thread, whose sealed segments are split among\n"
    "them, or streams go one at a time on all the threads they can use when that ends\n"
    "sooner. The output does not depend on it.\n";

std::string DefaultWriterId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') return "localhost@ronctl";
  return std::string(host) + "@ronctl";
}

bool StdinReady() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

// Resolves --writer-id for read commands: the given one, or the only writer of the stream.
bool ResolveWriter(const std::string& dir, const Flags& flags, const std::string& stream,
                   std::string* writer_id, std::string* error) {
  if (flags.count("writer-id")) {
    *writer_id = flags.at("writer-id");
    return true;
  }
  std::vector<std::pair<std::string, std::string>> streams;
  const Status listed = wal::ListStreams(dir, &streams);
  if (!listed.ok()) {
    *error = listed.message();
    return false;
  }
  std::vector<std::string> writers;
  for (const auto& [w, s] : streams) {
    if (s == stream) writers.push_back(w);
  }
  if (writers.size() == 1) {
    *writer_id = writers[0];
    return true;
  }
  *error = writers.empty() ? "no stream '" + stream + "' under " + dir
                           : "several writers have stream '" + stream + "'; pass --writer-id";
  return false;
}

// Appends through the engine (one writer thread, the WAL profile): the same code path hosts use.
int RunAppend(const Flags& flags) {
  const bool sealed = flags.count("sealed") > 0;
  if (!flags.count("dir") || (!flags.count("stream") && !sealed)) {
    return UsageError("audit append", "--dir and --stream are required");
  }
  if (sealed && flags.count("export-dir")) {
    return UsageError("audit append",
                      "--sealed imports records as they are; cut checkpoints of "
                      "the imported WAL with a later append run");
  }
  EngineOptions options;
  options.config.sink = SinkKind::kWal;
  options.config.amnesia = false;
  // Drafts go to one stream: one writer thread. Sealed records may be of many streams: one
  // writer thread per core (at most 8), each stream on one of them (docs/API.md: OwnerIndex).
  uint64_t workers = sealed ? std::clamp(std::thread::hardware_concurrency(), 1u, 8u) : 1u;
  if (!NumberFlag(flags, "workers", 1, 8, &workers)) {
    return UsageError("audit append", "--workers takes a number from 1 to 8");
  }
  options.config.workers = static_cast<uint32_t>(workers);
  uint64_t depth = 8192;
  if (!NumberFlag(flags, "queue-depth", 1, 1u << 20, &depth)) {
    return UsageError("audit append", "--queue-depth takes a number from 1 to 1048576");
  }
  options.config.queue_depth = static_cast<uint32_t>(depth);
  // An import keeps up to queue_depth records in flight: larger commits than the engine's
  // default cost the disk less per record (docs/PERFORMANCE_LOG.md).
  uint64_t max_batch = kImportMaxBatchRecords;
  if (!NumberFlag(flags, "max-batch", 1, 1u << 16, &max_batch)) {
    return UsageError("audit append", "--max-batch takes a number from 1 to 65536");
  }
  options.max_batch_records = max_batch;
  options.config.wal.dir = flags.at("dir");
  options.config.wal.fsync = FsyncPolicy::kAlways;
  if (flags.count("fsync") &&
      !wal::ParseFsyncPolicy(flags.at("fsync"), &options.config.wal.fsync)) {
    return UsageError("audit append", "--fsync must be always, on_checkpoint or never");
  }
  if (flags.count("io-backend") &&
      !wal::ParseIoBackendKind(flags.at("io-backend"), &options.io_backend)) {
    return UsageError("audit append", "--io-backend must be auto, io_uring or pwritev");
  }
  if (flags.count("write-mode") &&
      !wal::ParseWriteMode(flags.at("write-mode"), &options.write_mode)) {
    return UsageError("audit append", "--write-mode must be buffered or direct");
  }
  if (flags.count("preallocate")) {
    const std::string& v = flags.at("preallocate");
    if (v != "on" && v != "off") {
      return UsageError("audit append", "--preallocate must be on or off");
    }
    options.preallocate_segments = v == "on";
  }
  options.writer_id = flags.count("writer-id") ? flags.at("writer-id") : DefaultWriterId();
  if (const Status named = CheckName(options.writer_id, NameKind::kWriterId); !named.ok()) {
    return UsageError("audit append", "--writer-id: " + named.message());
  }
  if (!sealed) {
    if (const Status named = CheckName(flags.at("stream"), NameKind::kStream); !named.ok()) {
      return UsageError("audit append", "--stream: " + named.message());
    }
  }
  if (flags.count("export-dir")) {
    options.config.sink = SinkKind::kWalExport;
    options.config.export_.dir = flags.at("export-dir");
    options.config.export_.alg = std::string(kAlgNone);
    if (!NumberFlag(flags, "checkpoint-every", 1000, std::numeric_limits<uint64_t>::max(),
                    &options.config.export_.checkpoint_every)) {
      return UsageError("audit append", "--checkpoint-every takes a number of records, at least 1000");
    }
    if (flags.count("export-every") &&
        !ParseDurationMs(flags.at("export-every"), &options.config.export_.export_every_ms)) {
      return UsageError("audit append", "--export-every must be a duration (e.g. 15m, 30s)");
    }
    if (flags.count("signer-key") != flags.count("key-id")) {
      return UsageError("audit append", "--signer-key and --key-id go together");
    }
    // An Ed25519 key file (0600), or null after saying why on stderr.
    const auto load_key = [](const std::string& path) -> std::shared_ptr<Signer> {
      auto key = Ed25519Signer::FromKeyFile(path);
      if (key.ok()) return std::move(key).value();
      std::fprintf(stderr, "ronctl audit append: %s\n", key.status().ToString().c_str());
      return nullptr;
    };
    if (flags.count("signer-key")) {
      options.signer = load_key(flags.at("signer-key"));
      if (options.signer == nullptr) return kExitFailed;
      if (options.signer->key_id() != flags.at("key-id")) {
        std::fprintf(stderr, "ronctl audit append: Schema: the key file holds key '%s', not '%s'\n",
                     options.signer->key_id().c_str(), flags.at("key-id").c_str());
        return kExitFailed;
      }
      options.config.export_.alg = std::string(kAlgEd25519);
      options.config.export_.signer_key_id = flags.at("key-id");
    }
    if (flags.count("previous-signer-key")) {  // a restart with a new key: cross-sign with this
      if (!flags.count("signer-key")) {
        return UsageError("audit append", "--previous-signer-key needs --signer-key");
      }
      options.previous_signer = load_key(flags.at("previous-signer-key"));
      if (options.previous_signer == nullptr) return kExitFailed;
    }
    const Status exp = wal::EnsurePrivateDir(options.config.export_.dir, /*create=*/true);
    if (!exp.ok()) {
      std::fprintf(stderr, "ronctl audit append: %s\n", exp.ToString().c_str());
      return kExitFailed;
    }
    if (flags.count("signer-key") && !flags.count("previous-signer-key") &&
        !flags.count("rotate-without-cross-signature")) {
      const int refused = RefuseUnvouchedRotation(options.config.export_.dir, options.writer_id,
                                                  flags.at("key-id"));
      if (refused != kExitOk) return refused;
    }
  } else if (flags.count("checkpoint-every") || flags.count("export-every") ||
             flags.count("signer-key") || flags.count("key-id") ||
             flags.count("previous-signer-key") || flags.count("rotate-without-cross-signature")) {
    return UsageError("audit append", "checkpoint flags need --export-dir");
  }
  options.log = [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };
  const std::string stream = flags.count("stream") ? flags.at("stream") : "";
  const bool ack = flags.count("ack") > 0;
  const auto fail = [](const Status& status) {
    std::fprintf(stderr, "ronctl audit append: %s\n", status.ToString().c_str());
    return kExitFailed;
  };
  const Status dir = wal::EnsurePrivateDir(options.config.wal.dir, /*create=*/true);
  if (!dir.ok()) return fail(dir);
  if (!sealed && !flags.count("writer-id")) {
    WarnOfAnotherWritersStream(options.config.wal.dir, options.writer_id, stream);
  }
  auto opened = Engine::Open(options);
  if (!opened.ok()) return fail(opened.status());
  Engine& engine = *opened.value();
  const StreamInfo initial = engine.State(options.writer_id, stream);
  if (!sealed && initial.state == StreamState::kFrozen) {
    return fail(Status(Code::kFrozen, "stream " + segment::PrintedStreamName(options.writer_id, stream) +
                                          " is frozen (ronctl audit inspect shows why)"));
  }

  // A line in flight: its ticket, or (a sealed record refused before it was queued) its error,
  // settled in line order either way.
  struct Pending {
    uint64_t line_no;
    Ticket ticket;
    Status refused;
  };
  std::deque<Pending> pending;
  const size_t window = options.config.queue_depth;  // one stream: one writer's queue
  uint64_t appended = 0, duplicates = 0, rejected = 0;
  bool fatal = false;
  std::string out;
  const auto far = [] { return Clock::now() + std::chrono::hours(1); };
  // Settles the oldest pending record: prints its ack, or its error.
  const auto settle_front = [&] {
    Pending p = std::move(pending.front());
    pending.pop_front();
    const Result<Receipt> r = p.refused.ok() ? p.ticket.Wait(far()) : Result<Receipt>(p.refused);
    if (r.ok()) {
      const bool duplicate = p.ticket.outcome() == AppendOutcome::kDuplicate;
      ++(duplicate ? duplicates : appended);
      if (ack) {
        out.clear();
        out += std::to_string(r.value().seq);
        out += ' ';
        out += HashText(r.value().self_hash);
        if (sealed) out += duplicate ? " duplicate" : " appended";
        out += '\n';
        Write(stdout, out);
      }
      return;
    }
    if (r.code() == Code::kIo || r.code() == Code::kFrozen || r.code() == Code::kClosed) {
      fatal = true;
      fail(r.status());
      return;
    }
    ++rejected;
    std::fprintf(stderr, "err %s line %llu\n", std::string(CodeName(r.code())).c_str(),
                 static_cast<unsigned long long>(p.line_no));
  };
  const auto settle_done = [&] {
    while (!pending.empty() && !fatal && pending.front().ticket.done()) settle_front();
    if (ack) std::fflush(stdout);
  };
  // Lines are offered a group at a time in input order and kept in flight; each stream's owner
  // applies them in that order. A group is what the reader already holds, up to kGroup lines:
  // OfferSealedMany (sealed records: replay, import) checks their hashes side by side, and it
  // and EmitMany (drafts) hand the owner its run of them at once (one commit for the group, not
  // one per fragment the owner happened to wake up to). The group views the reader's buffer:
  // each line after its first was buffered when it was taken, so none of them moved it
  // (LineReader::Next), and the group is offered before the reader reads again.
  constexpr size_t kGroup = 256;
  std::vector<std::string_view> views;
  std::vector<uint64_t> group_lines;
  std::vector<Result<Ticket>> offered;
  const auto offer_group = [&] {
    size_t at = 0;
    while (at < views.size() && !fatal) {
      // Backpressure: at most a queue's worth in flight, so that a file read faster than the
      // disk writes waits for room instead of meeting Busy (and logging every refusal).
      // Room for half a queue (or the rest) first, then as much as fits.
      const size_t want = std::min(views.size() - at, std::max<size_t>(1, window / 2));
      while (!pending.empty() && pending.size() + want > window && !fatal) settle_front();
      if (fatal) break;
      const size_t chunk = std::min(views.size() - at, window - pending.size());
      offered.clear();
      const std::span<const std::string_view> rest = std::span(views).subspan(at, chunk);
      (void)(sealed ? engine.OfferSealedMany(rest, &offered)
                    : engine.EmitMany(stream, rest, &offered));
      for (Result<Ticket>& t : offered) {
        if (t.ok()) {
          pending.push_back({group_lines[at++], t.value(), Status::Ok()});
          continue;
        }
        const Code code = t.code();
        if (code != Code::kBusy && code != Code::kIo && code != Code::kFrozen &&
            code != Code::kClosed) {
          pending.push_back({group_lines[at++], Ticket(nullptr), t.status()});  // its verdict
          continue;
        }
        if (code == Code::kBusy && !pending.empty()) {
          settle_front();  // the writer is behind: wait for the oldest record, then go on
          break;
        }
        fatal = true;  // Busy with nothing in flight cannot happen
        fail(t.status());
        break;
      }
    }
    views.clear();
    group_lines.clear();
  };
  LineReader reader(STDIN_FILENO, kMaxInputBytes);
  const auto start = Clock::now();
  for (uint64_t line_no = 1; !fatal; ++line_no) {
    std::string_view line;
    const LineReader::Result r = reader.Next(&line);
    if (r == LineReader::Result::kEnd || r == LineReader::Result::kError) break;
    if (r == LineReader::Result::kTooLong) {
      if (!views.empty()) offer_group();  // the lines before it first
      ++rejected;
      std::fprintf(stderr, "err RecordTooLarge line %llu\n",
                   static_cast<unsigned long long>(line_no));
      continue;
    }
    views.push_back(line);
    group_lines.push_back(line_no);
    if (views.size() < kGroup && reader.HasBufferedLine()) continue;
    offer_group();
    if (fatal) break;
    // Print what is durable; when no more input is waiting, wait for everything in flight.
    settle_done();
    if (!reader.HasBufferedLine() && !StdinReady()) {
      while (!pending.empty() && !fatal) settle_front();
      if (ack) std::fflush(stdout);
    }
  }
  // Nothing is left to offer: the loop reads on with a group open only while its next line is
  // buffered (a read that returns that line), and an offer empties the group even when it fails.
  RON_CHECK(views.empty());
  while (!pending.empty() && !fatal) settle_front();
  if (ack) std::fflush(stdout);
  const Status closed = engine.Close(far());
  if (!closed.ok() && !fatal) {
    fail(closed);
    fatal = true;
  }
  if (flags.count("metrics")) {  // 0600, atomically, never through a link or into a FIFO
    const Status written = wal::WriteFileAtomic(flags.at("metrics"), engine.MetricsText());
    if (!written.ok()) {
      std::fprintf(stderr, "ronctl audit append: --metrics: %s\n", written.ToString().c_str());
      return kExitFailed;
    }
  }
  if (fatal) return kExitFailed;
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double rate = seconds > 0 ? static_cast<double>(appended + duplicates) / seconds : 0.0;
  if (sealed) {
    std::fprintf(stderr,
                 "ronctl audit append: %llu records appended, %llu duplicates, %llu rejected, "
                 "%.0f records/s, backend %s\n",
                 static_cast<unsigned long long>(appended),
                 static_cast<unsigned long long>(duplicates),
                 static_cast<unsigned long long>(rejected), rate, engine.io_backend().c_str());
  } else {
    std::fprintf(stderr,
                 "ronctl audit append: %llu records appended, %llu rejected, %.0f records/s, "
                 "head seq %llu, backend %s\n",
                 static_cast<unsigned long long>(appended),
                 static_cast<unsigned long long>(rejected), rate,
                 static_cast<unsigned long long>(engine.State(options.writer_id, stream).head_seq),
                 engine.io_backend().c_str());
  }
  return rejected == 0 ? kExitOk : kExitFailed;
}

int RunRange(const Flags& flags) {
  if (!flags.count("dir") || !flags.count("stream")) {
    return UsageError("audit range", "--dir and --stream are required");
  }
  uint64_t from = 1, to = UINT64_MAX;
  if ((flags.count("from") && !ParseUint64(flags.at("from"), &from)) ||
      (flags.count("to") && !ParseUint64(flags.at("to"), &to))) {
    return UsageError("audit range", "--from and --to take a seq number");
  }
  if (from == 0 || from > to) {
    return UsageError("audit range", "--from must be at least 1 and at most --to");
  }
  const std::string dir = flags.at("dir"), stream = flags.at("stream");
  std::string writer_id, error;
  if (!ResolveWriter(dir, flags, stream, &writer_id, &error)) {
    std::fprintf(stderr, "ronctl audit range: %s\n", error.c_str());
    return kExitFailed;
  }
  wal::StreamReport report;
  std::string out;
  const Status scanned =
      wal::ScanStream(wal::StreamDir(dir, writer_id, stream), writer_id, stream, Limits(),
                      wal::VerifyLevel::kFull, &report, [&](const wal::RecordView& r) {
                        if (r.seq >= from && r.seq <= to) {
                          out.clear();
                          AppendSealed(r.json, r.self_hash, &out);
                          out.push_back('\n');
                          Write(stdout, out);
                        }
                        return r.seq < to;
                      });
  if (!scanned.ok()) {
    std::fprintf(stderr, "ronctl audit range: %s\n", scanned.ToString().c_str());
    return kExitFailed;
  }
  if (report.frozen && report.problem_seq <= to) {
    std::printf("err %s seq %llu\n", std::string(CodeName(report.problem.code())).c_str(),
                static_cast<unsigned long long>(report.problem_seq));
    std::fprintf(stderr, "ronctl audit range: %s in %s at offset %llu\n",
                 report.problem.ToString().c_str(), report.problem_file.c_str(),
                 static_cast<unsigned long long>(report.problem_offset));
    return kExitFailed;
  }
  // A range the stream does not reach is not an empty answer: say where the stream ends.
  const uint64_t last_wanted = flags.count("to") ? to : from;
  if (report.head_seq < last_wanted) {
    std::printf("err SeqGap seq %llu\n", static_cast<unsigned long long>(report.head_seq + 1));
    std::fprintf(stderr, "ronctl audit range: the stream ends at seq %llu\n",
                 static_cast<unsigned long long>(report.head_seq));
    return kExitFailed;
  }
  return kExitOk;
}

int RunInspect(const Flags& flags) {
  if (!flags.count("dir")) return UsageError("audit inspect", "--dir is required");
  const std::string dir = flags.at("dir");
  std::vector<std::pair<std::string, std::string>> streams;
  const Status listed = wal::ListStreams(dir, &streams);
  if (!listed.ok()) {
    std::fprintf(stderr, "ronctl audit inspect: %s\n", listed.ToString().c_str());
    return kExitFailed;
  }
  size_t frozen = 0;
  for (const auto& [writer_id, stream] : streams) {
    wal::StreamReport report;
    const Status s = wal::ScanStream(wal::StreamDir(dir, writer_id, stream), writer_id, stream,
                                     Limits(), wal::VerifyLevel::kFull, &report);
    if (!s.ok()) {
      std::fprintf(stderr, "ronctl audit inspect: %s\n", s.ToString().c_str());
      return kExitFailed;
    }
    const char* state = report.frozen ? "frozen" : report.torn_tail ? "torn_tail" : "ok";
    std::printf("stream %s state %s records %llu head %llu %s\n",
                segment::PrintedStreamName(writer_id, stream).c_str(), state, static_cast<unsigned long long>(report.records),
                static_cast<unsigned long long>(report.head_seq), report.HeadText().c_str());
    for (const wal::SegmentReport& seg : report.segments) {
      std::printf("  %s bytes %llu first_seq %llu count %u frames %llu end %llu scan %s%s%s\n",
                  segment::SegmentFileName(seg.segment_no).c_str(),
                  static_cast<unsigned long long>(seg.file_bytes),
                  static_cast<unsigned long long>(seg.scan.header.first_seq), seg.scan.header.count,
                  static_cast<unsigned long long>(seg.scan.frames),
                  static_cast<unsigned long long>(seg.scan.valid_end),
                  std::string(segment::ScanOutcomeName(seg.scan.outcome)).c_str(),
                  seg.scan.detail.empty() ? "" : ": ", seg.scan.detail.c_str());
    }
    if (report.frozen) std::printf("  problem: %s\n", report.problem.ToString().c_str());
    frozen += report.frozen;
  }
  // Like verify: a frozen stream is damage, and a script must see it in the exit code.
  return frozen == 0 ? kExitOk : kExitFailed;
}

// --threads N (1..256; default one per core) into *threads, or a usage error's exit code.
int ParseThreads(const Flags& flags, unsigned* threads) {
  uint64_t n = std::max(1u, std::thread::hardware_concurrency());
  if (!NumberFlag(flags, "threads", 1, 256, &n)) {
    return UsageError("audit verify", "--threads takes a number from 1 to 256");
  }
  *threads = static_cast<unsigned>(n);
  return kExitOk;
}

// The forensic verifier (checkpoint/verifier.h): WAL + manifests (+ trusted keys).
int RunVerifyExports(const Flags& flags) {
  ExportVerifyOptions options;
  options.wal_dir = flags.at("dir");
  options.export_dir = flags.at("export-dir");
  if (const int usage = ParseThreads(flags, &options.threads); usage != kExitOk) return usage;
  Result<TrustedKeys> keys = TrustedKeys();
  if (flags.count("trusted-keys")) {
    keys = TrustedKeys::Load(flags.at("trusted-keys"));
    if (!keys.ok()) {
      std::fprintf(stderr, "ronctl audit verify: %s\n", keys.status().ToString().c_str());
      return kExitFailed;
    }
    options.keys = &keys.value();
  }
  ExportVerifyReport report;
  const auto start = Clock::now();
  const Status s = VerifyExports(options, &report);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!s.ok()) {
    std::fprintf(stderr, "ronctl audit verify: %s\n", s.ToString().c_str());
    return kExitFailed;
  }
  for (const std::string& note : report.notes) {
    std::fprintf(stderr, "ronctl audit verify: %s\n", note.c_str());
  }
  PrintVerifySpeed(report.records, report.bytes, seconds, options.threads);
  if (!report.failure.ok()) {
    Write(stdout, VerifyFailureLine(report));
    std::fprintf(stderr, "ronctl audit verify: %s\n", report.failure.ToString().c_str());
    return kExitFailed;
  }
  // "ok" means the signatures were checked, unless the caller said explicitly not to: an
  // auditor reading the main line must not take unchecked checkpoints for proven ones.
  const bool unchecked = !flags.count("trusted-keys") && report.checkpoints > 0;
  const bool accepted = !unchecked || flags.count("no-signatures");
  std::printf("%s %s%s\n", accepted ? "ok" : "unchecked", VerifyCounts(report).c_str(),
              !unchecked ? ""
              : accepted ? ", signatures not checked"
                         : ": signatures not checked (--trusted-keys KEYS checks them; "
                           "--no-signatures accepts this)");
  for (const auto& t : report.tails) {
    std::printf("tail %s %llu..%llu hash-chain-only\n", segment::PrintedStreamName(t.writer_id, t.stream).c_str(),
                static_cast<unsigned long long>(t.from), static_cast<unsigned long long>(t.to));
  }
  return accepted ? kExitOk : kExitFailed;
}

// The WAL alone: every stream's frames, canonical bytes, hashes and links, on --threads
// threads: streams side by side or one at a time (PlanVerify), a stream's segments split among
// its threads (wal::VerifyStream). Results are reported in stream order, so the output is the
// same for any thread count (the first failing stream's error).
int RunVerifyWal(const Flags& flags) {
  unsigned threads = 1;
  if (const int usage = ParseThreads(flags, &threads); usage != kExitOk) return usage;
  const std::string dir = flags.at("dir");
  std::vector<std::pair<std::string, std::string>> streams;
  const Status listed = wal::ListStreams(dir, &streams);
  if (!listed.ok()) {
    std::fprintf(stderr, "ronctl audit verify: %s\n", listed.ToString().c_str());
    return kExitFailed;
  }
  struct Scanned {
    Status status;
    wal::StreamReport report;
    uint64_t bytes = 0;
  };
  std::vector<Scanned> scanned(streams.size());
  std::vector<StreamWork> sizes;
  for (const auto& [writer_id, stream] : streams) {
    sizes.push_back(MeasureStream(wal::StreamDir(dir, writer_id, stream)));
  }
  const VerifyPlan plan = PlanVerify(sizes, threads);
  const std::vector<size_t> order = LargestFirst(sizes);
  std::atomic<size_t> next{0};
  const auto work = [&] {
    const wal::ReadBufferScope buffer;  // one segment buffer for all this thread's streams
    for (size_t k = next++; k < streams.size(); k = next++) {
      const size_t i = order[k];
      const auto& [writer_id, stream] = streams[i];
      Scanned& out = scanned[i];
      out.status = wal::VerifyStream(wal::StreamDir(dir, writer_id, stream), writer_id, stream,
                                     Limits(), plan.threads[i], &out.report, &out.bytes);
    }
  };
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  const size_t helpers = plan.one_at_a_time ? 1 : std::min<size_t>(threads, streams.size());
  for (size_t t = 1; t < helpers; ++t) pool.emplace_back(work);
  work();  // one at a time: every stream, each spread over its own helpers
  for (std::thread& t : pool) t.join();
  uint64_t records = 0, bytes = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    const auto& [writer_id, stream] = streams[i];
    const Scanned& s = scanned[i];
    if (!s.status.ok()) {
      std::fprintf(stderr, "ronctl audit verify: %s\n", s.status.ToString().c_str());
      return kExitFailed;
    }
    records += s.report.records;
    bytes += s.bytes;
    if (s.report.frozen) {
      std::printf("err %s file %s offset %llu stream %s seq %llu\n",
                  std::string(CodeName(s.report.problem.code())).c_str(),
                  s.report.problem_file.c_str(),
                  static_cast<unsigned long long>(s.report.problem_offset),
                  segment::PrintedStreamName(writer_id, stream).c_str(),
                  static_cast<unsigned long long>(s.report.problem_seq));
      std::fprintf(stderr, "ronctl audit verify: %s\n", s.report.problem.ToString().c_str());
      return kExitFailed;
    }
    if (s.report.torn_tail) {
      std::fprintf(stderr,
                   "ronctl audit verify: %s: torn final write at offset %llu of the newest "
                   "segment (never acknowledged; truncated by the next open)\n",
                   segment::PrintedStreamName(writer_id, stream).c_str(),
                   static_cast<unsigned long long>(s.report.torn_offset));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("ok %llu records, %zu streams\n", static_cast<unsigned long long>(records),
              streams.size());
  PrintVerifySpeed(records, bytes, seconds, threads);
  return kExitOk;
}

// A commit journal (wal/journal.h) that holds records means the WAL was not closed: its next
// open applies them. Said on stderr, since segments may lack (or have torn) what only it holds.
// A journal set aside (a frozen stream's records may be only there) is named too.
void NoteJournals(const std::string& dir) {
  std::vector<std::string> paths;
  if (!wal::ListJournals(dir, &paths).ok()) return;
  for (const std::string& path : paths) {
    size_t records = 0;
    bool torn = false;
    const Status read = wal::ScanJournal(
        path, Limits().max_record_bytes,
        [&](uint32_t, std::string_view, std::span<const segment::FrameView> frames) {
          records += frames.size();
          return Status::Ok();
        },
        &torn);
    if (!read.ok()) {
      std::fprintf(stderr, "ronctl audit verify: %s\n", read.ToString().c_str());
    } else if (records != 0) {
      std::fprintf(stderr,
                   "ronctl audit verify: commit journal %s holds %zu records: the WAL was not "
                   "closed; its next open puts back any its segments lack (after a power loss "
                   "a segment's tail may be missing, torn or damaged until then)\n",
                   path.c_str(), records);
    }
  }
  std::vector<std::string> names;
  if (!wal::ListDir(dir, &names).ok()) return;
  for (const std::string& name : names) {
    const std::string_view suffix = wal::kSetAsideSuffix;
    if (name.size() > suffix.size() && name.ends_with(suffix) &&
        wal::IsJournalFileName(std::string_view(name).substr(0, name.size() - suffix.size()))) {
      std::fprintf(stderr,
                   "ronctl audit verify: commit journal %s/%s was set aside: it holds records of "
                   "a stream that was frozen when it was applied; such a stream stays frozen "
                   "while it lacks them ('ronctl audit journal --file %s/%s' prints them; "
                   "docs/RUNBOOK.md section 9)\n",
                   dir.c_str(), name.c_str(), dir.c_str(), name.c_str());
    }
  }
}

int RunVerify(const Flags& flags) {
  if (!flags.count("dir")) return UsageError("audit verify", "--dir is required");
  NoteJournals(flags.at("dir"));
  if (flags.count("trusted-keys") && flags.count("no-signatures")) {
    return UsageError("audit verify", "--trusted-keys and --no-signatures exclude each other");
  }
  if (flags.count("export-dir")) return RunVerifyExports(flags);
  if (flags.count("trusted-keys") || flags.count("no-signatures")) {
    return UsageError("audit verify", std::string(flags.count("trusted-keys") ? "--trusted-keys"
                                                                              : "--no-signatures") +
                                          " needs --export-dir");
  }
  return RunVerifyWal(flags);
}

}  // namespace

bool IsWalCommand(std::string_view command) {
  return command == "append" || command == "range" || command == "inspect" || command == "verify";
}

int WalMain(int argc, char** argv) {
  const std::string command = argv[1];
  struct Spec {
    const char* help;
    std::vector<std::string> with_value, bare;
    int (*run)(const Flags&);
  };
  static const std::map<std::string, Spec> kSpecs = {
      {"append",
       {kAppendHelp,
        {"dir", "stream", "writer-id", "fsync", "io-backend", "write-mode", "preallocate",
         "queue-depth", "max-batch", "workers", "metrics",
         "export-dir",
         "checkpoint-every", "export-every", "signer-key", "key-id", "previous-signer-key"},
        {"ack", "sealed", "rotate-without-cross-signature"},
        &RunAppend}},
      {"range", {kRangeHelp, {"dir", "stream", "writer-id", "from", "to"}, {}, &RunRange}},
      {"inspect", {kInspectHelp, {"dir"}, {}, &RunInspect}},
      {"verify",
       {kVerifyHelp, {"dir", "export-dir", "trusted-keys", "threads"}, {"no-signatures"},
        &RunVerify}},
  };
  const Spec& spec = kSpecs.at(command);
  for (int i = 2; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      Write(stdout, spec.help);
      return kExitOk;
    }
  }
  Flags flags;
  std::string error;
  if (!ParseFlags(argc, argv, 2, spec.with_value, spec.bare, &flags, &error)) {
    return UsageError("audit " + command, error);
  }
  return spec.run(flags);
}

}  // namespace ron::tools
