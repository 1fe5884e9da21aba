// The interop vectors under tests/vectors/audit/: every expected output is recomputed, and
// the hashes are cross-checked with b3sum (an independent BLAKE3 implementation).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "checkpoint/merkle.h"
#include "engine/core/canonical.h"
#include "engine/core/verify.h"
#include "tests/test_util.h"

namespace ron {
namespace {

namespace fs = std::filesystem;
const std::string kDir = "tests/vectors/audit/";

std::string Trim(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// What `ronctl audit canon` prints for one line.
std::string CanonLine(Canonicalizer* c, const std::string& line) {
  CanonicalRecord r;
  const Status status = c->Canonicalize(line, &r);
  if (!status.ok()) return "err " + std::string(CodeName(status.code()));
  return "ok " + HashText(r.digest) + " " + r.bytes;
}

std::string B3sumHex(const std::string& data) {
  testing::TempDir dir;
  testing::WriteFile(dir.path() + "/in", data);
  const auto r = testing::RunCommand({"/usr/bin/b3sum", "--no-names", dir.path() + "/in"}, "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return Trim(r.out);
}

TEST(VectorsTest, GenesisRecord) {
  const std::string json = Trim(testing::ReadFile(kDir + "record.genesis.json"));
  Canonicalizer c;
  CanonicalRecord r;
  ASSERT_TRUE(c.Canonicalize(json, &r).ok());
  EXPECT_EQ(r.bytes, json);  // the vector is already canonical
  const std::string hex = ToHex(r.digest);
  EXPECT_EQ(testing::ReadFile(kDir + "record.genesis.expected"),
            "self_hash=b3:" + hex + "\ndedupe_key=" + hex + "\n");
  EXPECT_EQ(B3sumHex(r.bytes), hex);
}

TEST(VectorsTest, NextRecordChainsToGenesis) {
  Canonicalizer c;
  CanonicalRecord genesis, next;
  ASSERT_TRUE(c.Canonicalize(Trim(testing::ReadFile(kDir + "record.genesis.json")), &genesis).ok());
  const std::string json = Trim(testing::ReadFile(kDir + "record.next.json"));
  ASSERT_TRUE(c.Canonicalize(json, &next).ok());
  EXPECT_EQ(next.bytes, json);
  EXPECT_EQ(next.record.prev, HashText(genesis.digest));
  EXPECT_TRUE(VerifyLink(genesis, next).ok());
  const std::string hex = ToHex(next.digest);
  EXPECT_EQ(testing::ReadFile(kDir + "record.next.expected"),
            "self_hash=b3:" + hex + "\ndedupe_key=" + hex + "\nverify_link(genesis,next)=Ok\n");
  EXPECT_EQ(B3sumHex(next.bytes), hex);
  EXPECT_TRUE(VerifyChain({Seal(genesis), Seal(next)}).ok());
}

TEST(VectorsTest, EvilInputs) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kDir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("evil.", 0) != 0 || entry.path().extension() != ".json") continue;
    ++count;
    Canonicalizer c;
    const std::string input = Trim(testing::ReadFile(entry.path().string()));
    const std::string expected_path = kDir + name.substr(0, name.size() - 5) + ".canon.expected";
    EXPECT_EQ(CanonLine(&c, input) + "\n", testing::ReadFile(expected_path)) << name;
    // And the CLI prints exactly the same.
    const auto cli = testing::RunCommand({testing::RonctlPath(), "audit", "canon"}, input + "\n");
    EXPECT_EQ(cli.out, testing::ReadFile(expected_path)) << name;
  }
  EXPECT_EQ(count, 4);
  // The specific outcomes the evil inputs must have.
  EXPECT_EQ(testing::ReadFile(kDir + "evil.float.canon.expected"), "err Float\n");
  EXPECT_EQ(testing::ReadFile(kDir + "evil.oversize_attrs.canon.expected"), "err AttrsTooLarge\n");
  const std::string genesis_hash =
      Trim(testing::ReadFile(kDir + "record.genesis.expected")).substr(10, kHashTextBytes);
  EXPECT_EQ(
      testing::ReadFile(kDir + "evil.key_order.canon.expected"),
      "ok " + genesis_hash + " " + Trim(testing::ReadFile(kDir + "record.genesis.json")) + "\n");
  const std::string nfd = testing::ReadFile(kDir + "evil.nfd.canon.expected");
  EXPECT_NE(nfd.find("\"writer_id\":\"s\xC3\xA9rver\""), std::string::npos);
  const std::string canonical = Trim(nfd.substr(3 + kHashTextBytes + 1));
  EXPECT_EQ("b3:" + B3sumHex(canonical), nfd.substr(3, kHashTextBytes));
}

Digest RootOfFile(const std::string& path, std::vector<std::string>* lines) {
  *lines = testing::SplitLines(testing::ReadFile(path));
  Canonicalizer c;
  CanonicalRecord r;
  std::vector<Digest> digests;
  for (const std::string& line : *lines) {
    EXPECT_TRUE(c.Canonicalize(line, &r).ok());
    EXPECT_EQ(r.bytes, line);
    digests.push_back(r.digest);
  }
  return MerkleRoot(digests);
}

TEST(VectorsTest, MerkleBatchAndTamperedTwin) {
  std::vector<std::string> batch, tampered;
  const Digest root = RootOfFile(kDir + "merkle.batch.jsonl", &batch);
  const Digest twin = RootOfFile(kDir + "merkle.tampered.jsonl", &tampered);
  ASSERT_EQ(batch.size(), 100u);
  ASSERT_EQ(tampered.size(), 100u);
  EXPECT_EQ(HashText(root) + "\n", testing::ReadFile(kDir + "merkle.batch.root"));
  EXPECT_EQ(HashText(twin) + "\n", testing::ReadFile(kDir + "merkle.tampered.root"));
  EXPECT_NE(root, twin);
  // The twin differs from the batch in exactly one byte.
  size_t differing_bytes = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(batch[i].size(), tampered[i].size());
    for (size_t k = 0; k < batch[i].size(); ++k) differing_bytes += batch[i][k] != tampered[i][k];
  }
  EXPECT_EQ(differing_bytes, 1u);
  // The batch is seq 100..199 of one chain: sealed, it verifies as a range.
  Canonicalizer c;
  CanonicalRecord r;
  ChainVerifier verifier;
  for (const std::string& line : batch) {
    ASSERT_TRUE(c.Canonicalize(line, &r).ok());
    ASSERT_TRUE(verifier.Add(Seal(r)).ok());
  }
  EXPECT_EQ(verifier.head().record.seq, 199u);
  // The CLI agrees.
  const auto cli = testing::RunCommand({testing::RonctlPath(), "audit", "merkle"},
                                       testing::ReadFile(kDir + "merkle.batch.jsonl"));
  EXPECT_EQ(cli.exit_code, 0);
  EXPECT_EQ(cli.out, testing::ReadFile(kDir + "merkle.batch.root"));
}

}  // namespace
}  // namespace ron
