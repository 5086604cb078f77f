#include "rt/state_machine.hpp"

#include <gtest/gtest.h>

namespace {

using rt::State;

TEST(StateMachine, TheLifecycleOfSpecF3) {
  EXPECT_TRUE(rt::transition_allowed(State::Pending, State::Scheduled));
  EXPECT_TRUE(rt::transition_allowed(State::Scheduled, State::Ready));
  EXPECT_TRUE(rt::transition_allowed(State::Ready, State::Running));
  for (State end : {State::Completed, State::Failed, State::Timeout, State::Cancelled}) {
    EXPECT_TRUE(rt::transition_allowed(State::Running, end)) << rt::to_string(end);
  }
  EXPECT_TRUE(rt::transition_allowed(State::Failed, State::RolledBack));
  EXPECT_TRUE(rt::transition_allowed(State::Timeout, State::RolledBack));
  EXPECT_TRUE(rt::transition_allowed(State::Failed, State::Retrying));
  EXPECT_TRUE(rt::transition_allowed(State::Retrying, State::Ready));
  EXPECT_TRUE(rt::transition_allowed(State::RolledBack, State::DeadLettered));
  EXPECT_TRUE(rt::transition_allowed(State::Running, State::Paused));
  EXPECT_TRUE(rt::transition_allowed(State::Paused, State::Ready));
  EXPECT_TRUE(rt::transition_allowed(State::Ready, State::Pending)) << "a refused enqueue takes the task back";
}

TEST(StateMachine, TerminalStatesOnlyGoBackToTheFreeList) {
  for (std::size_t from = 0; from < rt::kStateCount; ++from) {
    const auto f = static_cast<State>(from);
    if (!rt::is_terminal(f)) continue;
    EXPECT_FALSE(rt::transition_allowed(f, State::Running)) << rt::to_string(f);
    EXPECT_FALSE(rt::transition_allowed(f, State::Ready)) << rt::to_string(f);
    EXPECT_TRUE(rt::transition_allowed(f, State::Free)) << rt::to_string(f);
  }
  EXPECT_FALSE(rt::transition_allowed(State::Running, State::Free)) << "a running task's slot is never reused";
  EXPECT_FALSE(rt::transition_allowed(State::Ready, State::Free)) << "a queued task's slot is never reused";
}

TEST(StateMachine, NamesRoundTrip) {
  for (std::size_t i = 0; i < rt::kStateCount; ++i) {
    const auto s = static_cast<State>(i);
    State back = State::Free;
    ASSERT_TRUE(rt::parse_state(rt::to_string(s), back)) << rt::to_string(s);
    EXPECT_EQ(back, s);
  }
  State x;
  EXPECT_FALSE(rt::parse_state("exploded", x));
  EXPECT_EQ(rt::to_string(State::RolledBack), "rolled_back");
}

TEST(Priority, NumericLevelsMapOntoClasses) {
  EXPECT_EQ(rt::priority_from_level(10), rt::Priority::Critical);
  EXPECT_EQ(rt::priority_from_level(9), rt::Priority::Critical);
  EXPECT_EQ(rt::priority_from_level(8), rt::Priority::High);
  EXPECT_EQ(rt::priority_from_level(7), rt::Priority::High);
  EXPECT_EQ(rt::priority_from_level(6), rt::Priority::Normal);
  EXPECT_EQ(rt::priority_from_level(4), rt::Priority::Normal);
  EXPECT_EQ(rt::priority_from_level(3), rt::Priority::Low);
  EXPECT_EQ(rt::priority_from_level(2), rt::Priority::Low);
  EXPECT_EQ(rt::priority_from_level(1), rt::Priority::Background);
  EXPECT_EQ(rt::priority_from_level(0), rt::Priority::Background);
}

TEST(TaskIdTest, ValueRoundTrips) {
  const rt::TaskId id{123, 456};
  EXPECT_EQ(rt::TaskId::from_value(id.value()), id);
  EXPECT_FALSE(rt::TaskId{}.valid());
}

}  // namespace
