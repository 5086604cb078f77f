// F9: periodic tasks. Releases sit on an absolute grid (checked exactly through the
// release times the task sees), every grid point is accounted for (run or skipped),
// overrun policies, the three precision modes, runtime control. No timing assertions:
// a slow machine makes releases late, never different.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

using namespace std::chrono_literals;
using testing_support::eventually;
using testing_support::small_config;

namespace {

constexpr hal::ns_t kMs = hal::kNsPerMs;

// What the task saw of each release: its index and scheduled time.
struct Seen {
  std::mutex m;
  std::vector<std::uint64_t> index;
  std::vector<hal::ns_t> release;
  std::atomic<std::uint64_t> runs{0};
  std::atomic<std::uint64_t> early{0};  // ran before its release time: must stay 0

  void add(const rt::TaskContext& ctx) {
    if (hal::now_ns() < ctx.release()) early.fetch_add(1);
    std::lock_guard<std::mutex> g(m);
    index.push_back(ctx.release_index());
    release.push_back(ctx.release());
    runs.fetch_add(1);
  }
};

rt::EngineConfig dedicated_config() {
  rt::EngineConfig c = small_config(2);
  c.workers[0].classes = 0;  // worker 0 runs periodic tasks only
  return c;
}

// Stops a periodic task and waits until its worker has applied the stop.
bool stop_and_wait(rt::Engine& e, int id) {
  return e.stop_periodic(id) && eventually([&] { return e.periodic_stats(id).state == rt::PeriodicState::Stopped; });
}

void expect_on_grid(Seen& s, hal::ns_t period) {
  std::lock_guard<std::mutex> g(s.m);
  ASSERT_FALSE(s.release.empty());
  for (std::size_t i = 0; i < s.release.size(); ++i) {
    // No drift: release k is exactly first + k * period, whatever the wake-ups did.
    EXPECT_EQ(s.release[i] - s.release[0], static_cast<hal::ns_t>(s.index[i] - s.index[0]) * period) << i;
    if (i > 0) {
      EXPECT_GT(s.index[i], s.index[i - 1]);
    }
  }
}

}  // namespace

TEST(Periodic, ReleasesOnAnAbsoluteGridAndAccountsForEveryPoint) {
  for (rt::Precision mode : {rt::Precision::Sleep, rt::Precision::Hybrid, rt::Precision::Spin}) {
    SCOPED_TRACE(std::string(rt::to_string(mode)));
    rt::Engine e(dedicated_config());
    Seen seen;
    const int id = e.add_periodic(
        {.name = "loop", .period = 2 * kMs, .worker = 0, .precision = mode, .hybrid_margin = 200 * hal::kNsPerUs},
        [&](rt::TaskContext& ctx) { seen.add(ctx); });
    e.start();
    ASSERT_TRUE(e.start_periodic(id));
    ASSERT_TRUE(eventually([&] { return seen.runs.load() >= 30; }));
    ASSERT_TRUE(stop_and_wait(e, id));
    const rt::PeriodicStats s = e.periodic_stats(id);
    EXPECT_EQ(s.releases, s.runs + s.skipped);
    EXPECT_EQ(s.runs, seen.runs.load());
    EXPECT_EQ(s.jitter.count, s.runs);
    EXPECT_EQ(s.response.count, s.runs);
    EXPECT_EQ(seen.early.load(), 0U);  // never released early
    expect_on_grid(seen, 2 * kMs);
    EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  }
}

// No drift over 10^6 periods: a 1 us grid runs for a second or more (Skip drops what a
// run or a preemption makes it miss), and every release it ran, up to index 10^6 and
// beyond, sits exactly on first + k * period.
TEST(Periodic, NoDriftOverAMillionPeriods) {
  rt::Engine e(dedicated_config());
  constexpr hal::ns_t kPeriod = hal::kNsPerUs;
  std::atomic<std::uint64_t> last_index{0};
  std::atomic<std::uint64_t> off_grid{0}, runs{0};
  std::atomic<hal::ns_t> origin{-1};  // release - index * period, from the first run seen
  const int id = e.add_periodic(
      {.name = "fast", .period = kPeriod, .worker = 0, .precision = rt::Precision::Spin}, [&](rt::TaskContext& ctx) {
        const hal::ns_t o = ctx.release() - static_cast<hal::ns_t>(ctx.release_index()) * kPeriod;
        hal::ns_t expected = -1;
        if (!origin.compare_exchange_strong(expected, o) && expected != o) off_grid.fetch_add(1);
        last_index.store(ctx.release_index());
        runs.fetch_add(1);
      });
  e.start();
  ASSERT_TRUE(e.start_periodic(id));
  ASSERT_TRUE(eventually([&] { return last_index.load() >= 1'000'000; }, 120 * hal::kNsPerSec));
  ASSERT_TRUE(stop_and_wait(e, id));
  const rt::PeriodicStats s = e.periodic_stats(id);
  EXPECT_EQ(off_grid.load(), 0U);
  EXPECT_EQ(s.runs, runs.load());
  EXPECT_EQ(s.releases, s.runs + s.skipped);
  EXPECT_GE(s.releases, 1'000'000U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Periodic, PauseHoldsReleasesAndResumeStaysOnTheGrid) {
  rt::Engine e(dedicated_config());
  Seen seen;
  const int id =
      e.add_periodic({.name = "loop", .period = 2 * kMs, .worker = 0}, [&](rt::TaskContext& ctx) { seen.add(ctx); });
  e.start();
  EXPECT_FALSE(e.resume_periodic(id));  // stopped: resume is not start
  ASSERT_TRUE(e.start_periodic(id));
  ASSERT_TRUE(eventually([&] { return seen.runs.load() >= 5; }));
  ASSERT_TRUE(e.pause_periodic(id));
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(id).state == rt::PeriodicState::Paused; }));
  const auto paused_at = static_cast<std::size_t>(seen.runs.load());
  const std::uint64_t releases_at_pause = e.periodic_stats(id).releases;
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(seen.runs.load(), paused_at);
  EXPECT_EQ(e.periodic_stats(id).releases, releases_at_pause);  // paused time is not counted
  ASSERT_TRUE(e.resume_periodic(id));
  ASSERT_TRUE(eventually([&] { return seen.runs.load() >= paused_at + 5; }));
  expect_on_grid(seen, 2 * kMs);
  {
    std::lock_guard<std::mutex> g(seen.m);
    EXPECT_GE(seen.index[paused_at] - seen.index[paused_at - 1], 10U);  // ~15 points passed while paused
  }
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

namespace {

// Run 3 takes 2.5 periods; everything else is instant.
void overrun_once(rt::Overrun policy, rt::PeriodicStats& out, Seen& seen, bool& restored) {
  rt::Engine e(dedicated_config());
  static rt::Snapshotted<int> counter;
  counter.value = 0;
  // Long enough that no release of a loaded CI machine is late by a whole period: the
  // only overrun is the one the task makes.
  const hal::ns_t period = 40 * kMs;
  const int id =
      e.add_periodic({.name = "loop", .period = period, .worker = 0, .overrun = policy, .state = counter.binding()},
                     [&](rt::TaskContext& ctx) {
                       seen.add(ctx);
                       ++counter.value;
                       if (ctx.release_index() == 3) {
                         const hal::ns_t until = ctx.release() + period * 5 / 2;
                         while (hal::now_ns() < until) {
                         }
                       }
                     });
  e.start();
  ASSERT_TRUE(e.start_periodic(id));
  ASSERT_TRUE(eventually([&] {
    const rt::PeriodicStats s = e.periodic_stats(id);
    return s.runs >= 7 || s.state == rt::PeriodicState::Paused;
  }));
  ASSERT_TRUE(stop_and_wait(e, id));
  out = e.periodic_stats(id);
  restored = static_cast<std::uint64_t>(counter.value) + 1 == out.runs;  // the late run's +1 rolled back
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace

TEST(Periodic, SkipDropsTheReleasesThatPassed) {
  rt::PeriodicStats s;
  Seen seen;
  bool restored = false;
  overrun_once(rt::Overrun::Skip, s, seen, restored);
  EXPECT_GE(s.overruns, 1U);
  EXPECT_GE(s.skipped, 1U);
  EXPECT_EQ(s.releases, s.runs + s.skipped);
  EXPECT_GE(s.deadline_misses, 1U);  // the deadline is the period
  EXPECT_GE(s.rollbacks, 1U);        // a missed run is rolled back whatever the policy
  expect_on_grid(seen, 40 * kMs);
}

TEST(Periodic, CatchUpRunsEveryRelease) {
  rt::PeriodicStats s;
  Seen seen;
  bool restored = false;
  overrun_once(rt::Overrun::CatchUp, s, seen, restored);
  EXPECT_GE(s.overruns, 1U);
  EXPECT_EQ(s.releases, s.runs + s.skipped);
  std::lock_guard<std::mutex> g(seen.m);
  for (std::size_t i = 0; i < seen.index.size(); ++i)
    EXPECT_EQ(seen.index[i], i);  // 0, 1, 2, ... none missing
}

TEST(Periodic, RollbackAndHoldRestoresAndPauses) {
  rt::PeriodicStats s;
  Seen seen;
  bool restored = false;
  overrun_once(rt::Overrun::RollbackAndHold, s, seen, restored);
  EXPECT_EQ(s.overruns, 1U);
  EXPECT_EQ(s.rollbacks, 1U);
  EXPECT_EQ(s.state, rt::PeriodicState::Stopped);  // held, then stopped by the test
  EXPECT_TRUE(restored);                           // every run counted but the held one
}

TEST(Periodic, MonitorCatchesAMissedRunAndItsStateIsRestored) {
  rt::Engine e(dedicated_config());
  static rt::Snapshotted<int> v;
  v.value = 5;
  std::atomic<bool> saw_stop{false};
  const int id =
      e.add_periodic({.name = "loop", .period = 60 * kMs, .deadline = 25 * kMs, .worker = 0, .state = v.binding()},
                     [&](rt::TaskContext& ctx) {
                       if (ctx.release_index() != 2) return;
                       v.value = -1;
                       const hal::ns_t until = hal::now_ns() + 10 * hal::kNsPerSec;
                       while (!ctx.stop_requested() && hal::now_ns() < until) {
                       }
                       saw_stop.store(ctx.stop_requested());
                     });
  e.start();
  ASSERT_TRUE(e.start_periodic(id));
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(id).runs >= 5; }));
  ASSERT_TRUE(stop_and_wait(e, id));
  const rt::PeriodicStats s = e.periodic_stats(id);
  EXPECT_TRUE(saw_stop.load());  // only the monitor sets it
  // At least the one the task made (a loaded machine may add a late start).
  EXPECT_GE(s.deadline_misses, 1U);
  EXPECT_GE(s.rollbacks, 1U);
  EXPECT_EQ(v.value, 5);
  EXPECT_GE(e.stats().detected_by_monitor, 1U);
  EXPECT_EQ(e.detection_latency().count(), e.stats().detected_by_monitor);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Periodic, StartedBeforeTheEngineBeginsItsGridAtTheEngineStart) {
  rt::Engine e(dedicated_config());
  Seen seen;
  const int id =
      e.add_periodic({.name = "loop", .period = 10 * kMs, .worker = 0}, [&](rt::TaskContext& ctx) { seen.add(ctx); });
  ASSERT_TRUE(e.start_periodic(id));  // asked for before start(): no backlog from this moment
  std::this_thread::sleep_for(50ms);
  const hal::ns_t started = hal::now_ns();
  e.start();
  ASSERT_TRUE(eventually([&] { return seen.runs.load() >= 3; }));
  {
    std::lock_guard<std::mutex> g(seen.m);
    EXPECT_EQ(seen.index.front(), 0U);
    EXPECT_GE(seen.release.front(), started);
  }
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Periodic, StopThenStartBeginsANewGrid) {
  rt::Engine e(dedicated_config());
  Seen seen;
  const int id = e.add_periodic({.name = "loop", .period = 2 * kMs, .phase = 3 * kMs, .worker = 0},
                                [&](rt::TaskContext& ctx) { seen.add(ctx); });
  e.start();
  ASSERT_TRUE(e.start_periodic(id));
  ASSERT_TRUE(eventually([&] { return seen.runs.load() >= 3; }));
  ASSERT_TRUE(stop_and_wait(e, id));
  EXPECT_FALSE(e.pause_periodic(id));  // nothing to pause
  const auto before = static_cast<std::size_t>(seen.runs.load());
  const hal::ns_t restart = hal::now_ns();
  ASSERT_TRUE(e.start_periodic(id));
  ASSERT_TRUE(eventually([&] { return seen.runs.load() >= before + 2; }));
  std::lock_guard<std::mutex> g(seen.m);
  EXPECT_EQ(seen.index[before], 0U);                   // the index starts again
  EXPECT_GE(seen.release[before], restart + 3 * kMs);  // at the new start + phase
  EXPECT_EQ(seen.early.load(), 0U);
}

TEST(Periodic, SharesItsWorkerWithQueuedTasks) {
  rt::Engine e(small_config(1));
  Seen seen;
  const int id = e.add_periodic({.name = "loop", .period = 2 * kMs}, [&](rt::TaskContext& ctx) { seen.add(ctx); });
  e.start();
  ASSERT_TRUE(e.start_periodic(id));
  rt::Producer p = e.make_producer();
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.try_submit([&] { ran.fetch_add(1); }), rt::SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return ran.load() == 100 && seen.runs.load() >= 10; }));
  expect_on_grid(seen, 2 * kMs);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Periodic, SpecErrorsNameTheField) {
  rt::Engine e(dedicated_config());
  auto err = [&](const rt::PeriodicSpec& s) -> std::string {
    try {
      e.add_periodic(s, [] {});
    } catch (const std::exception& ex) {
      return ex.what();
    }
    return "";
  };
  EXPECT_NE(err({.name = "a", .period = 0}).find("period"), std::string::npos);
  EXPECT_NE(err({.name = "a", .period = kMs, .deadline = 2 * kMs}).find("deadline"), std::string::npos);
  EXPECT_NE(err({.name = "a", .period = kMs, .worker = 7}).find("worker 7"), std::string::npos);
  EXPECT_NE(
      err({.name = "a", .period = kMs, .precision = rt::Precision::Hybrid, .hybrid_margin = kMs}).find("hybrid_margin"),
      std::string::npos);
  EXPECT_NE(err({.name = "", .period = kMs}).find("name"), std::string::npos);
  e.add_periodic({.name = "a", .period = kMs}, [] {});
  EXPECT_NE(err({.name = "a", .period = kMs}).find("already"), std::string::npos);
  EXPECT_EQ(e.periodic_index("a"), 0);
  EXPECT_EQ(e.periodic_count(), 1U);
  EXPECT_FALSE(e.start_periodic(5));
}
