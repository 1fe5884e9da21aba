// Verification of sealed records and hash chains (docs/FORMAT.md §1).
//
// A chain is the sequence of records of one (writer_id, stream): seq starts at 1 with prev
// "b3:0" and grows by exactly 1; each record's prev is the previous record's self_hash.
//
// Thread-safety: ChainVerifier is not thread-safe; the free functions are.
#ifndef ENGINE_CORE_VERIFY_H_
#define ENGINE_CORE_VERIFY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/canonical.h"
#include "ron_audit/status.h"

namespace ron {

// Verifies one sealed record: strict parse, canonical bytes, self_hash. See
// Canonicalizer::VerifySealed for the codes.
Status VerifyRecord(std::string_view sealed, const Limits& limits = Limits());

// The rule of a single record that can be checked without its predecessor: seq 1 ⇔ prev "b3:0".
// Violations are PrevMismatch.
Status VerifyGenesisRule(const Record& record);
Status VerifyGenesisRule(uint64_t seq, std::string_view prev);

// The link rule between consecutive records of one chain:
//   different writer_id or stream           → PrevMismatch (not the same chain)
//   next.seq != prev.seq + 1                → SeqGap
//   next.prev != prev's self_hash           → PrevMismatch
Status VerifyLink(const CanonicalRecord& prev, const CanonicalRecord& next);

// Streams over the sealed records of one chain, in order, in O(1) memory.
// The first record may start mid-chain (a range); if its seq is 1 its prev must be "b3:0".
class ChainVerifier {
 public:
  explicit ChainVerifier(const Limits& limits = Limits());

  // Verifies `sealed` and its link to the previous record. After a failure the verifier keeps
  // its state from before the failing record.
  Status Add(std::string_view sealed);

  uint64_t count() const { return count_; }
  // "b3:<hex>" of the last accepted record, or "b3:0" when none was accepted.
  std::string HeadText() const;
  // The last accepted record. REQUIRES: count() > 0.
  const CanonicalRecord& head() const { return records_[head_index_]; }

 private:
  Canonicalizer canonicalizer_;
  CanonicalRecord records_[2];  // the head and the candidate, swapped on success
  int head_index_ = 0;
  uint64_t count_ = 0;
};

// Verifies a whole chain. On failure *failed_index (if given) is the 0-based index of the
// first bad record.
Status VerifyChain(const std::vector<std::string_view>& sealed_records,
                   const Limits& limits = Limits(), size_t* failed_index = nullptr);

}  // namespace ron

#endif  // ENGINE_CORE_VERIFY_H_
