// Where a writer thread puts its records: the Sink interface. RAM (sink=ram: a bounded ring
// per stream, never a file) and the WAL (sink=wal, wal+export) implement it today; a sink that
// exports elsewhere plugs in beside them. A sink belongs to one writer thread, which alone
// calls it; it holds that thread's streams and their chain heads.
#ifndef ENGINE_SINK_H_
#define ENGINE_SINK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/core/canonical.h"
#include "engine/core/hash.h"
#include "engine/engine_internal.h"

namespace ron {

// Publishes a stream's head (what Engine::State answers): `head` is "b3:0" or the head's
// self_hash text, valid only during the call.
using PublishHead = std::function<void(const std::string& writer, const std::string& stream,
                                       uint64_t head_seq, std::string_view head,
                                       StreamState state)>;

// One stream a sink holds. Valid while its sink is.
class SinkStream {
 public:
  virtual ~SinkStream() = default;
  virtual uint64_t head_seq() const = 0;
  virtual const Digest& head_hash() const = 0;  // the head's self_hash (head_seq > 0)
  // "b3:0" or the head's self_hash text: into `buf` (the per-record paths), or as a string.
  std::string_view HeadText(char (&buf)[kHashTextBytes]) const {
    return ron::HeadText(head_seq(), head_hash(), buf);
  }
  std::string HeadText() const {
    char buf[kHashTextBytes];
    return std::string(HeadText(buf));
  }
  // The last seq that survives what the fsync policy promises (RAM: the head).
  virtual uint64_t durable_seq() const = 0;
  virtual StreamState state() const = 0;
  virtual const Status& failure() const = 0;  // why the stream is frozen or failed
};

class Sink {
 public:
  virtual ~Sink() = default;

  virtual bool Holds(const std::string& writer, const std::string& stream) const = 0;
  virtual size_t stream_count() const = 0;
  // The stream, created (empty) when the sink does not hold it yet.
  virtual Result<SinkStream*> GetStream(const std::string& writer, const std::string& stream) = 0;
  // Appends the record after the stream's head (REQUIRES: seq = head + 1, prev = head). RAM
  // keeps it at once; the WAL stages it for the next Commit.
  virtual Status Stage(SinkStream* stream, const CanonicalRecord& record) = 0;
  // The self_hash stored at `seq` (≤ head): SeqGap if the sink no longer holds it.
  virtual Status StoredDigest(SinkStream* stream, uint64_t seq, Digest* digest) = 0;
  // Ends a batch: makes the staged records durable as the fsync policy says. `alone`: its
  // callers wait for it with nothing queued behind it (Wal::Commit).
  virtual Status Commit(bool alone) = 0;
  // Makes everything durable whatever the fsync policy (Flush).
  virtual Status Sync() = 0;
  // Calls `publish` for every stream whose head may have moved since the last call.
  virtual void PublishHeads(const PublishHead& publish) = 0;
  // Answers a read of a stream's records (sink=ram: reads go through the owner).
  virtual void Read(ReadTask* task) = 0;
  // Seals and closes whatever the sink holds open.
  virtual Status Close() = 0;
  // The writer thread is idle: frees the emptied buffers kept from batch to batch (the WAL's
  // per-stream write buffers and its commit's own). Records the sink holds by design
  // (sink=ram's ring) stay.
  virtual void ReleaseBuffers() {}
};

}  // namespace ron

#endif  // ENGINE_SINK_H_
