// P7: a worker that runs a periodic graph's nodes wakes for its releases by its own timer
// (worker_loop.cpp, next_feed) and waits awake for the run's start, so the start does
// not wait for a futex wake-up after the releasing worker's own timer wake-up. Counted
// per worker: WorkerStats::prewakes (its own timer ended a sleep ahead of a release) and
// feeds_met (the start, or other work, came while it waited awake).
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "rt/graph.hpp"
#include "rt/workflow.hpp"

namespace {

using testing_support::eventually;
using testing_support::small_config;
constexpr hal::ns_t kMs = hal::kNsPerMs;
constexpr hal::ns_t kUs = hal::kNsPerUs;

std::atomic<std::uint64_t> g_nodes{0};

rt::HandlerRegistry handlers() {
  rt::HandlerRegistry h;
  h.add("count", [] { g_nodes.fetch_add(1); });
  return h;
}

// A worker waits for another's releases only when both are pinned to different CPUs.
bool two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

// Worker 0 releases (no classes, CPU 0), worker 1 runs the nodes (CPU 1), worker 2 serves
// no class of the graph's (or, `both`, every class too, on CPU 1 as well). `pin` false:
// none is pinned.
rt::EngineConfig three_workers(bool both = false, bool pin = true) {
  rt::EngineConfig c = small_config(3);
  c.workers[0].classes = 0;
  c.workers[1].classes = rt::kAllClasses;
  c.workers[2].classes = both ? rt::kAllClasses : 1U << static_cast<unsigned>(rt::Priority::Low);
  if (pin) {
    c.workers[0].cpu = 0;
    c.workers[1].cpu = 1;
    c.workers[2].cpu = both ? 1 : 0;
  }
  return c;
}

rt::GraphSpec frame() {
  return rt::GraphBuilder("frame")
      .node("sense", "count")
      .node("control", "count", {"sense"})
      .priority(rt::Priority::Critical)
      .build();
}

// A hybrid loop releasing graph `g` every 4 ms on worker 0, its spin from 2 ms before.
int hybrid_frame_loop(rt::Engine& e, int g) {
  return e.add_periodic_graph({.name = "frame-loop",
                               .period = 4 * kMs,
                               .worker = 0,
                               .precision = rt::Precision::Hybrid,
                               .hybrid_margin = 2 * kMs},
                              g);
}

rt::WorkerStats worker(const rt::Engine& e, std::size_t i) { return e.stats().workers.at(i); }

// Runs `loop` until `frames` runs completed and worker 1 met a release (when `met`: on a
// loaded machine the first ones may all be late), then stops it and waits until it stopped.
void run_frames(rt::Engine& e, int g, int loop, std::uint64_t frames, bool met = false) {
  ASSERT_TRUE(e.start_periodic(loop));
  ASSERT_TRUE(eventually([&] {
    const rt::WorkerStats w1 = e.stats().workers.at(1);
    return e.graph_stats(g).completed_runs >= frames && (!met || (w1.prewakes > 0 && w1.feeds_met > 0));
  }));
  ASSERT_TRUE(e.stop_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(loop).state == rt::PeriodicState::Stopped; }));
  ASSERT_TRUE(eventually([&] { return !e.graph_stats(g).running; }));
}

// A hybrid loop releases on time (its worker spins from its margin); the nodes' worker
// wakes its lead ahead by its own timer and takes the run's start while it waits. A
// wake-up later than the lead, or a release held up, is met by a futex wake-up instead
// (counted in neither): on a loaded VM or under an emulator most may be, so: some.
// Stopped, the loop publishes no release and the wake-ups stop.
TEST(Prewake, TheNodesWorkerWakesByItselfAndMeetsEachReleaseOfAHybridLoop) {
  if (!two_cpus()) GTEST_SKIP() << "needs CPUs 0 and 1 to pin the workers to";
  g_nodes = 0;
  rt::Engine e(three_workers());
  const int g = e.add_graph(frame(), handlers());
  const int loop = hybrid_frame_loop(e, g);
  e.start();
  run_frames(e, g, loop, 40, true);
  const std::uint64_t runs = e.graph_stats(g).runs;
  const std::uint64_t releases = e.periodic_stats(loop).releases;
  const rt::WorkerStats w1 = worker(e, 1);
  EXPECT_GT(w1.prewakes, 0U) << "runs " << runs;
  EXPECT_GT(w1.feeds_met, 0U) << "runs " << runs;
  EXPECT_LE(w1.prewakes, releases + 1) << "at most one per release (and one armed before the stop)";
  EXPECT_LE(w1.feeds_met, releases + 1);
  EXPECT_EQ(worker(e, 0).prewakes, 0U) << "the releasing worker wakes for its release anyway";
  EXPECT_EQ(worker(e, 2).prewakes, 0U) << "worker 2 runs none of the graph's nodes";
  EXPECT_EQ(worker(e, 2).feeds_met, 0U);
  EXPECT_EQ(g_nodes.load(), 2 * e.graph_stats(g).completed_runs);
  // Stopped: no release ahead, so no more wake-ups for it (the worker sleeps until work).
  std::this_thread::sleep_for(std::chrono::milliseconds(40));  // ten periods
  EXPECT_LE(worker(e, 1).prewakes, w1.prewakes + 1) << "a sleep armed before the stop may still end by its timer";
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// The default (sleep) precision: the nodes' worker wakes its lead before the release (the
// cap, 1 ms, in its first 64 pre-wakes), the releasing worker at it, both late by a
// timer's jitter: with a lead far above the jitter, the nodes' worker is ahead.
TEST(Prewake, ASleepingLoopsNodesWorkerWakesAheadOfTheRelease) {
  if (!two_cpus()) GTEST_SKIP() << "needs CPUs 0 and 1 to pin the workers to";
  g_nodes = 0;
  rt::EngineConfig c = three_workers();
  c.idle_spin = 500 * kUs;
  rt::Engine e(c);
  const int g = e.add_graph(frame(), handlers());
  const int loop = e.add_periodic_graph({.name = "frame-loop", .period = 4 * kMs, .worker = 0}, g);
  e.start();
  run_frames(e, g, loop, 40, true);
  const std::uint64_t runs = e.graph_stats(g).runs;
  EXPECT_EQ(e.graph_stats(g).failed_runs, 0U);
  EXPECT_GT(worker(e, 1).prewakes, 0U) << "runs " << runs;
  EXPECT_GT(worker(e, 1).feeds_met, 0U) << "runs " << runs;
  EXPECT_LE(worker(e, 1).prewakes, e.periodic_stats(loop).releases + 1);
  EXPECT_EQ(worker(e, 0).prewakes, 0U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// The lead: until 64 pre-wakes it is the cap (1 ms here: a quarter of the period would be
// more), then the p99 of how late the pre-wakes returned plus idle_spin, within idle_spin
// .. the cap, and still early enough to meet the releases. WorkerStats::feed_lead reports it.
TEST(Prewake, TheLeadStartsAtItsCapThenFollowsThePreWakes) {
  if (!two_cpus()) GTEST_SKIP() << "needs CPUs 0 and 1 to pin the workers to";
  g_nodes = 0;
  rt::EngineConfig c = three_workers();
  c.idle_spin = 100 * kUs;
  rt::Engine e(c);
  const int g = e.add_graph(frame(), handlers());
  const int loop = e.add_periodic_graph({.name = "frame-loop", .period = 8 * kMs, .worker = 0}, g);
  e.start();
  EXPECT_EQ(worker(e, 1).feed_lead, 0) << "no pre-wake yet";
  ASSERT_TRUE(e.start_periodic(loop));
  const hal::ns_t cap = kMs;
  ASSERT_TRUE(eventually([&] { return worker(e, 1).feed_lead != 0; }));
  EXPECT_EQ(worker(e, 1).feed_lead, cap) << "prewakes " << worker(e, 1).prewakes;
  // Learned from here on (what it learns: FeedLead in margin_tracker_test.cpp; here the
  // timers' lateness decides, which a sanitizer or an emulator may keep above the cap).
  ASSERT_TRUE(eventually([&] { return worker(e, 1).prewakes >= 70; }));
  EXPECT_GE(worker(e, 1).feed_lead, c.idle_spin);
  EXPECT_LE(worker(e, 1).feed_lead, cap);
  const std::uint64_t met = worker(e, 1).feeds_met;
  EXPECT_TRUE(eventually([&] { return worker(e, 1).feeds_met >= met + 5; })) << "met " << met;
  EXPECT_EQ(worker(e, 0).feed_lead, 0) << "the releasing worker needs no lead";
  EXPECT_EQ(worker(e, 2).feed_lead, 0);
  ASSERT_TRUE(e.stop_periodic(loop));
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// One start item per run: one worker waits for it, not every worker serving the class
// (a second would spin each period for an item the first takes). idle_spin 0 means no
// spin at all, and an idle_spin of half the period would leave no sleep between two
// windows: no worker waits then.
TEST(Prewake, OneWorkerWaitsForAGraphAndNoneWhenItWouldNeverSleep) {
  if (!two_cpus()) GTEST_SKIP() << "needs CPUs 0 and 1 to pin the workers to";
  for (const hal::ns_t spin : {hal::ns_t{20 * kUs}, hal::ns_t{0}, hal::ns_t{2 * kMs}}) {
    g_nodes = 0;
    rt::EngineConfig c = three_workers(true);
    c.idle_spin = spin;
    rt::Engine e(c);
    const int g = e.add_graph(frame(), handlers());
    const int loop = hybrid_frame_loop(e, g);
    e.start();
    const bool waits = spin == 20 * kUs;
    run_frames(e, g, loop, 20, waits);
    if (!waits) {
      EXPECT_EQ(worker(e, 1).prewakes + worker(e, 1).feeds_met, 0U) << "idle_spin " << spin;
    }
    EXPECT_EQ(worker(e, 2).prewakes + worker(e, 2).feeds_met, 0U) << "idle_spin " << spin;
    EXPECT_EQ(g_nodes.load(), 2 * e.graph_stats(g).completed_runs);
    EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  }
}

// The waiting worker is one that spins: worker 1, first in line, has its own idle_spin 0
// (it never waits awake), so worker 2 on the same CPU waits for the runs instead. Worker 2
// looked before the loop ran and slept with no timer, and wake_one wakes worker 1 (the
// first sleeper serving the class): each release wakes the waiting worker too, when it
// sleeps (without that: 8 failures in 10 runs here).
TEST(Prewake, AWorkerWithItsOwnIdleSpinZeroLeavesTheWaitToAnother) {
  if (!two_cpus()) GTEST_SKIP() << "needs CPUs 0 and 1 to pin the workers to";
  rt::EngineConfig c = three_workers(true);
  c.workers[1].idle_spin = 0;
  rt::Engine e(c);
  const int g = e.add_graph(frame(), handlers());
  const int loop = hybrid_frame_loop(e, g);
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  EXPECT_TRUE(eventually([&] { return worker(e, 2).prewakes > 0 && worker(e, 2).feeds_met > 0; }))
      << "worker 2 never waited for a run: prewakes " << worker(e, 2).prewakes << ", met " << worker(e, 2).feeds_met
      << ", sleeps " << worker(e, 2).sleeps << "; runs " << e.graph_stats(g).completed_runs;
  ASSERT_TRUE(e.stop_periodic(loop));
  EXPECT_EQ(worker(e, 1).prewakes + worker(e, 1).feeds_met, 0U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// A periodic task that is not a graph queues nothing at its release: no other worker
// wakes for it. (The nodes' worker of a graph that is never started does not either.)
TEST(Prewake, OnlyAPeriodicGraphsReleasesWakeOtherWorkers) {
  if (!two_cpus()) GTEST_SKIP() << "needs CPUs 0 and 1 to pin the workers to";
  g_nodes = 0;
  rt::Engine e(three_workers());
  const int g = e.add_graph(frame(), handlers());
  (void)e.add_periodic_graph({.name = "idle-frame", .period = 2 * kMs, .worker = 0}, g);
  std::atomic<int> runs{0};
  const int plain = e.add_periodic(
      {.name = "plain", .period = 2 * kMs, .worker = 0, .precision = rt::Precision::Hybrid, .hybrid_margin = kMs},
      [&runs] { runs.fetch_add(1); });
  e.start();
  ASSERT_TRUE(e.start_periodic(plain));
  ASSERT_TRUE(eventually([&] { return runs.load() >= 20; }));
  EXPECT_EQ(worker(e, 1).prewakes + worker(e, 1).feeds_met, 0U);
  EXPECT_EQ(worker(e, 2).prewakes + worker(e, 2).feeds_met, 0U);
  EXPECT_EQ(g_nodes.load(), 0U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace

namespace {

// Unpinned, the scheduler may put the nodes' worker on the releasing worker's CPU, where
// its spin would hold the release back: no worker waits for another's releases then.
TEST(Prewake, UnpinnedWorkersDoNotWaitForAnothersReleases) {
  g_nodes = 0;
  rt::Engine e(three_workers(true, false));
  const int g = e.add_graph(frame(), handlers());
  const int loop = hybrid_frame_loop(e, g);
  e.start();
  run_frames(e, g, loop, 20);
  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_EQ(worker(e, i).prewakes + worker(e, i).feeds_met, 0U) << "worker " << i;
  EXPECT_EQ(g_nodes.load(), 2 * e.graph_stats(g).completed_runs);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace

namespace {

// idle_spin bounds the feeds' arithmetic (2 x max(idle_spin, period / 8)): a value past
// an hour is refused by name, not left to overflow.
TEST(Prewake, ConfigBoundsIdleSpin) {
  rt::EngineConfig c = small_config(1);
  c.idle_spin = -1;
  EXPECT_THROW(rt::validate(c), std::invalid_argument);
  c.idle_spin = 3601 * hal::kNsPerSec;
  try {
    rt::validate(c);
    ADD_FAILURE() << "validate() accepted idle_spin 3601 s";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("idle_spin"), std::string::npos) << e.what();
  }
  c.idle_spin = 3600 * hal::kNsPerSec;
  EXPECT_NO_THROW(rt::validate(c));
  // A worker's own: -1 (the engine's) or the same bounds.
  c.workers[0].idle_spin = -2;
  try {
    rt::validate(c);
    ADD_FAILURE() << "validate() accepted a worker's idle_spin -2";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("workers[0].idle_spin"), std::string::npos) << e.what();
  }
  c.workers[0].idle_spin = 3601 * hal::kNsPerSec;
  EXPECT_THROW(rt::validate(c), std::invalid_argument);
  c.workers[0].idle_spin = 0;
  EXPECT_NO_THROW(rt::validate(c));
}

}  // namespace
