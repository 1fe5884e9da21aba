// `ronctl audit journal`: what a commit journal holds, each record verified, in commit order;
// one stream's records as a chain verify-chain accepts; a torn last batch said and skipped;
// damage before a whole batch, a record that does not hash to its self_hash and a file that is
// no journal refused. The journals are written here byte for byte as the WAL writes them
// (wal/journal.h), so that every shape can be made.
#include <gtest/gtest.h>
#include <sys/stat.h>

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
    std::string file = wal::JournalHeaderBlock(1);
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
    wal::EndJournalBatch(&batch, 1);
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
  wal::EndJournalBatch(&batches[0], 1);
  wal::BeginJournalBatch(&batches[1]);
  Next("a", &batches[1]);
  wal::EndJournalBatch(&batches[1], 1);
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
  wal::EndJournalBatch(&batches[0], 1);
  wal::BeginJournalBatch(&batches[1]);
  Next("a", &batches[1]);
  wal::EndJournalBatch(&batches[1], 1);
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
  EXPECT_NE(io.out.find("with a commit batch header after it"), std::string::npos) << io.out;

  std::string segment = Journal(batches);
  segment[0] = 'X';
  const CommandResult none = Run(segment);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.out.find("not a commit journal"), std::string::npos) << none.out;

  // A failure in a later batch: the batches before it, and its records before the failure.
  std::vector<std::string> three(3);
  std::vector<std::string> good;
  for (size_t k = 0; k < three.size(); ++k) {
    wal::BeginJournalBatch(&three[k]);
    good.push_back(Next("c", &three[k]));
    if (k == 1) {
      Next("d", &three[k], /*bad_hash=*/true);
      Next("c", &three[k]);
    }
    wal::EndJournalBatch(&three[k], 1);
  }
  const CommandResult later = Run(Journal(three));
  EXPECT_EQ(later.exit_code, 1);
  EXPECT_EQ(later.out.rfind(good[0] + "\n" + good[1] + "\nerr HashMismatch batch 1 offset ", 0),
            0u)
      << later.out;
  EXPECT_NE(later.err.find("stream w@j/c records 2 seq 1..2\n"), std::string::npos) << later.err;
  // The same through the filter: the other stream's records are not printed, the failure is.
  const CommandResult filtered = Run(Journal(three), {"--writer-id", "w@j", "--stream", "d"});
  EXPECT_EQ(filtered.exit_code, 1);
  EXPECT_EQ(filtered.out.rfind("err HashMismatch batch 1 offset ", 0), 0u) << filtered.out;
  EXPECT_NE(filtered.err.find("no records of stream w@j/d"), std::string::npos) << filtered.err;

  // Damage after printed batches, with a whole batch after it.
  std::vector<std::string> clean(3);
  std::string printed;  // the first batch's record: all that comes before the damage
  for (size_t k = 0; k < clean.size(); ++k) {
    wal::BeginJournalBatch(&clean[k]);
    const std::string sealed = Next("e", &clean[k]);
    if (k == 0) printed = sealed + "\n";
    wal::EndJournalBatch(&clean[k], 1);
  }
  std::string late_damage = Journal(clean);
  late_damage[wal::kJournalHeaderBytes + clean[0].size() + 100] ^= 1;  // the second batch
  const CommandResult late_io = Run(late_damage);
  EXPECT_EQ(late_io.exit_code, 1);
  EXPECT_EQ(late_io.out.rfind(printed + "err Io ", 0), 0u) << late_io.out;
  EXPECT_NE(late_io.out.find("with a commit batch header after it"), std::string::npos) << late_io.out;

  // Files shorter than the magic: an empty or half-written header holds no batch; anything
  // else is no journal. A FIFO or a link is refused, never waited for or followed.
  for (const std::string& bytes : {std::string(), std::string("RON-J")}) {
    const CommandResult none_yet = Run(bytes);
    EXPECT_EQ(none_yet.exit_code, 0) << none_yet.out;
    EXPECT_EQ(none_yet.out, "");
    EXPECT_EQ(none_yet.err, "no batch\n");
  }
  const CommandResult junk = Run("XYZ");
  EXPECT_EQ(junk.exit_code, 1);
  EXPECT_NE(junk.out.find("not a commit journal"), std::string::npos) << junk.out;
  const std::string fifo = dir_.path() + "/fifo.jnl";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const CommandResult from_fifo = Ronctl({"audit", "journal", "--file", fifo});
  EXPECT_EQ(from_fifo.exit_code, 1);
  EXPECT_EQ(from_fifo.out.rfind("err Io ", 0), 0u) << from_fifo.out;
  const std::string link = dir_.path() + "/link.jnl";
  testing::WriteFile(dir_.path() + "/real.jnl", Journal(batches));
  std::filesystem::create_symlink(dir_.path() + "/real.jnl", link);
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", link}).exit_code, 1);

  // Names are checked as everywhere: a name no record can hold is a usage error.
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", fifo, "--writer-id", "", "--stream", "s"})
                .exit_code,
            2);
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", fifo, "--writer-id", "w", "--stream",
                    "e\xCC\x81"})
                .exit_code,
            2);
  EXPECT_EQ(Ronctl({"audit", "journal"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", "x", "--stream", "s"}).exit_code, 2);
  EXPECT_EQ(Ronctl({"audit", "journal", "--file", dir_.path() + "/missing"}).exit_code, 1);
}

}  // namespace
}  // namespace ron
