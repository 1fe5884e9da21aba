// sink=wal (Macronode): a writer thread's streams in its own WAL (wal/wal.h) and io_uring,
// opened and recovered on that thread. With an export sink, a CheckpointCutter follows every
// durable record.
#ifndef ENGINE_WAL_SINK_H_
#define ENGINE_WAL_SINK_H_

#include <unordered_map>
#include <memory>
#include <string>

#include "engine/checkpoint_cutter.h"
#include "engine/event_log.h"
#include "engine/sink.h"
#include "wal/metrics.h"
#include "wal/wal.h"

namespace ron {

class WalSink final : public Sink {
 public:
  // Opens (recovers) the WAL of `options`; `cutter` (null without an export sink, else owned by
  // the caller and outliving the sink) receives every durable record and checks the WAL
  // against the export. `first_open`: report what recovery found (false on a reopen after a
  // full disk, which says nothing twice). Publishes nothing: PublishHeads does.
  static Result<std::unique_ptr<WalSink>> Open(wal::WalOptions options, CheckpointCutter* cutter,
                                               EventLog* log, EngineMetrics* metrics,
                                               bool first_open);

  bool Holds(const std::string& writer, const std::string& stream) const override;
  size_t stream_count() const override { return wal_->stream_count(); }
  Result<SinkStream*> GetStream(const std::string& writer, const std::string& stream) override;
  Status Stage(SinkStream* stream, const CanonicalRecord& record) override;
  Status StoredDigest(SinkStream* stream, uint64_t seq, Digest* digest) override;
  Status Commit(bool alone) override { return wal_->Commit(alone); }
  Status Sync() override { return wal_->Sync(); }
  void PublishHeads(const PublishHead& publish) override;
  // Reads of the files need the owner only for the frames it holds back (journal_hold_bytes).
  void Read(ReadTask* task) override {
    task->ticket->Complete(wal_->WriteOutHeld(task->writer_id, task->stream), {});
  }
  Status Close() override { return wal_->Close(); }
  void ReleaseBuffers() override { wal_->ReleaseBuffers(); }

  wal::Wal* wal() { return wal_.get(); }
  const wal::Wal& wal() const { return *wal_; }

 private:
  // A SinkStream view of one wal::StreamWal.
  class Ref final : public SinkStream {
   public:
    explicit Ref(wal::StreamWal* s) : s_(s) {}
    uint64_t head_seq() const override { return s_->head_seq(); }
    const Digest& head_hash() const override { return s_->head_hash(); }
    uint64_t durable_seq() const override { return s_->durable_seq(); }
    StreamState state() const override { return s_->state(); }
    const Status& failure() const override { return s_->failure(); }
    wal::StreamWal* stream() const { return s_; }

   private:
    wal::StreamWal* const s_;
  };

  WalSink() = default;
  std::unique_ptr<wal::Wal> wal_;
  std::unordered_map<const wal::StreamWal*, std::unique_ptr<Ref>> refs_;
};

}  // namespace ron

#endif  // ENGINE_WAL_SINK_H_
