#include "engine/thread_scratch.h"

#include <atomic>
#include <string>
#include <variant>

#include "engine/core/check.h"

namespace ron {

Canonicalizer& ThreadCanonicalizer(const Limits& limits) {
  thread_local std::unique_ptr<Canonicalizer> canonicalizer;
  thread_local Limits built_for;
  if (canonicalizer == nullptr || built_for.max_attrs_bytes != limits.max_attrs_bytes ||
      built_for.max_record_bytes != limits.max_record_bytes) {
    canonicalizer = std::make_unique<Canonicalizer>(limits);
    built_for = limits;
  }
  return *canonicalizer;
}

SlotLeftovers& ThreadLeftovers() {
  thread_local SlotLeftovers kept;
  return kept;
}

bool KeepLeftovers(SlotLeftovers* returned, SlotLeftovers* kept) {
  std::string& bytes = returned->bytes;
  if (kept->bytes.empty() && kept->bytes.capacity() < bytes.capacity() &&
      bytes.capacity() <= limits::kReusedRecordBytes) {
    bytes.clear();
    kept->bytes.swap(bytes);
  }
  bytes = std::string();
  // One owner left (this one): the others' last uses of the state (the writer's answer, a
  // host's read of it) happened before their releases of it, which the fence orders before
  // the reset. The copy does too under libstdc++, whose count changes are acq_rel, and is
  // what ThreadSanitizer sees (it does not model fences).
  if (kept->ticket == nullptr && returned->ticket != nullptr &&
      returned->ticket.use_count() == 1) {
    std::atomic_thread_fence(std::memory_order_acquire);
    { const std::shared_ptr<TicketState> acquire = returned->ticket; }
    returned->ticket->Reset();
    kept->ticket = std::move(returned->ticket);
  }
  returned->ticket.reset();
  return kept->ticket != nullptr;
}

void GiveBackLeftovers(Task* task) {
  SlotLeftovers back;
  SwapLeftovers(task, &back);
  KeepLeftovers(&back, &ThreadLeftovers());
}

void TakeLeftovers(std::string* bytes, std::shared_ptr<TicketState>* ticket) {
  SlotLeftovers& kept = ThreadLeftovers();
  bytes->swap(kept.bytes);
  *ticket = kept.ticket != nullptr ? std::move(kept.ticket) : std::make_shared<TicketState>();
}

// g++ 12 takes the moves of Result<Ticket> (a variant) when *results grows for a Status
// that is never read uninitialized (a known false positive of -Wmaybe-uninitialized).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
bool BatchScratch::PushTasks(Task* tasks, size_t n, std::vector<Result<Ticket>>* results,
                             size_t* taken,
                             const std::function<void(PushResult, const Task&)>& refused) {
  RON_CHECK(run_tickets.size() == n);
  if (n == 0) return true;
  size_t pushed = 0;
  leftovers.resize(n);  // empty: the last run's were cleared
  const PushResult result = run_owner->TryPushMany(tasks, n, &pushed, leftovers.data());
  for (size_t k = 0; k < pushed && reused.size() < limits::kReusedRecordBuffers &&
                     reused_tickets.size() < limits::kReusedRecordBuffers;
       ++k) {
    SlotLeftovers kept;
    if (KeepLeftovers(&leftovers[k], &kept)) reused_tickets.push_back(std::move(kept.ticket));
    if (kept.bytes.capacity() > std::string().capacity()) reused.push_back(std::move(kept.bytes));
  }
  leftovers.clear();  // frees the rest, and releases the other tickets
  for (size_t k = 0; k < pushed; ++k) results->push_back(Ticket(run_tickets[k]));
  *taken += pushed;
  const bool all = pushed == n;
  if (!all) {
    refused(result, tasks[pushed]);
    ++*taken;
  }
  run_tickets.clear();
  return all;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void BatchScratch::ResetGroup(size_t n) {
  ResetRun();
  status.resize(n);
  if (group.size() < n) group.resize(n, Task(std::in_place_type<SealedTask>));
  group_records.resize(n);
  for (size_t i = 0; i < n; ++i) {  // a task moved-from keeps its kind: SealedTask
    CanonicalRecord& record = std::get<SealedTask>(group[i]).record;
    // Those queued by the last group were moved-from: a kept buffer instead of none.
    if (record.bytes.capacity() <= std::string().capacity()) TakeReused(&record.bytes);
    group_records[i] = &record;
  }
}

ScratchLease::ScratchLease() {
  thread_local BatchScratch scratch;
  if (scratch.in_use) {
    own_ = std::make_unique<BatchScratch>();
    scratch_ = own_.get();
  } else {
    scratch_ = &scratch;
  }
  scratch_->in_use = true;
}

}  // namespace ron
