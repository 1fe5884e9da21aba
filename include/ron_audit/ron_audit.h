// ron-audit's public API in one include. A host links libronaudit (pkg-config ron-audit) and
// includes this, or the headers it names:
//
//   status.h   Status, Result<T> and the stable error codes (no exceptions cross the API)
//   types.h    Digest, Deadline, FsyncPolicy, WriteMode, IoBackend, StreamState
//   record.h   the record's fields and size limits
//   config.h   AuditConfig and the TOML/env/flag loader
//   signer.h   the Signer interface, Ed25519Signer, TrustedKeys
//   engine.h   Engine: Emit, AppendSealed, Read, Flush, Checkpoint, Close, metrics, readiness
//   verify.h   VerifyExports: offline verification of a WAL and its signed export
#ifndef RON_AUDIT_RON_AUDIT_H_
#define RON_AUDIT_RON_AUDIT_H_

#include "ron_audit/config.h"
#include "ron_audit/engine.h"
#include "ron_audit/record.h"
#include "ron_audit/signer.h"
#include "ron_audit/status.h"
#include "ron_audit/types.h"
#include "ron_audit/verify.h"

#endif  // RON_AUDIT_RON_AUDIT_H_
