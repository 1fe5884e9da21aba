// sink=ram (Micronode): every stream a bounded ring of its newest sealed records in memory,
// never a file. Duplicates are confirmed, and reads answered, while the ring holds the seq.
#ifndef ENGINE_RAM_SINK_H_
#define ENGINE_RAM_SINK_H_

#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "engine/sink.h"

namespace ron {

class RamSink final : public Sink {
 public:
  explicit RamSink(size_t records_per_stream) : limit_(records_per_stream) {}

  bool Holds(const std::string& writer, const std::string& stream) const override;
  size_t stream_count() const override { return streams_.size(); }
  Result<SinkStream*> GetStream(const std::string& writer, const std::string& stream) override;
  Status Stage(SinkStream* stream, const CanonicalRecord& record) override;
  Status StoredDigest(SinkStream* stream, uint64_t seq, Digest* digest) override;
  Status Commit(bool /*alone*/) override { return Status::Ok(); }
  Status Sync() override { return Status::Ok(); }
  void PublishHeads(const PublishHead& publish) override;
  void Read(ReadTask* task) override;
  Status Close() override { return Status::Ok(); }

 private:
  class Ring final : public SinkStream {
   public:
    uint64_t head_seq() const override { return head_seq_; }
    const Digest& head_hash() const override { return head_hash_; }
    uint64_t durable_seq() const override { return head_seq_; }
    StreamState state() const override { return StreamState::kOk; }
    const Status& failure() const override { return ok_; }

    uint64_t head_seq_ = 0;
    Digest head_hash_{};
    std::deque<std::pair<uint64_t, Digest>> recent_;  // (seq, self_hash), oldest first
    std::deque<std::string> sealed_;                  // parallel to recent_
    std::pair<std::string, std::string> key_;
    Status ok_;
  };

  const size_t limit_;
  std::map<std::pair<std::string, std::string>, Ring> streams_;
  std::set<std::pair<std::string, std::string>> touched_;  // heads to publish
};

}  // namespace ron

#endif  // ENGINE_RAM_SINK_H_
