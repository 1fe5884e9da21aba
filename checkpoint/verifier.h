// The verifier's internals: manifests of one stream and signature checks, shared with the
// receipt builder. The entry point, VerifyExports, is public: ron_audit/verify.h.
//
// Thread-safety: reentrant.
#ifndef CHECKPOINT_VERIFIER_H_
#define CHECKPOINT_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "ron_audit/record.h"
#include "ron_audit/signer.h"
#include "ron_audit/status.h"
#include "ron_audit/verify.h"

namespace ron {

// Loads and checks the manifests of one stream (everything that does not need the WAL):
// canonical form, stream identity, contiguity from seq 1, checkpoint chain, signatures.
// Fills `manifests` sorted by range and returns the first failure in `report`.
struct LoadedManifest {
  std::string path;
  Manifest manifest;
};
void LoadStreamManifests(const ExportVerifyOptions& options, const std::string& writer_id,
                         const std::string& stream, std::vector<LoadedManifest>* manifests,
                         ExportVerifyReport* report);

// Checks a checkpoint's signature and cosignatures against `keys` (an unknown cosigner is
// ignored; a known one must verify). `previous_key_id`: the key of the stream's previous
// checkpoint; when it differs, a valid cosignature by it is required if that key is trusted.
// Returns "" when good, else the reason (untrusted_key, bad_signature, unsigned,
// missing_cross_signature).
std::string CheckSignatures(const Checkpoint& checkpoint, const TrustedKeys& keys,
                            const std::string& previous_key_id);

// How many stream scans VerifyExports has run on a helper thread (its pipeline, two threads or
// more per stream) in this process: for tests.
uint64_t PipelinedScansForTesting();

}  // namespace ron

#endif  // CHECKPOINT_VERIFIER_H_
