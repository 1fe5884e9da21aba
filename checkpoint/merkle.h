// Merkle trees over record digests: RFC 6962 §2.1 shape with BLAKE3-256 (docs/FORMAT.md §2).
//
//   leaf hash  = H(0x00 ‖ leaf data)      for records: leaf data = the raw 32-byte self_hash digest
//   node hash  = H(0x01 ‖ left ‖ right)
//   root(0)    = H("")                    root(1) = the leaf hash
//   root(n>1)  = node(root(first k), root(rest)), k = largest power of two < n
//
// Inclusion proofs are RFC 6962 audit paths, verified with the algorithm of RFC 9162 §2.1.3.2,
// which also rejects paths that are too long or too short for the tree size.
//
// Consistency proofs are RFC 6962 §2.1.2 SUBPROOFs, verified with the algorithm of RFC 9162
// §2.1.4.2, which likewise accepts only a proof of exactly the right length.
//
// The tree-shape code takes a TreeHasher so tests can check it against published SHA-256
// RFC 6962 vectors; production always uses Blake3TreeHasher().
//
// Thread-safety: pure functions; MerkleFrontier is a value, not thread-safe.
#ifndef CHECKPOINT_MERKLE_H_
#define CHECKPOINT_MERKLE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/hash.h"

namespace ron {

struct TreeHasher {
  Digest (*leaf)(const uint8_t* data, size_t size);         // H(0x00 ‖ data)
  Digest (*node)(const Digest& left, const Digest& right);  // H(0x01 ‖ left ‖ right)
  Digest (*empty)();                                        // H("")
};

const TreeHasher& Blake3TreeHasher();

// BLAKE3(0x00 ‖ record digest): the leaf of one record.
Digest RecordLeafHash(const Digest& record_digest);

// Root over already leaf-hashed inputs.
Digest RootOfLeafHashes(std::span<const Digest> leaf_hashes,
                        const TreeHasher& hasher = Blake3TreeHasher());

// Root over record digests (self_hash values), in order: docs/FORMAT.md §2.
Digest MerkleRoot(std::span<const Digest> record_digests);

// RFC 6962 audit path for leaf `index`. REQUIRES: index < leaf_hashes.size().
std::vector<Digest> InclusionProof(std::span<const Digest> leaf_hashes, uint64_t index,
                                   const TreeHasher& hasher = Blake3TreeHasher());

// True iff `proof` is exactly the audit path proving `leaf_hash` at `index` in the tree of
// `tree_size` leaves whose root is `root`.
bool VerifyInclusion(uint64_t index, uint64_t tree_size, const Digest& leaf_hash,
                     std::span<const Digest> proof, const Digest& root,
                     const TreeHasher& hasher = Blake3TreeHasher());

// RFC 6962 §2.1.2 consistency proof PROOF(old_size, D[n]) = SUBPROOF(old_size, D[n], true)
// for n = leaf_hashes.size(): the nodes that prove the tree of the first `old_size` leaves is
// a prefix of the tree of all n. Empty when old_size == n.
// REQUIRES: 0 < old_size <= leaf_hashes.size().
std::vector<Digest> ConsistencyProof(std::span<const Digest> leaf_hashes, uint64_t old_size,
                                     const TreeHasher& hasher = Blake3TreeHasher());

// True iff `proof` is exactly the consistency proof showing that the tree of `old_size` leaves
// with root `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`.
// False when old_size == 0 or old_size > new_size; when old_size == new_size, true iff `proof`
// is empty and the roots are equal.
bool VerifyConsistency(uint64_t old_size, uint64_t new_size, const Digest& old_root,
                       const Digest& new_root, std::span<const Digest> proof,
                       const TreeHasher& hasher = Blake3TreeHasher());

// The compact-range frontier of a growing tree: at most one perfect subtree root per set bit
// of size(), so O(log n) memory, O(1) amortized node hashes per Push. Root() equals
// RootOfLeafHashes() over every leaf pushed so far.
class MerkleFrontier {
 public:
  explicit MerkleFrontier(const TreeHasher& hasher = Blake3TreeHasher()) : hasher_(&hasher) {}

  void Push(const Digest& leaf_hash);
  Digest Root() const;
  uint64_t size() const { return size_; }

 private:
  const TreeHasher* hasher_;
  std::vector<Digest> subtrees_;  // roots of perfect subtrees, largest (leftmost) first
  uint64_t size_ = 0;
};

}  // namespace ron

#endif  // CHECKPOINT_MERKLE_H_
