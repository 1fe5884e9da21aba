// Emit's work on the caller's thread (docs/API.md: everything but seq, prev and the hash), kept
// free of side effects: the engine counts, logs and answers from the verdict only for a draft
// it takes, so that a draft prepared but not taken (EmitMany stopped at Busy) leaves no trace
// before the host emits it again.
//
// Thread-safety: reentrant; the canonicalizer used is the calling thread's.
#ifndef ENGINE_DRAFT_INTAKE_H_
#define ENGINE_DRAFT_INTAKE_H_

#include <cstddef>
#include <string_view>

#include "engine/core/canonical.h"
#include "engine/engine_internal.h"
#include "engine/privacy.h"
#include "ron_audit/status.h"

namespace ron {

struct DraftVerdict {
  enum class Kind {
    kQueue,    // the task is ready for the stream's owner
    kRefused,  // answered at once with `status` (a draft over the input bound)
    kFailed,   // its ticket fails with `status` (a bad draft or stream name: the contract)
  };
  Kind kind = Kind::kQueue;
  Status status;
  size_t redacted = 0;  // IP address literals privacy.ip_mode rewrote (kQueue only)
};

struct DraftIntake {
  std::string_view writer_id;
  const Limits& limits;
  const IpPolicy& ip_policy;
  bool canonicalize;  // EngineOptions::canonicalize_in_emit
};

// Prepares `draft` for `stream` into *task (its stream, its draft or prepared record, and a
// new ticket unless it holds one: the engine's callers pass one a push gave back); what to do
// with it is the verdict.
DraftVerdict PrepareDraftTask(const DraftIntake& in, std::string_view stream,
                              std::string_view draft, EmitTask* task);

// privacy.ip_mode on a prepared draft: the IP address literals in its attrs dropped, coarsened
// or hashed, and the record rendered again (still with seq 1 and b3:0; whole, read again from
// its bytes if only part of it was kept); *redacted: how many. `canonicalizer` is the one whose
// last PrepareDraft prepared *prepared (its attrs_may_hold_address() spares most scans).
Status RedactPrepared(const IpPolicy& policy, Canonicalizer* canonicalizer,
                      CanonicalRecord* prepared, size_t* redacted);

}  // namespace ron

#endif  // ENGINE_DRAFT_INTAKE_H_
