#include "checkpoint/receipt.h"

#include <vector>

#include "checkpoint/merkle.h"
#include "checkpoint/verifier.h"
#include "engine/core/canonical.h"
#include "segment/segment_format.h"
#include "wal/reader.h"

namespace ron {

namespace {

// The stream's checkpoints, from its manifests (structure checked, signatures not: the receipt
// carries them and check-proof checks them).
Status LoadCheckpoints(const ProofSource& source, std::vector<Checkpoint>* out) {
  ExportVerifyOptions options;
  options.wal_dir = source.wal_dir;
  options.export_dir = source.export_dir;
  options.limits = source.limits;
  std::vector<LoadedManifest> manifests;
  ExportVerifyReport report;
  LoadStreamManifests(options, source.writer_id, source.stream, &manifests, &report);
  if (!report.failure.ok()) {
    return Status(report.failure.code(),
                  report.reason + ": " + report.file + ": " + report.failure.message());
  }
  out->clear();
  for (const LoadedManifest& lm : manifests) {
    for (const Checkpoint& c : lm.manifest.checkpoints) out->push_back(c);
  }
  if (out->empty()) {
    return Status(Code::kSchema, "no checkpoint for " + segment::PrintedStreamName(source.writer_id, source.stream) +
                                     " under " + source.export_dir);
  }
  return Status::Ok();
}

// Leaf hashes of records 1..through, every record verified; `sealed_seq`'s sealed text.
Status ReadLeaves(const ProofSource& source, uint64_t through, uint64_t sealed_seq,
                  std::vector<Digest>* leaves, std::string* sealed) {
  leaves->clear();
  wal::StreamReport report;
  RON_RETURN_IF_ERROR(
      wal::ScanStream(wal::StreamDir(source.wal_dir, source.writer_id, source.stream),
                      source.writer_id, source.stream, source.limits, wal::VerifyLevel::kFull,
                      &report, [&](const wal::RecordView& r) {
                        leaves->push_back(RecordLeafHash(r.self_hash));
                        if (r.seq == sealed_seq && sealed != nullptr)
                          AppendSealed(r.json, r.self_hash, sealed);
                        return r.seq < through;
                      }));
  if (report.frozen) {
    return Status(report.problem.code(), report.problem_file + " offset " +
                                             std::to_string(report.problem_offset) + ": " +
                                             report.problem.message());
  }
  if (leaves->size() < through) {
    return Status(Code::kSeqGap, "the WAL ends at seq " + std::to_string(leaves->size()) +
                                     " but the checkpoint covers " + std::to_string(through));
  }
  return Status::Ok();
}

Status Reason(const char* reason, const std::string& detail, Code code = Code::kConflict) {
  return Status(code, std::string(reason) + ": " + detail);
}

Status CheckSigned(const Checkpoint& c, const TrustedKeys& keys) {
  const std::string why = CheckSignatures(c, keys, "");
  if (!why.empty()) {
    return Reason(why.c_str(), "checkpoint [" + std::to_string(c.first_seq) + "," +
                                   std::to_string(c.last_seq) + "] signer '" + c.signer_key_id +
                                   "'");
  }
  return Status::Ok();
}

}  // namespace

Status BuildInclusionReceipt(const ProofSource& source, uint64_t seq, InclusionReceipt* out) {
  std::vector<Checkpoint> checkpoints;
  RON_RETURN_IF_ERROR(LoadCheckpoints(source, &checkpoints));
  const Checkpoint* c = nullptr;
  for (const Checkpoint& x : checkpoints) {
    if (seq >= x.first_seq && seq <= x.last_seq) c = &x;
  }
  if (c == nullptr) {
    return Status(Code::kSeqGap, "seq " + std::to_string(seq) +
                                     " is not covered by a checkpoint yet (the last covers " +
                                     std::to_string(checkpoints.back().last_seq) + ")");
  }
  std::vector<Digest> leaves;
  std::string sealed;
  RON_RETURN_IF_ERROR(ReadLeaves(source, c->last_seq, seq, &leaves, &sealed));
  const std::span<const Digest> range(leaves.data() + (c->first_seq - 1),
                                      c->last_seq - c->first_seq + 1);
  if (RootOfLeafHashes(range) != c->root || RootOfLeafHashes(leaves) != c->tree_root) {
    return Status(Code::kHashMismatch, "the WAL does not reproduce checkpoint [" +
                                           std::to_string(c->first_seq) + "," +
                                           std::to_string(c->last_seq) + "]'s roots");
  }
  out->record = std::move(sealed);
  out->checkpoint = *c;
  out->range_index = seq - c->first_seq;
  out->range_path = InclusionProof(range, out->range_index);
  out->tree_index = seq - 1;
  out->tree_path = InclusionProof(leaves, out->tree_index);
  return Status::Ok();
}

Status BuildConsistencyReceipt(const ProofSource& source, uint64_t from_size, uint64_t to_size,
                               ConsistencyReceipt* out) {
  if (from_size == 0 || from_size > to_size) {
    return Status(Code::kSchema, "need 0 < --from-size <= --to-size");
  }
  std::vector<Checkpoint> checkpoints;
  RON_RETURN_IF_ERROR(LoadCheckpoints(source, &checkpoints));
  const Checkpoint *from = nullptr, *to = nullptr;
  for (const Checkpoint& x : checkpoints) {
    if (x.tree_size == from_size) from = &x;
    if (x.tree_size == to_size) to = &x;
  }
  if (from == nullptr || to == nullptr) {
    return Status(Code::kSchema, "no checkpoint with tree_size " +
                                     std::to_string(from == nullptr ? from_size : to_size));
  }
  std::vector<Digest> leaves;
  RON_RETURN_IF_ERROR(ReadLeaves(source, to_size, 0, &leaves, nullptr));
  const std::span<const Digest> old_tree(leaves.data(), from_size);
  if (RootOfLeafHashes(old_tree) != from->tree_root || RootOfLeafHashes(leaves) != to->tree_root) {
    return Status(Code::kHashMismatch, "the WAL does not reproduce the checkpoints' tree roots");
  }
  out->from = *from;
  out->to = *to;
  out->path = ConsistencyProof(leaves, from_size);
  return Status::Ok();
}

Status CheckReceipt(std::string_view json, const TrustedKeys& keys, std::string* summary) {
  std::string kind;
  InclusionReceipt inc;
  ConsistencyReceipt con;
  const Status parsed = ParseReceipt(json, &kind, &inc, &con);
  if (!parsed.ok()) return Status(parsed.code(), "bad_receipt: " + parsed.message());
  if (kind == "consistency") {
    if (con.from.writer_id != con.to.writer_id || con.from.stream != con.to.stream) {
      return Reason("stream_mismatch", "the two checkpoints are of different streams");
    }
    if (!VerifyConsistency(con.from.tree_size, con.to.tree_size, con.from.tree_root,
                           con.to.tree_root, con.path)) {
      return Reason("consistency_path",
                    "the proof does not link tree_size " + std::to_string(con.from.tree_size) +
                        " to " + std::to_string(con.to.tree_size),
                    Code::kHashMismatch);
    }
    RON_RETURN_IF_ERROR(CheckSigned(con.from, keys));
    RON_RETURN_IF_ERROR(CheckSigned(con.to, keys));
    *summary = "ok consistency " + segment::PrintedStreamName(con.from.writer_id, con.from.stream) + " tree_size " +
               std::to_string(con.from.tree_size) + " -> " + std::to_string(con.to.tree_size);
    return Status::Ok();
  }
  const Checkpoint& c = inc.checkpoint;
  Canonicalizer canonicalizer;
  CanonicalRecord record;
  const Status sealed = canonicalizer.VerifySealed(inc.record, &record);
  if (!sealed.ok()) return Status(sealed.code(), "record: " + sealed.message());
  const Record& r = record.record;
  if (r.writer_id != c.writer_id || r.stream != c.stream) {
    return Reason("stream_mismatch", "the record is of " + segment::PrintedStreamName(r.writer_id, r.stream) +
                                         ", the checkpoint of " + segment::PrintedStreamName(c.writer_id, c.stream));
  }
  if (r.seq < c.first_seq || r.seq > c.last_seq || inc.range_index != r.seq - c.first_seq ||
      inc.tree_index != r.seq - 1) {
    return Reason("index_mismatch", "seq " + std::to_string(r.seq) + " vs range [" +
                                        std::to_string(c.first_seq) + "," +
                                        std::to_string(c.last_seq) + "] and the indexes given");
  }
  const Digest leaf = RecordLeafHash(record.digest);
  if (!VerifyInclusion(inc.range_index, c.last_seq - c.first_seq + 1, leaf, inc.range_path,
                       c.root)) {
    return Reason("range_path", "the audit path does not lead to the range root",
                  Code::kHashMismatch);
  }
  if (!VerifyInclusion(inc.tree_index, c.tree_size, leaf, inc.tree_path, c.tree_root)) {
    return Reason("tree_path", "the audit path does not lead to tree_root", Code::kHashMismatch);
  }
  if (r.seq == c.last_seq && record.digest != c.head) {
    return Reason("head_mismatch", "the record is the range's last but not its head",
                  Code::kHashMismatch);
  }
  RON_RETURN_IF_ERROR(CheckSigned(c, keys));
  *summary = "ok inclusion " + segment::PrintedStreamName(r.writer_id, r.stream) + " seq " + std::to_string(r.seq) +
             " " + HashText(record.digest) + " checkpoint [" + std::to_string(c.first_seq) + "," +
             std::to_string(c.last_seq) + "] tree_size " + std::to_string(c.tree_size) +
             " signed by " + c.signer_key_id;
  return Status::Ok();
}

}  // namespace ron
