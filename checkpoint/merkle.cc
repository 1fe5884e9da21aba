#include "checkpoint/merkle.h"

#include <cstring>

#include "engine/core/check.h"

namespace ron {
namespace {

Digest Blake3Leaf(const uint8_t* data, size_t size) {
  uint8_t buf[1 + kDigestBytes];  // a record's leaf: 0x00 and its self_hash, one block
  if (size <= kDigestBytes) {
    buf[0] = 0x00;
    if (size > 0) std::memcpy(buf + 1, data, size);
    return Blake3(buf, 1 + size);
  }
  Blake3Hasher hasher;
  const uint8_t prefix = 0x00;
  hasher.Update(&prefix, 1);
  hasher.Update(data, size);
  return hasher.Finalize();
}

Digest Blake3Node(const Digest& left, const Digest& right) {
  uint8_t buf[1 + 2 * kDigestBytes];
  buf[0] = 0x01;
  std::memcpy(buf + 1, left.data(), kDigestBytes);
  std::memcpy(buf + 1 + kDigestBytes, right.data(), kDigestBytes);
  return Blake3(buf, sizeof(buf));
}

Digest Blake3Empty() { return Blake3(nullptr, 0); }

// Largest power of two strictly less than n. REQUIRES: n > 1.
uint64_t SplitPoint(uint64_t n) {
  uint64_t k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

void AppendPath(std::span<const Digest> leaves, uint64_t index, const TreeHasher& hasher,
                std::vector<Digest>* path) {
  if (leaves.size() <= 1) return;
  const uint64_t k = SplitPoint(leaves.size());
  if (index < k) {
    AppendPath(leaves.subspan(0, k), index, hasher, path);
    path->push_back(RootOfLeafHashes(leaves.subspan(k), hasher));
  } else {
    AppendPath(leaves.subspan(k), index - k, hasher, path);
    path->push_back(RootOfLeafHashes(leaves.subspan(0, k), hasher));
  }
}

// RFC 6962 §2.1.2 SUBPROOF(m, leaves, complete). REQUIRES: 0 < m <= leaves.size().
void AppendSubproof(std::span<const Digest> leaves, uint64_t m, bool complete,
                    const TreeHasher& hasher, std::vector<Digest>* proof) {
  if (m == leaves.size()) {
    // The old tree is this whole subtree: the verifier knows its root already only if it is
    // the complete old tree.
    if (!complete) proof->push_back(RootOfLeafHashes(leaves, hasher));
    return;
  }
  const uint64_t k = SplitPoint(leaves.size());
  if (m <= k) {
    AppendSubproof(leaves.subspan(0, k), m, complete, hasher, proof);
    proof->push_back(RootOfLeafHashes(leaves.subspan(k), hasher));
  } else {
    AppendSubproof(leaves.subspan(k), m - k, false, hasher, proof);
    proof->push_back(RootOfLeafHashes(leaves.subspan(0, k), hasher));
  }
}

}  // namespace

const TreeHasher& Blake3TreeHasher() {
  static constexpr TreeHasher kHasher{&Blake3Leaf, &Blake3Node, &Blake3Empty};
  return kHasher;
}

Digest RecordLeafHash(const Digest& record_digest) {
  return Blake3Leaf(record_digest.data(), record_digest.size());
}

Digest RootOfLeafHashes(std::span<const Digest> leaf_hashes, const TreeHasher& hasher) {
  MerkleFrontier frontier(hasher);
  for (const Digest& leaf : leaf_hashes) frontier.Push(leaf);
  return frontier.Root();
}

Digest MerkleRoot(std::span<const Digest> record_digests) {
  MerkleFrontier frontier;
  for (const Digest& digest : record_digests) frontier.Push(RecordLeafHash(digest));
  return frontier.Root();
}

std::vector<Digest> InclusionProof(std::span<const Digest> leaf_hashes, uint64_t index,
                                   const TreeHasher& hasher) {
  RON_CHECK(index < leaf_hashes.size());
  std::vector<Digest> path;
  AppendPath(leaf_hashes, index, hasher, &path);
  return path;
}

bool VerifyInclusion(uint64_t index, uint64_t tree_size, const Digest& leaf_hash,
                     std::span<const Digest> proof, const Digest& root, const TreeHasher& hasher) {
  // RFC 9162 §2.1.3.2, step by step.
  if (index >= tree_size) return false;
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  Digest r = leaf_hash;
  for (const Digest& p : proof) {
    if (sn == 0) return false;  // path longer than the tree is tall
    if ((fn & 1) != 0 || fn == sn) {
      r = hasher.node(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = hasher.node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;  // sn != 0: path too short
}

std::vector<Digest> ConsistencyProof(std::span<const Digest> leaf_hashes, uint64_t old_size,
                                     const TreeHasher& hasher) {
  RON_CHECK(old_size > 0 && old_size <= leaf_hashes.size());
  std::vector<Digest> proof;
  AppendSubproof(leaf_hashes, old_size, /*complete=*/true, hasher, &proof);
  return proof;
}

bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Digest& old_root,
                       const Digest& new_root, std::span<const Digest> proof,
                       const TreeHasher& hasher) {
  if (old_size == 0 || old_size > new_size) return false;
  if (old_size == new_size) return proof.empty() && old_root == new_root;
  // RFC 9162 §2.1.4.2, step by step.
  if (proof.empty()) return false;  // step 1
  // Step 2: when the old tree is a perfect subtree of the new one, the proof omits its root,
  // which the verifier already holds; start from it instead of from proof[0].
  const bool old_is_power_of_two = (old_size & (old_size - 1)) == 0;
  size_t next = 0;
  const Digest seed = old_is_power_of_two ? old_root : proof[next++];
  uint64_t fn = old_size - 1;  // step 3
  uint64_t sn = new_size - 1;
  while ((fn & 1) != 0) {  // step 4
    fn >>= 1;
    sn >>= 1;
  }
  Digest fr = seed;  // step 5
  Digest sr = seed;
  for (; next < proof.size(); ++next) {  // step 6
    const Digest& c = proof[next];
    if (sn == 0) return false;  // proof longer than the new tree is tall
    if ((fn & 1) != 0 || fn == sn) {
      fr = hasher.node(c, fr);
      sr = hasher.node(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = hasher.node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;  // step 7; sn != 0: proof too short
}

void MerkleFrontier::Push(const Digest& leaf_hash) {
  // Each trailing one bit of the old size is a perfect subtree of the new leaf's size that
  // now has a right sibling: merge them, as binary addition carries.
  Digest carry = leaf_hash;
  for (uint64_t n = size_; (n & 1) != 0; n >>= 1) {
    carry = hasher_->node(subtrees_.back(), carry);
    subtrees_.pop_back();
  }
  subtrees_.push_back(carry);
  ++size_;
}

Digest MerkleFrontier::Root() const {
  if (subtrees_.empty()) return hasher_->empty();
  // RFC 6962's split puts the largest perfect subtree left, so the root folds from the right.
  Digest root = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i-- > 0;) root = hasher_->node(subtrees_[i], root);
  return root;
}

}  // namespace ron
