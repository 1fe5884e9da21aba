// `ronctl audit journal`: what a commit journal holds, each record verified, in commit order;
// one stream's records as a chain verify-chain accepts; a torn last batch said and skipped;
// damage before a whole batch, a record that does not hash to its self_hash and a file that is
// no journal refused. The journals are written here byte for byte as the WAL writes them
// (wal/journal.h), so that every shape can be made.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/core/canonical.h"
#include "segment/segment_format.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"
#include "wal/journal.h"

namespace ron {
namespace {

using testing::CommandResult;
using testing::Ronctl;

class JournalCliTest : public ::testing::Test {
 protected:
  // The next record of `stream` (writer "w@j"), sealed; its frame appended to `batch`.
  std::string Next(const std::string& stream, std::string* batch, bool bad_hash = false) {
    Chain& c = chains_[stream];
    const std::string draft = R"({"kind":"K","actor":{},"subject":{},"reason":"ok","attrs":{"i":)" +
                              std::to_string(c.seq) + R"(,"pad":")" + std::string(700, 'p') +
                              "\"}}";
    const Canonicalizer::DraftContext ctx{"w@j", stream, c.seq + 1, c.head, 1000};
    CanonicalRecord r;
    EXPECT_TRUE(canonicalizer_.CanonicalizeDraft(draft, ctx, &r).ok());
    ++c.seq;
    c.head = HashText(r.digest);
    Digest framed = r.digest;
    if (bad_hash) framed[5] ^= 1;
    segment::AppendFrame(c.seq, r.bytes, framed, batch);
    return Seal(r);
  }
  // A journal file: its header block, then `batches` (each begun and ended as the WAL does).
  std::string Journal(const std::vector<std::string>& batches) {
    std::string file(wal::kJournalHeaderBytes, '\0');
    std::memcpy(file.data(), wal::kJournalMagic, sizeof(wal::kJournalMagic));
    for (const std::string& b : batches) file += b;
    return file;
  }
  CommandResult Run(const std::string& file_bytes, std::vector<std::string> extra = {}) {
    const std::string path = dir_.path() + "/#journal-0123456789abcdef.jnl";
    testing::WriteFile(path, file_bytes);
    std::vector<std::string> args = {"audit", "journal", "--file", path};
    args.insert(args.end(), extra.begin(), extra.end());
    return Ronctl(args);
  }

  struct Chain {
    uint64_t seq = 0;
    std::string head = "b3:0";
  };
  std::map<std::string, Chain> chains_;
  Canonicalizer canonicalizer_;
  testing::TempDir dir_;
};

TEST_F(JournalCliTest, PrintsEveryRecordInCommitOrderAndOneStreamAsAChain) {
  std::vector<std::string> batches(3), expected, only_b;
  for (std::string& batch : batches) {
    wal::BeginJournalBatch(&batch);
    for (const char* stream : {"a", "b/c", "b/c"}) {  // names printed escaped, as everywhere
      expected.push_back(Next(stream, &batch));
      if (std::string(stream) == "b/c") only_b.push_back(expected.back());
    }
    wal::EndJournalBatch(&batch);
  }
  const std::string journal = Journal(batches);
  const CommandResult all = Run(journal);
  ASSERT_EQ(all.exit_code, 0) << all.out << all.err;
  std::string lines;
  for (const std::string& s : expected) lines += s + "\n";
  EXPECT_EQ(all.out, lines);
  EXPECT_NE(all.err.find("stream w@j/a records 3 seq 1..3\n"), std::string::npos) << all.err;
  EXPECT_NE(all.err.find("stream w@j/b%2Fc records 6 seq 1..6\n"), std::string::npos) << all.err;
  EXPECT_EQ(all.err.find("torn"), std::string::npos) << all.err;

  const CommandResult b = Run(journal, {"--writer-id", "w@j", "--stream", "b/c"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  lines.clear();
  for (const std::string& s : only_b) lines += s + "\n";
  EXPECT_EQ(b.out, lines);
  EXPECT_EQ(b.err, "stream w@j/b%2Fc records 6 seq 1..6\n");
  const CommandResult chain = Ronctl({"audit", "verify-chain"}, b.out);
  EXPECT_EQ(chain.exit_code, 0) << chain.out << chain.err;
  EXPECT_EQ(chain.out.rfind("ok 6 ", 0), 0u) << chain.out;

  // Set aside, or moved out of the WAL for the investigation: read the same, never changed.
  const std::string aside = dir_.path() + "/evidence.jnl.frozen";
  testing::WriteFile(aside, journal);
  const CommandResult moved = Ronctl({"audit", "journal", "--file", aside});
  EXPECT_EQ(moved.exit_code, 0);
  EXPECT_EQ(moved.out, all.out);
  EXPECT_EQ(testing::ReadFile(aside), journal);

  // verify names a journal set aside in a WAL, and the command that prints it.
  const std::string wal = dir_.path() + "/wal";
  std::filesystem::create_directory(wal);
  std::filesystem::permissions(wal, std::filesystem::perms::owner_all);
  testing::WriteFile(wal + "/#journal-00000000000000aa.jnl.frozen", journal);
  const CommandResult verify = Ronctl({"audit", "verify", "--dir", wal});
  const std::string command =
      "ronctl audit journal --file " + wal + "/#journal-00000000000000aa.jnl.frozen";
  EXPECT_NE(verify.err.find(command), std::string::npos) << verify.err;
}

TEST_F(JournalCliTest, ATornLastBatchIsSaidAndItsRecordsLeftOut) {
  std::vector<std::string> batches(2);
  std::string first;
  wal::BeginJournalBatch(&batches[0]);
  first = Next("a", &batches[0]);
  wal::EndJournalBatch(&batches[0]);
  wal::BeginJournalBatch(&batches[1]);
  Next("a", &batches[1]);
  wal::EndJournalBatch(&batches[1]);
  std::string journal = Journal(batches);
  journal.resize(journal.size() - batches[1].size() + 500);  // the last batch cut short
  const CommandResult r = Run(journal);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, first + "\n");
  EXPECT_NE(r.err.find("torn last batch"), std::string::npos) << r.err;
}

TEST_F(JournalCliTest, DamageARecordThatDoesNotHashAndNoJournalAreRefused) {
  std::vector<std::string> batches(2);
  std::string first;
  wal::BeginJournalBatch(&batches[0]);
  first = Next("a", &batches[0]);
  Next("a", &batches[0], /*bad_hash=*/true);  // a whole frame, checksums right
  wal::EndJournalBatch(&batches[0]);
  wal::BeginJournalBatch(&batches[1]);
  Next("a", &batches[1]);
  wal::EndJournalBatch(&batches[1]);
  const CommandResult bad = Run(Journal(batches));
  EXPECT_EQ(bad.exit_code, 1);
  const uint64_t second_frame = wal::kJournalHeaderBytes + wal::kJournalBatchHeaderBytes +
                                segment::FrameBytes(first.size() - kSealSuffixBytes + 1);
  EXPECT_EQ(bad.out, first + "\nerr HashMismatch batch 0 offset " +
                         std::to_string(second_frame) + "\n");

  std::string damaged = Journal(batches);
  damaged[wal::kJournalHeaderBytes + 100] ^= 1;  // the first batch, a whole one after it
  const CommandResult io = Run(damaged);
  EXPECT_EQ(io.exit_code, 1);
  EXPECT_EQ(io.out.rfind("err Io ", 0), 0u) << io.out;
  EXPECT_NE(io.out.find("whole commit batch after it"), std::string::npos) << io.out;

  std::string segment = Journal(batches);
  segment[0] = 'X';
  const CommandResult none = Run(segment);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.out.find("not a commit journal"), std::string::npos) << none.out;

  EXPECT_EQ(Ronctl({"audit", "journal"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", "x", "--stream", "s"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", dir_.path() + "/missing"}).exit_code, 1);
}

}  // namespace
}  // namespace ron
