// What the engine's parts share inside engine/: tickets, the tasks a writer thread takes, the
// owner of a stream, the counters behind the metrics page, and the fields of a log line.
#ifndef ENGINE_ENGINE_INTERNAL_H_
#define ENGINE_ENGINE_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/core/limits.h"
#include "ron_audit/engine.h"
#include "wal/reader.h"

namespace ron {

using Clock = std::chrono::steady_clock;

// Wall-clock milliseconds since the epoch (a record's default ts_ms).
uint64_t NowMs();

// Keys of two strings — (writer_id, stream), (kind, stream) — found by views of them, without
// building the pair: with 1000 streams written round-robin, each record's lookups in maps keyed
// by pair<string, string> (copies of both strings, then compares down a tree) were ~20 % of a
// writer thread's time.
using StringPair = std::pair<std::string, std::string>;
using StringViewPair = std::pair<std::string_view, std::string_view>;
inline StringViewPair ViewOf(const StringPair& p) { return {p.first, p.second}; }
inline StringViewPair ViewOf(const StringViewPair& p) { return p; }
struct StringPairLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return ViewOf(a) < ViewOf(b);
  }
};
struct StringPairEqual {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return ViewOf(a) == ViewOf(b);
  }
};
struct StringPairHash {
  using is_transparent = void;
  template <typename A>
  size_t operator()(const A& a) const {
    const StringViewPair v = ViewOf(a);
    const size_t h = std::hash<std::string_view>{}(v.first);
    const size_t g = std::hash<std::string_view>{}(v.second);
    return h ^ (g + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
  }
};

// The writer thread that owns (writer_id, stream): FNV-1a over writer_id, a separator and
// stream, stable across runs and builds.
size_t OwnerIndex(std::string_view writer_id, std::string_view stream, size_t workers);

// The shared state of one Ticket: completed once, by the owner (or by a refusal).
// One per record in flight, so it is a futex word and no mutex or condition variable (whose
// pthread_cond_destroy alone was 4 % of an importing caller's time): the first Complete wins
// and publishes its outcome with the release store of kDone; a waiter that saw anything else
// sleeps on the word, and Complete wakes it only when someone waits.
class TicketState {
 public:
  void Complete(Status status, Receipt receipt, AppendOutcome outcome = AppendOutcome::kAppended);
  bool Wait(Deadline deadline);
  // Pending again, for a new record (engine/thread_scratch.h: KeepLeftovers).
  // REQUIRES: no one else refers to this state, and that is known after an acquire fence.
  void Reset();
  bool done() const { return state_.load(std::memory_order_acquire) == kDone; }
  // Before done(): Busy, and kAppended.
  Result<Receipt> result() const;
  AppendOutcome outcome() const;

 private:
  static constexpr uint32_t kPending = 0, kWriting = 1, kDone = 2;
  std::atomic<uint32_t> state_{kPending};
  std::atomic<uint32_t> waiters_{0};
  Status status_;  // written once, by the Complete that moved state_ from kPending
  Receipt receipt_;
  AppendOutcome outcome_ = AppendOutcome::kAppended;
};
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
              std::atomic<uint32_t>::is_always_lock_free);

// Every stream's published head (what Engine::State answers), by (writer_id, stream): set by
// the stream's writer thread once per batch (WorkerContext::publish), read by any caller.
class HeadTable {
 public:
  void Set(const std::string& writer, const std::string& stream, uint64_t head_seq,
           std::string_view head, StreamState state);
  StreamInfo Get(const std::string& writer, const std::string& stream) const;
  // The streams of `writer` with a head (only those still kOk, with `ok_only`), in order.
  std::vector<std::string> StreamsOf(const std::string& writer, bool ok_only) const;
  bool AllOk() const;  // no stream frozen or failed

 private:
  mutable std::mutex mu_;
  std::map<StringPair, StreamInfo, StringPairLess> heads_;
};

// How deep this thread is inside the host's log callback. The callback runs on the engine's own
// threads (writers, the checkpoint builder) as well as on callers': a call that waits for those
// threads from inside it would wait for itself, so such calls answer Busy at once instead.
extern thread_local int t_in_log_callback;
Status FromLogCallback(const char* what);

// ---- Tasks a writer thread takes -------------------------------------------------------------

struct EmitTask {
  std::string stream;
  // Canonicalized on the caller's thread, seq and prev still to come; prepared with
  // Canonicalizer::Attrs::kChain (a draft read on the fast path keeps only the fields the owner
  // reads; one read on the full path, or redacted, is whole).
  CanonicalRecord prepared;
  std::shared_ptr<TicketState> ticket;
  std::string draft;  // instead, when the owner canonicalizes (canonicalize_in_emit = false)
};
struct SealedTask {
  CanonicalRecord record;  // verified on the caller's thread
  std::shared_ptr<TicketState> ticket;
};
struct FlushTask {
  std::shared_ptr<TicketState> ticket;
  bool checkpoint = false;  // also cut a checkpoint of every stream with records since the last
};
// Reads of the RAM ring go through its owner (sink=ram; WAL reads need no owner).
struct ReadTask {
  std::string writer_id, stream;
  uint64_t from_seq = 1;
  size_t max_records = 0;
  std::shared_ptr<std::vector<std::string>> out;
  std::shared_ptr<TicketState> ticket;
};
using Task = std::variant<EmitTask, SealedTask, FlushTask, ReadTask>;

// The stream a task counts against (for per-stream bounds and the queue-depth gauge).
std::string_view StreamOf(const Task& task);

// ---- Counters and log lines -------------------------------------------------------------------

struct EngineMetrics {
  std::atomic<uint64_t> emitted{0}, appended{0}, busy{0}, dedupe_hits{0}, aborted{0}, rejected{0},
      bytes{0}, drop_closed{0}, drop_bounds{0}, drop_io{0}, verify_hash{0}, verify_prev{0},
      wal_timeouts{0}, manifest_gap{0}, key_rotations{0}, pii_redacted{0}, pii_blocked{0},
      log_callback_errors{0}, busy_sealed{0};
};

// (kind, stream) → records appended. A worker inserts under its snapshot lock and bumps the
// counter without it; the metrics page reads under the lock. Label sets are capped per worker
// (kMaxLabelSets); the rest count under kind="_other",stream="_other".
using AppendedByLabel = std::map<std::pair<std::string, std::string>, std::atomic<uint64_t>>;
inline constexpr size_t kMaxLabelSets = limits::kMaxLabelSets;

// Optional fields of a log line; empty ones are left out.
struct LogFields {
  std::string_view writer_id{};  // defaults to the engine's
  std::string_view stream{};
  uint64_t seq = 0;
  const Digest* self_hash = nullptr;
  std::string_view reason{};
  std::string_view msg{};
};

// A WAL stream's records from `from_seq` on (at most `max_records`, as sealed text) read from
// its files in `wal_dir`, checksums checked; *report says where the scan stopped and why. When
// the files end before `head` (an acknowledged seq) and before max_records, `write_out` has the
// stream's owner write what it holds back (EngineOptions::journal_hold_bytes), and they are
// read again.
struct ReadRange {
  uint64_t from_seq = 1;
  size_t max_records = 0;
  uint64_t head = 0;
};
Status ReadStreamFiles(const std::string& wal_dir, const std::string& writer,
                       const std::string& stream, const Limits& limits, const ReadRange& range,
                       const std::function<Status()>& write_out, std::vector<std::string>* out,
                       wal::StreamReport* report);

}  // namespace ron

#endif  // ENGINE_ENGINE_INTERNAL_H_
