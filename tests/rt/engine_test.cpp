#include "rt/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "caps.hpp"
#include "engine_test_support.hpp"
#include "hal/cpu.hpp"
#include "sanitizer.hpp"

namespace {

using rt::Priority;
using rt::State;
using rt::SubmitStatus;
using testing_support::Blocker;
using testing_support::eventually;
using testing_support::small_config;
using testing_support::state_is;

TEST(Engine, RunsATaskAndRecordsItsHistory) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  rt::TaskId id;
  ASSERT_EQ(p.try_submit([&] { ran++; }, {}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, id, State::Completed); }));
  EXPECT_EQ(ran.load(), 1);
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  ASSERT_EQ(info.history_size, 4u);
  const State want[] = {State::Pending, State::Ready, State::Running, State::Completed};
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(info.history[i].state, want[i]) << i;
    if (i > 0) {
      EXPECT_GE(info.history[i].at, info.history[i - 1].at);
    }
  }
  EXPECT_EQ(info.worker, 0);
  EXPECT_GE(info.finished, info.started);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.completed, 1u);
  EXPECT_EQ(r.stats.refused_transitions, 0u);
}

TEST(Engine, OneWorkerTakesTheHighestClassFirst) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Background));
  std::mutex mu;
  std::vector<int> order;
  const Priority mix[] = {Priority::Low, Priority::Background, Priority::Normal, Priority::Critical, Priority::High};
  for (int round = 0; round < 10; ++round) {
    for (Priority pr : mix) {
      ASSERT_EQ(p.try_submit(
                    [&, pr] {
                      std::lock_guard lock(mu);
                      order.push_back(static_cast<int>(pr));
                    },
                    {.priority = pr}),
                SubmitStatus::Ok);
    }
  }
  b.release();
  ASSERT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  ASSERT_EQ(order.size(), 50u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << "a lower class ran before a higher one";
}

TEST(Engine, CancelQueuedTaskNeverRuns) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p));
  std::atomic<bool> ran{false};
  rt::TaskId id;
  ASSERT_EQ(p.try_submit([&] { ran = true; }, {}, &id), SubmitStatus::Ok);
  EXPECT_EQ(e.cancel(id), rt::CancelResult::Removed);
  EXPECT_EQ(e.cancel(id), rt::CancelResult::AlreadyDone);
  b.release();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_FALSE(ran.load());
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.cancelled, 1u);
  EXPECT_EQ(r.stats.completed, 1u);
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  EXPECT_EQ(info.state, State::Cancelled);
  EXPECT_EQ(info.reason, rt::Reason::CancelledQueued);
}

TEST(Engine, CancelRunningTaskSetsItsStopFlag) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;  // never released: only the stop flag ends it
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(b.task(), {}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return b.started.load(); }));
  EXPECT_EQ(e.cancel(id), rt::CancelResult::StopRequested);
  ASSERT_TRUE(eventually([&] { return state_is(e, id, State::Cancelled); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  EXPECT_EQ(info.reason, rt::Reason::CancelledRunning);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Engine, ClosedGateIsAViolationAndTheTaskNeverRuns) {
  rt::EngineConfig c = small_config();
  c.gates = {"signal_processing", "validation"};
  rt::Engine e(c);
  const int gate = e.gate_index("validation");
  ASSERT_EQ(gate, 1);
  EXPECT_EQ(e.gate_index("nope"), -1);
  e.start();
  rt::Producer p = e.make_producer();
  e.set_gate(static_cast<std::size_t>(gate), false);
  EXPECT_FALSE(e.gate_open(1));
  std::atomic<int> ran{0};
  rt::TaskId blocked, allowed;
  ASSERT_EQ(p.try_submit([&] { ran++; }, {.gates = rt::GateMask{1} << gate}, &blocked), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, blocked, State::Failed); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(blocked, info));
  EXPECT_EQ(info.reason, rt::Reason::GateViolation);
  EXPECT_EQ(ran.load(), 0);
  e.set_gate(static_cast<std::size_t>(gate), true);
  ASSERT_EQ(p.try_submit([&] { ran++; }, {.gates = rt::GateMask{1} << gate}, &allowed), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, allowed, State::Completed); }));
  EXPECT_EQ(ran.load(), 1);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(r.stats.gate_violations, 1u);
  EXPECT_EQ(r.stats.failed, 1u);
  EXPECT_TRUE(r.balanced);
}

TEST(Engine, StaleIdNeverReachesTheReusedSlot) {
  rt::EngineConfig c = small_config();
  c.max_tasks = 1;  // every task reuses slot 0
  c.retain_completed = 0;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  rt::TaskId first, second;
  ASSERT_EQ(p.try_submit([] {}, {}, &first), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return !state_is(e, first, State::Ready) && !state_is(e, first, State::Running); }));
  ASSERT_TRUE(eventually([&] { return p.try_submit([] {}, {}, &second) == SubmitStatus::Ok; }));
  EXPECT_EQ(first.index, second.index);
  EXPECT_NE(first.generation, second.generation);
  rt::TaskInfo info;
  EXPECT_FALSE(e.status(first, info));
  EXPECT_EQ(e.cancel(first), rt::CancelResult::NotFound);
  EXPECT_EQ(e.cancel(rt::TaskId{}), rt::CancelResult::NotFound);
  EXPECT_EQ(e.cancel(rt::TaskId{999, 1}), rt::CancelResult::NotFound);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Engine, PoolExhaustionIsAStatusNeverAnAllocation) {
  rt::EngineConfig c = small_config();
  c.max_tasks = 4;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_EQ(p.try_submit(b.task()), SubmitStatus::Ok);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(p.try_submit([] {}), SubmitStatus::Ok);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(p.try_submit([] {}), SubmitStatus::NoFreeSlot);
  EXPECT_EQ(e.stats().no_free_slot, 5u);
  b.release();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.submitted, 4u);
}

TEST(Engine, BurstOfTenTimesCapacityIsRefusedExactlyAndCapacityComesBack) {
  constexpr std::size_t kCap = 64;
  rt::EngineConfig c = small_config();
  c.ring_capacity[static_cast<std::size_t>(Priority::Normal)] = kCap;
  c.max_tasks = 4096;
  c.max_producers = 5;
  rt::Engine e(c);
  e.start();
  rt::Producer main = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(main, Priority::Critical));
  std::atomic<std::size_t> ok{0}, full{0}, other{0};
  std::vector<std::thread> producers;
  producers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, prod = e.make_producer()]() mutable {
      for (std::size_t i = 0; i < 10 * kCap / 4; ++i) {
        switch (prod.try_submit([] {}, {.priority = Priority::Normal})) {
          case SubmitStatus::Ok:
            ok++;
            break;
          case SubmitStatus::QueueFull:
            full++;
            break;
          default:
            other++;
            break;
        }
      }
    });
  }
  for (auto& t : producers)
    t.join();
  EXPECT_EQ(ok.load(), kCap);
  EXPECT_EQ(full.load(), 9 * kCap);
  EXPECT_EQ(other.load(), 0u);
  const rt::Stats s = e.stats();
  EXPECT_EQ(s.queue_full[static_cast<std::size_t>(Priority::Normal)], 9 * kCap);
  EXPECT_EQ(s.queue_depth[static_cast<std::size_t>(Priority::Normal)], static_cast<std::int64_t>(kCap));
  b.release();
  ASSERT_TRUE(eventually([&] { return e.stats().queue_depth[static_cast<std::size_t>(Priority::Normal)] == 0; }));
  // Full capacity again: another kCap fit while the worker is held.
  Blocker b2;
  ASSERT_TRUE(b2.hold(main, Priority::Critical));
  for (std::size_t i = 0; i < kCap; ++i)
    ASSERT_EQ(main.try_submit([] {}), SubmitStatus::Ok) << i;
  EXPECT_EQ(main.try_submit([] {}), SubmitStatus::QueueFull);
  b2.release();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.completed, 2 * kCap + 2);
  EXPECT_EQ(r.stats.ring_allocations_refused, 0u);
}

TEST(Engine, ExceptionFailsTheTaskNotTheEngine) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  rt::TaskId bad, good;
  ASSERT_EQ(p.try_submit([] { throw std::runtime_error("boom"); }, {}, &bad), SubmitStatus::Ok);
  ASSERT_EQ(p.try_submit([] {}, {}, &good), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, good, State::Completed); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(bad, info));
  EXPECT_EQ(info.state, State::Failed);
  EXPECT_EQ(info.reason, rt::Reason::Exception);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(r.stats.exceptions, 1u);
  EXPECT_TRUE(r.balanced);
}

TEST(Engine, DeadlinePassedBeforeStartIsNotStarted) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p));
  std::atomic<bool> ran{false};
  rt::TaskId id;
  ASSERT_EQ(p.try_submit([&] { ran = true; }, {.deadline_in = hal::kNsPerMs}, &id), SubmitStatus::Ok);
  (void)hal::sleep_until(hal::now_ns() + 5 * hal::kNsPerMs);
  b.release();
  ASSERT_TRUE(eventually([&] { return state_is(e, id, State::Timeout); }));
  EXPECT_FALSE(ran.load());
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(r.stats.timed_out, 1u);
  EXPECT_TRUE(r.balanced);
}

std::atomic<int> g_hook_order{0};
std::atomic<int> g_pre_at{-1}, g_post_at{-1};
void pre_hook(const rt::TaskContext&) noexcept { g_pre_at = g_hook_order++; }
void post_hook(const rt::TaskContext&) noexcept { g_post_at = g_hook_order++; }

TEST(Engine, HooksRunAroundTheTask) {
  g_hook_order = 0;  // --gtest_repeat runs it again in this process
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> body_at{-1};
  rt::TaskId id;
  rt::SubmitOptions o{.pre = &pre_hook, .post = &post_hook};
  o.context.user_id = 42;
  o.context.set_params(3.5);
  std::atomic<std::uint64_t> seen_user{0};
  std::atomic<double> seen_param{0};
  ASSERT_EQ(p.try_submit(
                [&](rt::TaskContext& ctx) {
                  body_at = g_hook_order++;
                  seen_user = ctx.context().user_id;
                  seen_param = ctx.context().params_as<double>();
                },
                o, &id),
            SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, id, State::Completed); }));
  EXPECT_EQ(g_pre_at.load(), 0);
  EXPECT_EQ(body_at.load(), 1);
  EXPECT_EQ(g_post_at.load(), 2);
  EXPECT_EQ(seen_user.load(), 42u);
  EXPECT_EQ(seen_param.load(), 3.5);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Engine, InvalidOptionsAndStoppedEngineAreRefused) {
  rt::EngineConfig c = small_config();
  c.gates = {"a"};
  rt::Engine e(c);
  rt::Producer p = e.make_producer();
  EXPECT_EQ(p.try_submit([] {}), SubmitStatus::Stopped);  // not started
  e.start();
  EXPECT_EQ(p.try_submit([] {}, {.type = 7}), SubmitStatus::Invalid);
  EXPECT_EQ(p.try_submit([] {}, {.gates = 0b10}), SubmitStatus::Invalid);  // gate 1 does not exist
  EXPECT_EQ(p.try_submit([] {}, {.deadline_in = -1}), SubmitStatus::Invalid);
  EXPECT_EQ(rt::Producer{}.try_submit([] {}), SubmitStatus::Invalid);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(r.stats.invalid, 3u);
  EXPECT_EQ(r.stats.submitted, 0u);
  EXPECT_EQ(p.try_submit([] {}), SubmitStatus::Stopped);
}

TEST(Engine, BatchSubmitStopsAtTheFirstRefusal) {
  rt::EngineConfig c = small_config();
  c.ring_capacity[static_cast<std::size_t>(Priority::Low)] = 8;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;
  ASSERT_TRUE(b.hold(p, Priority::Critical));
  std::atomic<int> ran{0};
  auto task = [&] { ran++; };
  std::vector<decltype(task)> batch(12, task);
  std::array<rt::TaskId, 12> ids{};
  EXPECT_EQ(p.try_submit_batch(batch.begin(), batch.end(), {.priority = Priority::Low}, ids.data()), 8u);
  EXPECT_TRUE(ids[7].valid());
  b.release();
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_EQ(ran.load(), 8);
}

TEST(Engine, StopCancelAccountsForEveryTask) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Blocker b;  // never released: stop(Cancel) must end it through its stop flag
  ASSERT_TRUE(b.hold(p));
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.try_submit([&] { ran++; }, {.priority = Priority::Low}), SubmitStatus::Ok);
  const rt::StopReport r = e.stop(rt::StopMode::Cancel);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(r.stats.cancelled, 101u);
  EXPECT_EQ(r.stats.submitted, 101u);
  EXPECT_TRUE(r.balanced);
}

// Stop requests name the generation they are meant for: stop(Cancel) must reach a task
// whose slot has been used before (generation > 1), and a cancel meant for the slot's
// previous task must not reach it.
TEST(Engine, StopCancelReachesARunningTaskInAReusedSlot) {
  rt::EngineConfig c = small_config();
  c.retain_completed = 0;  // a finished task's slot is free again at once
  c.max_tasks = 1;         // ... and it is the only one
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  rt::TaskId first;
  std::atomic<bool> done{false};
  ASSERT_EQ(p.try_submit([&] { done.store(true); }, {}, &first), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return done.load() && e.stats().running == 0 && e.in_flight() == 0; }));
  ASSERT_TRUE(eventually([&] { return p.try_submit([] {}, {}) == SubmitStatus::Ok; }));  // the slot again
  ASSERT_TRUE(eventually([&] { return e.in_flight() == 0 && e.stats().running == 0; }));
  Blocker b;  // never released
  rt::TaskId id;
  ASSERT_TRUE(eventually([&] { return p.try_submit(b.task(), {}, &id) == SubmitStatus::Ok; }));
  ASSERT_TRUE(eventually([&] { return b.started.load(); }));
  ASSERT_GT(id.generation, 1U);
  EXPECT_EQ(e.cancel(first), rt::CancelResult::NotFound);  // the old id: stale, no stop
  const rt::StopReport r = e.stop(rt::StopMode::Cancel);   // would hang if the request missed it
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.cancelled, 1U);  // the blocker: it saw the request (its slot is free again)
  EXPECT_EQ(r.stats.completed, 2U);
}

TEST(Engine, StopDrainRunsEverythingQueued) {
  rt::Engine e(small_config(2));
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) {
    if (p.try_submit([&] { ran++; }, {.priority = static_cast<Priority>(i % 5)}) == SubmitStatus::Ok) accepted++;
  }
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(ran.load(), accepted);
  EXPECT_EQ(r.stats.completed, static_cast<std::uint64_t>(accepted));
  EXPECT_TRUE(r.balanced);
}

TEST(Engine, ScalesWorkersUpAndDown) {
  rt::EngineConfig c = small_config(3);
  c.initial_workers = 1;
  rt::Engine e(c);
  e.start();
  EXPECT_EQ(e.active_workers(), 1u);
  e.scale_workers(3);
  EXPECT_EQ(e.active_workers(), 3u);
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(p.try_submit([&] { ran++; }), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return ran.load() == 200; }));
  e.scale_workers(1);
  EXPECT_EQ(e.active_workers(), 1u);
  EXPECT_EQ(e.stats().workers[2].state, rt::WorkerState::Stopped);
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(p.try_submit([&] { ran++; }), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return ran.load() == 250; }));
  EXPECT_THROW(e.scale_workers(0), std::invalid_argument);
  EXPECT_THROW(e.scale_workers(4), std::invalid_argument);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Engine, ScalingMayNotLeaveAClassUnserved) {
  rt::EngineConfig c = small_config(2);
  c.workers[0].classes = rt::class_bit(Priority::Critical);
  c.workers[1].classes = rt::kAllClasses;
  rt::Engine e(c);
  e.start();
  EXPECT_THROW(e.scale_workers(1), std::invalid_argument);
  EXPECT_EQ(e.active_workers(), 2u);
  (void)e.stop(rt::StopMode::Drain);
}

TEST(Engine, ConfigErrorsNameTheField) {
  auto message = [](rt::EngineConfig c) -> std::string {
    try {
      rt::Engine e(std::move(c));
    } catch (const std::invalid_argument& ex) {
      return ex.what();
    }
    return "";
  };
  rt::EngineConfig c = small_config();
  c.workers.clear();
  EXPECT_NE(message(c).find("workers"), std::string::npos);
  c = small_config();
  c.workers[0].priority = 120;
  EXPECT_NE(message(c).find("workers[0].priority"), std::string::npos);
  c = small_config();
  c.ring_capacity[2] = 0;
  EXPECT_NE(message(c).find("ring_capacity[normal]"), std::string::npos);
  c = small_config();
  c.workers[0].classes = rt::class_bit(Priority::High);
  EXPECT_NE(message(c).find("unserved"), std::string::npos);
  c = small_config();
  c.gates.assign(65, "g");
  EXPECT_NE(message(c).find("gates"), std::string::npos);
}

TEST(Engine, ListFiltersAndPages) {
  rt::EngineConfig c = small_config();
  c.task_types = {"task", "pid", "log"};
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  const auto pid = static_cast<rt::TypeId>(e.type_index("pid"));
  ASSERT_EQ(pid, 1);
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(p.try_submit([] {}, {.type = pid, .workflow = 7}), SubmitStatus::Ok);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(p.try_submit([] {}, {.type = 2}), SubmitStatus::Ok);
  ASSERT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_EQ(e.list({.type = pid, .limit = 100}).size(), 10u);
  EXPECT_EQ(e.list({.workflow = 7}).size(), 10u);
  EXPECT_EQ(e.list({.any_state = false, .state = State::Completed}).size(), 15u);
  EXPECT_TRUE(e.list({.any_state = false, .state = State::Failed}).empty());
  const auto page1 = e.list({.limit = 4, .offset = 0});
  const auto page2 = e.list({.limit = 4, .offset = 4});
  ASSERT_EQ(page1.size(), 4u);
  ASSERT_EQ(page2.size(), 4u);
  EXPECT_GE(page1.back().created, page2.front().created);  // most recent first
  EXPECT_NE(page1.back().id, page2.front().id);
  EXPECT_TRUE(e.list({.offset = 15}).empty());
  EXPECT_EQ(e.clear_completed(3), 12u);
  EXPECT_EQ(e.list({}).size(), 3u);
  EXPECT_EQ(e.stats().retained, 3u);
}

// Each worker retires into its own sub-queue of the ring, and a pop takes one worker's
// run before the next: "most recent" must be read from the tasks, not the pop order.
TEST(Engine, ClearingKeepsTheMostRecentAcrossWorkers) {
  rt::EngineConfig c = small_config(2);
  c.workers[0].classes = 1U << static_cast<unsigned>(rt::Priority::Critical);
  c.workers[1].classes = rt::kAllClasses & ~c.workers[0].classes;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  std::vector<rt::TaskId> ids(5);
  for (std::size_t i = 0; i < ids.size(); ++i) {  // alternating workers, one at a time
    const rt::Priority on = i % 2 == 0 ? rt::Priority::Critical : rt::Priority::Normal;
    ASSERT_EQ(p.try_submit([] {}, {.priority = on}, &ids[i]), SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return state_is(e, ids[i], State::Completed); }));
  }
  // COMPLETED comes before the worker retires the slot (after_task): wait for all five.
  ASSERT_TRUE(eventually([&] { return e.stats().retained == ids.size(); }));
  EXPECT_EQ(e.clear_completed(2), 3u);
  rt::TaskInfo info;
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_FALSE(e.status(ids[i], info)) << "task " << i << " is older than the two kept";
  EXPECT_TRUE(e.status(ids[3], info));
  EXPECT_TRUE(e.status(ids[4], info));
  EXPECT_EQ(e.stats().retained, 2u);
  EXPECT_EQ(e.clear_completed(0), 2u);
  EXPECT_FALSE(e.status(ids[4], info));
}

TEST(Engine, RetainsOnlyTheMostRecentFinishedTasks) {
  rt::EngineConfig c = small_config();
  c.retain_completed = 10;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(eventually([&] { return p.try_submit([] {}) == SubmitStatus::Ok; }));
  }
  ASSERT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_EQ(e.stats().retained, 10u);
  EXPECT_EQ(e.list({}).size(), 10u);
}

TEST(Engine, WorkerStatsAreReported) {
  rt::Engine e(small_config(2));
  e.start();
  rt::Producer p = e.make_producer();
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.try_submit([] {}), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return e.stats().completed == 100; }));
  const rt::Stats s = e.stats();
  ASSERT_EQ(s.workers.size(), 2u);
  std::uint64_t done = 0;
  for (const auto& w : s.workers) {
    done += w.tasks_done;
    EXPECT_NE(w.state, rt::WorkerState::Stopped);
    EXPECT_GT(w.uptime_ns, 0);
  }
  EXPECT_EQ(done, 100u);
  (void)e.stop(rt::StopMode::Drain);
  for (const auto& w : e.stats().workers)
    EXPECT_EQ(w.state, rt::WorkerState::Stopped);
}

// Utilization after known work, bounded from both sides. Worker 0 runs tasks that each
// spin for 5 ms by the clock (T in all, measured by the tasks themselves); worker 1 serves
// no class and has nothing to do. Both ran within U, the time from before start() to after
// stop(). Then worker 0 was busy at least T (the engine times each run around the body) and
// at most its uptime, which is at most U: its utilization is within [T / U, 1]. Worker 1
// was busy for nothing. A busy time not counted, counted in other units, credited to the
// wrong worker, or a utilization that is the idle share, fails one of the bounds; nothing
// here depends on how fast the machine is.
TEST(Engine, UtilizationFollowsTheWorkDone) {
  constexpr int kTasks = 20;
  constexpr hal::ns_t kSpin = 5 * hal::kNsPerMs;
  rt::EngineConfig c = small_config(2);
  c.workers[1].classes = 0;
  rt::Engine e(c);
  std::atomic<hal::ns_t> spun{0};
  const hal::ns_t t0 = hal::now_ns();
  e.start();
  rt::Producer p = e.make_producer();
  auto spin = [&spun] {
    const hal::ns_t from = hal::now_ns();
    hal::ns_t now = from;
    while (now - from < kSpin)
      now = hal::now_ns();
    spun.fetch_add(now - from);
  };
  for (int i = 0; i < kTasks; ++i)
    ASSERT_EQ(p.try_submit(spin), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return e.stats().completed == kTasks; }));
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  const hal::ns_t u = hal::now_ns() - t0;
  const hal::ns_t t = spun.load();
  ASSERT_GE(t, kTasks * kSpin);
  ASSERT_EQ(r.stats.workers.size(), 2u);
  const rt::WorkerStats& busy = r.stats.workers[0];
  const rt::WorkerStats& idle = r.stats.workers[1];
  EXPECT_EQ(busy.tasks_done, static_cast<std::uint64_t>(kTasks));
  EXPECT_GE(busy.busy_ns, t);
  EXPECT_LE(busy.busy_ns, busy.uptime_ns);
  EXPECT_LE(busy.uptime_ns, u);
  EXPECT_GE(busy.utilization, static_cast<double>(t) / static_cast<double>(u));
  EXPECT_LE(busy.utilization, 1.0);
  EXPECT_DOUBLE_EQ(busy.utilization, static_cast<double>(busy.busy_ns) / static_cast<double>(busy.uptime_ns));
  EXPECT_EQ(idle.tasks_done, 0u);
  EXPECT_EQ(idle.busy_ns, 0);
  EXPECT_EQ(idle.utilization, 0.0);
  EXPECT_GT(idle.uptime_ns, 0);
  EXPECT_LE(idle.uptime_ns, u);
}

TEST(Engine, PinnedFifoWorkers) {
  const auto online = hal::read_cpu_info().online;
  const int cpu = online.empty() ? 0 : online.back();
  rt::EngineConfig c = small_config(1);
  c.workers[0] = {.cpu = cpu, .priority = 20, .classes = rt::kAllClasses};
  rt::Engine e(c);
  e.start();
  const hal::ThreadApplied a = e.stats().workers[0].applied;
  (void)e.stop(rt::StopMode::Drain);
  if (!a.affinity.ok()) GTEST_SKIP() << "cannot pin to CPU " << cpu << " here: " << a.affinity.message();
  EXPECT_EQ(a.cpu, cpu);
  if (!a.sched.ok()) GTEST_SKIP() << "SCHED_FIFO not permitted here: " << a.sched.message();
  EXPECT_EQ(a.policy, SCHED_FIFO);
  EXPECT_EQ(a.priority, 20);
}

TEST(Engine, ThousandStartStopCyclesStayBalanced) {
  rt::EngineConfig c = small_config(2);
  c.idle_spin = 0;
  rt::Engine e(c);
  rt::Producer p = e.make_producer();
  std::atomic<std::uint64_t> ran{0};
  for (int cycle = 0; cycle < 1000; ++cycle) {
    e.start();
    for (int i = 0; i < 5; ++i)
      (void)p.try_submit([&] { ran++; }, {.priority = static_cast<Priority>(i)});
    const rt::StopReport r = e.stop(cycle % 2 == 0 ? rt::StopMode::Drain : rt::StopMode::Cancel);
    ASSERT_TRUE(r.balanced) << "cycle " << cycle;
  }
  const rt::Stats s = e.stats();
  EXPECT_EQ(s.submitted, 5000u);
  EXPECT_EQ(s.completed + s.cancelled, 5000u);
  // A task running when stop(Cancel) came has its stop flag set and ends CANCELLED even
  // if its body ran to the end, so `ran` may exceed `completed` by such tasks.
  EXPECT_GE(ran.load(), s.completed);
  EXPECT_LE(ran.load() - s.completed, s.cancelled);
}

// start() and stop() from a SCHED_FIFO thread of higher priority on the worker's own CPU:
// they wait for the worker by sleeping, so the worker gets the CPU (a sched_yield loop
// never gave it: the caller spun for minutes).
TEST(Engine, StartAndStopFromAHigherPriorityThreadOnTheWorkersCpu) {
  if (testing_support::kThreadSanitizer && testing_support::fifo_allowed())
    GTEST_SKIP() << "two SCHED_FIFO priorities on one CPU can deadlock in ThreadSanitizer's own locks "
                    "(sanitizer.hpp); the release build runs it";
  const auto online = hal::read_cpu_info().online;
  const int cpu = online.empty() ? 0 : online.back();
  rt::EngineConfig c = small_config(1);
  c.workers[0] = {.cpu = cpu, .priority = 20, .classes = rt::kAllClasses};
  rt::Engine e(c);
  hal::ThreadApplied caller;
  bool balanced = false;
  std::atomic<bool> ran{false};
  {
    hal::Thread t({.name = "rt-test-caller", .cpu = cpu, .priority = 30}, [&] {
      e.start();
      rt::Producer p = e.make_producer();
      (void)p.try_submit([&ran] { ran.store(true); });
      balanced = e.stop(rt::StopMode::Drain).balanced;
    });
    caller = t.applied();
  }
  if (!caller.affinity.ok() || !caller.sched.ok())
    GTEST_SKIP() << "needs SCHED_FIFO and pinning to CPU " << cpu << ": " << caller.sched.message() << " "
                 << caller.affinity.message();
  EXPECT_TRUE(balanced);
  EXPECT_TRUE(ran.load());
}

// F19: a gate that really changes is published, once per change.
TEST(Engine, GateChangesArePublished) {
  rt::EngineConfig c = small_config(1);
  c.gates = {"a", "b"};
  rt::Engine e(c);
  e.start();
  e.set_gate(1, false);
  e.set_gate(1, false);  // no change
  e.set_gate(1, true);
  e.set_gate(0, true);  // already open
  const auto evs = testing_support::drain_events(e);
  ASSERT_EQ(testing_support::count_kind(evs, rt::EventKind::GateChanged), 2U);
  std::vector<rt::Event> gates;
  for (const auto& ev : evs)
    if (ev.kind == rt::EventKind::GateChanged) gates.push_back(ev);
  EXPECT_EQ(gates[0].subject, rt::Subject::Gate);
  EXPECT_EQ(gates[0].id, 1U);
  EXPECT_EQ(gates[0].value, 0);
  EXPECT_EQ(gates[1].value, 1);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace
