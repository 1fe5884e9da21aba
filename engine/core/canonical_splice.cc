// Splicing a prepared draft's seq and prev (Canonicalizer::CompleteDraft, SpliceDraft,
// Resplice): the writer thread's share of an Emit, apart from the hash. Split from
// canonical.cc.
#include "engine/core/canonical.h"

#include <string>
#include <string_view>
#include <utility>

#include "engine/core/canonical_rules.h"
#include "engine/core/check.h"
#include "engine/core/equal_bytes.h"
#include "engine/core/hash.h"

namespace ron {

using namespace internal;  // NOLINT: the shared rules of canonical_rules.h

namespace {

Status TooLarge(size_t bytes, const Limits& limits) {
  return Status(Code::kRecordTooLarge, "canonical record is " + std::to_string(bytes) +
                                           " bytes, limit " +
                                           std::to_string(limits.max_record_bytes));
}

Status CheckSeqAndPrev(uint64_t seq, std::string_view prev) {
  if (seq == 0) return Status(Code::kSchema, "seq must be >= 1");
  if (!IsValidPrev(prev)) return Status(Code::kSchema, "prev must be b3:0 or b3:<64 hex>");
  return Status::Ok();
}

// A prepared draft's bytes with seq and prev spliced in, into *bytes; the record bound checked.
Status SpliceBytes(const CanonicalRecord& prepared, uint64_t seq, std::string_view prev,
                   const Limits& limits, std::string* bytes) {
  RON_RETURN_IF_ERROR(CheckSeqAndPrev(seq, prev));
  // The prepared bytes hold ,"seq":1,"stream": once before the attrs (JSON strings before it
  // escape every quote; attrs keys are not escaped, and may spell it again), where
  // prepared.seq_at says if it is set (a search of the record's first bytes was ~14 % of a
  // one-stream writer's time in `perf`), and end with the attrs and ,"prev":"b3:0"} (prev is
  // the last key).
  constexpr std::string_view kSeqKey = ",\"seq\":1,\"stream\":";
  constexpr std::string_view kPrevTail = ",\"prev\":\"b3:0\"}";
  const std::string& in = prepared.bytes;
  const size_t after_attrs = kPrevTail.size() + prepared.attrs_text().size();
  size_t at = prepared.seq_at;
  if (at == 0 || in.size() < after_attrs || at + kSeqKey.size() > in.size() - after_attrs ||
      !EqualBytes<kSeqKey.size()>(in.data() + at, kSeqKey.data())) {
    at = in.find(kSeqKey);  // the first: before the attrs
  }
  RON_CHECK(at != std::string::npos && in.size() >= kPrevTail.size() &&
            EqualBytes<kPrevTail.size()>(in.data() + in.size() - kPrevTail.size(),
                                         kPrevTail.data()) &&
            prepared.record.seq == 1);
  const size_t digits_at = at + 7;  // after ,"seq":
  bytes->clear();
  bytes->reserve(in.size() + 20 + prev.size());
  bytes->append(in, 0, digits_at);
  AppendUint(seq, bytes);
  bytes->append(in, digits_at + 1, in.size() - kPrevTail.size() + 9 - (digits_at + 1));
  bytes->append(prev);
  bytes->append("\"}");
  if (bytes->size() > limits.max_record_bytes) return TooLarge(bytes->size(), limits);
  return Status::Ok();
}

// A spliced record's attrs place (CanonicalRecord::attrs_at), from its prepared record's: the
// attrs follow seq, whose one digit became those of `seq`; none if record.attrs holds them.
void PlaceSplicedAttrs(const CanonicalRecord& prepared, uint64_t seq, CanonicalRecord* out) {
  size_t digits = 1;
  for (uint64_t v = seq; v >= 10; v /= 10) ++digits;
  out->attrs_bytes = prepared.attrs_bytes;
  out->attrs_at =
      prepared.attrs_bytes == 0 ? 0 : prepared.attrs_at + static_cast<uint32_t>(digits - 1);
}

}  // namespace

Status Canonicalizer::CompleteDraft(const CanonicalRecord& prepared, uint64_t seq,
                                    std::string_view prev, const Limits& limits,
                                    CanonicalRecord* out) {
  out->attrs_at = out->attrs_bytes = out->seq_at = 0;
  RON_RETURN_IF_ERROR(SpliceBytes(prepared, seq, prev, limits, &out->bytes));
  PlaceSplicedAttrs(prepared, seq, out);
  out->record = prepared.record;
  out->record.seq = seq;
  out->record.prev.assign(prev);
  out->digest = Blake3(out->bytes);
  return Status::Ok();
}

Status Canonicalizer::SpliceDraft(CanonicalRecord* prepared, uint64_t seq, std::string_view prev,
                                  const Limits& limits, CanonicalRecord* out) {
  out->attrs_at = out->attrs_bytes = out->seq_at = 0;
  RON_RETURN_IF_ERROR(SpliceBytes(*prepared, seq, prev, limits, &out->bytes));
  PlaceSplicedAttrs(*prepared, seq, out);
  out->record = std::move(prepared->record);  // a move: a third of a swap's work
  prepared->record.seq = 0;  // spent: splicing it again stops at SpliceBytes's check
  out->record.seq = seq;
  out->record.prev.assign(prev);
  return Status::Ok();
}

Status Canonicalizer::Resplice(CanonicalRecord* record, uint64_t seq, std::string_view prev,
                               const Limits& limits) {
  RON_RETURN_IF_ERROR(CheckSeqAndPrev(seq, prev));
  // Its bytes hold ,"seq":<digits>,"stream": once (as SpliceBytes's) and end with its prev
  // and "}.
  constexpr std::string_view kSeqKey = ",\"seq\":";
  constexpr std::string_view kStreamKey = ",\"stream\":";
  std::string& bytes = record->bytes;
  const std::string& old_prev = record->record.prev;
  const size_t at = bytes.find(kSeqKey);
  RON_CHECK(at != std::string::npos);
  const size_t digits_at = at + kSeqKey.size();
  const size_t digits_end = bytes.find(',', digits_at);
  RON_CHECK(digits_end != std::string::npos &&
            bytes.compare(digits_end, kStreamKey.size(), kStreamKey) == 0 &&
            bytes.size() >= digits_end + old_prev.size() + 2 &&
            bytes.compare(bytes.size() - 2 - old_prev.size(), old_prev.size(), old_prev) == 0);
  std::string digits;
  AppendUint(seq, &digits);
  const size_t size = bytes.size() - (digits_end - digits_at) + digits.size() -
                      old_prev.size() + prev.size();
  if (size > limits.max_record_bytes) return TooLarge(size, limits);
  bytes.replace(bytes.size() - 2 - old_prev.size(), old_prev.size(), prev);
  bytes.replace(digits_at, digits_end - digits_at, digits);
  if (record->attrs_bytes != 0) {  // the attrs follow seq
    record->attrs_at = static_cast<uint32_t>(record->attrs_at + digits.size() -
                                             (digits_end - digits_at));
  }
  record->record.seq = seq;
  record->record.prev.assign(prev);
  record->digest = Blake3(bytes);
  return Status::Ok();
}

}  // namespace ron
