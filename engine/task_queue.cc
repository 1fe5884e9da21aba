#include "engine/task_queue.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "engine/core/check.h"

namespace ron {
namespace {

// Flush (with or without a checkpoint) and read tasks: pushed unbounded, never waiting for a
// batch.
bool IsControl(const Task& task) {
  return !std::holds_alternative<EmitTask>(task) && !std::holds_alternative<SealedTask>(task);
}

}  // namespace

std::string* RecordBytes(Task* task) {
  if (auto* emit = std::get_if<EmitTask>(task)) return &emit->prepared.bytes;
  if (auto* sealed = std::get_if<SealedTask>(task)) return &sealed->record.bytes;
  return nullptr;
}
std::shared_ptr<TicketState>* TicketOf(Task* task) {
  return std::visit([](auto& t) { return &t.ticket; }, *task);
}
void SwapLeftovers(Task* task, SlotLeftovers* leftovers) {
  if (std::string* bytes = RecordBytes(task)) bytes->swap(leftovers->bytes);
  TicketOf(task)->swap(leftovers->ticket);
}

void TaskRing::push_back(Task&& task, SlotLeftovers* leftovers) {
  if (count_ == slots_.size()) {
    std::vector<Task> grown(std::max<size_t>(16, 2 * slots_.size()));
    for (size_t i = 0; i < count_; ++i) grown[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_.swap(grown);
    head_ = 0;
  }
  Task& slot = slots_[(head_ + count_) % slots_.size()];
  if (leftovers != nullptr) SwapLeftovers(&slot, leftovers);
  slot = std::move(task);
  ++count_;
}

void TaskRing::TakeParked(std::vector<Task>* out) {
  for (size_t k = count_; k < slots_.size(); ++k) {
    Task& slot = slots_[(head_ + k) % slots_.size()];
    // Every queued task carries a ticket; a slot without one holds nothing worth freeing.
    const bool parked = std::visit([](const auto& t) { return t.ticket != nullptr; }, slot);
    if (parked) out->push_back(std::exchange(slot, Task()));
  }
}

PushResult TaskQueue::TryPush(Task&& task, SlotLeftovers* leftovers) {
  const std::string_view stream = StreamOf(task);
  bool wake = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (stopping_) return PushResult::kClosed;
      if (queue_.size() < capacity_ && !StreamFull(stream)) break;
      // Full: an owner gathering more takes what is queued now.
      const bool wake_owner = TakeWake(/*full=*/true);
      if (!block_) {
        lock.unlock();
        if (wake_owner) cv_.notify_one();
        return PushResult::kFull;
      }
      if (wake_owner) cv_.notify_one();
      room_cv_.wait(lock);
    }
    CountIn(stream);
    // `stream` views the task: before the move. Only an owner waiting is woken by it.
    const bool half_full = owner_waiting_ && StreamHalfFull(stream);
    queue_.push_back(std::move(task), leftovers);
    wake = TakeWake(/*full=*/false, half_full);
  }
  // The owner is woken once per wait, when the queue reaches what it waits for (a futex call
  // per record would cost more than the record).
  if (wake) cv_.notify_one();
  return PushResult::kQueued;
}

bool TaskQueue::TakeWake(bool full, bool half_full) {
  if (!owner_waiting_ || queue_.empty()) return false;
  if (!full && !half_full && queue_.size() < want_) return false;
  owner_waiting_ = false;
  return true;
}

bool TaskQueue::OwnerWaiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return owner_waiting_;
}

PushResult TaskQueue::TryPushMany(Task* tasks, size_t n, size_t* pushed,
                                  SlotLeftovers* leftovers) {
  *pushed = 0;
  bool wake = false;
  bool half_full = false;  // a stream of the run reached half its bound
  PushResult result = PushResult::kQueued;
  {
    std::unique_lock<std::mutex> lock(mu_);
    for (size_t i = 0; i < n && result == PushResult::kQueued; ++i) {
      const std::string_view stream = StreamOf(tasks[i]);
      for (;;) {
        if (stopping_) {
          result = PushResult::kClosed;
          break;
        }
        if (queue_.size() < capacity_ && !StreamFull(stream)) break;
        if (!block_) {
          result = PushResult::kFull;
          break;
        }
        if (TakeWake(/*full=*/true)) cv_.notify_one();  // let the owner make room
        room_cv_.wait(lock);
      }
      if (result != PushResult::kQueued) break;
      CountIn(stream);
      half_full = half_full || StreamHalfFull(stream);  // `stream` views the task: before the move
      queue_.push_back(std::move(tasks[i]), leftovers != nullptr ? &leftovers[i] : nullptr);
      ++*pushed;
    }
    // Once for the run: the owner wakes to all of it.
    wake = TakeWake(/*full=*/result == PushResult::kFull, half_full);
  }
  if (wake) cv_.notify_one();
  return result;
}

bool TaskQueue::PushUnbounded(Task&& task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    control_queued_ += IsControl(task) ? 1 : 0;
    queue_.push_back(std::move(task));
    owner_waiting_ = false;
  }
  cv_.notify_one();  // a control task ends a gather too
  return true;
}

void TaskQueue::PopBatch(size_t max, const Clock::time_point* wake, TaskBatch* batch,
                         bool* stopping, Deadline* deadline, Gather* gather) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Woken by a push that reached want_, a control task (which clears owner_waiting_ too), or
    // Stop; a timed-out or spurious wake-up finds owner_waiting_ still set.
    const auto woken = [&] { return stopping_ || !owner_waiting_; };
    // At most half the queue: producers are never refused while the owner waits for more.
    const size_t gather_tasks =
        gather != nullptr ? std::min({gather->tasks, max, capacity_ / 2}) : size_t{0};
    if (!stopping_ && !queue_.empty() && queue_.size() < gather_tasks && control_queued_ == 0 &&
        !AnyStreamHalfFull()) {
      want_ = gather_tasks;
      owner_waiting_ = true;
      const Clock::time_point until =
          wake != nullptr ? std::min(gather->until, *wake) : gather->until;
      for (size_t seen = queue_.size();;) {
        const Clock::time_point slice_end = Clock::now() + gather->slice;
        if (slice_end >= until) {  // the last, partial slice
          cv_.wait_until(lock, until, woken);
          break;
        }
        if (cv_.wait_until(lock, slice_end, woken)) break;
        if (queue_.size() == seen) {  // a whole slice brought nothing: the callers wait
          gather->stalled = true;
          break;
        }
        seen = queue_.size();
      }
    }
    want_ = 1;
    owner_waiting_ = queue_.empty() && !stopping_;
    if (wake != nullptr) {
      cv_.wait_until(lock, *wake, woken);
    } else {
      cv_.wait(lock, woken);
    }
    owner_waiting_ = false;
    *stopping = stopping_;
    *deadline = stop_deadline_;
    const size_t n = std::min(queue_.size(), max);
    std::vector<Task>& tasks = batch->tasks_;
    const size_t recycled = std::min(n, tasks.size());
    parked_ = parked_ || recycled > 0;
    for (size_t i = 0; i < n; ++i) {
      CountOut(StreamOf(queue_.front()));
      if (IsControl(queue_.front())) {
        RON_CHECK(control_queued_ > 0);
        --control_queued_;
      }
      Task& queued = queue_.front();
      if (i < recycled && RecordBytes(&queued) != nullptr && tasks[i].index() == queued.index()) {
        // The answered task's record buffer and ticket go to the slot (where a push takes
        // them: TryPush's `leftovers`), the queued task to the batch: one move, where a swap
        // of the two tasks made three (~9 % of a one-stream writer's time in `perf`). Of one
        // kind, nothing of the answered task is freed here, under the lock.
        Task& answered = tasks[i];
        SlotLeftovers parked;
        SwapLeftovers(&answered, &parked);
        answered = std::move(queued);
        SwapLeftovers(&queued, &parked);
      } else if (i < recycled) {  // a control task on either side: the whole task is parked
        std::swap(tasks[i], queued);
      } else {
        tasks.push_back(std::move(queued));
      }
      queue_.pop_front_keep();
    }
    // Answered tasks beyond the new batch (a batch smaller than the one before it) stay in
    // *batch: moving them out to be freed was ~0.2 task moves and frees a record of an import
    // (ronctl audit append --sealed), and the next larger batch recycles them.
    batch->size_ = n;
  }
  if (block_) room_cv_.notify_all();
}

void TaskQueue::ReleaseParked() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!parked_) return;
    parked_ = false;
    queue_.TakeParked(&to_free_);
  }
  FreeTaken();  // the parked tasks are freed here, after the lock
}

void TaskQueue::FreeTaken() {
  to_free_.clear();
  // Kept up to a default batch of tasks (~600 KiB); a larger one is given back.
  if (to_free_.capacity() > kKeptToFree) std::vector<Task>().swap(to_free_);
}

std::vector<Task> TaskQueue::TakeAll() {
  std::vector<Task> rest;
  std::lock_guard<std::mutex> lock(mu_);
  while (!queue_.empty()) {
    rest.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  in_queue_.clear();
  last_count_ = in_queue_.end();
  control_queued_ = 0;
  return rest;
}

void TaskQueue::Stop(Deadline deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    stop_deadline_ = deadline;
  }
  cv_.notify_one();
  room_cv_.notify_all();
}

size_t TaskQueue::depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void TaskQueue::StreamDepths(std::vector<std::pair<std::string, uint64_t>>* out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [stream, n] : in_queue_) out->emplace_back(stream, n);
}

bool TaskQueue::StreamAtLeast(std::string_view stream, uint32_t parts) const {
  if (stream.empty() || per_stream_->empty()) return false;
  const auto limit = per_stream_->find(stream);
  return limit != per_stream_->end() && QueuedAtLeast(stream, limit->second, parts);
}

bool TaskQueue::QueuedAtLeast(std::string_view stream, uint32_t limit, uint32_t parts) const {
  const auto n = in_queue_.find(stream);
  return n != in_queue_.end() && uint64_t{parts} * n->second >= limit;
}

bool TaskQueue::AnyStreamHalfFull() const {
  for (const auto& [stream, limit] : *per_stream_) {
    if (QueuedAtLeast(stream, limit, 2)) return true;
  }
  return false;
}

void TaskQueue::CountIn(std::string_view stream) {
  if (stream.empty()) return;
  auto it = FindCount(stream);
  if (it == in_queue_.end()) it = last_count_ = in_queue_.emplace(std::string(stream), 0).first;
  ++it->second;
}

void TaskQueue::CountOut(std::string_view stream) {
  if (stream.empty()) return;
  auto it = FindCount(stream);
  if (it == in_queue_.end()) return;
  // Keep entries for a bounded set of streams (no allocation per record); forget idle ones
  // only when there are many.
  if (--it->second == 0 && in_queue_.size() > kMaxTrackedStreams) {
    if (it == last_count_) last_count_ = in_queue_.end();
    in_queue_.erase(it);
  }
}

TaskQueue::StreamCounts::iterator TaskQueue::FindCount(std::string_view stream) {
  if (last_count_ != in_queue_.end() && last_count_->first == stream) return last_count_;
  const auto it = in_queue_.find(stream);
  if (it != in_queue_.end()) last_count_ = it;
  return it;
}

}  // namespace ron
