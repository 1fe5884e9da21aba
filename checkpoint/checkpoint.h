// Checkpoints, manifests and proof receipts: the JSON documents of docs/FORMAT.md §4 that outside
// verifiers read. Each has one canonical encoding (fixed key order, no whitespace, strings
// escaped as the record law escapes them); parsers accept exactly that encoding and nothing else
// (a re-encoding must reproduce the input byte for byte).
//
//   checkpoint = {"v":1,"writer_id":…,"stream":…,"range":[first,last],"root":"b3:…",
//                 "head":"b3:…","tree_size":last,"tree_root":"b3:…","prev_checkpoint":"b3:0|b3:…",
//                 "created_ts_ms":…,"signer_key_id":…,"alg":"ed25519|none","sig":"<base64>"
//                 [,"cosigs":[{"signer_key_id":…,"alg":"ed25519","sig":"<base64>"}]]}
//   signed body = the checkpoint without "sig" and "cosigs"; prev_checkpoint of the next one is
//                 "b3:" + hex BLAKE3(signed body). Cosignatures sign the same body.
//   manifest   = {"version":1,"stream":…,"writer_id":…,"segments":[{"file":…,"offset":…,
//                 "count":…,"range":[a,b],"root":"b3:…"}],"checkpoints":[checkpoint…],
//                 "created_ts_ms":…}
//   receipts   = {"v":1,"kind":"inclusion","record":"<sealed record as a JSON string>",
//                 "checkpoint":checkpoint,"range_index":i,"range_path":["b3:…"…],
//                 "tree_index":j,"tree_path":[…]}
//                {"v":1,"kind":"consistency","from":checkpoint,"to":checkpoint,"path":[…]}
//
// Thread-safety: values and pure functions.
#ifndef CHECKPOINT_CHECKPOINT_H_
#define CHECKPOINT_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ron_audit/signer.h"  // kAlgEd25519
#include "engine/core/hash.h"
#include "ron_audit/status.h"
#include "engine/core/limits.h"

namespace ron {

inline constexpr std::string_view kAlgNone = "none";

struct Cosignature {
  std::string signer_key_id;
  std::string alg;
  std::string sig;  // base64
};

struct Checkpoint {
  std::string writer_id, stream;
  uint64_t first_seq = 0, last_seq = 0;
  Digest root{};  // Merkle root (docs/FORMAT.md §2) of the records first_seq..last_seq
  Digest head{};  // self_hash of last_seq
  uint64_t tree_size = 0;
  Digest tree_root{};  // root over records 1..tree_size
  std::string prev_checkpoint = "b3:0";
  uint64_t created_ts_ms = 0;
  std::string signer_key_id;  // "" when alg is none
  std::string alg = std::string(kAlgNone);
  std::string sig;  // base64; "" when alg is none
  std::vector<Cosignature> cosigs;

  std::string SignedBody() const;
  std::string Json() const;
  // "b3:" + hex BLAKE3(SignedBody()): the next checkpoint's prev_checkpoint.
  std::string Id() const;
};

struct ManifestSegment {
  std::string file;     // segment file name, e.g. "wal-000000000042.seg"
  uint64_t offset = 0;  // byte offset of the first frame of this part in the file
  uint64_t count = 0;
  uint64_t first_seq = 0, last_seq = 0;
  Digest root{};  // Merkle root of this part's records
};

struct Manifest {
  std::string stream, writer_id;
  std::vector<ManifestSegment> segments;
  std::vector<Checkpoint> checkpoints;
  uint64_t created_ts_ms = 0;

  std::string Json() const;
};

struct InclusionReceipt {
  std::string record;  // the sealed record
  Checkpoint checkpoint;
  uint64_t range_index = 0;  // seq - first_seq
  std::vector<Digest> range_path;
  uint64_t tree_index = 0;  // seq - 1
  std::vector<Digest> tree_path;

  std::string Json() const;
};

struct ConsistencyReceipt {
  Checkpoint from, to;
  std::vector<Digest> path;

  std::string Json() const;
};

// Parsers: Schema errors name the offending key; anything not in canonical form is refused.
Status ParseCheckpoint(std::string_view json, Checkpoint* out);
Status ParseManifest(std::string_view json, Manifest* out);
// Either kind of receipt; `kind` is set to "inclusion" or "consistency" and the matching output
// filled.
Status ParseReceipt(std::string_view json, std::string* kind, InclusionReceipt* inclusion,
                    ConsistencyReceipt* consistency);

// The largest manifest a reader accepts.
inline constexpr size_t kMaxManifestBytes = limits::kMaxManifestBytes;

// Export files: <export_dir>/<esc writer_id>/<esc stream>/manifest-<last seq, 20 digits>.json.
std::string ManifestFileName(uint64_t last_seq);
bool ParseManifestFileName(std::string_view name, uint64_t* last_seq);
std::string ExportStreamDir(const std::string& export_dir, const std::string& writer_id,
                            const std::string& stream);

// (writer_id, stream) of every stream directory under an export root, sorted; stray files and
// names that are no valid escaping are skipped.
Status ListExportStreams(const std::string& export_dir,
                         std::vector<std::pair<std::string, std::string>>* streams);

}  // namespace ron

#endif  // CHECKPOINT_CHECKPOINT_H_
