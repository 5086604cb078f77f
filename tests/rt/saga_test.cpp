// F16: a saga runs its steps in order and, after a failure or a stop, compensates the
// steps that took effect in reverse order, reporting each result. run() is called
// directly here with a TaskContext of the test's own; the engine glue has its own tests.
// That a run allocates nothing is checked by the engine's no-alloc test.
#include "rt/saga.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using rt::Reason;
using rt::SagaOutcome;
using rt::StepOutcome;
using Kind = rt::SagaError::Kind;

// The order handlers ran in: +k for action k, -k for compensation k. Fixed storage, so
// the handlers (trivially copyable lambdas) capture a pointer to it.
struct Log {
  std::array<int, 64> seq{};
  std::size_t n = 0;
  void add(int v) {
    if (n < seq.size()) seq[n++] = v;
  }
  [[nodiscard]] std::vector<int> entries() const { return {seq.begin(), seq.begin() + static_cast<std::ptrdiff_t>(n)}; }
};

class Saga : public ::testing::Test {
 protected:
  Saga() {
    for (int k = 1; k <= 4; ++k) {
      ok("do" + std::to_string(k), k);
      ok("undo" + std::to_string(k), -k);
    }
  }

  void ok(std::string type, int code) {
    reg.add(std::move(type), [l = &log, code] { l->add(code); });
  }
  void fail(std::string type, int code, const char* what) {
    reg.add(std::move(type), [l = &log, code, what] {
      l->add(code);
      throw std::runtime_error(what);
    });
  }

  // do1/undo1 ... do<n>/undo<n>.
  [[nodiscard]] static rt::SagaBuilder steps(int n) {
    rt::SagaBuilder b("order");
    for (int k = 1; k <= n; ++k) {
      const auto s = std::to_string(k);
      b.step("s" + s, "do" + s, "undo" + s);
    }
    return b;
  }

  [[nodiscard]] std::vector<rt::SagaError> problems(const rt::SagaSpec& s) const {
    return rt::check(s, [this](std::string_view t) { return reg.contains(t); });
  }

  Log log;
  rt::HandlerRegistry reg;
  std::atomic<std::uint64_t> stop{0};
  rt::Context c;
  rt::TaskContext ctx{rt::TaskId{1, 1}, stop, 1, c, 0, 0};
};

std::vector<StepOutcome> outcomes(const rt::SagaResult& r) {
  std::vector<StepOutcome> v;
  v.reserve(r.steps.size());
  for (const auto& s : r.steps)
    v.push_back(s.outcome);
  return v;
}

std::vector<std::string> messages(const std::vector<rt::SagaError>& errors) {
  std::vector<std::string> v;
  v.reserve(errors.size());
  for (const auto& e : errors)
    v.emplace_back(e.what());
  return v;
}

TEST_F(Saga, AllStepsCompleteInOrder) {
  rt::SagaRun saga(steps(3).build(), reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Completed);
  EXPECT_EQ(log.entries(), (std::vector<int>{1, 2, 3}));

  const rt::SagaStats st = saga.stats();
  EXPECT_EQ(st.name, "order");
  EXPECT_FALSE(st.running);  // run() gave the claim back
  EXPECT_EQ(st.runs, 1U);
  EXPECT_EQ(st.completed, 1U);
  EXPECT_EQ(st.last.outcome, SagaOutcome::Completed);
  EXPECT_EQ(st.last.failed_step, -1);
  EXPECT_EQ(st.last.reason, Reason::None);
  EXPECT_EQ(outcomes(st.last), (std::vector{StepOutcome::Completed, StepOutcome::Completed, StepOutcome::Completed}));
  ASSERT_EQ(st.last.steps.size(), 3U);
  EXPECT_EQ(st.last.steps[1].name, "s2");
  EXPECT_GE(st.last.steps[1].duration, 0);
  EXPECT_GE(st.last.duration, st.last.steps[0].duration + st.last.steps[1].duration + st.last.steps[2].duration);
}

TEST_F(Saga, FailedStepCompensatesCompletedStepsInReverse) {
  fail("boom", 3, "disk full");
  rt::SagaRun saga(rt::SagaBuilder("pay")
                       .step("s1", "do1", "undo1")
                       .step("s2", "do2", "undo2")
                       .step("s3", "boom", "undo3")
                       .step("s4", "do4", "undo4")
                       .build(),
                   reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Compensated);
  // The failed step is not compensated: its action did not finish.
  EXPECT_EQ(log.entries(), (std::vector<int>{1, 2, 3, -2, -1}));

  const rt::SagaResult r = saga.stats().last;
  EXPECT_EQ(r.outcome, SagaOutcome::Compensated);
  EXPECT_EQ(r.failed_step, 2);
  EXPECT_EQ(r.failed_step_name, "s3");
  EXPECT_EQ(r.reason, Reason::Exception);
  EXPECT_EQ(r.error, "disk full");
  EXPECT_EQ(outcomes(r), (std::vector{StepOutcome::Compensated, StepOutcome::Compensated, StepOutcome::Failed,
                                      StepOutcome::NotRun}));
  EXPECT_EQ(r.steps[2].reason, Reason::Exception);
  EXPECT_EQ(r.steps[2].error, "disk full");
  EXPECT_EQ(r.steps[0].reason, Reason::None);
  EXPECT_TRUE(r.steps[0].error.empty());
  EXPECT_EQ(r.steps[3].duration, 0);
  EXPECT_EQ(r.steps[3].compensation_duration, 0);
}

TEST_F(Saga, FailingCompensationIsReportedAndTheRestStillRun) {
  fail("boom", 4, "timeout talking to bank");
  fail("undo2_fails", -2, "ledger locked");
  rt::SagaRun saga(rt::SagaBuilder("pay")
                       .step("s1", "do1", "undo1")
                       .step("s2", "do2", "undo2_fails")
                       .step("s3", "do3", "undo3")
                       .step("s4", "boom", "undo4")
                       .build(),
                   reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::CompensationFailed);
  EXPECT_EQ(log.entries(), (std::vector<int>{1, 2, 3, 4, -3, -2, -1}));

  const rt::SagaStats st = saga.stats();
  EXPECT_EQ(st.compensation_failed, 1U);
  const rt::SagaResult& r = st.last;
  EXPECT_EQ(r.failed_step, 3);
  EXPECT_EQ(r.error, "timeout talking to bank");
  EXPECT_EQ(outcomes(r), (std::vector{StepOutcome::Compensated, StepOutcome::CompensationFailed,
                                      StepOutcome::Compensated, StepOutcome::Failed}));
  EXPECT_EQ(r.steps[1].compensation_error, "ledger locked");
  EXPECT_TRUE(r.steps[1].error.empty());
  EXPECT_EQ(r.steps[1].reason, Reason::None);  // its action did not fail
}

TEST_F(Saga, StepWithoutCompensationIsSkipped) {
  fail("boom", 3, "no");
  rt::SagaRun saga(
      rt::SagaBuilder("s").step("s1", "do1", "undo1").step("s2", "do2").step("s3", "boom", "undo3").build(), reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Compensated);
  EXPECT_EQ(log.entries(), (std::vector<int>{1, 2, 3, -1}));
  EXPECT_EQ(outcomes(saga.stats().last),
            (std::vector{StepOutcome::Compensated, StepOutcome::Skipped, StepOutcome::Failed}));
}

TEST_F(Saga, StepOverBudgetFailsWithDeadlineMissedAndIsCompensated) {
  reg.add("slow", [l = &log] {
    l->add(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  });
  rt::SagaRun saga(rt::SagaBuilder("s")
                       .step("s1", "do1", "undo1")
                       .step_deadline(10 * hal::kNsPerSec)
                       .step("s2", "slow", "undo2")
                       .step_deadline(100 * hal::kNsPerUs)
                       .step("s3", "do3", "undo3")
                       .build(),
                   reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Compensated);
  // s2's action returned, so it took effect: it is undone first.
  EXPECT_EQ(log.entries(), (std::vector<int>{1, 2, -2, -1}));

  const rt::SagaResult r = saga.stats().last;
  EXPECT_EQ(r.failed_step, 1);
  EXPECT_EQ(r.failed_step_name, "s2");
  EXPECT_EQ(r.reason, Reason::DeadlineMissed);
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(outcomes(r), (std::vector{StepOutcome::Compensated, StepOutcome::Compensated, StepOutcome::NotRun}));
  EXPECT_EQ(r.steps[1].reason, Reason::DeadlineMissed);
  EXPECT_GE(r.steps[1].duration, 2 * hal::kNsPerMs);
  EXPECT_EQ(r.steps[0].reason, Reason::None);
}

TEST_F(Saga, StopBeforeAStepCompensatesWhatRan) {
  reg.add("do1_then_cancel", [l = &log, s = &stop] {
    l->add(1);
    s->store(1);  // the token ctx was made with: as cancel() would
  });
  rt::SagaRun saga(
      rt::SagaBuilder("s").step("s1", "do1_then_cancel", "undo1").step("s2", "do2", "undo2").step("s3", "do3").build(),
      reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Stopped);
  // The compensation ran although stop was still requested.
  EXPECT_EQ(log.entries(), (std::vector<int>{1, -1}));

  const rt::SagaStats st = saga.stats();
  EXPECT_EQ(st.stopped, 1U);
  EXPECT_EQ(st.last.failed_step, 1);  // the step the stop came before
  EXPECT_EQ(st.last.failed_step_name, "s2");
  EXPECT_EQ(st.last.reason, Reason::CancelledRunning);
  EXPECT_EQ(outcomes(st.last), (std::vector{StepOutcome::Compensated, StepOutcome::NotRun, StepOutcome::NotRun}));
}

TEST_F(Saga, StopAfterTheTaskDeadlineIsDeadlineMissed) {
  rt::TaskContext late_ctx(rt::TaskId{1, 1}, stop, 1, c, 0, /*deadline=*/1);  // long past
  stop.store(1);
  rt::SagaRun saga(steps(2).build(), reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(late_ctx), SagaOutcome::Stopped);
  EXPECT_TRUE(log.entries().empty());
  const rt::SagaResult r = saga.stats().last;
  EXPECT_EQ(r.failed_step, 0);
  EXPECT_EQ(r.reason, Reason::DeadlineMissed);
  EXPECT_EQ(outcomes(r), (std::vector{StepOutcome::NotRun, StepOutcome::NotRun}));
}

TEST_F(Saga, FailedCompensationOutranksStopped) {
  reg.add("do2_then_cancel", [l = &log, s = &stop] {
    l->add(2);
    s->store(1);
  });
  fail("undo1_fails", -1, "gone");
  rt::SagaRun saga(rt::SagaBuilder("s")
                       .step("s1", "do1", "undo1_fails")
                       .step("s2", "do2_then_cancel", "undo2")
                       .step("s3", "do3")
                       .build(),
                   reg);
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::CompensationFailed);
  EXPECT_EQ(log.entries(), (std::vector<int>{1, 2, -2, -1}));
  const rt::SagaStats st = saga.stats();
  EXPECT_EQ(st.stopped, 0U);
  EXPECT_EQ(st.compensation_failed, 1U);
  EXPECT_EQ(st.last.reason, Reason::CancelledRunning);
  EXPECT_EQ(st.last.failed_step, 2);
}

TEST_F(Saga, ClaimIsExclusiveAndCountsBusy) {
  rt::SagaRun saga(steps(1).build(), reg);
  EXPECT_TRUE(saga.try_claim());
  EXPECT_FALSE(saga.try_claim());
  EXPECT_FALSE(saga.try_claim());
  rt::SagaStats st = saga.stats();
  EXPECT_TRUE(st.running);
  EXPECT_EQ(st.busy, 2U);
  EXPECT_EQ(st.runs, 0U);

  saga.release_claim();  // the engine refused the task
  EXPECT_FALSE(saga.stats().running);
  EXPECT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Completed);
  EXPECT_TRUE(saga.try_claim());  // run() released it
  saga.release_claim();
  st = saga.stats();
  EXPECT_EQ(st.busy, 2U);
  EXPECT_EQ(st.runs, 1U);
}

TEST_F(Saga, ErrorTextIsCutToItsBuffer) {
  static const std::string long_text(300, 'x');
  fail("long", 1, long_text.c_str());
  reg.add("weird", [] { throw 42; });
  rt::SagaRun a(rt::SagaBuilder("a").step("s1", "long").build(), reg);
  ASSERT_TRUE(a.try_claim());
  EXPECT_EQ(a.run(ctx), SagaOutcome::Compensated);
  EXPECT_EQ(a.stats().last.error, std::string(rt::kSagaErrorCapacity - 1, 'x'));

  rt::SagaRun b(rt::SagaBuilder("b").step("s1", "weird").build(), reg);
  ASSERT_TRUE(b.try_claim());
  EXPECT_EQ(b.run(ctx), SagaOutcome::Compensated);
  EXPECT_EQ(b.stats().last.error, "an exception not derived from std::exception");
}

TEST_F(Saga, HandlersAreCopiedOutOfTheRegistry) {
  std::optional<rt::SagaRun> saga;
  {
    rt::HandlerRegistry own;
    own.add("a", [l = &log] { l->add(7); });
    saga.emplace(rt::SagaBuilder("s").step("s1", "a").build(), own);
  }
  ASSERT_TRUE(saga->try_claim());
  EXPECT_EQ(saga->run(ctx), SagaOutcome::Completed);
  EXPECT_EQ(log.entries(), (std::vector<int>{7}));
}

TEST_F(Saga, StatsReflectTheLastRunAndTheCounters) {
  std::atomic<bool> fail_now{false};
  reg.add("flaky", [f = &fail_now] {
    if (f->load()) throw std::runtime_error("flaked");
  });
  rt::SagaRun saga(rt::SagaBuilder("s").step("s1", "do1", "undo1").step("s2", "flaky").build(), reg);
  EXPECT_EQ(saga.stats().last.failed_step, -1);  // no run yet: every step NotRun
  EXPECT_EQ(outcomes(saga.stats().last), (std::vector{StepOutcome::NotRun, StepOutcome::NotRun}));

  const std::array<bool, 5> fails{false, true, true, false, true};
  for (const bool f : fails) {
    fail_now = f;
    ASSERT_TRUE(saga.try_claim());
    EXPECT_EQ(saga.run(ctx), f ? SagaOutcome::Compensated : SagaOutcome::Completed);
  }
  rt::SagaStats st = saga.stats();
  EXPECT_EQ(st.runs, 5U);
  EXPECT_EQ(st.completed, 2U);
  EXPECT_EQ(st.compensated, 3U);
  EXPECT_EQ(st.compensation_failed, 0U);
  EXPECT_EQ(st.stopped, 0U);
  EXPECT_EQ(st.last.outcome, SagaOutcome::Compensated);
  EXPECT_EQ(st.last.error, "flaked");

  // A completed run leaves nothing of the failure before it.
  fail_now = false;
  ASSERT_TRUE(saga.try_claim());
  EXPECT_EQ(saga.run(ctx), SagaOutcome::Completed);
  st = saga.stats();
  EXPECT_EQ(st.last.failed_step, -1);
  EXPECT_TRUE(st.last.failed_step_name.empty());
  EXPECT_TRUE(st.last.error.empty());
  EXPECT_EQ(st.last.reason, Reason::None);
  EXPECT_EQ(outcomes(st.last), (std::vector{StepOutcome::Completed, StepOutcome::Completed}));
  EXPECT_TRUE(st.last.steps[1].error.empty());
}

// --- validation ---

TEST_F(Saga, CheckReportsEveryProblem) {
  const rt::SagaSpec s = rt::SagaBuilder("pay")
                             .step("a", "do1", "undo1")
                             .step("a", "do2")
                             .step("b", "nope", "undo2")
                             .step("c", "do3", "gone")
                             .build();
  const auto errors = problems(s);
  EXPECT_EQ(messages(errors), (std::vector<std::string>{
                                  "saga 'pay': duplicate step name 'a'",
                                  "saga 'pay': step 'b' has action 'nope' with no handler",
                                  "saga 'pay': step 'c' has compensation 'gone' with no handler",
                              }));
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_EQ(errors[0].kind(), Kind::DuplicateStep);
  EXPECT_EQ(errors[1].kind(), Kind::NoHandler);
  EXPECT_EQ(errors[2].kind(), Kind::NoHandler);

  try {
    rt::validate(s, [this](std::string_view t) { return reg.contains(t); });
    ADD_FAILURE() << "validate() accepted it";
  } catch (const rt::SagaError& e) {
    EXPECT_STREQ(e.what(), "saga 'pay': duplicate step name 'a'");
  }
  EXPECT_THROW(rt::SagaRun(s, reg), rt::SagaError);
  EXPECT_TRUE(problems(steps(4).build()).empty());
}

TEST_F(Saga, CheckNamesAnEmptySaga) {
  const auto errors = problems(rt::SagaBuilder("S").build());
  EXPECT_EQ(messages(errors), (std::vector<std::string>{"saga 'S': no steps"}));
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].kind(), Kind::Empty);
}

TEST_F(Saga, CheckNamesInvalidFields) {
  rt::SagaSpec s = rt::SagaBuilder("").step("", "do1").step("x", "").step_deadline(-1).deadline(-5).build();
  s.priority = static_cast<rt::Priority>(9);
  EXPECT_EQ(messages(problems(s)), (std::vector<std::string>{
                                       "saga '': the saga has no name",
                                       "saga '': negative deadline_in",
                                       "saga '': priority is not a class",
                                       "saga '': step #0 has an empty name",
                                       "saga '': step 'x' has no action",
                                       "saga '': step 'x' has a negative deadline_in",
                                   }));
  for (const auto& e : problems(s))
    EXPECT_EQ(e.kind(), Kind::Invalid) << e.what();
}

TEST_F(Saga, CheckCapsTheStepCount) {
  rt::SagaBuilder b("big");
  for (std::size_t i = 0; i < rt::kMaxSagaSteps; ++i)
    b.step("s" + std::to_string(i), "do1");
  EXPECT_TRUE(problems(b.build()).empty());
  b.step("one_more", "do1");
  EXPECT_EQ(messages(problems(b.build())),
            (std::vector<std::string>{"saga 'big': 256 steps, more than the 255 a saga may have"}));
}

TEST_F(Saga, BuilderSetsEveryField) {
  EXPECT_THROW(rt::SagaBuilder("s").step_deadline(1), rt::SagaError);
  const rt::SagaSpec s = rt::SagaBuilder("s")
                             .step("a", "do1", "undo1")
                             .step_deadline(5)
                             .step("b", "do2")
                             .deadline(100)
                             .priority(rt::Priority::High)
                             .build();
  EXPECT_EQ(s.name, "s");
  ASSERT_EQ(s.steps.size(), 2U);
  EXPECT_EQ(s.steps[0].compensation, "undo1");
  EXPECT_EQ(s.steps[0].deadline_in, 5);
  EXPECT_TRUE(s.steps[1].compensation.empty());
  EXPECT_EQ(s.steps[1].deadline_in, 0);
  EXPECT_EQ(s.deadline_in, 100);
  EXPECT_EQ(s.priority, rt::Priority::High);
  rt::SagaRun saga(s, reg);
  EXPECT_EQ(saga.spec().steps[1].name, "b");
}

TEST_F(Saga, NamesAreSnakeCase) {
  EXPECT_EQ(rt::to_string(StepOutcome::NotRun), "not_run");
  EXPECT_EQ(rt::to_string(StepOutcome::CompensationFailed), "compensation_failed");
  EXPECT_EQ(rt::to_string(StepOutcome::Skipped), "skipped");
  EXPECT_EQ(rt::to_string(SagaOutcome::Compensated), "compensated");
  EXPECT_EQ(rt::to_string(SagaOutcome::Stopped), "stopped");
  EXPECT_EQ(rt::to_string(Kind::DuplicateStep), "duplicate_step");
}

// --- threads ---

// A reader never sees half of a run: each snapshot's steps agree with its outcome, and
// its counters with each other.
TEST_F(Saga, StatsSnapshotsAreConsistentWhileRunsEnd) {
  std::atomic<std::uint32_t> calls{0};
  reg.add("odd_fails", [n = &calls] {
    if (n->fetch_add(1) % 2 == 1) throw std::runtime_error("odd");
  });
  // Many steps: a longer publish, so the reader lands inside one more often.
  constexpr std::size_t kSteps = 32;
  rt::SagaBuilder b("s");
  b.step("s1", "do1", "undo1").step("s2", "odd_fails");
  for (std::size_t k = 3; k <= kSteps; ++k)
    b.step("s" + std::to_string(k), "do2");
  rt::SagaRun saga(b.build(), reg);
  constexpr int kRuns = 20000;
  std::atomic<bool> done{false};
  std::thread runner([&] {
    std::atomic<std::uint64_t> no_stop{0};
    const rt::Context cx;
    rt::TaskContext tc(rt::TaskId{1, 1}, no_stop, 1, cx, 0, 0);
    for (int i = 0; i < kRuns; ++i) {
      if (saga.try_claim()) (void)saga.run(tc);
    }
    done = true;
  });
  const std::vector completed(kSteps, StepOutcome::Completed);
  std::vector compensated(kSteps, StepOutcome::NotRun);
  compensated[0] = StepOutcome::Compensated;
  compensated[1] = StepOutcome::Failed;
  std::uint64_t snapshots = 0;
  // EXPECT and break, not ASSERT: returning here would leave the runner joinable.
  while (!done && !HasFailure()) {
    const rt::SagaStats st = saga.stats();
    const std::uint64_t ended = st.completed + st.compensated + st.compensation_failed + st.stopped;
    EXPECT_TRUE(st.runs == ended || st.runs == ended + 1) << st.runs << " " << ended;
    EXPECT_LE(st.completed - st.compensated, 1U);  // they alternate, completed first
    if (ended == 0) continue;
    ++snapshots;
    if (st.last.outcome == SagaOutcome::Completed) {
      EXPECT_EQ(outcomes(st.last), completed);
      EXPECT_EQ(st.last.failed_step, -1);
      EXPECT_EQ(st.completed, st.compensated + 1);
    } else {
      EXPECT_EQ(st.last.outcome, SagaOutcome::Compensated);
      EXPECT_EQ(outcomes(st.last), compensated);
      EXPECT_EQ(st.last.error, "odd");
      EXPECT_EQ(st.completed, st.compensated);
    }
  }
  runner.join();
  const rt::SagaStats st = saga.stats();
  EXPECT_EQ(st.runs, static_cast<std::uint64_t>(kRuns));
  EXPECT_EQ(st.completed, kRuns / 2U);
  EXPECT_GT(snapshots, 0U);
}

// Of threads racing for one claim, exactly one wins; the others count as busy.
TEST_F(Saga, OneOfManyClaimersWins) {
  rt::SagaRun saga(steps(1).build(), reg);
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> ready{0};
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        ready.fetch_add(1);
        while (ready.load() < kThreads)
          std::this_thread::yield();
        if (saga.try_claim()) won.fetch_add(1);
      });
    }
    for (auto& t : threads)
      t.join();
    ASSERT_EQ(won.load(), 1) << "round " << round;
    saga.release_claim();
  }
  EXPECT_EQ(saga.stats().busy, static_cast<std::uint64_t>(kRounds) * (kThreads - 1));
}

}  // namespace
