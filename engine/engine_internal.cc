// The pieces engine_internal.h declares (ticket state, owner choice, the log-callback guard)
// and the public Ticket built on them.
#include "engine/engine_internal.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>
#include <string>

#include "ron_audit/engine.h"

namespace ron {

// ---- Shared pieces (engine_internal.h) --------------------------------------------------------

namespace {

// The futex calls on a TicketState's word (private to this process).
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  // Long deadlines sleep in steps of at most an hour (the caller loops); none is infinite.
  const auto step = std::min<std::chrono::nanoseconds>(timeout, std::chrono::hours(1));
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(step.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(step.count() % 1000000000);
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts, nullptr,
          0);
}
void FutexWakeAll(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

}  // namespace

void HeadTable::Set(const std::string& writer, const std::string& stream, uint64_t head_seq,
                    std::string_view head, StreamState state) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = heads_.find(StringViewPair(writer, stream));
  if (it == heads_.end()) it = heads_.try_emplace(StringPair(writer, stream)).first;
  it->second.head_seq = head_seq;
  it->second.head.assign(head);  // into the capacity the head had
  it->second.state = state;
}
StreamInfo HeadTable::Get(const std::string& writer, const std::string& stream) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = heads_.find(StringViewPair(writer, stream));
  return it == heads_.end() ? StreamInfo{} : it->second;
}
std::vector<std::string> HeadTable::StreamsOf(const std::string& writer, bool ok_only) const {
  std::vector<std::string> streams;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, info] : heads_) {
    if (key.first == writer && (!ok_only || info.state == StreamState::kOk)) {
      streams.push_back(key.second);
    }
  }
  return streams;
}
bool HeadTable::AllOk() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::all_of(heads_.begin(), heads_.end(),
                     [](const auto& entry) { return entry.second.state == StreamState::kOk; });
}

void TicketState::Complete(Status status, Receipt receipt, AppendOutcome outcome) {
  uint32_t expected = kPending;
  if (!state_.compare_exchange_strong(expected, kWriting, std::memory_order_acquire)) return;
  status_ = std::move(status);
  receipt_ = receipt;
  outcome_ = outcome;
  // Sequentially consistent with the waiter's increment of waiters_: either this load sees the
  // waiter, or the waiter's futex call sees kDone and does not sleep.
  state_.store(kDone, std::memory_order_seq_cst);
  if (waiters_.load(std::memory_order_seq_cst) > 0) FutexWakeAll(&state_);
}
bool TicketState::Wait(Deadline deadline) {
  for (;;) {
    const uint32_t seen = state_.load(std::memory_order_acquire);
    if (seen == kDone) return true;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    FutexWait(&state_, seen, deadline - now);  // returns at once if state_ is no longer `seen`
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
}
void TicketState::Reset() {
  state_.store(kPending, std::memory_order_relaxed);
  waiters_.store(0, std::memory_order_relaxed);
  status_ = Status::Ok();
  receipt_ = Receipt();
  outcome_ = AppendOutcome::kAppended;
}
Result<Receipt> TicketState::result() const {
  if (!done()) return Status(Code::kBusy, "not done yet");
  if (!status_.ok()) return status_;
  return receipt_;
}
AppendOutcome TicketState::outcome() const { return done() ? outcome_ : AppendOutcome::kAppended; }

thread_local int t_in_log_callback = 0;

Status FromLogCallback(const char* what) {
  return Status(Code::kBusy, std::string(what) +
                                 " from the engine's log callback would wait for the engine's "
                                 "own threads; call it from another thread");
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

size_t OwnerIndex(std::string_view writer_id, std::string_view stream, size_t workers) {
  uint64_t h = 1469598103934665603ULL;
  const auto mix = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  };
  mix(writer_id);
  mix(std::string_view("\0", 1));
  mix(stream);
  return static_cast<size_t>(h % workers);
}

std::string_view StreamOf(const Task& task) {
  if (const auto* e = std::get_if<EmitTask>(&task)) return e->stream;
  if (const auto* s = std::get_if<SealedTask>(&task)) return s->record.record.stream;
  return {};
}

// ---- Tickets ----------------------------------------------------------------------------------

Result<Receipt> Ticket::Wait(Deadline deadline) const {
  if (state_ == nullptr) return Status(Code::kSchema, "Wait on an empty (moved-from) Ticket");
  if (t_in_log_callback > 0 && !state_->done()) return FromLogCallback("Ticket::Wait");
  if (!state_->Wait(deadline)) return Status(Code::kBusy, "deadline exceeded");
  return state_->result();
}

bool Ticket::done() const { return state_ == nullptr || state_->done(); }

AppendOutcome Ticket::outcome() const {
  return state_ == nullptr ? AppendOutcome::kAppended : state_->outcome();
}

Status ReadStreamFiles(const std::string& wal_dir, const std::string& writer,
                       const std::string& stream, const Limits& limits, const ReadRange& range,
                       const std::function<Status()>& write_out, std::vector<std::string>* out,
                       wal::StreamReport* report) {
  const auto scan = [&] {
    out->clear();
    *report = wal::StreamReport{};
    return wal::ScanStream(
        wal::StreamDir(wal_dir, writer, stream), writer, stream, limits,
        wal::VerifyLevel::kChecksums, report,
        [&](const wal::RecordView& r) {
          if (r.seq < range.from_seq) return true;
          std::string text;
          AppendSealed(r.json, r.self_hash, &text);
          out->push_back(std::move(text));
          return out->size() < range.max_records;
        },
        0, wal::kLostWriteWindowBytes, range.from_seq);
  };
  RON_RETURN_IF_ERROR(scan());
  const uint64_t wanted = std::min<uint64_t>(range.max_records, range.head - range.from_seq + 1);
  if (report->frozen || range.head < range.from_seq || out->size() >= wanted) {
    return Status::Ok();
  }
  RON_RETURN_IF_ERROR(write_out());
  return scan();
}

}  // namespace ron
