// A writer thread's part of the export (sink=wal+export): the Merkle state of each of its
// streams, kept from the WAL's durable records, cut into checkpoint ranges every
// export.checkpoint_every records (and on demand) and handed to the checkpoint builder. At open
// it holds the WAL to the export: a stream behind, missing from, or diverged from its signed
// export opens frozen. Owned and called by one writer thread.
#ifndef ENGINE_CHECKPOINT_CUTTER_H_
#define ENGINE_CHECKPOINT_CUTTER_H_

#include <deque>
#include <map>
#include <string>
#include <utility>

#include "checkpoint/builder.h"
#include "engine/event_log.h"
#include "wal/wal.h"
#include "engine/core/limits.h"

namespace ron {

class CheckpointCutter {
 public:
  struct Options {
    std::string wal_dir, export_dir;
    uint64_t checkpoint_every = 50000;
    FsyncPolicy fsync = FsyncPolicy::kOnCheckpoint;
    Limits limits;
    size_t workers = 1, index = 0;  // this thread owns the streams OwnerIndex maps to index
  };
  CheckpointCutter(Options options, CheckpointBuilder* builder, EventLog* log,
                   EngineMetrics* metrics)
      : options_(std::move(options)), builder_(builder), log_(log), metrics_(metrics) {}

  // After the WAL opened: freezes this thread's streams that are behind, missing from or
  // unreadable against their export (`report`: log and count it, false on a reopen), then
  // rebuilds every stream's Merkle state from the WAL (the only re-read) and freezes a stream
  // whose records no longer reproduce its last signed tree_root. Fails only when the export
  // cannot be listed at all.
  Status Attach(wal::Wal* wal, bool report);

  // wal::WalOptions::on_durable: one record, in order, on this thread.
  void OnDurable(const wal::StreamWal& s, uint64_t seq, const Digest& hash, uint64_t segment_no,
                 uint64_t offset);

  // Cuts a checkpoint of every stream with records since its last one (export_every, Flush
  // with a checkpoint, Close).
  void CutAll();

  // Hands waiting cuts to the builder; under fsync policies other than always, the WAL is
  // synced first (a checkpoint never covers records that could still be lost). `force`: queue
  // even when the builder's queue is full (Close, explicit checkpoints); `closed`: the WAL is
  // closed (and synced) already.
  void OfferCuts(wal::Wal* wal, bool force, bool closed = false);

 private:
  StreamAccumulator& Accumulator(const std::string& writer, const std::string& stream);
  Status CheckAgainstExport(wal::Wal* wal, bool report);
  void Restore(wal::Wal* wal);
  void ReportDiverged(const StreamAccumulator& acc);
  void Cut(StreamAccumulator* acc);

  static constexpr size_t kMaxWaitingCuts = limits::kMaxWaitingCutsPerStream;
  const Options options_;
  CheckpointBuilder* const builder_;
  EventLog* const log_;
  EngineMetrics* const metrics_;
  std::map<std::pair<std::string, std::string>, StreamAccumulator> acc_;
  std::deque<CheckpointCut> waiting_;  // cut, not yet taken by the builder
  // The export tails CheckAgainstExport read, taken by Accumulator during Attach's Restore so
  // that each newest manifest is read once per open.
  std::map<std::pair<std::string, std::string>, ExportTail> attach_tails_;
};

}  // namespace ron

#endif  // ENGINE_CHECKPOINT_CUTTER_H_
