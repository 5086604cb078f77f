// P7: the workers that run a periodic graph's nodes wake for its releases themselves
// (worker_loop.cpp, next_feed), so the first node does not wait for a futex wake-up after
// the releasing worker's own timer wake-up. Counted per worker (WorkerStats::prewakes).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "rt/graph.hpp"
#include "rt/workflow.hpp"

namespace {

using testing_support::eventually;
using testing_support::small_config;
constexpr hal::ns_t kMs = hal::kNsPerMs;

std::atomic<std::uint64_t> g_nodes{0};

rt::HandlerRegistry handlers() {
  rt::HandlerRegistry h;
  h.add("count", [] { g_nodes.fetch_add(1); });
  return h;
}

// Worker 0 releases (no classes), worker 1 runs the nodes, worker 2 serves no class of
// the graph's: only worker 1 wakes for the releases.
rt::EngineConfig three_workers() {
  rt::EngineConfig c = small_config(3);
  c.workers[0].classes = 0;
  c.workers[1].classes = rt::kAllClasses;
  c.workers[2].classes = 1U << static_cast<unsigned>(rt::Priority::Low);
  return c;
}

rt::GraphSpec frame() {
  return rt::GraphBuilder("frame")
      .node("sense", "count")
      .node("control", "count", {"sense"})
      .priority(rt::Priority::Critical)
      .build();
}

std::uint64_t prewakes(const rt::Engine& e, std::size_t worker) { return e.stats().workers.at(worker).prewakes; }

// A hybrid release wakes its worker a margin early; the nodes' worker wakes as early, by
// its own timer (the margin is far above a wake-up's lateness, so the release's wake_one
// never comes first). Stopped, the loop publishes no release and the wake-ups stop.
TEST(Prewake, TheNodesWorkerWakesByItselfForEachReleaseOfItsGraph) {
  g_nodes = 0;
  rt::Engine e(three_workers());
  const int g = e.add_graph(frame(), handlers());
  const int loop = e.add_periodic_graph({.name = "frame-loop",
                                         .period = 4 * kMs,
                                         .worker = 0,
                                         .precision = rt::Precision::Hybrid,
                                         .hybrid_margin = 2 * kMs},
                                        g);
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.graph_stats(g).completed_runs >= 40; }));
  ASSERT_TRUE(e.stop_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.periodic_stats(loop).state == rt::PeriodicState::Stopped; }));
  const std::uint64_t runs = e.graph_stats(g).runs;
  const std::uint64_t woke = prewakes(e, 1);
  // Most releases: a wake-up more than 2 ms late (a loaded VM's worst) or a release that
  // found the worker busy with the last frame's nodes does not count.
  EXPECT_GE(woke, runs / 2) << "runs " << runs;
  EXPECT_LE(woke, runs + 1) << "at most one per release (and one for the release in flight at the stop)";
  EXPECT_EQ(prewakes(e, 0), 0U) << "the releasing worker wakes for its release anyway";
  EXPECT_EQ(prewakes(e, 2), 0U) << "worker 2 runs none of the graph's nodes";
  EXPECT_EQ(g_nodes.load(), 2 * e.graph_stats(g).completed_runs);
  // Stopped: no release ahead, so no more wake-ups for it (the worker sleeps until work).
  std::this_thread::sleep_for(std::chrono::milliseconds(40));  // ten periods
  EXPECT_LE(prewakes(e, 1), woke + 1) << "a sleep armed before the stop may still end by its timer";
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// A periodic task that is not a graph queues nothing at its release: no other worker
// wakes for it. (The nodes' worker of a graph that is never started does not either.)
TEST(Prewake, OnlyAPeriodicGraphsReleasesWakeOtherWorkers) {
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
  EXPECT_EQ(prewakes(e, 1), 0U);
  EXPECT_EQ(prewakes(e, 2), 0U);
  EXPECT_EQ(g_nodes.load(), 0U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// The default (sleep) precision: the nodes' worker wakes idle_spin before the release.
// Whether its timer or the release's wake-up comes first is a race of two timers (a
// sanitizer or an emulator may lose most of them): some releases are met by its own.
TEST(Prewake, ASleepingLoopsNodesWorkerWakesByItselfToo) {
  g_nodes = 0;
  rt::Engine e(three_workers());
  const int g = e.add_graph(frame(), handlers());
  const int loop = e.add_periodic_graph({.name = "frame-loop", .period = 2 * kMs, .worker = 0}, g);
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.graph_stats(g).completed_runs >= 40; }));
  ASSERT_TRUE(e.stop_periodic(loop));
  ASSERT_TRUE(eventually([&] { return !e.graph_stats(g).running; }));
  const rt::GraphStats s = e.graph_stats(g);
  EXPECT_EQ(s.failed_runs, 0U);
  EXPECT_GT(prewakes(e, 1), 0U);
  EXPECT_LE(prewakes(e, 1), e.periodic_stats(loop).releases + 1);
  EXPECT_EQ(prewakes(e, 0), 0U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace
