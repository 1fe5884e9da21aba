// Per-calling-thread scratch of the engine's public calls: a canonicalizer, and the buffers of
// OfferSealedMany and EmitMany. Split from engine.cc.
//
// Thread-safety: each object belongs to the calling thread (thread_local).
#ifndef ENGINE_THREAD_SCRATCH_H_
#define ENGINE_THREAD_SCRATCH_H_

#include <functional>
#include <memory>
#include <vector>

#include "engine/core/canonical.h"
#include "engine/engine_internal.h"
#include "engine/worker.h"

namespace ron {

// The calling thread's canonicalizer for `limits` (one per thread, rebuilt when an engine
// with other limits uses the thread).
Canonicalizer& ThreadCanonicalizer(const Limits& limits);

// Record buffers and ticket states come back from the queue: a push takes those of the
// answered task it replaces in the ring (TaskQueue::TryPush's `leftovers`), and the calling
// thread prepares its next record into the buffer and answers it through the ticket state,
// instead of allocating both (and freeing the old ones) per record.
// The calling thread's leftovers for its next Emit or OfferSealed: a buffer (empty, maybe with
// capacity) and a ticket state (pending, or null).
SlotLeftovers& ThreadLeftovers();
// Moves into *kept what *returned holds and *kept lacks: the buffer, cleared, if its capacity
// is at most limits::kReusedRecordBytes; the ticket state, reset, if nothing else refers to
// it. Frees the rest now. Returns whether *kept has a ticket state.
bool KeepLeftovers(SlotLeftovers* returned, SlotLeftovers* kept);
// For a new record: the calling thread's kept buffer into *bytes (an empty string's place),
// and its kept ticket state, else a new one, into *ticket.
void TakeLeftovers(std::string* bytes, std::shared_ptr<TicketState>* ticket);
// A task that was not queued gives its buffer and ticket back (KeepLeftovers), for the
// calling thread's next record.
void GiveBackLeftovers(Task* task);

// Scratch of OfferSealedMany and EmitMany, one per calling thread (ThreadBatchScratch), reused.
struct BatchScratch {
  bool in_use = false;  // a call on this thread is using it (see ScratchLease)
  // OfferSealedMany's group: sealed tasks whose records are verified in place (no move from a
  // scratch record into a task), pushed in runs straight from here (PushTasks); their
  // verdicts; and the records' addresses (Canonicalizer::VerifySealedMany). Each task is
  // moved-from once pushed, and refilled by the next group.
  std::vector<Task> group;
  std::vector<CanonicalRecord*> group_records;
  std::vector<Status> status;
  // EmitMany's run of prepared drafts, in order, not yet pushed.
  std::vector<Task> run;
  std::vector<std::shared_ptr<TicketState>> run_tickets;
  Worker* run_owner = nullptr;
  // What PushRun got back (KeepLeftovers: at most limits::kReusedRecordBuffers buffers and
  // ticket states), for the next records prepared here; and the pushes' out-array.
  std::vector<std::string> reused;
  std::vector<std::shared_ptr<TicketState>> reused_tickets;
  std::vector<SlotLeftovers> leftovers;
  // Moves a kept buffer into *bytes (an empty record's), if one is left; and a kept ticket
  // state, else a new one, into *ticket (if given).
  void TakeReused(std::string* bytes, std::shared_ptr<TicketState>* ticket = nullptr) {
    if (ticket != nullptr) *ticket = TakeTicket();
    if (reused.empty()) return;
    bytes->swap(reused.back());
    reused.pop_back();
  }
  // A new record's ticket state: a kept one, else a new one.
  std::shared_ptr<TicketState> TakeTicket() {
    if (reused_tickets.empty()) return std::make_shared<TicketState>();
    std::shared_ptr<TicketState> ticket = std::move(reused_tickets.back());
    reused_tickets.pop_back();
    return ticket;
  }
  // A group of n sealed tasks (those of the last group refilled, their record buffers given
  // a kept one if they have none), and the addresses of their records.
  void ResetGroup(size_t n);
  // The run alone (EmitMany: the group and its buffers stay for OfferSealedMany).
  void ResetRun() {
    run_owner = nullptr;  // the last call's run was pushed (or dropped after a Busy)
    run.clear();
    run_tickets.clear();
  }
  // Pushes tasks[0..n) (a run: one ticket each in run_tickets, in order) to run_owner in one
  // hand-over (one lock, one wake-up): a ticket per task queued is appended to *results. If not
  // all of it was queued, `refused` appends the entry of the first task left (given the push's
  // result: Busy or Closed), and false is returned. *taken counts the entries appended;
  // run_tickets is left empty, and the tasks queued moved-from.
  bool PushTasks(Task* tasks, size_t n, std::vector<Result<Ticket>>* results, size_t* taken,
                 const std::function<void(PushResult, const Task&)>& refused);
  // PushTasks of EmitMany's run, left empty.
  bool PushRun(std::vector<Result<Ticket>>* results, size_t* taken,
               const std::function<void(PushResult, const Task&)>& refused) {
    const bool all = PushTasks(run.data(), run.size(), results, taken, refused);
    run.clear();
    return all;
  }
};

// The calling thread's scratch for one OfferSealedMany or EmitMany, or a fresh one when that is
// in use: the host's log callback, called from inside either (audit.verify.fail,
// audit.append.reject), may call one again on the same thread.
class ScratchLease {
 public:
  ScratchLease();
  ~ScratchLease() { scratch_->in_use = false; }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  BatchScratch& get() { return *scratch_; }

 private:
  std::unique_ptr<BatchScratch> own_;
  BatchScratch* scratch_;
};

}  // namespace ron

#endif  // ENGINE_THREAD_SCRATCH_H_
