// TicketState: the futex word behind every Ticket (engine/engine_internal.h).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "engine/engine_internal.h"

namespace ron {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

Receipt ReceiptAt(uint64_t seq) {
  Receipt r;
  r.seq = seq;
  return r;
}

TEST(TicketStateTest, PendingUntilCompletedAndTheFirstCompleteWins) {
  TicketState t;
  EXPECT_FALSE(t.done());
  EXPECT_FALSE(t.Wait(steady_clock::now()));  // a deadline already passed: at once
  EXPECT_EQ(t.result().status().code(), Code::kBusy);
  EXPECT_EQ(t.outcome(), AppendOutcome::kAppended);
  t.Complete(Status::Ok(), ReceiptAt(7), AppendOutcome::kDuplicate);
  t.Complete(Status(Code::kIo, "late"), ReceiptAt(8));  // ignored
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.Wait(steady_clock::now()));
  ASSERT_TRUE(t.result().ok());
  EXPECT_EQ(t.result().value().seq, 7u);
  EXPECT_EQ(t.outcome(), AppendOutcome::kDuplicate);

  TicketState failed;
  failed.Complete(Status(Code::kIo, "fsync failed"), Receipt{});
  EXPECT_EQ(failed.result().status().code(), Code::kIo);
}

// A state reset for a new record (the engine reuses the states pushes give back) is pending
// again: it forgets its answer, and the next Complete is the one that counts.
TEST(TicketStateTest, AResetStateIsPendingAgain) {
  for (const Status& first : {Status::Ok(), Status(Code::kIo, "fsync failed")}) {
    TicketState t;
    t.Complete(first, ReceiptAt(7), AppendOutcome::kDuplicate);
    ASSERT_TRUE(t.done());
    t.Reset();
    EXPECT_FALSE(t.done());
    EXPECT_FALSE(t.Wait(steady_clock::now()));
    EXPECT_EQ(t.result().status().code(), Code::kBusy);
    EXPECT_EQ(t.outcome(), AppendOutcome::kAppended);
    std::thread completer([&] { t.Complete(Status::Ok(), ReceiptAt(9)); });
    EXPECT_TRUE(t.Wait(steady_clock::now() + seconds(30)));
    completer.join();
    ASSERT_TRUE(t.result().ok());
    EXPECT_EQ(t.result().value().seq, 9u);
    EXPECT_EQ(t.outcome(), AppendOutcome::kAppended);
  }
}

// Waiters asleep on the word are all woken by one Complete. A lost wake-up would leave them
// asleep until their deadline (20 s), which the bound of 10 s per round (a liveness check, not
// a speed target: they wake within microseconds) tells apart.
TEST(TicketStateTest, OneCompleteWakesEveryWaiter) {
  for (int round = 0; round < 20; ++round) {
    const auto start = steady_clock::now();
    TicketState t;
    std::atomic<int> woken{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 4; ++i) {
      waiters.emplace_back([&] {
        if (t.Wait(steady_clock::now() + seconds(20))) woken++;
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 3));
    t.Complete(Status::Ok(), ReceiptAt(static_cast<uint64_t>(round)));
    for (auto& w : waiters) w.join();
    EXPECT_EQ(woken.load(), 4);
    ASSERT_LT(steady_clock::now() - start, seconds(10)) << "round " << round;
  }
}

// A completer racing a waiter over many tickets, as an owner thread and a caller do: every
// outcome arrives, with the fields the completer wrote.
TEST(TicketStateTest, ACompleterRacingAWaiterLosesNothing) {
  constexpr int kTickets = 20000;
  std::vector<std::shared_ptr<TicketState>> tickets;
  for (int i = 0; i < kTickets; ++i) tickets.push_back(std::make_shared<TicketState>());
  const auto start = steady_clock::now();
  std::thread completer([&] {
    for (int i = 0; i < kTickets; ++i) {
      tickets[static_cast<size_t>(i)]->Complete(Status::Ok(), ReceiptAt(static_cast<uint64_t>(i)));
    }
  });
  int mismatched = 0;
  for (int i = 0; i < kTickets; ++i) {
    auto& t = *tickets[static_cast<size_t>(i)];
    if (!t.Wait(steady_clock::now() + seconds(20)) || !t.result().ok() ||
        t.result().value().seq != static_cast<uint64_t>(i)) {
      ++mismatched;
    }
  }
  completer.join();
  EXPECT_EQ(mismatched, 0);
  EXPECT_LT(steady_clock::now() - start, seconds(15));  // liveness: one lost wake-up is 20 s
}

}  // namespace
}  // namespace ron
