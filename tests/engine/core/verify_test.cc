#include "engine/core/verify.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ron {
namespace {

using testing::RecordJson;

// Builds a sealed chain of `n` records starting at seq 1.
std::vector<std::string> SealedChain(int n, const std::string& writer = "svc-test@inst-1",
                                     const std::string& stream = "ingress") {
  Canonicalizer c;
  CanonicalRecord r;
  std::vector<std::string> chain;
  std::string prev = "b3:0";
  for (int seq = 1; seq <= n; ++seq) {
    const std::string attrs = "{\"i\":" + std::to_string(seq) + "}";
    EXPECT_TRUE(c.Canonicalize(RecordJson(seq, prev, attrs, writer, stream), &r).ok());
    chain.push_back(Seal(r));
    prev = HashText(r.digest);
  }
  return chain;
}

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<std::string_view>(v.begin(), v.end());
}

TEST(VerifyRecordTest, SealedRecordVerifies) {
  for (const std::string& sealed : SealedChain(3)) EXPECT_TRUE(VerifyRecord(sealed).ok());
}

TEST(VerifyRecordTest, ChangedBodyIsHashMismatch) {
  std::string sealed = SealedChain(1)[0];
  sealed.replace(sealed.find("\"i\":1"), 5, "\"i\":2");
  EXPECT_EQ(VerifyRecord(sealed).code(), Code::kHashMismatch);
}

TEST(VerifyRecordTest, ChangedHashIsHashMismatch) {
  std::string sealed = SealedChain(1)[0];
  char& c = sealed[sealed.size() - 3];
  c = c == '0' ? '1' : '0';
  EXPECT_EQ(VerifyRecord(sealed).code(), Code::kHashMismatch);
}

TEST(VerifyRecordTest, NonCanonicalStoredRecordIsSchema) {
  const std::string sealed = SealedChain(1)[0];
  // Extra whitespace, reordered keys, self_hash elsewhere, escaped-but-equal strings: all
  // equivalent JSON, none of them the canonical bytes.
  std::string spaced = sealed;
  spaced.insert(1, " ");
  EXPECT_EQ(VerifyRecord(spaced).code(), Code::kSchema);
  std::string escaped = sealed;
  escaped.replace(escaped.find("ingress"), 1, "\\u0069");
  EXPECT_EQ(VerifyRecord(escaped).code(), Code::kSchema);
  const size_t at = sealed.find(",\"self_hash\"");
  std::string moved =
      "{" + sealed.substr(at + 1, sealed.size() - at - 2) + "," + sealed.substr(1, at - 1) + "}";
  EXPECT_EQ(VerifyRecord(moved).code(), Code::kSchema);
  EXPECT_EQ(VerifyRecord(sealed.substr(0, at) + "}").code(), Code::kSchema);  // no self_hash
  EXPECT_EQ(VerifyRecord(sealed.substr(0, at) + ",\"self_hash\":\"b3:0\"}").code(), Code::kSchema);
}

TEST(VerifyRecordTest, ParseErrorsKeepTheirCodes) {
  std::string sealed = SealedChain(1)[0];
  sealed.replace(sealed.find("\"i\":1"), 5, "\"i\":1.5");
  EXPECT_EQ(VerifyRecord(sealed).code(), Code::kFloat);
  EXPECT_EQ(VerifyRecord(std::string(kMaxInputBytes + 1, ' ')).code(), Code::kRecordTooLarge);
  EXPECT_EQ(VerifyRecord("not json").code(), Code::kSchema);
}

TEST(VerifyRecordTest, FlippingAnyByteIsDetected) {
  const std::string sealed = SealedChain(2)[1];
  Canonicalizer c;
  CanonicalRecord r;
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char mask : {0x01, 0x20, 0x80}) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      EXPECT_FALSE(c.VerifySealed(bad, &r).ok()) << "byte " << i << " mask " << int(mask);
    }
  }
}

TEST(VerifyChainTest, ValidChainVerifies) {
  const auto chain = SealedChain(50);
  EXPECT_TRUE(VerifyChain(Views(chain)).ok());
  ChainVerifier verifier;
  EXPECT_EQ(verifier.HeadText(), "b3:0");
  for (const auto& s : chain) ASSERT_TRUE(verifier.Add(s).ok());
  EXPECT_EQ(verifier.count(), 50u);
  EXPECT_EQ(verifier.HeadText(), chain.back().substr(chain.back().size() - 69, 67));
}

TEST(VerifyChainTest, RangeMayStartMidChain) {
  const auto chain = SealedChain(10);
  EXPECT_TRUE(VerifyChain(Views(std::vector<std::string>(chain.begin() + 4, chain.end()))).ok());
}

TEST(VerifyChainTest, DeletedRecordIsSeqGap) {
  auto chain = SealedChain(10);
  chain.erase(chain.begin() + 5);
  size_t index = 0;
  EXPECT_EQ(VerifyChain(Views(chain), Limits(), &index).code(), Code::kSeqGap);
  EXPECT_EQ(index, 5u);
}

TEST(VerifyChainTest, ReorderedRecordsAreSeqGap) {
  auto chain = SealedChain(10);
  std::swap(chain[3], chain[4]);
  size_t index = 0;
  EXPECT_EQ(VerifyChain(Views(chain), Limits(), &index).code(), Code::kSeqGap);
  EXPECT_EQ(index, 3u);
}

TEST(VerifyChainTest, ForeignRecordIsPrevMismatch) {
  // Same seq, validly sealed, but from another chain (different attrs ⇒ different hash).
  auto chain = SealedChain(10);
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(c.Canonicalize(RecordJson(6, "b3:" + std::string(64, 'f'), "{}"), &r).ok());
  chain[5] = Seal(r);
  size_t index = 0;
  EXPECT_EQ(VerifyChain(Views(chain), Limits(), &index).code(), Code::kPrevMismatch);
  EXPECT_EQ(index, 5u);
}

TEST(VerifyChainTest, OtherStreamIsPrevMismatch) {
  auto a = SealedChain(3, "w", "a");
  auto b = SealedChain(3, "w", "b");
  std::vector<std::string> mixed = {a[0], a[1], b[2]};
  EXPECT_EQ(VerifyChain(Views(mixed)).code(), Code::kPrevMismatch);
}

TEST(VerifyChainTest, GenesisRule) {
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(c.Canonicalize(RecordJson(1, "b3:" + std::string(64, 'a')), &r).ok());
  EXPECT_EQ(VerifyChain({Seal(r)}).code(), Code::kPrevMismatch);
  ASSERT_TRUE(c.Canonicalize(RecordJson(7, "b3:0"), &r).ok());
  EXPECT_EQ(VerifyChain({Seal(r)}).code(), Code::kPrevMismatch);
}

TEST(VerifyChainTest, TamperedMiddleRecordIsHashMismatch) {
  auto chain = SealedChain(5);
  chain[2].replace(chain[2].find("\"i\":3"), 5, "\"i\":9");
  size_t index = 0;
  EXPECT_EQ(VerifyChain(Views(chain), Limits(), &index).code(), Code::kHashMismatch);
  EXPECT_EQ(index, 2u);
}

TEST(VerifyChainTest, FailureKeepsTheHead) {
  const auto chain = SealedChain(3);
  ChainVerifier verifier;
  ASSERT_TRUE(verifier.Add(chain[0]).ok());
  EXPECT_FALSE(verifier.Add(chain[2]).ok());
  EXPECT_TRUE(verifier.Add(chain[1]).ok());
  EXPECT_TRUE(verifier.Add(chain[2]).ok());
  EXPECT_EQ(verifier.count(), 3u);
}

TEST(VerifyLinkTest, Codes) {
  Canonicalizer c;
  CanonicalRecord a, b;
  ASSERT_TRUE(c.Canonicalize(RecordJson(1, "b3:0"), &a).ok());
  ASSERT_TRUE(c.Canonicalize(RecordJson(2, HashText(a.digest)), &b).ok());
  EXPECT_TRUE(VerifyLink(a, b).ok());
  ASSERT_TRUE(c.Canonicalize(RecordJson(3, HashText(a.digest)), &b).ok());
  EXPECT_EQ(VerifyLink(a, b).code(), Code::kSeqGap);
  ASSERT_TRUE(c.Canonicalize(RecordJson(2, "b3:" + std::string(64, '0')), &b).ok());
  EXPECT_EQ(VerifyLink(a, b).code(), Code::kPrevMismatch);
}

}  // namespace
}  // namespace ron
