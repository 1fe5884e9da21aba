// A writer thread's bounded queue: callers push without waiting for I/O (a full queue answers
// Busy, or waits under shed_policy=block, for tests only), the owner takes batches. The lock
// guards only the deque, the per-stream counts and what the owner waits for (its gather).
//
// Thread-safety: every method may be called from any thread.
#ifndef ENGINE_TASK_QUEUE_H_
#define ENGINE_TASK_QUEUE_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/limits.h"
#include "engine/engine_internal.h"

namespace ron {

enum class PushResult { kQueued, kFull, kClosed };

// What a push takes out of the answered task it replaces in its ring slot, for the pushing
// caller to reuse or free after the queue's lock: the task's record buffer (its bytes, cleared
// or not: a caller that prepares its next record into it allocates nothing for it) and its
// ticket (often the last reference to it).
struct SlotLeftovers {
  std::string bytes;
  std::shared_ptr<TicketState> ticket;
};
// The record buffer of an emit or sealed task (null for the others), and any task's ticket.
std::string* RecordBytes(Task* task);
std::shared_ptr<TicketState>* TicketOf(Task* task);
// Swaps the task's record buffer (if it has one) and ticket with *leftovers's.
void SwapLeftovers(Task* task, SlotLeftovers* leftovers);

// A FIFO of tasks in one array used as a ring: it grows by doubling and never shrinks, so a
// steady stream of pushes and pops allocates nothing (std::deque allocates a block every few
// tasks: Task is hundreds of bytes).
class TaskRing {
 public:
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  Task& front() { return slots_[head_]; }
  // If `leftovers` is given (empty), it takes those of the answered task parked in the slot
  // the new task goes to (see TaskQueue::TryPush).
  void push_back(Task&& task, SlotLeftovers* leftovers = nullptr);
  void pop_front() {
    slots_[head_] = Task();  // release the task's strings and ticket now
    pop_front_keep();
  }
  // Leaves the slot's contents (a task swapped in for recycling, or a moved-from one) to be
  // replaced by the next push_back into it.
  void pop_front_keep() {
    head_ = (head_ + 1) % slots_.size();
    --count_;
  }
  // Moves every task still parked in a free slot (swapped in for recycling, not yet replaced by
  // a push) into *out, leaving the slot empty.
  void TakeParked(std::vector<Task>* out);

 private:
  std::vector<Task> slots_;
  size_t head_ = 0, count_ = 0;
};

// A writer's batch: the tasks its last PopBatch took (indexes [0, size())), in order. Behind
// them it keeps the answered tasks of an earlier, larger batch, so that a batch smaller than
// the one before it moves and frees nothing, and a larger one after it recycles them into the
// ring slots it empties (their record buffers and tickets go to producers) instead of leaving
// those slots empty. It holds at most as many tasks as its largest batch (max_batch_records);
// clear() frees every task it holds, kept ones too (a writer does once idle).
class TaskBatch {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Task& operator[](size_t i) { return tasks_[i]; }
  const Task& operator[](size_t i) const { return tasks_[i]; }
  Task* begin() { return tasks_.data(); }
  Task* end() { return tasks_.data() + size_; }
  const Task* begin() const { return tasks_.data(); }
  const Task* end() const { return tasks_.data() + size_; }
  // Appends `task` after the batch's tasks (in the place of a kept one, if any).
  void push_back(Task&& task) {
    if (size_ < tasks_.size()) {
      tasks_[size_] = std::move(task);
    } else {
      tasks_.push_back(std::move(task));
    }
    ++size_;
  }
  void clear() {
    tasks_.clear();
    size_ = 0;
  }
  // Tasks held: the batch's and the answered ones kept behind it.
  size_t held() const { return tasks_.size(); }

 private:
  friend class TaskQueue;
  std::vector<Task> tasks_;
  size_t size_ = 0;
};

class TaskQueue {
 public:
  // `capacity`: tasks queued at most; `per_stream`: tighter bounds for some streams
  // (streams.<name>.queue_depth; outlives the queue); `block`: wait for room instead of kFull.
  TaskQueue(size_t capacity, const std::map<std::string, uint32_t, std::less<>>* per_stream,
            bool block)
      : capacity_(capacity), per_stream_(per_stream), block_(block) {}

  // The task is moved into the queue on kQueued only; otherwise it is left as it was.
  // `leftovers` (optional, empty): on kQueued, those of the answered task the push replaced in
  // its ring slot, if any (else they stay there until that task is freed).
  PushResult TryPush(Task&& task, SlotLeftovers* leftovers = nullptr);
  // TryPush of tasks[0..n) in order under one lock, with at most one wake-up of the owner (it
  // then finds them all at once): stops at the first that does not fit, which is left in
  // place with every task after it. *pushed: how many were queued; the result is kQueued when
  // all were, else why tasks[*pushed] was not. `leftovers` (optional): n empty ones,
  // leftovers[k] as TryPush's for tasks[k].
  PushResult TryPushMany(Task* tasks, size_t n, size_t* pushed,
                         SlotLeftovers* leftovers = nullptr);
  // Control tasks (flush, read, checkpoint) are never shed; refused (false) once the queue is
  // stopping, so that a call racing Close gets Closed at once instead of waiting for a thread
  // that will never take it.
  [[nodiscard]] bool PushUnbounded(Task&& task);

  // Waits until a task is queued, the queue stops, or `wake` (if set) passes; then moves up to
  // `max` tasks into *batch, which holds exactly those on return (TaskBatch::size). Sets
  // *stopping and *deadline from Stop. Tasks *batch held on entry (the previous batch and those
  // it kept, answered) leave their record buffers and tickets in the ring slots the new ones
  // leave: a producer's next push into a slot takes them (TryPush's `leftovers`), so memory a
  // caller allocated for a record is reused or freed on a caller's thread rather than on the
  // owner's (under glibc malloc, freeing another thread's allocations was about a third of the
  // owner's time on a one-stream Emit). Answered tasks beyond the new batch stay kept in
  // *batch. What no push replaced before the queue went idle is freed by ReleaseParked (and
  // the owner's TaskBatch::clear).
  //
  // `gather` (optional): when fewer than gather->tasks are queued (but some are; at most half
  // the queue's capacity, and `max`), first waits until that many are, or until gather->until
  // (or `wake`, if sooner), or a control task, a push refused as full, a stream at half its
  // bound, or Stop comes; pushes in between do not wake the owner. It looks every
  // gather->slice and stops early (setting gather->stalled) when a whole slice brought no task.
  // No gather while a control task is queued or a stream holds half its bound.
  struct Gather {
    size_t tasks = 0;
    Clock::time_point until;
    Clock::duration slice{};
    bool stalled = false;  // out
  };
  void PopBatch(size_t max, const Clock::time_point* wake, TaskBatch* batch, bool* stopping,
                Deadline* deadline, Gather* gather = nullptr);
  // For the owner once idle (a writer thread: after limits::kIdleRelease without work): frees
  // (on the calling thread, outside the lock) the answered tasks still parked in free ring
  // slots, so that an idle queue keeps no record's memory. Cheap when PopBatch recycled nothing
  // since the last call.
  void ReleaseParked();
  // Whether the owner is waiting in PopBatch now (tests: to act once it waits).
  bool OwnerWaiting() const;
  // Takes everything still queued (at the Close deadline).
  std::vector<Task> TakeAll();

  void Stop(Deadline deadline);
  size_t depth() const;
  // (stream, tasks queued now) for every stream with queued work, 0 included: a gauge series
  // that vanished when its queue emptied would look like missing data to an alert. Bounded:
  // idle entries are dropped beyond kMaxTrackedStreams.
  void StreamDepths(std::vector<std::pair<std::string, uint64_t>>* out) const;

 private:
  static constexpr size_t kMaxTrackedStreams = limits::kQueueTrackedStreams;
  // Whether `stream` holds its bound (or half of it: StreamHalfFull), if it has one.
  // REQUIRES: mu_ held (so do the helpers below).
  bool StreamFull(std::string_view stream) const { return StreamAtLeast(stream, 1); }
  bool StreamHalfFull(std::string_view stream) const { return StreamAtLeast(stream, 2); }
  // Whether `parts` times the tasks of `stream` queued reach its bound (`limit`).
  bool StreamAtLeast(std::string_view stream, uint32_t parts) const;
  bool QueuedAtLeast(std::string_view stream, uint32_t limit, uint32_t parts) const;
  // After a push (or one refused because the queue or its stream is full: `full`; into a
  // stream that now holds half its bound: `half_full`): whether to wake the owner, which waits
  // for as many tasks as are queued now (or for any, once a push was refused or a stream is at
  // half its bound); true once per wait. REQUIRES: mu_ held; the caller notifies cv_ if true.
  bool TakeWake(bool full, bool half_full = false);
  bool AnyStreamHalfFull() const;  // REQUIRES: mu_ held
  void CountIn(std::string_view stream);           // REQUIRES: mu_ held
  void CountOut(std::string_view stream);          // REQUIRES: mu_ held

  const size_t capacity_;
  const std::map<std::string, uint32_t, std::less<>>* const per_stream_;
  const bool block_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // the owner waits here for work
  std::condition_variable room_cv_;  // shed_policy=block: producers wait here
  TaskRing queue_;
  using StreamCounts = std::map<std::string, uint32_t, std::less<>>;
  StreamCounts in_queue_;  // stream → tasks queued
  // The entry CountIn or CountOut found last (end() if none): a queue's tasks come in runs of
  // one stream, and a writer of one stream sees no other (a map lookup per push and per pop
  // was ~2 % of an import's instructions). Map entries never move; erased, it is reset.
  StreamCounts::iterator last_count_ = in_queue_.end();
  // in_queue_'s entry for `stream`, or end(). REQUIRES: mu_ held.
  StreamCounts::iterator FindCount(std::string_view stream);
  bool stopping_ = false;
  // The owner waits on cv_ until `want_` tasks are queued (1; more while it gathers), and has
  // not been woken for it yet.
  bool owner_waiting_ = false;
  size_t want_ = 1;
  // Control tasks queued (they wait for no batch): no gather while there are any.
  size_t control_queued_ = 0;
  bool parked_ = false;  // PopBatch swapped answered tasks into the ring since ReleaseParked
  Deadline stop_deadline_;
  // The owner's alone (ReleaseParked): the parked answered tasks, taken out under the lock to
  // be freed after it. Its capacity is kept: a vector grown anew each time the owner went idle
  // was most of the bytes bench/emit_bound counted per record when the writer outpaced its
  // producer.
  std::vector<Task> to_free_;
  static constexpr size_t kKeptToFree = 1024;
  void FreeTaken();  // clears to_free_ (its capacity kept up to kKeptToFree tasks)
};

}  // namespace ron

#endif  // ENGINE_TASK_QUEUE_H_
