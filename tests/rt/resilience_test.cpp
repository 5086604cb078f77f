// F13/F14 in the engine: failed attempts re-released through the monitor (RETRYING, then
// READY) under the same id, exhausted tasks dead-lettered, and the accounting that says
// every accepted task has exactly one outcome.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

namespace {

using rt::State;
using rt::SubmitStatus;
using testing_support::drain_events;
using testing_support::eventually;
using testing_support::small_config;
using testing_support::state_is;
constexpr hal::ns_t kMs = hal::kNsPerMs;

rt::RetryPolicy fixed(std::uint32_t retries, hal::ns_t delay) {
  return {.strategy = rt::RetryStrategy::Fixed, .max_retries = retries, .initial_delay = delay};
}

// Throws on its first `fail` runs, then returns; counts every run.
struct Flaky {
  std::atomic<int> runs{0};
  int fail = 0;
  auto task() {
    return [this] {
      if (runs.fetch_add(1) < fail) throw std::runtime_error("flaky");
    };
  }
};

// A failed attempt is FAILED or TIMEOUT (terminal states) for a moment before its worker
// moves it to RETRYING or DEAD_LETTERED: a task with retries has settled only in these.
// And an end is counted just after the state shows it: these tests have one task in
// flight, so nothing in flight means its outcome is counted.
bool settled(const rt::Engine& e, rt::TaskId id) {
  rt::TaskInfo i;
  return e.status(id, i) &&
         (i.state == State::Completed || i.state == State::DeadLettered || i.state == State::Cancelled) &&
         e.in_flight() == 0;
}

TEST(Resilience, FailedAttemptsAreRetriedUnderTheSameId) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Flaky f;
  f.fail = 2;
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(f.task(), {.retry = fixed(3, 2 * kMs)}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  EXPECT_EQ(info.state, State::Completed);
  EXPECT_EQ(info.attempts, 3U);
  EXPECT_EQ(f.runs.load(), 3);
  const rt::Stats s = e.stats();
  EXPECT_EQ(s.retries, 2U);
  EXPECT_EQ(s.completed, 1U);
  EXPECT_EQ(s.failed, 0U);  // attempts that were retried are not outcomes
  EXPECT_EQ(s.exceptions, 2U);
  EXPECT_EQ(e.in_flight(), 0U);
  const auto evs = drain_events(e);
  EXPECT_EQ(testing_support::count_events(evs, rt::EventKind::Retrying, id.value()), 2U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, ExhaustedRetriesEndDeadLettered) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Flaky f;
  f.fail = 1000;
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(f.task(), {.retry = fixed(2, 1 * kMs)}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  EXPECT_EQ(info.state, State::DeadLettered);
  EXPECT_EQ(info.reason, rt::Reason::Exception);
  EXPECT_EQ(info.attempts, 3U);
  EXPECT_EQ(f.runs.load(), 3);
  const rt::Stats s = e.stats();
  EXPECT_EQ(s.retries, 2U);
  EXPECT_EQ(s.failed, 1U);  // the last attempt's outcome
  EXPECT_EQ(s.dead_lettered, 1U);
  const auto evs = drain_events(e);
  EXPECT_EQ(testing_support::count_events(evs, rt::EventKind::DeadLettered, id.value()), 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// The retry waits in the monitor's heap, not on a worker: with one worker, a task
// submitted after the failure runs while the retry is pending.
TEST(Resilience, ARetryNeverOccupiesAWorkerWhileItWaits) {
  rt::Engine e(small_config(1));
  e.start();
  rt::Producer p = e.make_producer();
  Flaky f;
  f.fail = 1;
  rt::TaskId failing;
  ASSERT_EQ(p.try_submit(f.task(), {.retry = fixed(1, 60 * hal::kNsPerSec)}, &failing), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, failing, State::Retrying); }));
  std::atomic<bool> ran{false};
  rt::TaskId other;
  ASSERT_EQ(p.try_submit([&ran] { ran.store(true); }, {}, &other), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, other, State::Completed); }));
  EXPECT_TRUE(ran.load());
  EXPECT_TRUE(state_is(e, failing, State::Retrying));  // a minute away: still waiting
  // Stopping cancels a pending retry: it never runs early, and it is accounted for.
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.cancelled, 1U);
  EXPECT_EQ(f.runs.load(), 1);
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(failing, info));
  EXPECT_EQ(info.state, State::Cancelled);
  EXPECT_EQ(info.reason, rt::Reason::EngineStopped);
}

TEST(Resilience, ARetryIsReleasedNoEarlierThanItsDelay) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Flaky f;
  f.fail = 2;
  rt::TaskId id;
  const rt::RetryPolicy linear{.strategy = rt::RetryStrategy::Linear, .max_retries = 2, .initial_delay = 5 * kMs};
  ASSERT_EQ(p.try_submit(f.task(), {.retry = linear}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  ASSERT_EQ(info.state, State::Completed);
  // The history holds each RETRYING and the READY that followed it: 5 ms, then 10 ms.
  std::vector<hal::ns_t> waits;
  for (std::size_t i = 0; i + 1 < info.history_size; ++i) {
    if (info.history[i].state == State::Retrying && info.history[i + 1].state == State::Ready)
      waits.push_back(info.history[i + 1].at - info.history[i].at);
  }
  ASSERT_EQ(waits.size(), 2U);
  EXPECT_GE(waits[0], 5 * kMs);
  EXPECT_GE(waits[1], 10 * kMs);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// Each attempt gets the same deadline budget from its own release: the first attempt
// overruns, the second meets it.
TEST(Resilience, EachAttemptHasItsOwnDeadline) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> runs{0};
  auto task = [&runs](rt::TaskContext& ctx) {
    if (runs.fetch_add(1) == 0) {
      while (!ctx.stop_requested())  // overrun until the monitor asks it to stop
        std::this_thread::yield();
    }
  };
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(task, {.deadline_in = 5 * kMs, .retry = fixed(2, 1 * kMs)}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  const rt::Stats s = e.stats();
  // The second attempt returns at once; only a machine that stalls it past 5 ms twice
  // over would exhaust the two retries.
  EXPECT_EQ(info.state, State::Completed) << "attempts " << info.attempts;
  EXPECT_GE(s.deadline_misses, 1U);
  EXPECT_EQ(s.timed_out, 0U);  // misses that were retried are not outcomes
  EXPECT_GE(s.retries, 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, ARetryingTaskCanBeCancelled) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  Flaky f;
  f.fail = 1;
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(f.task(), {.retry = fixed(1, 10 * hal::kNsPerSec)}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, id, State::Retrying); }));
  EXPECT_EQ(e.cancel(id), rt::CancelResult::Removed);
  EXPECT_TRUE(state_is(e, id, State::Cancelled));
  EXPECT_EQ(e.cancel(id), rt::CancelResult::AlreadyDone);
  EXPECT_EQ(f.runs.load(), 1);  // its release would come in 10 s; stop() retires it
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.cancelled, 1U);
}

TEST(Resilience, RollbackRestoresTheStateBeforeEachRetry) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  static rt::Snapshotted<int> plant(7);  // static: the task captures nothing but pointers
  plant.value = 7;
  std::atomic<int> runs{0};
  std::atomic<int> seen_at_start[3] = {};
  auto task = [&runs, &seen_at_start] {
    const int n = runs.fetch_add(1);
    seen_at_start[n].store(plant.value);
    plant.value = 100 + n;  // a change that a failure must undo
    if (n < 2) throw std::runtime_error("fail");
  };
  rt::SubmitOptions o;
  o.state = plant.binding();
  o.retry = fixed(2, 1 * kMs);
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(task, o, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  EXPECT_TRUE(state_is(e, id, State::Completed));
  EXPECT_EQ(seen_at_start[0].load(), 7);
  EXPECT_EQ(seen_at_start[1].load(), 7);
  EXPECT_EQ(seen_at_start[2].load(), 7);
  EXPECT_EQ(plant.value, 102);  // the successful attempt's change stands
  EXPECT_EQ(e.stats().rolled_back, 2U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, ABadPolicyIsRefused) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  rt::RetryPolicy bad = fixed(3, 1 * kMs);
  bad.jitter = 2.0;
  EXPECT_EQ(p.try_submit([] {}, {.retry = bad}), SubmitStatus::Invalid);
  bad = fixed(3, 1 * kMs);
  bad.multiplier = 0.5;
  EXPECT_EQ(p.try_submit([] {}, {.retry = bad}), SubmitStatus::Invalid);
  EXPECT_EQ(e.stats().invalid, 2U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, ADeadLetterCarriesTheErrorAndCanBeReDriven) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  static Flaky f;
  f.runs = 0;
  f.fail = 3;  // fails every attempt of the first submission (1 + 2 retries), then works
  rt::SubmitOptions o{.priority = rt::Priority::High, .retry = fixed(2, 1 * kMs)};
  o.context.user_id = 77;
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(f.task(), o, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  ASSERT_TRUE(state_is(e, id, State::DeadLettered));
  std::vector<rt::DeadLetter> dl = e.dead_letters();
  ASSERT_EQ(dl.size(), 1U);
  EXPECT_EQ(dl[0].id, id);
  EXPECT_EQ(dl[0].attempts, 3U);
  EXPECT_EQ(dl[0].last_reason, rt::Reason::Exception);
  EXPECT_EQ(dl[0].error_text(), "flaky");
  EXPECT_EQ(dl[0].priority, rt::Priority::High);
  EXPECT_EQ(dl[0].options.context.user_id, 77U);
  // Re-driven: a new task with the same callable and options, and fresh attempts.
  rt::TaskId again;
  ASSERT_EQ(e.redrive(p, dl[0].seq, &again), SubmitStatus::Ok);
  EXPECT_NE(again, id);
  ASSERT_TRUE(eventually([&] { return settled(e, again); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(again, info));
  EXPECT_EQ(info.state, State::Completed);
  EXPECT_EQ(info.priority, rt::Priority::High);
  EXPECT_EQ(f.runs.load(), 4);
  EXPECT_TRUE(e.dead_letters().empty());
  EXPECT_EQ(e.redrive(p, dl[0].seq), SubmitStatus::Invalid);  // taken already
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, AFullDeadLetterQueueDropsItsOldestAndPurgeEmptiesIt) {
  rt::EngineConfig c = small_config();
  c.dead_letter_capacity = 2;
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  std::vector<rt::TaskId> ids(3);
  for (auto& id : ids) {
    ASSERT_EQ(p.try_submit([] { throw std::runtime_error("always"); }, {.retry = fixed(1, 1 * kMs)}, &id),
              SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return settled(e, id); }));  // one after another: a known order
  }
  const std::vector<rt::DeadLetter> dl = e.dead_letters();
  ASSERT_EQ(dl.size(), 2U);
  EXPECT_EQ(dl[0].id, ids[1]);
  EXPECT_EQ(dl[1].id, ids[2]);
  EXPECT_EQ(e.dead_letter_stats().dropped_oldest, 1U);
  EXPECT_EQ(e.stats().dead_lettered, 3U);
  EXPECT_EQ(e.purge_dead_letters(), 2U);
  EXPECT_TRUE(e.dead_letters().empty());
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, AnOpenCircuitRefusesAtOnceThenHalfOpensAndCloses) {
  rt::EngineConfig c = small_config();
  c.task_types = {"task", "io"};
  c.breakers = {rt::BreakerConfig{.type = "io",
                                  .failure_threshold = 3,
                                  .window = 10 * hal::kNsPerSec,
                                  .cool_down = 50 * kMs,
                                  .half_open_trials = 1}};
  rt::Engine e(c);
  e.start();
  rt::Producer p = e.make_producer();
  const auto io = static_cast<rt::TypeId>(e.type_index("io"));
  std::atomic<bool> healthy{false};
  auto call = [&healthy] {
    if (!healthy.load()) throw std::runtime_error("io down");
  };
  rt::BreakerStats b;
  for (std::uint64_t i = 1; i <= 3; ++i) {
    rt::TaskId id;
    ASSERT_EQ(p.try_submit(call, {.type = io}, &id), SubmitStatus::Ok);
    // The breaker hears of a result after the task's state shows it, and counts a failure
    // just before it opens: wait for the breaker, and for the third, for it to open.
    ASSERT_TRUE(eventually(
        [&] { return e.breaker_stats(io, b) && b.failures == i && (i < 3 || b.state == rt::BreakerState::Open); }));
  }
  EXPECT_EQ(b.state, rt::BreakerState::Open);
  EXPECT_EQ(p.try_submit(call, {.type = io}), SubmitStatus::CircuitOpen);
  EXPECT_EQ(p.try_submit([] {}, {}), SubmitStatus::Ok);  // other types are not affected
  EXPECT_EQ(e.stats().circuit_open, 1U);
  EXPECT_FALSE(e.breaker_stats(0, b));  // "task" has no breaker
  // After the cool-down one trial is let through; its success closes the circuit.
  healthy = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  rt::TaskId trial;
  ASSERT_EQ(p.try_submit(call, {.type = io}, &trial), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return e.breaker_stats(io, b) && b.state == rt::BreakerState::Closed; }));
  EXPECT_TRUE(state_is(e, trial, State::Completed));
  const auto evs = testing_support::events_until(e, [](const std::vector<rt::Event>& all) {
    return testing_support::count_kind(all, rt::EventKind::CircuitClosed) >= 1 &&
           testing_support::count_kind(all, rt::EventKind::CircuitOpened) >= 1;
  });
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::CircuitOpened), 1U);
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::CircuitHalfOpen), 1U);
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::CircuitClosed), 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Resilience, BreakersNameTheirTypeInTheConfig) {
  rt::EngineConfig c = small_config();
  c.breakers = {rt::BreakerConfig{.type = "nope"}};
  EXPECT_THROW(rt::Engine{c}, std::invalid_argument);
  c.breakers = {rt::BreakerConfig{.type = "task"}, rt::BreakerConfig{.type = "task"}};
  EXPECT_THROW(rt::Engine{c}, std::invalid_argument);
}

// A cancel() of a running attempt is final: the attempt that then fails is not retried.
TEST(Resilience, ACancelledRunningAttemptIsNotRetried) {
  rt::Engine e(small_config());
  e.start();
  rt::Producer p = e.make_producer();
  std::atomic<int> runs{0};
  auto task = [&runs](rt::TaskContext& ctx) {
    runs.fetch_add(1);
    while (!ctx.stop_requested())
      std::this_thread::yield();
    throw std::runtime_error("stopped halfway");  // a failure: would be retried
  };
  rt::TaskId id;
  ASSERT_EQ(p.try_submit(task, {.retry = fixed(3, 1 * kMs)}, &id), SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return state_is(e, id, State::Running); }));
  EXPECT_EQ(e.cancel(id), rt::CancelResult::StopRequested);
  ASSERT_TRUE(eventually([&] { return settled(e, id); }));
  rt::TaskInfo info;
  ASSERT_TRUE(e.status(id, info));
  EXPECT_EQ(info.state, State::Cancelled);
  EXPECT_EQ(info.reason, rt::Reason::CancelledRunning);
  EXPECT_EQ(runs.load(), 1);
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.retries, 0U);
  EXPECT_EQ(r.stats.cancelled, 1U);
  EXPECT_EQ(r.stats.failed, 0U);
}

}  // namespace
