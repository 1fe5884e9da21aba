// The checkpoint pipeline of docs/FORMAT.md §4.
//
// StreamAccumulator: per (writer_id, stream), owned by the stream's writer thread. Fed one record
// digest at a time as records become durable (wal::WalOptions::on_durable), it keeps the Merkle
// state incrementally — a compact-range frontier over 1..n for tree_root, one over the current
// range, one over the current segment part — so a checkpoint never re-reads the WAL. Cut()
// closes the current range.
//
// CheckpointBuilder: one thread per engine. Writers Offer() cuts (never blocking: a full queue
// answers false and the writer keeps accumulating, so its next cut covers more); the builder
// chains each checkpoint to the stream's previous one, signs it (Signer; with a cross-signature
// by the previous key after Rotate), and writes the export batch's manifest atomically (0600 in
// 0700 directories). A failed write is retried with backoff and counted, never dropped; a
// stream that keeps failing backs off alone, the other streams' checkpoints go on.
//
// Thread-safety: StreamAccumulator is owned by one thread; CheckpointBuilder's methods may be
// called from any thread.
#ifndef CHECKPOINT_BUILDER_H_
#define CHECKPOINT_BUILDER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/merkle.h"
#include "ron_audit/signer.h"
#include "engine/core/hash.h"
#include "ron_audit/status.h"
#include "wal/metrics.h"

namespace ron {

// A closed range of one stream, ready to be signed and exported.
struct CheckpointCut {
  std::string writer_id, stream;
  uint64_t first_seq = 0, last_seq = 0;
  Digest root{}, head{};
  uint64_t tree_size = 0;
  Digest tree_root{};
  std::vector<ManifestSegment> segments;
};

class StreamAccumulator {
 public:
  StreamAccumulator(std::string writer_id, std::string stream)
      : writer_id_(std::move(writer_id)), stream_(std::move(stream)) {}

  // Records 1..exported are covered by earlier checkpoints: they only grow tree_root. Call
  // before the first Add. When the tree reaches `exported` records its root must equal
  // `tree_root` (the last checkpoint's); otherwise the stream has diverged from what was
  // signed (a lost or replaced WAL) and no further cut is made for it.
  void SetExportedThrough(uint64_t exported, const Digest& tree_root = {}) {
    exported_ = exported;
    exported_root_ = tree_root;
  }
  uint64_t exported_through() const { return exported_; }
  bool diverged() const { return diverged_; }

  // The next record, in seq order from 1.
  void Add(uint64_t seq, const Digest& self_hash, uint64_t segment_no, uint64_t offset);

  const std::string& writer_id() const { return writer_id_; }
  const std::string& stream() const { return stream_; }
  uint64_t size() const { return tree_.size(); }      // records seen (the head seq)
  uint64_t pending() const { return range_.size(); }  // records since the last cut

  // Closes the current range. REQUIRES: pending() > 0.
  CheckpointCut Cut();

 private:
  void ClosePart();

  std::string writer_id_, stream_;
  uint64_t exported_ = 0;
  Digest exported_root_{};
  bool diverged_ = false;
  MerkleFrontier tree_, range_, part_tree_;
  uint64_t range_first_ = 0;
  Digest head_{};
  std::vector<ManifestSegment> parts_;
  bool part_open_ = false;
  uint64_t part_segment_ = 0;
  ManifestSegment part_;
};

// What the latest manifest of a stream says, read back at start-up.
struct ExportTail {
  uint64_t last_seq = 0;                    // 0: nothing exported yet
  std::string last_checkpoint_id = "b3:0";  // prev_checkpoint for the next one
  std::string last_key_id;                  // who signed it
  Digest last_tree_root{};                  // its tree_root (over 1..last_seq)
};
Status ReadExportTail(const std::string& export_dir, const std::string& writer_id,
                      const std::string& stream, ExportTail* tail);

struct BuilderOptions {
  std::string export_dir;          // must exist (0700)
  std::shared_ptr<Signer> signer;  // null: unsigned checkpoints ("alg":"none")
  // The key the export was signed with before `signer` (a restart with a new key): it
  // cross-signs each stream's first checkpoint under `signer`. Null: no cross-signature.
  std::shared_ptr<Signer> previous_signer;
  size_t queue_capacity = 256;
  std::function<void(const char* level, const char* event, const std::string& stream,
                     const std::string& msg)>
      log;
};

class CheckpointBuilder {
 public:
  explicit CheckpointBuilder(BuilderOptions options);
  ~CheckpointBuilder();  // Stop() with an immediate deadline if not stopped
  CheckpointBuilder(const CheckpointBuilder&) = delete;
  CheckpointBuilder& operator=(const CheckpointBuilder&) = delete;

  void Start();
  // Queues a cut. False (and `cut` left untouched) when the queue is full or stopping.
  bool Offer(CheckpointCut* cut);
  // Queues a cut even when the queue is full (Close of a writer).
  void OfferAtClose(CheckpointCut cut);
  // From the next checkpoint on, signs with `next`; the first checkpoint of every stream under
  // `next` carries a cross-signature by the current key.
  void Rotate(std::shared_ptr<Signer> next);
  // Writes what is queued (retrying failures until the deadline), then joins the thread.
  // Cuts left at the deadline are counted as failed exports.
  Status Stop(std::chrono::steady_clock::time_point deadline);
  // Returns when every cut queued before the call is exported (or the deadline passed: false).
  bool WaitIdle(std::chrono::steady_clock::time_point deadline);

  // Metrics (any thread).
  uint64_t checkpoints_total() const;
  uint64_t export_failures_total() const;  // attempts that failed (io_timeouts_total{op=export})
  uint64_t refused_total() const;          // cuts refused as inconsistent with the stream
  bool healthy() const;                    // the last export attempt succeeded
  // Ok when healthy; else the failure of the last attempt (its errno kept: IsDiskFull()).
  Status Health() const;
  void RenderHistogram(std::string* out, const std::string& labels) const;  // export_batch_seconds

 private:
  struct StreamState {
    bool loaded = false;
    uint64_t last_seq = 0;
    std::string last_id = "b3:0";
    std::string last_key_id;
  };
  void Run();
  Status HealthLocked() const;  // REQUIRES: mu_ held
  std::optional<size_t> PickLocked(std::chrono::steady_clock::time_point now,
                                   std::chrono::steady_clock::time_point* wake) const;
  // The manifest at `path` exists: adopts its checkpoint into *checkpoint if it is the one
  // `cut` and checkpoint->prev_checkpoint describe, else Conflict.
  static Status AdoptExisting(const std::string& path, const CheckpointCut& cut,
                              Checkpoint* checkpoint);
  Status Export(const CheckpointCut& cut, std::shared_ptr<Signer> signer,
                std::shared_ptr<Signer> previous);
  void Log(const char* level, const char* event, const std::string& stream,
           const std::string& msg) const;

  BuilderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  struct Item {
    std::optional<CheckpointCut> cut;
    std::shared_ptr<Signer> rotate_to;
    bool is_rotate = false;
  };
  std::deque<Item> queue_;
  // Streams whose last export attempt failed: retried from `next` on, with a backoff doubling
  // from 100 ms to 5 s; the other streams go on meanwhile.
  struct Retry {
    std::chrono::steady_clock::time_point next;
    std::chrono::milliseconds backoff{0};
  };
  std::map<std::pair<std::string, std::string>, Retry> retry_;
  bool stopping_ = false, busy_ = false, started_ = false, healthy_ = true;
  Status last_failure_;  // of the last failed attempt; guarded by mu_
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
  uint64_t checkpoints_ = 0, failures_ = 0, refused_ = 0;
  wal::LatencyHistogram batch_seconds_;
  // Owned by the builder thread:
  std::shared_ptr<Signer> signer_, previous_signer_;
  std::map<std::pair<std::string, std::string>, StreamState> streams_;
};

}  // namespace ron

#endif  // CHECKPOINT_BUILDER_H_
