#include "engine/ram_sink.h"

namespace ron {


bool RamSink::Holds(const std::string& writer, const std::string& stream) const {
  return streams_.count({writer, stream}) > 0;
}

Result<SinkStream*> RamSink::GetStream(const std::string& writer, const std::string& stream) {
  auto [it, added] = streams_.try_emplace({writer, stream});
  if (added) it->second.key_ = it->first;
  return static_cast<SinkStream*>(&it->second);
}

Status RamSink::Stage(SinkStream* stream, const CanonicalRecord& record) {
  Ring* s = static_cast<Ring*>(stream);
  s->head_seq_ = record.record.seq;
  s->head_hash_ = record.digest;
  s->recent_.emplace_back(record.record.seq, record.digest);
  s->sealed_.push_back(Seal(record));
  while (s->recent_.size() > limit_) {
    s->recent_.pop_front();
    s->sealed_.pop_front();
  }
  touched_.insert(s->key_);
  return Status::Ok();
}

Status RamSink::StoredDigest(SinkStream* stream, uint64_t seq, Digest* digest) {
  const Ring& s = *static_cast<Ring*>(stream);
  if (s.recent_.empty() || seq < s.recent_.front().first) {
    // Not Conflict: nothing says the retry differs from what was stored, and a Conflict tells
    // a client its history diverged. The ring simply no longer holds the position (the same
    // answer Read gives for it).
    return Status(Code::kSeqGap, "seq " + std::to_string(seq) +
                                     " is no longer held in RAM; cannot confirm a duplicate");
  }
  *digest = s.recent_[seq - s.recent_.front().first].second;
  return Status::Ok();
}

void RamSink::PublishHeads(const PublishHead& publish) {
  char head[kHashTextBytes];
  for (const auto& key : touched_) {
    const Ring& s = streams_.at(key);
    publish(key.first, key.second, s.head_seq_, s.HeadText(head), StreamState::kOk);
  }
  touched_.clear();
}

void RamSink::Read(ReadTask* task) {
  const auto it = streams_.find({task->writer_id, task->stream});
  if (it == streams_.end() || it->second.recent_.empty()) {
    task->ticket->Complete(Status::Ok(), {});
    return;
  }
  const Ring& s = it->second;
  const uint64_t oldest = s.recent_.front().first;
  if (task->from_seq < oldest) {
    task->ticket->Complete(Status(Code::kSeqGap, "seq " + std::to_string(task->from_seq) +
                                                     " is no longer held in RAM (the oldest is " +
                                                     std::to_string(oldest) + ")"),
                           {});
    return;
  }
  for (uint64_t i = task->from_seq - oldest;
       i < s.sealed_.size() && task->out->size() < task->max_records; ++i) {
    task->out->push_back(s.sealed_[i]);
  }
  task->ticket->Complete(Status::Ok(), {});
}

}  // namespace ron
