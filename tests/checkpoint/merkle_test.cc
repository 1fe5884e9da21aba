#include "checkpoint/merkle.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstddef>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace ron {
namespace {

// ---- RFC 6962 with SHA-256: the tree shape checked against published vectors -------------

Digest Sha256(const std::string& data) {
  Digest out;
  crypto_hash_sha256(out.data(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return out;
}
Digest ShaLeaf(const uint8_t* data, size_t size) {
  return Sha256(std::string(1, '\0') + std::string(reinterpret_cast<const char*>(data), size));
}
Digest ShaNode(const Digest& l, const Digest& r) {
  std::string buf(1, '\1');
  buf.append(reinterpret_cast<const char*>(l.data()), l.size());
  buf.append(reinterpret_cast<const char*>(r.data()), r.size());
  return Sha256(buf);
}
Digest ShaEmpty() { return Sha256(""); }
constexpr TreeHasher kSha256{&ShaLeaf, &ShaNode, &ShaEmpty};

Digest FromHex(const std::string& hex) {
  Digest d{};
  EXPECT_TRUE(ParseHashText("b3:" + hex, &d)) << hex;
  return d;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// The eight leaves of the Certificate Transparency reference tests.
std::vector<Digest> CtLeaves() {
  std::vector<Digest> leaves;
  for (const char* hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                          "606162636465666768696a6b6c6d6e6f"}) {
    const std::string data = Unhex(hex);
    leaves.push_back(ShaLeaf(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  return leaves;
}

TEST(MerkleSha256Test, RootsOfThePublishedTreeOfEightLeaves) {
  const auto leaves = CtLeaves();
  const char* roots[] = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  };
  for (size_t n = 1; n <= 8; ++n) {
    EXPECT_EQ(ToHex(RootOfLeafHashes(std::span(leaves).first(n), kSha256)), roots[n - 1])
        << "size " << n;
  }
  EXPECT_EQ(ToHex(RootOfLeafHashes({}, kSha256)),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MerkleSha256Test, PublishedInclusionProof) {
  // Leaf 0 of the eight-leaf tree, from the CT reference tests.
  const auto leaves = CtLeaves();
  const std::vector<Digest> expected = {
      FromHex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
      FromHex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
      FromHex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")};
  EXPECT_EQ(InclusionProof(leaves, 0, kSha256), expected);
  const Digest root = RootOfLeafHashes(leaves, kSha256);
  EXPECT_TRUE(VerifyInclusion(0, 8, leaves[0], expected, root, kSha256));
}

// ---- BLAKE3 instance ------------------------------------------------------------------------

std::vector<Digest> RecordDigests(size_t n) {
  std::vector<Digest> digests;
  for (size_t i = 0; i < n; ++i) digests.push_back(Blake3("record " + std::to_string(i)));
  return digests;
}

std::vector<Digest> LeafHashes(const std::vector<Digest>& digests) {
  std::vector<Digest> leaves;
  for (const Digest& d : digests) leaves.push_back(RecordLeafHash(d));
  return leaves;
}

// The recursive definition of docs/FORMAT.md §2, written as plainly as possible.
Digest ReferenceRoot(std::span<const Digest> leaves) {
  if (leaves.empty()) return Blake3("");
  if (leaves.size() == 1) return leaves[0];
  size_t k = 1;
  while (k * 2 < leaves.size()) k *= 2;
  std::string buf(1, '\1');
  const Digest l = ReferenceRoot(leaves.first(k));
  const Digest r = ReferenceRoot(leaves.subspan(k));
  buf.append(reinterpret_cast<const char*>(l.data()), 32);
  buf.append(reinterpret_cast<const char*>(r.data()), 32);
  return Blake3(buf);
}

TEST(MerkleTest, LeafAndNodeDomainSeparation) {
  const Digest d = Blake3("x");
  std::string leaf_input(1, '\0');
  leaf_input.append(reinterpret_cast<const char*>(d.data()), 32);
  EXPECT_EQ(RecordLeafHash(d), Blake3(leaf_input));
  EXPECT_EQ(MerkleRoot(std::vector<Digest>{d}), Blake3(leaf_input));
  EXPECT_EQ(MerkleRoot({}), Blake3(""));
}

TEST(MerkleTest, RootMatchesTheRecursiveDefinitionForAnySize) {
  for (size_t n = 0; n <= 70; ++n) {
    const auto digests = RecordDigests(n);
    EXPECT_EQ(MerkleRoot(digests), ReferenceRoot(LeafHashes(digests))) << n;
  }
}

TEST(MerkleTest, AgreesWithB3sumOnASmallTree) {
  // Hash every leaf and node with the b3sum CLI (an independent BLAKE3) for a 5-leaf tree:
  // root = node(node(node(l0,l1),node(l2,l3)), l4).
  testing::TempDir dir;
  const auto b3sum = [&](const std::string& data) {
    testing::WriteFile(dir.path() + "/in", data);
    const auto r = testing::RunCommand({"/usr/bin/b3sum", "--no-names", dir.path() + "/in"}, "");
    EXPECT_EQ(r.exit_code, 0);
    return Unhex(r.out.substr(0, 64));
  };
  const auto digests = RecordDigests(5);
  std::vector<std::string> l;
  for (const Digest& d : digests) {
    l.push_back(
        b3sum(std::string(1, '\0') + std::string(reinterpret_cast<const char*>(d.data()), 32)));
  }
  const auto node = [&](const std::string& a, const std::string& b) {
    return b3sum(std::string(1, '\1') + a + b);
  };
  const std::string root = node(node(node(l[0], l[1]), node(l[2], l[3])), l[4]);
  const Digest ours = MerkleRoot(digests);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ours.data()), 32), root);
}

TEST(MerkleTest, InclusionProofsVerifyForEveryLeafOfTreesUpTo300) {
  const auto all = LeafHashes(RecordDigests(301));
  std::vector<Digest> roots;
  for (size_t n = 0; n <= 301; ++n) roots.push_back(RootOfLeafHashes(std::span(all).first(n)));
  for (size_t n = 1; n <= 300; ++n) {
    const auto leaves = std::span(all).first(n);
    const Digest root = RootOfLeafHashes(leaves);
    for (size_t i = 0; i < n; ++i) {
      const auto proof = InclusionProof(leaves, i);
      ASSERT_TRUE(VerifyInclusion(i, n, leaves[i], proof, root)) << n << " " << i;
      // A wrong leaf, index, or size must fail.
      ASSERT_FALSE(VerifyInclusion(i, n, all[300], proof, root));
      if (n > 1) {
        ASSERT_FALSE(VerifyInclusion((i + 1) % n, n, leaves[i], proof, root)) << n << " " << i;
      }
      // A path of the n-leaf tree does not prove membership in the (n+1)-leaf tree.
      ASSERT_FALSE(VerifyInclusion(i, n + 1, leaves[i], proof, roots[n + 1])) << n << " " << i;
    }
  }
}

TEST(MerkleTest, TamperedProofsFail) {
  const auto leaves = LeafHashes(RecordDigests(77));
  const Digest root = RootOfLeafHashes(leaves);
  for (size_t i : {0u, 1u, 31u, 64u, 76u}) {
    const auto proof = InclusionProof(leaves, i);
    ASSERT_TRUE(VerifyInclusion(i, 77, leaves[i], proof, root));
    for (size_t k = 0; k < proof.size(); ++k) {  // every element is checked, not just the ends
      auto bad = proof;
      bad[k][0] ^= 1;
      EXPECT_FALSE(VerifyInclusion(i, 77, leaves[i], bad, root)) << i << " " << k;
    }
    auto padded = proof;
    padded.push_back(root);
    EXPECT_FALSE(VerifyInclusion(i, 77, leaves[i], padded, root));
    auto truncated = proof;
    truncated.pop_back();
    EXPECT_FALSE(VerifyInclusion(i, 77, leaves[i], truncated, root));
    EXPECT_FALSE(VerifyInclusion(i, 77, leaves[i], proof, Blake3("other root")));
  }
  EXPECT_FALSE(VerifyInclusion(77, 77, leaves[0], {}, root));  // index out of range
  EXPECT_FALSE(VerifyInclusion(0, 0, leaves[0], {}, root));
}

TEST(MerkleTest, SingleLeafTreeHasEmptyProof) {
  const auto leaves = LeafHashes(RecordDigests(1));
  EXPECT_TRUE(InclusionProof(leaves, 0).empty());
  EXPECT_TRUE(VerifyInclusion(0, 1, leaves[0], {}, leaves[0]));
  EXPECT_FALSE(VerifyInclusion(0, 1, leaves[0], std::vector<Digest>{leaves[0]}, leaves[0]));
}

TEST(MerkleTest, FrontierStaysLogarithmic) {
  MerkleFrontier frontier;
  const auto leaves = LeafHashes(RecordDigests(1000));
  for (size_t i = 0; i < leaves.size(); ++i) {
    frontier.Push(leaves[i]);
    if (i % 97 == 0 || i == leaves.size() - 1) {
      ASSERT_EQ(frontier.Root(), RootOfLeafHashes(std::span(leaves).first(i + 1)));
    }
  }
  EXPECT_EQ(frontier.size(), 1000u);
}

// ---- Consistency proofs -----------------------------------------------------------------------

TEST(MerkleSha256Test, ConsistencyProofsMatchThePublishedVectors) {
  // The consistency proofs of the CT reference tests over the eight leaves above.
  const auto leaves = CtLeaves();
  struct Vector {
    uint64_t old_size;
    uint64_t new_size;
    std::vector<const char*> proof;
  };
  const Vector vectors[] = {
      {1, 1, {}},
      {1,
       8,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const Vector& v : vectors) {
    std::vector<Digest> expected;
    for (const char* hex : v.proof) expected.push_back(FromHex(hex));
    const auto tree = std::span(leaves).first(v.new_size);
    EXPECT_EQ(ConsistencyProof(tree, v.old_size, kSha256), expected)
        << v.old_size << " -> " << v.new_size;
    const Digest old_root = RootOfLeafHashes(tree.first(v.old_size), kSha256);
    const Digest new_root = RootOfLeafHashes(tree, kSha256);
    EXPECT_TRUE(VerifyConsistency(v.old_size, v.new_size, old_root, new_root, expected, kSha256))
        << v.old_size << " -> " << v.new_size;
  }
}

std::vector<Digest> RandomLeafHashes(size_t n) {
  std::mt19937_64 rng(6962);
  std::vector<Digest> leaves(n);
  for (Digest& leaf : leaves) {
    for (uint8_t& byte : leaf) byte = static_cast<uint8_t>(rng());
    leaf = RecordLeafHash(leaf);
  }
  return leaves;
}

TEST(MerkleTest, ConsistencyProofsVerifyAndTamperingFailsForAllSizesUpTo64) {
  const auto all = RandomLeafHashes(64);
  std::vector<Digest> roots;
  for (size_t n = 0; n <= 64; ++n) roots.push_back(RootOfLeafHashes(std::span(all).first(n)));
  const Digest other = Blake3("other root");
  for (uint64_t n = 1; n <= 64; ++n) {
    const auto tree = std::span(all).first(n);
    for (uint64_t m = 1; m <= n; ++m) {
      SCOPED_TRACE(::testing::Message() << m << " -> " << n);
      const auto proof = ConsistencyProof(tree, m);
      ASSERT_EQ(proof.empty(), m == n);
      ASSERT_TRUE(VerifyConsistency(m, n, roots[m], roots[n], proof));
      for (size_t k = 0; k < proof.size(); ++k) {  // every element is checked
        auto bad = proof;
        bad[k][k % kDigestBytes] ^= 0x80;
        ASSERT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], bad)) << "mutated " << k;
        auto dropped = proof;
        dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(k));
        ASSERT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], dropped)) << "dropped " << k;
      }
      auto padded = proof;
      padded.push_back(roots[m]);
      ASSERT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], padded));
      padded.back() = other;
      ASSERT_FALSE(VerifyConsistency(m, n, roots[m], roots[n], padded));
      if (m != n) {
        ASSERT_FALSE(VerifyConsistency(n, m, roots[n], roots[m], proof));
        ASSERT_FALSE(VerifyConsistency(n, m, roots[m], roots[n], proof));
      }
      ASSERT_FALSE(VerifyConsistency(m, n, other, roots[n], proof));
      ASSERT_FALSE(VerifyConsistency(m, n, roots[m], other, proof));
      // A proof for one pair of sizes does not prove another.
      if (n < 64) {
        ASSERT_FALSE(VerifyConsistency(m, n + 1, roots[m], roots[n + 1], proof));
      }
      if (m > 1) {
        ASSERT_FALSE(VerifyConsistency(m - 1, n, roots[m - 1], roots[n], proof));
      }
    }
  }
}

TEST(MerkleTest, ConsistencyRejectsBadSizes) {
  const auto leaves = RandomLeafHashes(8);
  const Digest r3 = RootOfLeafHashes(std::span(leaves).first(3));
  const Digest r8 = RootOfLeafHashes(leaves);
  const auto proof = ConsistencyProof(leaves, 3);
  ASSERT_TRUE(VerifyConsistency(3, 8, r3, r8, proof));
  // An empty old tree is refused, whatever the proof.
  EXPECT_FALSE(VerifyConsistency(0, 8, Blake3(""), r8, {}));
  EXPECT_FALSE(VerifyConsistency(0, 8, Blake3(""), r8, proof));
  EXPECT_FALSE(VerifyConsistency(0, 0, Blake3(""), Blake3(""), {}));
  // Shrinking is refused.
  EXPECT_FALSE(VerifyConsistency(8, 3, r8, r3, proof));
  EXPECT_FALSE(VerifyConsistency(8, 3, r8, r3, {}));
  // Equal sizes: only the empty proof between equal roots.
  EXPECT_TRUE(ConsistencyProof(leaves, 8).empty());
  EXPECT_TRUE(VerifyConsistency(8, 8, r8, r8, {}));
  EXPECT_FALSE(VerifyConsistency(8, 8, r8, r3, {}));
  EXPECT_FALSE(VerifyConsistency(8, 8, r8, r8, std::vector<Digest>{r8}));
  // A growing tree never has an empty proof, even from a power-of-two size.
  const Digest r4 = RootOfLeafHashes(std::span(leaves).first(4));
  EXPECT_FALSE(VerifyConsistency(4, 8, r4, r8, {}));
  EXPECT_TRUE(VerifyConsistency(4, 8, r4, r8, ConsistencyProof(leaves, 4)));
}

}  // namespace
}  // namespace ron
