#include "engine/core/verify.h"

namespace ron {

Status VerifyRecord(std::string_view sealed, const Limits& limits) {
  Canonicalizer canonicalizer(limits);
  CanonicalRecord record;
  return canonicalizer.VerifySealed(sealed, &record);
}

Status VerifyGenesisRule(const Record& record) {
  return VerifyGenesisRule(record.seq, record.prev);
}

Status VerifyGenesisRule(uint64_t seq, std::string_view prev) {
  const bool genesis_prev = prev == kGenesisPrev;
  if (seq == 1 && !genesis_prev) {
    return Status(Code::kPrevMismatch, "seq 1 must have prev b3:0");
  }
  if (seq != 1 && genesis_prev) {
    return Status(Code::kPrevMismatch, "prev b3:0 is only valid for seq 1");
  }
  return Status::Ok();
}

Status VerifyLink(const CanonicalRecord& prev, const CanonicalRecord& next) {
  if (prev.record.writer_id != next.record.writer_id || prev.record.stream != next.record.stream) {
    return Status(Code::kPrevMismatch, "record belongs to another (writer_id, stream) chain");
  }
  if (next.record.seq != prev.record.seq + 1) {
    return Status(Code::kSeqGap, "seq " + std::to_string(next.record.seq) + " follows seq " +
                                     std::to_string(prev.record.seq));
  }
  Digest linked;
  if (!ParseHashText(next.record.prev, &linked) || linked != prev.digest) {
    return Status(Code::kPrevMismatch, "prev does not equal the previous self_hash");
  }
  return Status::Ok();
}

ChainVerifier::ChainVerifier(const Limits& limits) : canonicalizer_(limits) {}

Status ChainVerifier::Add(std::string_view sealed) {
  const int candidate_index = 1 - head_index_;
  CanonicalRecord& candidate = records_[candidate_index];
  RON_RETURN_IF_ERROR(canonicalizer_.VerifySealed(sealed, &candidate));
  RON_RETURN_IF_ERROR(VerifyGenesisRule(candidate.record));
  if (count_ > 0) RON_RETURN_IF_ERROR(VerifyLink(records_[head_index_], candidate));
  head_index_ = candidate_index;
  ++count_;
  return Status::Ok();
}

std::string ChainVerifier::HeadText() const {
  return count_ == 0 ? std::string(kGenesisPrev) : HashText(records_[head_index_].digest);
}

Status VerifyChain(const std::vector<std::string_view>& sealed_records, const Limits& limits,
                   size_t* failed_index) {
  ChainVerifier verifier(limits);
  for (size_t i = 0; i < sealed_records.size(); ++i) {
    Status status = verifier.Add(sealed_records[i]);
    if (!status.ok()) {
      if (failed_index != nullptr) *failed_index = i;
      return status;
    }
  }
  return Status::Ok();
}

}  // namespace ron
