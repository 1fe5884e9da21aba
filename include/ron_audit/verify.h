// The forensic verifier behind `ronctl audit verify --dir WAL --export-dir EXP`: what an auditor
// links to check evidence offline, without opening an engine.
// From the WAL and the export manifests alone it rebuilds and checks:
//   - every frame checksum, canonical byte, self_hash and link of every stream from seq 1;
//   - every manifest: canonical, of the stream whose directory holds it, segments contiguous
//     and exactly covering its checkpoints, manifests contiguous from seq 1 (no gap, no overlap);
//   - every segment part: file and offset of its first record, count, and Merkle root rebuilt;
//   - every checkpoint: range root, head, tree_size and tree_root rebuilt (a compact-range
//     frontier over the whole stream), prev_checkpoint chain, and with trusted keys every
//     signature (and, when the signing key changes, the cross-signature by the previous key,
//     and a KeyRotated record in the stream that names both keys);
//   - that the WAL still holds every record a checkpoint covers (a dropped tail is detected).
// Records after a stream's last checkpoint are covered by the hash chain only; they are listed
// in the report (a truncation of them could go undetected).
//
// Thread-safety: reentrant; VerifyExports runs its own threads and joins them before returning.
#ifndef RON_AUDIT_VERIFY_H_
#define RON_AUDIT_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ron_audit/export.h"
#include "ron_audit/record.h"
#include "ron_audit/signer.h"
#include "ron_audit/status.h"

namespace ron {

struct ExportVerifyOptions {
  std::string wal_dir;
  std::string export_dir;             // empty: the WAL alone (chains only)
  const TrustedKeys* keys = nullptr;  // null: signatures are not checked (reported)
  Limits limits;
  // Threads that verify streams in parallel (streams are independent); 0: one per core. With at
  // least two per stream, each stream's WAL scan runs on a helper thread while the stream's
  // Merkle trees are checked on its own. The report is the same for any count.
  unsigned threads = 0;
};

struct ExportVerifyReport {
  uint64_t records = 0, bytes = 0, streams = 0, checkpoints = 0, manifests = 0;
  struct Tail {  // records covered by the hash chain only
    std::string writer_id, stream;
    uint64_t from = 0, to = 0;
  };
  std::vector<Tail> tails;
  bool torn_tail = false;  // some stream ends in a torn write (not an error: docs/FORMAT.md §3)
  std::vector<std::string> notes;  // torn tails, unchecked signatures, ignored cosignatures
  // The first failure (status not ok): what, where.
  Status failure;
  std::string reason;  // hash_mismatch, prev_mismatch, root_mismatch, manifest_gap, …
  std::string writer_id, stream, file;
  uint64_t offset = 0, seq = 0;
};

// Ok when the run completed (even if it found a failure: see report->failure). Errors only for
// inputs it cannot read at all (a missing directory).
RON_AUDIT_EXPORT Status VerifyExports(const ExportVerifyOptions& options, ExportVerifyReport* report);

}  // namespace ron

#endif  // RON_AUDIT_VERIFY_H_
