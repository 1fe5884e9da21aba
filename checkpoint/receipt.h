// Proof receipts (checkpoint/checkpoint.h formats): built from the WAL and the export
// manifests, checked offline with nothing but the receipt and the trusted keys.
//
//   inclusion:   the sealed record, its signed checkpoint, and the RFC 6962 audit paths from
//                the record's leaf to the range root and to tree_root;
//   consistency: two signed checkpoints of one stream and the RFC 6962 consistency proof that
//                the older tree is a prefix of the newer one.
//
// Thread-safety: reentrant.
#ifndef CHECKPOINT_RECEIPT_H_
#define CHECKPOINT_RECEIPT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint.h"
#include "ron_audit/signer.h"
#include "ron_audit/record.h"
#include "ron_audit/status.h"

namespace ron {

struct ProofSource {
  std::string wal_dir, export_dir, writer_id, stream;
  Limits limits;
};

// The receipt for record `seq`, which must be covered by a checkpoint. The leaves are rebuilt
// from the WAL (every record verified) and must reproduce the checkpoint's roots.
Status BuildInclusionReceipt(const ProofSource& source, uint64_t seq, InclusionReceipt* out);

// Consistency between the checkpoints of the stream whose tree sizes are `from_size` and
// `to_size` (from_size <= to_size).
Status BuildConsistencyReceipt(const ProofSource& source, uint64_t from_size, uint64_t to_size,
                               ConsistencyReceipt* out);

// Checks a receipt of either kind offline: canonical form, the record's self_hash, every
// element and the exact length of every path, and every checkpoint signature against `keys`.
// Ok with a one-line `summary`; otherwise the failure (message starts with the reason word:
// bad_receipt, record, stream_mismatch, index_mismatch, range_path, tree_path, head_mismatch,
// consistency_path, unsigned, untrusted_key, bad_signature, bad_cosignature).
Status CheckReceipt(std::string_view json, const TrustedKeys& keys, std::string* summary);

}  // namespace ron

#endif  // CHECKPOINT_RECEIPT_H_
