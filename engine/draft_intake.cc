#include "engine/draft_intake.h"

#include <memory>
#include <string>
#include <utility>

#include "engine/thread_scratch.h"

namespace ron {

DraftVerdict PrepareDraftTask(const DraftIntake& in, std::string_view stream,
                              std::string_view draft, EmitTask* task) {
  DraftVerdict v;
  if (draft.size() > kMaxInputBytes) {
    v.kind = DraftVerdict::Kind::kRefused;
    v.status = Status(Code::kRecordTooLarge, "draft longer than 65536 bytes");
    return v;
  }
  // The stream is keyed by its name from here on: one spelling only, in both profiles. A
  // thread's callers name the same few streams over and over: the last one that passed here
  // is not checked again.
  thread_local std::string t_checked_stream;
  if (stream.empty() || stream != t_checked_stream) {
    v.status = CheckName(stream, NameKind::kStream);
    if (v.status.ok()) t_checked_stream.assign(stream);
  }
  if (v.status.ok()) {
    task->stream.assign(stream);
    if (task->ticket == nullptr) task->ticket = std::make_shared<TicketState>();
    if (!in.canonicalize) {  // the owner canonicalizes
      task->draft.assign(draft.empty() ? std::string_view(" ") : draft);  // " " is Schema too
      return v;
    }
    const Canonicalizer::DraftContext ctx{in.writer_id, stream, 1, kGenesisPrev, NowMs()};
    Canonicalizer& canonicalizer = ThreadCanonicalizer(in.limits);
    // Prepared with Attrs::kChain: read on the fast path (most drafts), the task carries only
    // what its owner reads — no copy of the attrs or of the fields the writer does not read,
    // allocated here and freed on another thread.
    v.status = canonicalizer.PrepareDraft(draft, ctx, &task->prepared,
                                          Canonicalizer::Attrs::kChain);
    if (v.status.ok()) {
      v.status = RedactPrepared(in.ip_policy, &canonicalizer, &task->prepared, &v.redacted);
    }
  }
  if (!v.status.ok()) v.kind = DraftVerdict::Kind::kFailed;
  return v;
}

Status RedactPrepared(const IpPolicy& policy, Canonicalizer* canonicalizer,
                      CanonicalRecord* prepared, size_t* redacted) {
  *redacted = 0;
  // Most drafts' reading showed no attrs string that could be an address: nothing to scan.
  if (!canonicalizer->attrs_may_hold_address()) return Status::Ok();
  std::string rewritten;
  *redacted = policy.Apply(prepared->attrs_text(), &rewritten);
  if (*redacted == 0) return Status::Ok();
  Record record;
  if (prepared->attrs_bytes == 0) {  // the record is whole
    record = prepared->record;
  } else {  // attrs located (Attrs::kChain, kLocate): read it whole again from its bytes
    CanonicalRecord whole;
    RON_RETURN_IF_ERROR(canonicalizer->Canonicalize(prepared->bytes, &whole));
    record = std::move(whole.record);
  }
  record.attrs = std::move(rewritten);
  return canonicalizer->Encode(record, prepared);
}

}  // namespace ron
