#include "service/router/waiting_queue.h"

#include "gtest/gtest.h"

namespace gemma {
namespace {

std::shared_ptr<ScheduledRequest> Make(const std::string& id, const std::string& tenant,
                                       int priority = 0) {
  auto r = std::make_shared<ScheduledRequest>();
  r->request_id = id;
  r->tenant = tenant;
  r->priority = priority;
  return r;
}

std::string PopId(WaitingQueue& queue) {
  const std::string id = queue.Next()->request_id;
  queue.PopNext();
  return id;
}

TEST(WaitingQueueTest, PriorityFirstThenArrival) {
  WaitingQueue queue;
  queue.Arrive(Make("a", "t", 5));
  queue.Arrive(Make("b", "t", -3));
  queue.Arrive(Make("c", "t", 5));
  queue.Arrive(Make("d", "t", 0));
  EXPECT_EQ(PopId(queue), "b");
  EXPECT_EQ(PopId(queue), "d");
  EXPECT_EQ(PopId(queue), "a");
  EXPECT_EQ(PopId(queue), "c");
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.Next(), nullptr);
}

TEST(WaitingQueueTest, TheLeastServedTenantGoesNext) {
  WaitingQueue queue;
  std::vector<std::shared_ptr<ScheduledRequest>> heavy;
  for (int i = 0; i < 4; ++i) {
    heavy.push_back(Make("h" + std::to_string(i), "heavy"));
    queue.Arrive(heavy.back());
  }
  auto light = Make("l0", "light");
  queue.Arrive(light);
  // heavy's first request ran and was charged 1000 tokens: light goes before heavy's others
  // although it arrived later.
  EXPECT_EQ(PopId(queue), "h0");
  queue.Charge(*heavy[0], 1000);
  EXPECT_EQ(PopId(queue), "l0");
  queue.Charge(*light, 10);
  EXPECT_EQ(PopId(queue), "h1");
}

TEST(WaitingQueueTest, AnIdleTenantBanksNoCredit) {
  WaitingQueue queue;
  auto a = Make("a", "busy");
  queue.Arrive(a);
  queue.Charge(*a, 5000);
  // "late" arrives while "busy" has been served 5000: it starts at 5000, not at 0, so it does
  // not starve busy for 5000 tokens.
  auto late = Make("late", "late");
  queue.Arrive(late);
  EXPECT_DOUBLE_EQ(queue.service("late"), 5000);
  queue.Leave(*a);
  queue.Leave(*late);
  EXPECT_DOUBLE_EQ(queue.service("busy"), 0);  // Forgotten: the ledger is bounded.
}

TEST(WaitingQueueTest, RequeueKeepsArrivalOrderAndRemoveIf) {
  WaitingQueue queue;
  auto first = Make("first", "t");
  queue.Arrive(first);
  queue.Arrive(Make("second", "t"));
  EXPECT_EQ(PopId(queue), "first");
  queue.Requeue(first);  // Preempted: back ahead of "second".
  EXPECT_EQ(queue.Next()->request_id, "first");
  auto removed = queue.RemoveIf([](const ScheduledRequest& r) { return r.request_id == "second"; });
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0]->request_id, "second");
  EXPECT_EQ(queue.size(), 1);
}

}  // namespace
}  // namespace gemma
