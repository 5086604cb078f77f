// F30: a restart loses no work. An engine stopped with queued, delayed and retry-waiting
// tasks records them; a new engine resubmits the journal, runs each queued one exactly
// once and holds the others at their remaining delay; both reports balance.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "engine_test_support.hpp"
#include "journal_test_support.hpp"
#include "rt/journal.hpp"

namespace {

using rt::JournalStatus;
using testing_support::eventually;
using testing_support::TempDir;

// What a stop records, and what a restart does with it.
constexpr int kJobs = 50;
constexpr int kDelayed = 3;
constexpr int kFlaky = 60;  // the retry-waiting task's number
constexpr hal::ns_t kHour = 3600 * hal::kNsPerSec;

struct Counts {
  std::array<std::atomic<int>, 64> n{};
};

rt::EngineConfig restart_config() {
  rt::EngineConfig cfg = testing_support::small_config(1);
  cfg.task_types = {"task", "job", "flaky"};
  cfg.gates = {"door"};
  return cfg;
}

rt::Context numbered(int n) {
  rt::Context c;
  c.user_id = 7;
  c.set_params(n);
  return c;
}

TEST(JournalRestart, RestartRunsEveryQueuedTaskExactlyOnce) {
  TempDir dir;
  const std::filesystem::path path = dir.path / "journal";
  Counts counts;
  auto count = [c = &counts](rt::TaskContext& ctx) { c->n[ctx.context().params_as<int>()].fetch_add(1); };
  const rt::RetryPolicy hourly{.strategy = rt::RetryStrategy::Fixed, .max_retries = 3, .initial_delay = kHour};
  std::vector<rt::UnrunTask> unrun;
  {
    rt::Engine engine(restart_config());
    engine.start();
    rt::Producer p = engine.make_producer();
    // A task that failed once and waits an hour for its retry.
    rt::TaskId flaky;
    ASSERT_EQ(p.try_submit([](rt::TaskContext&) { throw std::runtime_error("flaky"); },
                           {.type = 2, .retry = hourly, .context = numbered(kFlaky)}, &flaky),
              rt::SubmitStatus::Ok);
    ASSERT_TRUE(eventually([&] { return testing_support::state_is(engine, flaky, rt::State::Retrying); }));
    testing_support::Blocker blocker;  // the one worker, held: everything below stays queued
    ASSERT_TRUE(blocker.hold(p));
    for (int i = 0; i < kJobs; ++i) {
      rt::SubmitOptions o{.priority = static_cast<rt::Priority>(i % 5), .type = 1, .context = numbered(i)};
      if (i % 10 == 3) o.deadline_in = kHour;
      if (i % 10 == 4) o.gates = 1;
      ASSERT_EQ(p.try_submit(count, o), rt::SubmitStatus::Ok) << i;
    }
    for (int i = kJobs; i < kJobs + kDelayed; ++i)
      ASSERT_EQ(p.try_submit(count, {.type = 1, .start_in = kHour, .context = numbered(i)}), rt::SubmitStatus::Ok);
    // Not recorded: a workflow's task (it restarts with its workflow).
    ASSERT_EQ(p.try_submit(count, {.type = 1, .start_in = kHour, .workflow = 9, .context = numbered(63)}),
              rt::SubmitStatus::Ok);
    const rt::StopReport report = engine.stop(rt::StopMode::Cancel, &unrun);
    EXPECT_TRUE(report.balanced);
    EXPECT_GE(report.stats.cancelled, static_cast<std::uint64_t>(kJobs + kDelayed + 2));  // + flaky, workflow task
    ASSERT_EQ(unrun.size(), static_cast<std::size_t>(kJobs + kDelayed + 1));
    for (const rt::UnrunTask& t : unrun) {
      const int n = t.context.params_as<int>();
      EXPECT_EQ(t.context.user_id, 7U);
      if (n < kJobs) {
        EXPECT_EQ(t.was, rt::State::Ready) << n;
        EXPECT_EQ(t.type, 1);
        EXPECT_EQ(t.priority, static_cast<rt::Priority>(n % 5));
        EXPECT_EQ(t.start_in, 0);
        EXPECT_EQ(t.deadline_in, n % 10 == 3 ? kHour : 0) << n;
        EXPECT_EQ(t.gates, n % 10 == 4 ? 1U : 0U) << n;
        EXPECT_EQ(t.attempts, 0U);
      } else if (n < kJobs + kDelayed) {
        EXPECT_EQ(t.was, rt::State::Scheduled) << n;
        EXPECT_GT(t.start_in, kHour / 2);  // what is left of the hour: a slow machine took some
        EXPECT_LE(t.start_in, kHour);
      } else {
        ASSERT_EQ(n, kFlaky);
        EXPECT_EQ(t.was, rt::State::Retrying);
        EXPECT_EQ(t.type, 2);
        EXPECT_EQ(t.attempts, 1U);
        EXPECT_EQ(t.retry.max_retries, 3U);
        EXPECT_EQ(t.retry.initial_delay, kHour);
        EXPECT_GT(t.start_in, kHour / 2);  // the retry's own time, from the monitor
        EXPECT_LE(t.start_in, kHour);
      }
    }
    rt::write_journal(path, rt::to_journal(engine, unrun));
  }
  for (const auto& c : counts.n)
    ASSERT_EQ(c.load(), 0);  // nothing ran in the first engine

  const rt::JournalRead j = rt::read_journal(path);
  ASSERT_EQ(j.status, JournalStatus::Ok) << j.error;
  ASSERT_EQ(j.entries.size(), unrun.size());
  rt::Engine engine(restart_config());
  engine.start();
  rt::Producer p = engine.make_producer();
  rt::TaskFn handler;
  handler.emplace(count);
  const rt::ResubmitResult r = rt::resubmit(engine, p, j.entries, [&](std::string_view t) -> const rt::TaskFn* {
    return t == "job" || t == "flaky" ? &handler : nullptr;
  });
  EXPECT_EQ(r.submitted, j.entries.size());
  EXPECT_EQ(r.unknown_type + r.unknown_gate + r.refused, 0U);
  ASSERT_EQ(r.ids.size(), j.entries.size());
  ASSERT_TRUE(eventually([&] {
    for (int i = 0; i < kJobs; ++i) {
      if (counts.n[i].load() == 0) return false;
    }
    return true;
  }));
  // The delayed ones and the retry wait again for what was left of their time.
  for (std::size_t i = 0; i < j.entries.size(); ++i) {
    if (j.entries[i].start_in == 0) continue;
    rt::TaskInfo info;
    ASSERT_TRUE(engine.status(r.ids[i], info));
    EXPECT_EQ(info.state, rt::State::Scheduled);
    EXPECT_GT(info.start_at - hal::now_ns(), kHour / 4);
  }
  std::vector<rt::UnrunTask> again;
  const rt::StopReport report = engine.stop(rt::StopMode::Drain, &again);
  EXPECT_TRUE(report.balanced);
  EXPECT_EQ(report.stats.completed, static_cast<std::uint64_t>(kJobs));
  EXPECT_EQ(again.size(), static_cast<std::size_t>(kDelayed + 1));  // recorded again: still waiting
  for (const rt::UnrunTask& t : again) {
    if (t.context.params_as<int>() == kFlaky) {
      EXPECT_EQ(t.retry.max_retries, 2U);  // resubmitted with the retries it had left
      EXPECT_EQ(t.was, rt::State::Scheduled);
    }
  }
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(counts.n[i].load(), i < kJobs ? 1 : 0) << "task " << i;
}

TEST(JournalRestart, DrainStopRecordsOnlyWhatWaitsForItsTime) {
  rt::Engine engine(restart_config());
  engine.start();
  rt::Producer p = engine.make_producer();
  Counts counts;
  auto count = [c = &counts](rt::TaskContext& ctx) { c->n[ctx.context().params_as<int>()].fetch_add(1); };
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(p.try_submit(count, {.type = 1, .context = numbered(i)}), rt::SubmitStatus::Ok);
  ASSERT_EQ(p.try_submit(count, {.type = 1, .start_in = kHour, .context = numbered(20)}), rt::SubmitStatus::Ok);
  std::vector<rt::UnrunTask> unrun;
  const rt::StopReport report = engine.stop(rt::StopMode::Drain, &unrun);
  EXPECT_TRUE(report.balanced);
  EXPECT_EQ(report.stats.completed, 10U);
  ASSERT_EQ(unrun.size(), 1U);
  EXPECT_EQ(unrun[0].context.params_as<int>(), 20);
  EXPECT_EQ(unrun[0].was, rt::State::Scheduled);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(counts.n[i].load(), 1);
}

}  // namespace
