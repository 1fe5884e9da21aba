// The ways an operator with file access, or a second process, could make the engine lose or
// overwrite acknowledged records, or hang or crash the tools, each as ronctl sees it: one
// writer per directory, damage in a sealed segment is corruption, a WAL behind its signed
// export never resumes, one verdict per input line, readers that survive a writer, no FIFO
// hangs, no writes through links, names printed so that no name can forge another.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "engine/core/canonical.h"
#include "ron_audit/engine.h"
#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "wal/files.h"
#include "wal/reader.h"
#include "wal/wal.h"

namespace ron {
namespace {

namespace fs = std::filesystem;
using testing::CommandResult;
using testing::RunCommand;
using testing::SplitLines;

constexpr char kExamples[] = "docs/examples/";
constexpr char kDraft[] = R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{}})";

// ronctl under `timeout`, so that a hang fails the test (exit 124) instead of stalling it.
CommandResult Ronctl(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {"/usr/bin/timeout", "20", testing::RonctlPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, input);
}

using testing::RonctlFromFile;

std::string Slurp(const std::string& path) { return testing::ReadFile(path); }

class IntegrityCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path() + "/wal";
    mkdir(dir_.c_str(), 0700);
  }
  CommandResult Append(const std::string& input, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"audit", "append",      "--dir", dir_, "--stream",
                                     "s",     "--writer-id", "w",     "--ack"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ronctl(args, input);
  }
  std::string Segment(int n, const std::string& stream = "s") {
    return dir_ + "/w/" + stream + "/" + segment::SegmentFileName(static_cast<uint64_t>(n));
  }
  testing::TempDir tmp_;
  std::string dir_;
};

std::string Drafts(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += std::string(kDraft) + "\n";
  return s;
}

// The lock belongs to the WAL layer too: a Wal opened on a directory another Wal (or engine)
// holds is refused; one that an engine opens for its writer threads shares the engine's lock.
TEST_F(IntegrityCliTest, AWalOnALockedDirectoryIsRefused) {
  wal::WalOptions o;
  o.dir = dir_;
  auto first = wal::Wal::Open(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = wal::Wal::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.code(), Code::kIo);
  EXPECT_NE(second.status().message().find("in use by another writer (pid " +
                                           std::to_string(getpid()) + " wal)"),
            std::string::npos)
      << second.status().ToString();
  first.value().reset();
  EXPECT_TRUE(wal::Wal::Open(o).ok());  // released with its holder
}

// 1. One writer per WAL directory: an engine holds the lock for its lifetime; a second writer
// (another process, or another engine in this one) is refused at once naming the holder;
// readers need no lock; the lock goes with Close.
TEST_F(IntegrityCliTest, ASecondWriterIsRefusedAndReadersAreNot) {
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  EngineOptions o;
  o.writer_id = "w";
  o.config.sink = SinkKind::kWal;
  o.config.amnesia = false;
  o.config.wal.dir = dir_;
  auto engine = Engine::Open(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto t = engine.value()->Emit("s", kDraft);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t.value().Wait(std::chrono::steady_clock::now() + std::chrono::seconds(10)).ok());

  const CommandResult second = Append(Drafts(2));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(second.out.empty()) << second.out;  // nothing acknowledged
  EXPECT_NE(second.err.find("in use by another writer (pid " + std::to_string(getpid()) +
                            " writer_id w)"),
            std::string::npos)
      << second.err;
  auto in_process = Engine::Open(o);
  ASSERT_FALSE(in_process.ok());
  EXPECT_NE(in_process.status().message().find("in use by another writer"), std::string::npos);

  for (const std::vector<std::string>& reader :
       {std::vector<std::string>{"audit", "verify", "--dir", dir_},
        std::vector<std::string>{"audit", "inspect", "--dir", dir_},
        std::vector<std::string>{"audit", "range", "--dir", dir_, "--stream", "s"}}) {
    const CommandResult r = Ronctl(reader);
    EXPECT_EQ(r.exit_code, 0) << reader[1] << ": " << r.err;
  }
  ASSERT_TRUE(engine.value()->Close(std::chrono::steady_clock::now()).ok());
  const CommandResult after = Append(Drafts(1));
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out.substr(0, 2), "5 ");  // 3 + the engine's 1, then this one
}

// The export directory has one writer too: two engines with separate WALs and one export.
TEST_F(IntegrityCliTest, ASecondWriterOfAnExportDirectoryIsRefused) {
  const std::string exp = tmp_.path() + "/exp", other = tmp_.path() + "/wal2";
  mkdir(exp.c_str(), 0700);
  mkdir(other.c_str(), 0700);
  EngineOptions o;
  o.writer_id = "w";
  o.config.sink = SinkKind::kWalExport;
  o.config.amnesia = false;
  o.config.wal.dir = dir_;
  o.config.export_.dir = exp;
  o.config.export_.alg = "none";
  auto first = Engine::Open(o);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  o.config.wal.dir = other;
  auto second = Engine::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("export.dir"), std::string::npos)
      << second.status().ToString();
}

// 2. A sealed segment holds only acknowledged frames: cut short, changed or with bytes after
// it, it is corruption. verify and inspect report it (file, offset, seq; exit 1), the engine
// opens the stream frozen, nothing is cut and no seq is reused.
TEST_F(IntegrityCliTest, DamageInASealedSegmentIsNeverATornTail) {
  const std::string drafts = Slurp(std::string(kExamples) + "drafts.jsonl");
  struct Case {
    const char* name;
    std::function<void(const std::string& path)> damage;
  };
  const std::vector<Case> cases = {
      {"truncated", [](const std::string& p) { fs::resize_file(p, 4200); }},
      {"last frame changed",
       [](const std::string& p) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekg(0, std::ios::end);
         std::string bytes(static_cast<size_t>(f.tellg()), '\0');
         f.seekg(0);
         f.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
         // The last frame ends before the padding marker that closes the last batch.
         const size_t padding = bytes.rfind(std::string(4, '\xff'));
         ASSERT_NE(padding, std::string::npos);
         // A byte of its raw self_hash, flipped (a set byte could already hold that value).
         f.seekp(static_cast<std::streamoff>(padding - 20));
         f.put(static_cast<char>(bytes[padding - 20] ^ 0x01));
       }},
      {"zeroed batch start",
       [](const std::string& p) {
         std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(4096);
         f.write("\0\0\0\0", 4);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::remove_all(dir_);
    mkdir(dir_.c_str(), 0700);
    ASSERT_EQ(Append(drafts).exit_code, 0);
    const std::string seg = Segment(1);
    c.damage(seg);
    const auto size = fs::file_size(seg);

    const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_});
    EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
    EXPECT_EQ(v.out.rfind("err ", 0), 0u) << v.out;
    EXPECT_NE(v.out.find("file " + seg + " offset "), std::string::npos) << v.out;
    EXPECT_NE(v.out.find(" stream w/s seq "), std::string::npos) << v.out;
    const CommandResult i = Ronctl({"audit", "inspect", "--dir", dir_});
    EXPECT_NE(i.out.find("stream w/s state frozen"), std::string::npos) << i.out;

    const CommandResult a = Append(kDraft + std::string("\n"));
    EXPECT_EQ(a.exit_code, 1);
    EXPECT_TRUE(a.out.empty()) << "acknowledged after damage: " << a.out;
    EXPECT_NE(a.err.find("Frozen"), std::string::npos) << a.err;
    EXPECT_EQ(fs::file_size(seg), size);  // nothing cut
  }
}

// 3. The issue's repro: the newest segment deleted while the export holds checkpoints over it.
TEST_F(IntegrityCliTest, AppendRefusesAWalBehindItsSignedExport) {
  const std::string key = tmp_.path() + "/k1.key", exp = tmp_.path() + "/exp";
  const CommandResult keygen = Ronctl({"keygen", "--key-id", "k1", "--out", key});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  const std::vector<std::string> signed_args = {"--export-dir", exp,   "--signer-key",
                                                key,            "--key-id", "k1"};
  ASSERT_EQ(RonctlFromFile({"audit", "append", "--dir", dir_, "--stream", "s", "--writer-id", "w",
                            "--export-dir", exp, "--signer-key", key, "--key-id", "k1"},
                           std::string(kExamples) + "gateway.jsonl")
                .exit_code,
            0);
  std::string locks;
  const auto lines = SplitLines(Slurp(std::string(kExamples) + "locks.jsonl"));
  for (size_t i = 0; i < 300; ++i) locks += lines[i] + "\n";
  ASSERT_EQ(Append(locks, signed_args).exit_code, 0);
  ASSERT_TRUE(fs::exists(Segment(2)));
  fs::remove(Segment(2));

  const CommandResult a = Append(kDraft + std::string("\n"), signed_args);
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_TRUE(a.out.empty()) << "acknowledged over signed history: " << a.out;
  EXPECT_NE(a.err.find("wal_behind_export"), std::string::npos) << a.err;
  // The stream's directory removed altogether: the same, and nothing is created for it.
  fs::remove_all(dir_ + "/w/s");
  const CommandResult b = Append(kDraft + std::string("\n"), signed_args);
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("wal_missing"), std::string::npos) << b.err;
  EXPECT_FALSE(fs::exists(dir_ + "/w/s"));
}

// 4. An over-long final line without LF is one RecordTooLarge verdict; its tail is no record.
TEST_F(IntegrityCliTest, AnOverlongLastLineSmugglesNothing) {
  const std::string p =
      R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"pad":")";
  const std::string input = p + std::string(1114113 - p.size(), 'x') +
                            R"({"kind":"Smuggled","actor":{},"subject":{},"reason":"ok","attrs":{}})";
  const std::string file = tmp_.path() + "/s.in";
  testing::WriteFile(file, input);
  for (const bool sealed : {false, true}) {
    std::vector<std::string> args = {"audit", "append", "--dir", dir_, "--ack"};
    if (sealed) {
      args.push_back("--sealed");
    } else {
      args.insert(args.end(), {"--stream", "s", "--writer-id", "w"});
    }
    const CommandResult r = RonctlFromFile(args, file);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.find("line 2"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("err RecordTooLarge line 1"), std::string::npos) << r.err;
  }
  // One verdict line each, RecordTooLarge, and nothing of the smuggled record.
  for (const char* command : {"canon", "merkle", "verify-chain"}) {
    const CommandResult r = RonctlFromFile({"audit", command}, file);
    EXPECT_EQ(r.exit_code, 1) << command;
    int verdicts = 0;
    for (const std::string& line : SplitLines(r.out + r.err)) {
      verdicts += line.rfind("err ", 0) == 0 || line.rfind("ok", 0) == 0 ||
                  line.rfind("b3:", 0) == 0 || line.rfind("{", 0) == 0;
    }
    EXPECT_EQ(verdicts, 1) << command << ": " << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("err RecordTooLarge"), std::string::npos) << command;
    EXPECT_EQ((r.out + r.err).find("Smuggled"), std::string::npos) << command;
  }
}

// The open newest segment of a killed writer swapped for a link: recovery must not write (or
// truncate) through it. The segment is left open by a Wal that is never closed.
TEST_F(IntegrityCliTest, RecoveryNeverWritesThroughALinkedOpenSegment) {
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  {
    wal::WalOptions o;
    o.dir = dir_;
    o.preallocate = false;
    auto opened = wal::Wal::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    wal::Wal& w = *opened.value();
    wal::StreamWal* s = w.GetStream("w", "s").value();
    Canonicalizer c;
    CanonicalRecord r;
    const std::string prev = s->HeadText();
    const Canonicalizer::DraftContext ctx{"w", "s", 4, prev, 1};
    ASSERT_TRUE(c.CanonicalizeDraft(kDraft, ctx, &r).ok());
    ASSERT_TRUE(w.Stage(s, r).ok());
    ASSERT_TRUE(w.Commit().ok());
  }  // destroyed without Close: segment 2 stays open (count 0), as after kill -9
  const std::string seg = Segment(2), copy = tmp_.path() + "/copy.seg";
  ASSERT_TRUE(fs::exists(seg));
  fs::copy_file(seg, copy);
  // A torn tail in the copy, so that recovery through the link would truncate and pad it.
  { std::ofstream(copy, std::ios::app | std::ios::binary) << std::string(100, '\x7f'); }
  fs::remove(seg);
  ASSERT_EQ(symlink(copy.c_str(), seg.c_str()), 0);
  const std::string before = Slurp(copy);
  const CommandResult a = Append(Drafts(1));
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_TRUE(a.out.empty()) << a.out;
  EXPECT_NE(a.err.find("symbolic link"), std::string::npos) << a.err;
  EXPECT_EQ(Slurp(copy), before);
  EXPECT_TRUE(fs::is_symlink(seg));
}

// 5. Readers survive a writer that shrinks the file they read (append trims its preallocated
// segment at close): the scan sees a shorter file, never a fault.
TEST_F(IntegrityCliTest, AReaderSurvivesASegmentThatShrinksUnderIt) {
  ASSERT_EQ(Append(Drafts(50)).exit_code, 0);
  const std::string seg = Segment(1);
  const auto size = fs::file_size(seg);
  EXPECT_EXIT(
      {
        std::atomic<bool> stop{false};
        std::thread writer([&] {
          while (!stop) {  // grow to 16 MiB of zeros (a preallocated tail), then trim it
            fs::resize_file(seg, 16u << 20);
            fs::resize_file(seg, size);
          }
        });
        for (int i = 0; i < 150; ++i) {
          wal::StreamReport report;
          (void)wal::ScanStream(dir_ + "/w/s", "w", "s", Limits(), wal::VerifyLevel::kFull,
                                &report);
          if (report.records != 50) _exit(2);  // the frames before the tail are always there
        }
        stop = true;
        writer.join();
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// 6. A FIFO (or device) where a segment, manifest, key or config file belongs is refused at
// once with a clear error; nothing waits for a writer that never comes.
TEST_F(IntegrityCliTest, AFifoInPlaceOfAFileIsRefusedNotWaitedFor) {
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  const std::string seg = Segment(1);
  fs::remove(seg);
  ASSERT_EQ(mkfifo(seg.c_str(), 0600), 0);
  const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_});
  EXPECT_EQ(v.exit_code, 1) << v.err;
  EXPECT_NE(v.err.find("is a FIFO, not a regular file"), std::string::npos) << v.err;
  const CommandResult i = Ronctl({"audit", "inspect", "--dir", dir_});
  EXPECT_NE(i.out.find("state frozen"), std::string::npos) << i.out;
  const CommandResult a = Append(Drafts(1));
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("is a FIFO"), std::string::npos) << a.err;
  EXPECT_TRUE(fs::is_fifo(seg));  // left for the operator, not unlinked as "torn"

  const std::string fifo = tmp_.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const CommandResult key = Ronctl({"audit", "append", "--dir", tmp_.path() + "/w2", "--stream",
                                    "s", "--export-dir", tmp_.path() + "/e2", "--signer-key",
                                    fifo, "--key-id", "k"},
                                   kDraft);
  EXPECT_EQ(key.exit_code, 1) << key.err;
  EXPECT_NE(key.err.find("not a regular file"), std::string::npos) << key.err;
  const CommandResult config = Ronctl({"config", "check", fifo});
  EXPECT_EQ(config.exit_code, 1) << config.err;
  EXPECT_NE(config.out + config.err, "");
  EXPECT_NE((config.out + config.err).find("is a FIFO"), std::string::npos)
      << config.out << config.err;
  const std::string exp = tmp_.path() + "/exp";
  mkdir(exp.c_str(), 0700);
  const CommandResult keys =
      Ronctl({"audit", "verify", "--dir", dir_, "--export-dir", exp, "--trusted-keys", fifo});
  EXPECT_EQ(keys.exit_code, 1) << keys.err;
  EXPECT_NE(keys.err.find("not a regular file"), std::string::npos) << keys.err;
}

TEST_F(IntegrityCliTest, AFifoInPlaceOfAManifestIsRefused) {
  const std::string exp = tmp_.path() + "/exp";
  ASSERT_EQ(RonctlFromFile({"audit", "append", "--dir", dir_, "--stream", "s", "--writer-id", "w",
                            "--export-dir", exp, "--checkpoint-every", "1000"},
                           std::string(kExamples) + "gateway.jsonl")
                .exit_code,
            0);
  std::vector<std::string> names;
  ASSERT_TRUE(wal::ListDir(exp + "/w/s", &names).ok());
  ASSERT_FALSE(names.empty());
  const std::string manifest = exp + "/w/s/" + names.back();  // the one the engine reads
  fs::remove(manifest);
  ASSERT_EQ(mkfifo(manifest.c_str(), 0600), 0);
  const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_, "--export-dir", exp});
  EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
  EXPECT_NE((v.out + v.err).find("is a FIFO"), std::string::npos) << v.out << v.err;
  const CommandResult a = Append(Drafts(1), {"--export-dir", exp});
  EXPECT_EQ(a.exit_code, 1) << a.out << a.err;
  EXPECT_TRUE(a.out.empty()) << a.out;
  EXPECT_NE(a.err.find("export_unreadable"), std::string::npos) << a.err;
  EXPECT_TRUE(fs::is_fifo(manifest));
}

// 7. The engine never writes through a link: a link planted as the manifest's temporary file
// is replaced, not followed; a segment that is a link is refused (the stream freezes).
TEST_F(IntegrityCliTest, WritesNeverFollowALink) {
  const std::string exp = tmp_.path() + "/exp", victim = tmp_.path() + "/victim";
  testing::WriteFile(victim, "precious\n");
  ASSERT_EQ(Append(Drafts(3), {"--export-dir", exp}).exit_code, 0);
  std::vector<std::string> names;
  ASSERT_TRUE(wal::ListDir(exp + "/w/s", &names).ok());
  ASSERT_EQ(names, std::vector<std::string>{ManifestFileName(3)});  // the next one ends at 4
  const std::string temp = exp + "/w/s/" + ManifestFileName(4) + ".tmp";
  ASSERT_EQ(symlink(victim.c_str(), temp.c_str()), 0);
  const CommandResult a = Append(Drafts(1), {"--export-dir", exp});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(Slurp(victim), "precious\n");
  EXPECT_FALSE(fs::is_symlink(temp));

  // The newest segment swapped for a link to a copy of itself.
  const std::string seg = Segment(2), copy = tmp_.path() + "/copy.seg";
  ASSERT_TRUE(fs::exists(seg));
  fs::copy_file(seg, copy);
  fs::remove(seg);
  ASSERT_EQ(symlink(copy.c_str(), seg.c_str()), 0);
  const std::string before = Slurp(copy);
  const CommandResult b = Append(Drafts(1));
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.err.find("symbolic link"), std::string::npos) << b.err;
  EXPECT_EQ(Slurp(copy), before);
  const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_});
  EXPECT_EQ(v.exit_code, 1);
}

// 8. Names are printed escaped: no two streams print alike, and no name forges a field.
TEST_F(IntegrityCliTest, NamesArePrintedInOneUnambiguousForm) {
  ASSERT_EQ(Ronctl({"audit", "append", "--dir", dir_, "--writer-id", "a", "--stream", "b/c"},
                   Drafts(1))
                .exit_code,
            0);
  ASSERT_EQ(Ronctl({"audit", "append", "--dir", dir_, "--writer-id", "a/b", "--stream", "c"},
                   Drafts(1))
                .exit_code,
            0);
  ASSERT_EQ(Ronctl({"audit", "append", "--dir", dir_, "--writer-id", "w", "--stream",
                    "x state ok records 99"},
                   Drafts(1))
                .exit_code,
            0);
  const CommandResult i = Ronctl({"audit", "inspect", "--dir", dir_});
  EXPECT_NE(i.out.find("stream a/b%2Fc state ok"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("stream a%2Fb/c state ok"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("stream w/x%20state%20ok%20records%2099 state ok records 1 "),
            std::string::npos)
      << i.out;
  fs::resize_file(dir_ + "/a%2Fb/c/" + segment::SegmentFileName(1), 4200);
  const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_});
  EXPECT_NE(v.out.find(" stream a%2Fb/c seq 1"), std::string::npos) << v.out;
}

// 9. The smaller ones.
TEST_F(IntegrityCliTest, BadArgumentsAreOneUsageError) {
  const CommandResult r = Ronctl({"audit", "append", "--dir", dir_, "--stream", "bad\tname"},
                                 Drafts(3));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(SplitLines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("--stream"), std::string::npos) << r.err;
  const CommandResult nfd = Ronctl(
      {"audit", "append", "--dir", dir_, "--stream", "cafe\xcc\x81", "--writer-id", "w"}, kDraft);
  EXPECT_EQ(nfd.exit_code, 2) << nfd.err;
  EXPECT_NE(nfd.err.find("NFC"), std::string::npos) << nfd.err;
  ASSERT_EQ(Append(Drafts(8)).exit_code, 0);
  const CommandResult range =
      Ronctl({"audit", "range", "--dir", dir_, "--stream", "s", "--from", "5", "--to", "3"});
  EXPECT_EQ(range.exit_code, 2);
  EXPECT_NE(range.err.find("--from"), std::string::npos) << range.err;
}

TEST_F(IntegrityCliTest, SealedImportSaysWhatWasAppendedAndWhatWasADuplicate) {
  ASSERT_EQ(Append(Drafts(8)).exit_code, 0);
  const CommandResult range = Ronctl({"audit", "range", "--dir", dir_, "--stream", "s"});
  ASSERT_EQ(range.exit_code, 0);
  const CommandResult again =
      Ronctl({"audit", "append", "--dir", dir_, "--sealed", "--ack"}, range.out);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 records appended, 8 duplicates, 0 rejected"), std::string::npos)
      << again.err;
  EXPECT_EQ(again.err.find("head seq 0"), std::string::npos) << again.err;
}

// Damage to the open newest segment that no crash of ours can leave: a header zeroed in front of
// frames, or four bytes zeroed at a frame that starts a 4 KiB block. Neither is a torn tail
// (the first would unlink the whole file, the second cut up to 2 MiB of acknowledged records).
TEST_F(IntegrityCliTest, TamperingWithTheOpenNewestSegmentIsNoTornTail) {
  for (const bool header : {true, false}) {
    SCOPED_TRACE(header ? "header zeroed" : "length zeroed");
    fs::remove_all(dir_);
    mkdir(dir_.c_str(), 0700);
    {
      wal::WalOptions o;
      o.dir = dir_;
      o.preallocate = false;
      auto opened = wal::Wal::Open(o);
      ASSERT_TRUE(opened.ok());
      wal::Wal& w = *opened.value();
      wal::StreamWal* s = w.GetStream("w", "s").value();
      Canonicalizer c;
      CanonicalRecord r;
      for (int batch = 0; batch < 3; ++batch) {  // three batches, each from a 4 KiB boundary
        const std::string prev = s->HeadText();
        const Canonicalizer::DraftContext ctx{"w", "s", s->head_seq() + 1, prev, 1};
        ASSERT_TRUE(c.CanonicalizeDraft(kDraft, ctx, &r).ok());
        ASSERT_TRUE(w.Stage(s, r).ok());
        ASSERT_TRUE(w.Commit().ok());
      }
    }  // left open, as after kill -9
    const std::string seg = Segment(1);
    const auto size = fs::file_size(seg);
    {
      std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(header ? 0 : 4096);
      const std::string zeros(header ? 32 : 4, '\0');
      f.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
    }
    const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_});
    EXPECT_EQ(v.exit_code, 1) << v.out << v.err;
    const CommandResult a = Append(Drafts(1));
    EXPECT_EQ(a.exit_code, 1);
    EXPECT_TRUE(a.out.empty()) << "acknowledged after damage: " << a.out;
    ASSERT_TRUE(fs::exists(seg));
    EXPECT_EQ(fs::file_size(seg), size);
  }
}

// A device where the newest segment belongs is not a torn write to unlink.
TEST_F(IntegrityCliTest, ADeviceInPlaceOfTheNewestSegmentIsRefused) {
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  const std::string seg = Segment(2);
  fs::remove(seg);
  if (mknod(seg.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0) {  // /dev/null's numbers
    GTEST_SKIP() << "mknod of a character device needs root";
  }
  const CommandResult a = Append(Drafts(1));
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_NE(a.err.find("character device"), std::string::npos) << a.err;
  struct stat st {};
  ASSERT_EQ(lstat(seg.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

// A file named like a segment but not as the engine names them is damage, not invisible.
TEST_F(IntegrityCliTest, ANonCanonicalSegmentNameIsRefused) {
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  ASSERT_EQ(Append(Drafts(3)).exit_code, 0);
  fs::rename(Segment(2), dir_ + "/w/s/wal-0000002.seg");
  const CommandResult v = Ronctl({"audit", "verify", "--dir", dir_});
  EXPECT_EQ(v.exit_code, 1) << v.out;
  EXPECT_NE(v.out.find("wal-0000002.seg"), std::string::npos) << v.out;
  const CommandResult a = Append(Drafts(1));
  EXPECT_EQ(a.exit_code, 1);
  EXPECT_TRUE(a.out.empty()) << a.out;  // seq 4 would be reused otherwise
}

}  // namespace
}  // namespace ron
