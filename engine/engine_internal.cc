// The pieces engine_internal.h declares (ticket state, owner choice, the log-callback guard)
// and the public Ticket built on them.
#include "engine/engine_internal.h"

#include <chrono>
#include <mutex>
#include <string>

#include "ron_audit/engine.h"

namespace ron {

// ---- Shared pieces (engine_internal.h) --------------------------------------------------------

void TicketState::Complete(Status status, Receipt receipt, AppendOutcome outcome) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    status_ = std::move(status);
    receipt_ = receipt;
    outcome_ = outcome;
    done_ = true;
  }
  cv_.notify_all();
}
bool TicketState::Wait(Deadline deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [&] { return done_; });
}
bool TicketState::done() {
  std::lock_guard<std::mutex> lock(mu_);
  return done_;
}
Result<Receipt> TicketState::result() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!status_.ok()) return status_;
  return receipt_;
}
AppendOutcome TicketState::outcome() {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_;
}

thread_local int t_in_log_callback = 0;

Status FromLogCallback(const char* what) {
  return Status(Code::kBusy,
                std::string(what) + " from the engine's log callback would wait for the engine's "
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

}  // namespace ron
