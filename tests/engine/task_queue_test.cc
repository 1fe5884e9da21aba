// The writer's queue: PopBatch hands out exactly the queued tasks, in order, whatever the
// batch vector held before (the previous batch's tasks are recycled into the ring, never popped
// again), and pushes into recycled slots keep each task's own contents. A gathering PopBatch
// waits for a batch's worth, and for nothing else than what ends a gather.
#include "engine/task_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ron {
namespace {

// A task whose stream and (long, heap-held) draft name it; `ticket` lets a test see whether
// anything still holds the task.
Task Named(const std::string& name, std::shared_ptr<TicketState> ticket = nullptr) {
  EmitTask t;
  t.stream = name;
  t.draft = name + ":" + std::string(300, 'x');
  t.ticket = ticket != nullptr ? std::move(ticket) : std::make_shared<TicketState>();
  return Task(std::move(t));
}

template <typename Tasks>
std::vector<std::string> Names(const Tasks& batch) {
  std::vector<std::string> out;
  for (const Task& t : batch) {
    const auto& e = std::get<EmitTask>(t);
    EXPECT_EQ(e.draft, e.stream + ":" + std::string(300, 'x')) << "contents mixed up";
    out.push_back(e.stream);
  }
  return out;
}

class TaskQueueTest : public ::testing::Test {
 protected:
  void Push(const std::vector<std::string>& names) {
    for (const std::string& n : names) ASSERT_EQ(queue_.TryPush(Named(n)), PushResult::kQueued);
  }
  std::vector<std::string> Pop(size_t max) {
    bool stopping = false;
    Deadline deadline;
    const Clock::time_point wake = Clock::now();  // never wait: the tasks are queued
    queue_.PopBatch(max, &wake, &batch_, &stopping, &deadline);
    EXPECT_FALSE(stopping);
    return Names(batch_);
  }

  const std::map<std::string, uint32_t, std::less<>> no_stream_bounds_{};
  TaskQueue queue_{64, &no_stream_bounds_, false};
  TaskBatch batch_;
};

TEST_F(TaskQueueTest, PopBatchGivesTheQueuedTasksInOrderWhateverTheBatchHeld) {
  // An answered batch of seven, larger than the next one: it is recycled, never popped again.
  for (int i = 0; i < 7; ++i) batch_.push_back(Named("old" + std::to_string(i)));
  Push({"a", "b", "c", "d", "e"});
  EXPECT_EQ(Pop(3), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(queue_.depth(), 2u);
  // The ring slots now hold recycled tasks; new pushes land in them with their own contents.
  Push({"f", "g", "h", "i"});
  // A larger batch than the one held: it grows.
  EXPECT_EQ(Pop(100), (std::vector<std::string>{"d", "e", "f", "g", "h", "i"}));
  EXPECT_EQ(queue_.depth(), 0u);
  // Many rounds around the ring (64 slots): every task comes out once, in order.
  std::vector<std::string> expected, got;
  for (int round = 0; round < 40; ++round) {
    std::vector<std::string> names;
    for (int k = 0; k < 5; ++k)
      names.push_back("r" + std::to_string(round) + "." + std::to_string(k));
    Push(names);
    expected.insert(expected.end(), names.begin(), names.end());
    const std::vector<std::string> popped = Pop(1 + static_cast<size_t>(round % 7));
    got.insert(got.end(), popped.begin(), popped.end());
  }
  while (queue_.depth() > 0) {
    const std::vector<std::string> popped = Pop(3);
    got.insert(got.end(), popped.begin(), popped.end());
  }
  EXPECT_EQ(got, expected);
}

// An idle queue keeps no answered task: what recycling parked in free slots is freed by
// ReleaseParked, and nothing queued is touched.
TEST_F(TaskQueueTest, ReleaseParkedFreesTheAnsweredTasksAndKeepsTheQueuedOnes) {
  const auto answered = std::make_shared<TicketState>();
  for (int i = 0; i < 4; ++i) batch_.push_back(Named("old" + std::to_string(i), answered));
  EXPECT_EQ(answered.use_count(), 5);
  Push({"a", "b", "c"});
  EXPECT_EQ(Pop(2), (std::vector<std::string>{"a", "b"}));  // two old tasks parked, two kept
  EXPECT_EQ(answered.use_count(), 5);
  queue_.ReleaseParked();
  EXPECT_EQ(answered.use_count(), 3);  // the two kept behind the batch remain
  EXPECT_EQ(batch_.held(), 4u);
  batch_.clear();  // the owner's release: kept tasks too
  EXPECT_EQ(answered.use_count(), 1);
  EXPECT_EQ(queue_.depth(), 1u);
  queue_.ReleaseParked();  // nothing parked since: a no-op
  EXPECT_EQ(Pop(5), (std::vector<std::string>{"c"}));
}

// A batch smaller than the one before it keeps the answered tasks beyond it (nothing moved or
// freed by the owner), and the next larger batch recycles them: their record buffers and
// tickets go to the ring slots it empties, where the producers' next pushes take them.
TEST_F(TaskQueueTest, ASmallerBatchKeepsTheAnsweredTasksBeyondItForTheNextLargerOne) {
  const auto answered = std::make_shared<TicketState>();
  for (int i = 0; i < 6; ++i) {
    Task old = Named("old" + std::to_string(i), answered);
    std::get<EmitTask>(old).prepared.bytes = "record " + std::to_string(i) + std::string(200, 'r');
    batch_.push_back(std::move(old));
  }
  Push({"a", "b"});
  EXPECT_EQ(Pop(10), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(batch_.size(), 2u);
  EXPECT_EQ(batch_.held(), 6u);
  EXPECT_EQ(answered.use_count(), 7);  // old0 and old1 parked in the ring, the rest kept
  // Answer a and b (as ProcessBatch leaves them: their tickets completed, still in the batch).
  for (Task& t : batch_) (*TicketOf(&t))->Complete(Status::Ok(), {});
  // Six slots come free under the next batch, the first two for a and b, the rest for the four
  // kept tasks (old2..old5), whose leftovers producers then take.
  Push({"c", "d", "e", "f", "g", "h"});
  EXPECT_EQ(Pop(10), (std::vector<std::string>{"c", "d", "e", "f", "g", "h"}));
  EXPECT_EQ(batch_.held(), 6u);
  std::vector<std::string> bytes_taken;
  for (int round = 0; round < 16; ++round) {  // around the ring (16 slots) to find them all
    SlotLeftovers got;
    ASSERT_EQ(queue_.TryPush(Named("p"), &got), PushResult::kQueued);
    if (got.ticket == answered) bytes_taken.push_back(got.bytes.substr(0, 8));
    Pop(1);
  }
  std::sort(bytes_taken.begin(), bytes_taken.end());
  EXPECT_EQ(bytes_taken, (std::vector<std::string>{"record 0", "record 1", "record 2", "record 3",
                                                   "record 4", "record 5"}));
}

// A push hands its caller the record buffer and the ticket of the answered task it replaces in
// its ring slot (to reuse or free after the lock), from a TryPush or a TryPushMany; a push into
// a slot that never held a task hands back nothing, and a push refused leaves its task as it
// was.
TEST_F(TaskQueueTest, APushTakesTheLeftoversOfTheAnsweredTaskItReplaces) {
  // The ring starts with 16 slots: 16 answered tasks are swapped into all of them.
  const auto answered = std::make_shared<TicketState>();
  std::vector<std::string> names;
  for (int i = 0; i < 16; ++i) {
    Task old = Named("old" + std::to_string(i), answered);
    std::get<EmitTask>(old).prepared.bytes = "record " + std::to_string(i) + std::string(200, 'r');
    batch_.push_back(std::move(old));
    names.push_back("p" + std::to_string(i));
  }
  SlotLeftovers fresh;
  ASSERT_EQ(queue_.TryPush(Named(names[0]), &fresh), PushResult::kQueued);
  EXPECT_TRUE(fresh.bytes.empty());
  EXPECT_EQ(fresh.ticket, nullptr);
  Push(std::vector<std::string>(names.begin() + 1, names.end()));
  EXPECT_EQ(Pop(16), names);  // every slot now holds an answered task
  EXPECT_EQ(answered.use_count(), 17);

  SlotLeftovers one;
  ASSERT_EQ(queue_.TryPush(Named("c"), &one), PushResult::kQueued);
  EXPECT_EQ(one.bytes, "record 0" + std::string(200, 'r'));
  EXPECT_EQ(one.ticket, answered);
  std::vector<Task> two;
  two.push_back(Named("d"));
  std::vector<SlotLeftovers> more(1);
  size_t pushed = 0;
  ASSERT_EQ(queue_.TryPushMany(two.data(), 1, &pushed, more.data()), PushResult::kQueued);
  EXPECT_EQ(more[0].bytes, "record 1" + std::string(200, 'r'));
  EXPECT_EQ(more[0].ticket, answered);
  one = SlotLeftovers();
  more.clear();
  EXPECT_EQ(answered.use_count(), 15);  // the two tasks replaced hold it no longer
  EXPECT_EQ(Pop(5), (std::vector<std::string>{"c", "d"}));  // queued whole

  const std::map<std::string, uint32_t, std::less<>> bounds{{"s", 1}};
  TaskQueue bounded(8, &bounds, false);
  ASSERT_EQ(bounded.TryPush(Named("s")), PushResult::kQueued);
  Task refused = Named("s");
  SlotLeftovers none;
  ASSERT_EQ(bounded.TryPush(std::move(refused), &none), PushResult::kFull);
  EXPECT_EQ(Names(std::vector<Task>{refused}), std::vector<std::string>{"s"});  // as it was
  EXPECT_TRUE(none.bytes.empty());
  EXPECT_EQ(none.ticket, nullptr);
}

// Per-stream counts follow the tasks out, whether a batch takes every queued task or part of
// them, with runs of one stream and streams interleaved: a stream at its bound has room again
// exactly when its tasks leave.
TEST_F(TaskQueueTest, PerStreamCountsFollowEveryBatchOut) {
  const std::map<std::string, uint32_t, std::less<>> bounds{{"s", 3}};
  TaskQueue queue(64, &bounds, false);
  const auto depths = [&] {
    std::vector<std::pair<std::string, uint64_t>> d;
    queue.StreamDepths(&d);
    return std::map<std::string, uint64_t>(d.begin(), d.end());
  };
  for (const char* n : {"s", "s", "t", "s", "t", "t"}) {
    ASSERT_EQ(queue.TryPush(Named(n)), PushResult::kQueued) << n;
  }
  EXPECT_EQ(queue.TryPush(Named("s")), PushResult::kFull);  // s holds its 3
  bool stopping = false;
  Deadline deadline;
  const Clock::time_point wake = Clock::now();
  TaskBatch batch;
  queue.PopBatch(4, &wake, &batch, &stopping, &deadline);  // s s t s: part of the queue
  EXPECT_EQ(Names(batch), (std::vector<std::string>{"s", "s", "t", "s"}));
  EXPECT_EQ(depths(), (std::map<std::string, uint64_t>{{"s", 0}, {"t", 2}}));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(queue.TryPush(Named("s")), PushResult::kQueued);
  EXPECT_EQ(queue.TryPush(Named("s")), PushResult::kFull);
  queue.PopBatch(100, &wake, &batch, &stopping, &deadline);  // t t s s s: all of it
  EXPECT_EQ(Names(batch), (std::vector<std::string>{"t", "t", "s", "s", "s"}));
  EXPECT_EQ(depths(), (std::map<std::string, uint64_t>{{"s", 0}, {"t", 0}}));
  EXPECT_EQ(queue.depth(), 0u);
  EXPECT_EQ(queue.TryPush(Named("s")), PushResult::kQueued);
}

// Beyond kQueueTrackedStreams streams, a stream whose last task leaves is forgotten, also the
// one whose count was found last (a push or pop of the same stream skips the lookup): a push
// of it afterwards counts it anew, from 1.
TEST_F(TaskQueueTest, AForgottenStreamIsCountedAnewWhenItComesBack) {
  constexpr size_t kStreams = limits::kQueueTrackedStreams + 76;
  TaskQueue queue(4 * kStreams, &no_stream_bounds_, false);
  for (size_t i = 0; i < kStreams; ++i) {
    ASSERT_EQ(queue.TryPush(Named("s" + std::to_string(i))), PushResult::kQueued);
  }
  bool stopping = false;
  Deadline deadline;
  const Clock::time_point wake = Clock::now();
  TaskBatch batch;
  queue.PopBatch(1, &wake, &batch, &stopping, &deadline);  // s0: its count found, then forgotten
  ASSERT_EQ(Names(batch), std::vector<std::string>{"s0"});
  for (int k = 0; k < 2; ++k) ASSERT_EQ(queue.TryPush(Named("s0")), PushResult::kQueued);
  std::vector<std::pair<std::string, uint64_t>> d;
  queue.StreamDepths(&d);
  const std::map<std::string, uint64_t> depths(d.begin(), d.end());
  EXPECT_EQ(depths.size(), kStreams);
  EXPECT_EQ(depths.at("s0"), 2u);
  EXPECT_EQ(depths.at("s1"), 1u);
  queue.PopBatch(4 * kStreams, &wake, &batch, &stopping, &deadline);
  EXPECT_EQ(batch.size(), kStreams + 1);
  d.clear();
  queue.StreamDepths(&d);
  EXPECT_LE(d.size(), limits::kQueueTrackedStreams);
  for (const auto& [stream, n] : d) EXPECT_EQ(n, 0u) << stream;
}

// A gathering PopBatch on an owner thread, while `meanwhile` runs on this one once the owner
// waits (so that what it does lands during the gather, however late the thread starts).
struct Gathered {
  std::vector<std::string> names;  // the batch's streams ("flush" for a flush task)
  bool stalled = false, stopping = false;
  Clock::duration took{};
};
Gathered PopGathering(TaskQueue* queue, size_t tasks, Clock::duration slice,
                      const std::function<void()>& meanwhile) {
  Gathered out;
  std::thread owner([&] {
    TaskQueue::Gather gather{tasks, Clock::now() + std::chrono::seconds(5), slice};
    TaskBatch batch;
    Deadline deadline;
    const auto start = Clock::now();
    queue->PopBatch(100, nullptr, &batch, &out.stopping, &deadline, &gather);
    out.took = Clock::now() - start;
    out.stalled = gather.stalled;
    for (const Task& t : batch) {
      const auto* e = std::get_if<EmitTask>(&t);
      out.names.push_back(e != nullptr ? e->stream : "flush");
    }
  });
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (!queue->OwnerWaiting() && Clock::now() < give_up) std::this_thread::yield();
  meanwhile();
  owner.join();
  return out;
}

void Pause(int ms = 50) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// The gathers below end well before their 5 s; one that does not end when it should takes that
// long and fails here.
constexpr auto kPrompt = std::chrono::milliseconds(2500);

TEST_F(TaskQueueTest, AGatherWaitsForItsTasksAndIsNotWokenBeforeThem) {
  Push({"a", "b", "c"});
  const Gathered g = PopGathering(&queue_, 6, std::chrono::seconds(5), [&] {
    Push({"d"});  // 4 of 6: the owner sleeps on
    Pause();
    std::vector<Task> two;
    two.push_back(Named("e"));
    two.push_back(Named("f"));
    size_t pushed = 0;
    EXPECT_EQ(queue_.TryPushMany(two.data(), two.size(), &pushed), PushResult::kQueued);
  });
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  EXPECT_FALSE(g.stalled);
  EXPECT_LT(g.took, kPrompt);
}

TEST_F(TaskQueueTest, AWholeSliceThatBringsNothingEndsAGather) {
  Push({"a", "b", "c"});
  const Gathered g = PopGathering(&queue_, 5, std::chrono::milliseconds(20), [] {});
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(g.stalled);
  EXPECT_LT(g.took, kPrompt);
  // A slice that brought a task is followed by another: two slices at least.
  Push({"a", "b", "c"});
  const auto slice = std::chrono::milliseconds(300);
  const Gathered more = PopGathering(&queue_, 5, slice, [&] {
    Pause(40);
    Push({"d"});
  });
  EXPECT_EQ(more.names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(more.stalled);
  EXPECT_GE(more.took, 2 * slice);
}

TEST_F(TaskQueueTest, AControlTaskAStreamAtHalfItsBoundOrStopEndAGather) {
  Push({"a", "b", "c"});
  Gathered g = PopGathering(&queue_, 5, std::chrono::seconds(5), [&] {
    ASSERT_TRUE(queue_.PushUnbounded(FlushTask{std::make_shared<TicketState>()}));
  });
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b", "c", "flush"}));
  EXPECT_FALSE(g.stalled);
  EXPECT_LT(g.took, kPrompt);
  // The flush was taken: the next gather waits again.
  Push({"a"});
  g = PopGathering(&queue_, 2, std::chrono::seconds(5), [&] { Push({"b"}); });
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b"}));

  // A stream bounded to 6 tasks: its third wakes the owner, before any push is refused.
  const std::map<std::string, uint32_t, std::less<>> bounds{{"s", 6}};
  TaskQueue bounded(64, &bounds, false);
  ASSERT_EQ(bounded.TryPush(Named("s")), PushResult::kQueued);
  g = PopGathering(&bounded, 20, std::chrono::seconds(5), [&] {
    ASSERT_EQ(bounded.TryPush(Named("t")), PushResult::kQueued);
    ASSERT_EQ(bounded.TryPush(Named("s")), PushResult::kQueued);
    Pause();
    ASSERT_EQ(bounded.TryPush(Named("s")), PushResult::kQueued);
  });
  EXPECT_EQ(g.names, (std::vector<std::string>{"s", "t", "s", "s"}));
  EXPECT_LT(g.took, kPrompt);

  Push({"a", "b", "c"});
  g = PopGathering(&queue_, 5, std::chrono::seconds(5), [&] { queue_.Stop(Clock::now()); });
  EXPECT_TRUE(g.stopping);
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_LT(g.took, kPrompt);
}

// A stream already at half its bound when the owner comes back: no gather (its next pushes
// could be refused while the owner waits).
TEST_F(TaskQueueTest, NoGatherWhileAStreamHoldsHalfItsBound) {
  const std::map<std::string, uint32_t, std::less<>> bounds{{"s", 4}};
  TaskQueue bounded(64, &bounds, false);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(bounded.TryPush(Named("s")), PushResult::kQueued);
  TaskQueue::Gather gather{5, Clock::now() + std::chrono::seconds(5), std::chrono::seconds(5)};
  TaskBatch batch;
  bool stopping = false;
  Deadline deadline;
  const auto start = Clock::now();
  bounded.PopBatch(100, nullptr, &batch, &stopping, &deadline, &gather);
  EXPECT_LT(Clock::now() - start, kPrompt);
  EXPECT_EQ(Names(batch), (std::vector<std::string>{"s", "s"}));
}

// shed_policy=block: a run of pushes larger than the queue wakes an owner asleep on the empty
// queue when it fills, and goes on once the owner made room.
TEST_F(TaskQueueTest, ARunLargerThanABlockingQueueWakesTheOwnerWhenItFills) {
  TaskQueue blocking(4, &no_stream_bounds_, /*block=*/true);
  std::vector<std::string> taken;
  std::thread owner([&] {
    TaskBatch batch;
    bool stopping = false;
    Deadline deadline;
    while (taken.size() < 6 && !stopping) {
      blocking.PopBatch(100, nullptr, &batch, &stopping, &deadline);
      for (const std::string& n : Names(batch)) taken.push_back(n);
    }
  });
  // A run stuck for lack of a wake-up fails (Stop answers it Closed) rather than hangs.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (!done && Clock::now() < until) Pause(10);
    if (!done) blocking.Stop(Clock::now());
  });
  const auto give_up = Clock::now() + std::chrono::seconds(5);
  while (!blocking.OwnerWaiting() && Clock::now() < give_up) std::this_thread::yield();
  std::vector<Task> run;
  for (const char* n : {"a", "b", "c", "d", "e", "f"}) run.push_back(Named(n));
  size_t pushed = 0;
  const auto start = Clock::now();
  EXPECT_EQ(blocking.TryPushMany(run.data(), run.size(), &pushed), PushResult::kQueued);
  EXPECT_EQ(pushed, 6u);
  EXPECT_LT(Clock::now() - start, kPrompt);
  owner.join();
  done = true;
  watchdog.join();
  EXPECT_EQ(taken, (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
}

// A gather waits for half the queue at most: a queue of 8 is taken at 4 tasks, however many
// the gather asked for, so that no push meets a full queue while the owner waits.
TEST_F(TaskQueueTest, AGatherWaitsForHalfTheQueueAtMost) {
  TaskQueue small(8, &no_stream_bounds_, false);
  ASSERT_EQ(small.TryPush(Named("a")), PushResult::kQueued);
  const Gathered g = PopGathering(&small, 100, std::chrono::seconds(5), [&] {
    for (const char* n : {"b", "c", "d"}) ASSERT_EQ(small.TryPush(Named(n)), PushResult::kQueued);
  });
  EXPECT_EQ(g.names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_LT(g.took, kPrompt);
}

// An owner with nothing queued waits for the first task, as without a gather: a caller that
// waits for its one record is not made to wait for others.
TEST_F(TaskQueueTest, AnEmptyQueueWakesTheOwnerForOneTaskEvenWhenItGathers) {
  const Gathered g = PopGathering(&queue_, 5, std::chrono::seconds(5), [&] { Push({"a"}); });
  EXPECT_EQ(g.names, (std::vector<std::string>{"a"}));
  EXPECT_FALSE(g.stalled);
  EXPECT_LT(g.took, kPrompt);
}

}  // namespace
}  // namespace ron
