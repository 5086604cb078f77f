// F18 in the engine: graph runs over the workers, SKIPPED propagation, the whole-graph
// deadline, node budgets, periodic control frames, results, and stop() in the middle.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <set>
#include <stdexcept>
#include <string>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

namespace {

using rt::NodeState;
using testing_support::drain_events;
using testing_support::eventually;
using testing_support::small_config;
constexpr hal::ns_t kMs = hal::kNsPerMs;

// Each node records the order it ran in; `fail` names the ones that throw.
struct Recorder {
  std::atomic<int> clock{0};
  std::array<std::atomic<int>, 64> ran_at{};  // by node index; 0 = did not run
  std::array<std::atomic<bool>, 64> fail{};
  void reset() {
    clock = 0;
    for (auto& r : ran_at)
      r = 0;
  }
};
Recorder g_rec;

// One handler for every node: which node it is comes from its context's id (node_ref).
void record(rt::TaskContext& ctx) {
  const auto node = static_cast<std::size_t>(ctx.id().index & 0xFFFFU);
  g_rec.ran_at[node] = g_rec.clock.fetch_add(1) + 1;
  if (g_rec.fail[node].load()) throw std::runtime_error("node failed");
}

rt::HandlerRegistry handlers() {
  rt::HandlerRegistry h;
  h.add("rec", [](rt::TaskContext& ctx) { record(ctx); });
  h.add("spin", [](rt::TaskContext& ctx) {
    record(ctx);
    while (!ctx.stop_requested())
      std::this_thread::yield();
  });
  return h;
}

bool run_ended(const rt::Engine& e, int g, std::uint64_t runs) {
  const rt::GraphStats s = e.graph_stats(g);
  return !s.running && s.completed_runs + s.failed_runs >= runs;
}

NodeState last(const rt::GraphStats& s, const std::string& name) {
  for (const auto& n : s.nodes) {
    if (n.name == name) return n.last;
  }
  ADD_FAILURE() << "no node " << name;
  return NodeState::Idle;
}

TEST(Workflow, DiamondWithAFailingBranchSkipsExactlyItsDependents) {
  g_rec.reset();
  for (auto& f : g_rec.fail)
    f = false;
  rt::Engine e(small_config(2));
  // a -> {b, c} -> d -> f, and e independent of all; b fails.
  const int g = e.add_graph(rt::GraphBuilder("diamond")
                                .node("a", "rec")
                                .node("b", "rec", {"a"})
                                .node("c", "rec", {"a"})
                                .node("d", "rec", {"b", "c"})
                                .node("e", "rec")
                                .node("f", "rec", {"d"})
                                .build(),
                            handlers());
  g_rec.fail[1] = true;
  e.start();
  rt::Producer p = e.make_producer();
  ASSERT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return run_ended(e, g, 1); }));
  const rt::GraphStats s = e.graph_stats(g);
  EXPECT_EQ(last(s, "a"), NodeState::Completed);
  EXPECT_EQ(last(s, "b"), NodeState::Failed);
  EXPECT_EQ(last(s, "c"), NodeState::Completed);
  EXPECT_EQ(last(s, "d"), NodeState::Skipped);
  EXPECT_EQ(last(s, "e"), NodeState::Completed);
  EXPECT_EQ(last(s, "f"), NodeState::Skipped);
  EXPECT_EQ(g_rec.ran_at[3].load(), 0);  // d never ran
  EXPECT_EQ(g_rec.ran_at[5].load(), 0);  // f never ran
  EXPECT_EQ(s.last_completed, 3U);
  EXPECT_EQ(s.last_failed, 1U);
  EXPECT_EQ(s.last_skipped, 2U);
  EXPECT_EQ(s.failed_runs, 1U);
  EXPECT_EQ(s.completed_runs, 0U);
  const auto evs = drain_events(e);
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::WorkflowFailed), 1U);
  g_rec.fail[1] = false;
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Workflow, DependenciesAreRespectedInEveryRun) {
  g_rec.reset();
  rt::Engine e(small_config(2));
  // sense -> 4 x estimate -> control -> actuate: the control frame.
  rt::GraphBuilder b("frame");
  b.node("sense", "rec");
  for (int i = 0; i < 4; ++i)
    b.node("estimate" + std::to_string(i), "rec", {"sense"});
  b.node("control", "rec", {"estimate0", "estimate1", "estimate2", "estimate3"}).node("actuate", "rec", {"control"});
  const int g = e.add_graph(b.build(), handlers());
  e.start();
  rt::Producer p = e.make_producer();
  for (std::uint64_t run = 1; run <= 200; ++run) {
    g_rec.reset();
    ASSERT_TRUE(eventually([&] { return e.try_run_graph(p, g) == rt::GraphRunStatus::Started; }));
    ASSERT_TRUE(eventually([&] { return run_ended(e, g, run); }));
    const int sense = g_rec.ran_at[0];
    const int control = g_rec.ran_at[5];
    ASSERT_GT(sense, 0);
    for (std::size_t i = 1; i <= 4; ++i) {
      ASSERT_GT(g_rec.ran_at[i].load(), sense);
      ASSERT_LT(g_rec.ran_at[i].load(), control);
    }
    ASSERT_GT(g_rec.ran_at[6].load(), control);
  }
  const rt::GraphStats s = e.graph_stats(g);
  EXPECT_EQ(s.runs, 200U);
  EXPECT_EQ(s.completed_runs, 200U);
  EXPECT_EQ(s.duration.count, 200U);
  EXPECT_LE(s.duration.min, s.duration.mean);
  EXPECT_LE(s.duration.mean, static_cast<double>(s.duration.max));
  for (const auto& n : s.nodes) {
    EXPECT_EQ(n.completed, 200U) << n.name;
    EXPECT_EQ(n.duration.count, 200U) << n.name;
  }
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// node_timing(false): each node still counted as it ends (completed, failed), its
// durations left at 0; timed by default. A failing node counts as failed either way.
TEST(Workflow, NodeTimingOffCountsNodesWithoutTimingThem) {
  for (const bool timing : {true, false}) {
    SCOPED_TRACE(timing ? "timed" : "untimed");
    g_rec.reset();
    rt::Engine e(small_config(1));
    rt::GraphBuilder b("chain");
    b.node("a", "rec").node("b", "rec", {"a"}).node("c", "rec", {"b"});
    const int g = e.add_graph(b.node_timing(timing).build(), handlers());
    e.start();
    rt::Producer p = e.make_producer();
    for (std::uint64_t run = 1; run <= 50; ++run) {
      g_rec.fail[1] = run > 40;  // the last 10 runs: b fails, c is skipped
      ASSERT_TRUE(eventually([&] { return e.try_run_graph(p, g) == rt::GraphRunStatus::Started; }));
      ASSERT_TRUE(eventually([&] { return run_ended(e, g, run); }));
    }
    g_rec.fail[1] = false;
    const rt::GraphStats s = e.graph_stats(g);
    EXPECT_EQ(s.completed_runs, 40U);
    EXPECT_EQ(s.failed_runs, 10U);
    EXPECT_EQ(s.duration.count, 50U) << "the run's own duration is kept either way";
    ASSERT_EQ(s.nodes.size(), 3U);
    EXPECT_EQ(s.nodes[0].completed, 50U);
    EXPECT_EQ(s.nodes[1].completed, 40U);
    EXPECT_EQ(s.nodes[1].failed, 10U);
    EXPECT_EQ(s.nodes[2].completed, 40U);
    EXPECT_EQ(s.nodes[2].skipped, 10U);
    // Each node that ran counted once: a every run, b every run (10 failed), c not when skipped.
    EXPECT_EQ(s.nodes[0].duration.count, 50U);
    EXPECT_EQ(s.nodes[1].duration.count, 50U);
    EXPECT_EQ(s.nodes[2].duration.count, 40U);
    for (const auto& n : s.nodes) {
      if (timing) {
        EXPECT_GT(n.duration.max, 0) << n.name;
        EXPECT_GT(n.duration.mean, 0) << n.name;
      } else {
        EXPECT_EQ(n.duration.max, 0) << n.name;
        EXPECT_EQ(n.duration.min, 0) << n.name;
        EXPECT_EQ(n.duration.last, 0) << n.name;
        EXPECT_EQ(n.duration.mean, 0) << n.name;
      }
    }
    EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  }
}

TEST(Workflow, AWideGraphRunsEveryNodeOnceOnAllWorkers) {
  rt::Engine e(small_config(2));
  static std::atomic<int> mids{0};
  static std::atomic<int> sink_saw{-1};
  rt::HandlerRegistry h;
  h.add("mid", [] { mids.fetch_add(1); });
  h.add("sink", [] { sink_saw = mids.load(); });
  h.add("src", [] {});
  rt::GraphBuilder b("wide");
  b.node("source", "src");
  std::vector<std::string> all;
  for (int i = 0; i < 1000; ++i) {
    all.push_back("m" + std::to_string(i));
    b.node(all.back(), "mid", {"source"});
  }
  b.node("sink", "sink", all);
  const int g = e.add_graph(b.build(), h);
  e.start();
  rt::Producer p = e.make_producer();
  for (std::uint64_t run = 1; run <= 20; ++run) {
    mids = 0;
    ASSERT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Started);
    ASSERT_TRUE(eventually([&] { return run_ended(e, g, run); }));
    EXPECT_EQ(sink_saw.load(), 1000);
  }
  EXPECT_EQ(e.graph_stats(g).completed_runs, 20U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Workflow, TheWholeGraphDeadlineStopsLateNodesAndSkipsTheRest) {
  g_rec.reset();
  rt::Engine e(small_config(1));
  const int g = e.add_graph(rt::GraphBuilder("late")
                                .node("a", "rec")
                                .node("slow", "spin", {"a"})
                                .node("after", "rec", {"slow"})
                                .deadline(20 * kMs)
                                .build(),
                            handlers());
  e.start();
  rt::Producer p = e.make_producer();
  ASSERT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return run_ended(e, g, 1); }));
  const rt::GraphStats s = e.graph_stats(g);
  EXPECT_EQ(last(s, "a"), NodeState::Completed);
  EXPECT_EQ(last(s, "slow"), NodeState::Timeout);
  EXPECT_EQ(last(s, "after"), NodeState::Skipped);
  EXPECT_EQ(s.deadline_misses, 1U);
  EXPECT_EQ(s.failed_runs, 1U);
  EXPECT_GE(s.duration.last, 20 * kMs);
  const auto evs = testing_support::events_until(e, [](const std::vector<rt::Event>& all) {
    return testing_support::count_kind(all, rt::EventKind::WorkflowDeadlineMiss) >= 1;
  });
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::WorkflowDeadlineMiss), 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Workflow, ANodeBudgetIsWatchedAndItsStateRolledBack) {
  g_rec.reset();
  rt::Engine e(small_config(1));
  static rt::Snapshotted<int> estimate(5);
  rt::HandlerRegistry h = handlers();
  h.add("overrun", [](rt::TaskContext& ctx) {
    estimate.value = 99;  // a half-written estimate that must not stand
    while (!ctx.stop_requested())
      std::this_thread::yield();
  });
  const int g = e.add_graph(rt::GraphBuilder("budget")
                                .node("est", "overrun")
                                .node_deadline(5 * kMs)
                                .node_state(estimate.binding())
                                .node("use", "rec", {"est"})
                                .build(),
                            h);
  e.start();
  rt::Producer p = e.make_producer();
  ASSERT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return run_ended(e, g, 1); }));
  const rt::GraphStats s = e.graph_stats(g);
  EXPECT_EQ(last(s, "est"), NodeState::RolledBack);
  EXPECT_EQ(s.nodes[0].timed_out, 1U);
  EXPECT_EQ(s.nodes[0].rolled_back, 1U);
  EXPECT_EQ(last(s, "use"), NodeState::Skipped);
  EXPECT_EQ(estimate.value, 5);
  EXPECT_GE(e.stats().detected_by_monitor, 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Workflow, NodesSeeTheRunsContext) {
  rt::Engine e(small_config(1));
  static std::atomic<std::uint64_t> seen{0};
  rt::HandlerRegistry h;
  h.add("ctx", [](rt::TaskContext& ctx) { seen = ctx.context().user_id; });
  const int g = e.add_graph(rt::pipeline("ctx", {{"one", "ctx"}, {"two", "ctx"}}), h);
  e.start();
  rt::Producer p = e.make_producer();
  rt::Context c;
  c.user_id = 4242;
  ASSERT_EQ(e.try_run_graph(p, g, &c), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return run_ended(e, g, 1); }));
  EXPECT_EQ(seen.load(), 4242U);
  EXPECT_EQ(e.graph_stats(g).completed_runs, 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

TEST(Workflow, APeriodicGraphIsAControlFrameOnTheGrid) {
  g_rec.reset();
  rt::EngineConfig c = small_config(2);
  c.workers[0].classes = 0;  // the loop's worker; nodes run on worker 1
  rt::Engine e(c);
  const int g =
      e.add_graph(rt::pipeline("frame", {{"sense", "rec"}, {"control", "rec"}, {"actuate", "rec"}}), handlers());
  const int loop = e.add_periodic_graph({.name = "frame-loop", .period = 2 * kMs, .worker = 0}, g);
  e.start();
  ASSERT_TRUE(e.start_periodic(loop));
  ASSERT_TRUE(eventually([&] { return e.graph_stats(g).completed_runs >= 50; }));
  ASSERT_TRUE(e.stop_periodic(loop));
  const rt::GraphStats s = e.graph_stats(g);
  EXPECT_GE(s.runs, 50U);
  EXPECT_EQ(s.failed_runs, 0U);
  EXPECT_GE(e.periodic_stats(loop).runs, s.runs);  // a release finding the run busy starts none
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// One run at a time; stop(Cancel) asks a running node to stop and skips the rest, and
// the graph runs again after a restart.
TEST(Workflow, OneRunAtATimeAndStopCancelEndsARunningOne) {
  g_rec.reset();
  rt::Engine e(small_config(1));
  const int g = e.add_graph(rt::GraphBuilder("stop").node("s", "spin").node("t", "rec", {"s"}).build(), handlers());
  e.start();
  rt::Producer p = e.make_producer();
  ASSERT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return g_rec.ran_at[0].load() != 0; }));
  EXPECT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Busy);
  EXPECT_EQ(e.graph_stats(g).busy, 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Cancel).balanced);  // returns: the spinning node was asked to stop
  rt::GraphStats s = e.graph_stats(g);
  EXPECT_FALSE(s.running);
  EXPECT_EQ(s.failed_runs, 1U);
  EXPECT_EQ(last(s, "t"), NodeState::Skipped);
  EXPECT_EQ(g_rec.ran_at[1].load(), 0);
  // After a restart the graph runs again; its spinning node now ends by a cancel... of
  // the whole engine again, so run only the completed path: a fresh graph state.
  e.start();
  g_rec.reset();
  ASSERT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return g_rec.ran_at[0].load() != 0; }));
  EXPECT_TRUE(e.stop(rt::StopMode::Cancel).balanced);
  s = e.graph_stats(g);
  EXPECT_EQ(s.runs, 2U);
  EXPECT_EQ(s.failed_runs, 2U);
}

TEST(Workflow, AddGraphRefusesWhatCannotRun) {
  rt::Engine e(small_config(1));
  EXPECT_THROW(e.add_graph(rt::GraphBuilder("x").node("a", "nope").build(), handlers()), rt::GraphError);
  const int g = e.add_graph(rt::GraphBuilder("x").node("a", "rec").build(), handlers());
  EXPECT_EQ(e.graph_index("x"), g);
  EXPECT_THROW(e.add_graph(rt::GraphBuilder("x").node("a", "rec").build(), handlers()), std::invalid_argument);
  e.start();
  EXPECT_THROW(e.add_graph(rt::GraphBuilder("y").node("a", "rec").build(), handlers()), std::logic_error);
  rt::Producer p = e.make_producer();
  EXPECT_EQ(e.try_run_graph(p, 7), rt::GraphRunStatus::Unknown);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  EXPECT_EQ(e.try_run_graph(p, g), rt::GraphRunStatus::Stopped);
}

// F16 through the engine: a saga is one task; its compensations run in reverse on a
// failure, the outcome is published, and one run goes at a time.
std::atomic<int> g_saga_clock{0};
std::array<std::atomic<int>, 8> g_saga_at{};
std::atomic<bool> g_reserve_fails{false};

rt::HandlerRegistry saga_handlers() {
  rt::HandlerRegistry h;
  h.add("book", [] { g_saga_at[0] = ++g_saga_clock; });
  h.add("unbook", [] { g_saga_at[1] = ++g_saga_clock; });
  h.add("reserve", [] {
    g_saga_at[2] = ++g_saga_clock;
    if (g_reserve_fails.load()) throw std::runtime_error("no stock");
  });
  h.add("release", [] { g_saga_at[3] = ++g_saga_clock; });
  h.add("charge", [] { g_saga_at[4] = ++g_saga_clock; });
  return h;
}

TEST(Workflow, ASagaCompensatesCompletedStepsInReverseThroughTheEngine) {
  rt::Engine e(small_config(1));
  const int sg = e.add_saga(rt::SagaBuilder("order")
                                .step("book", "book", "unbook")
                                .step("reserve", "reserve", "release")
                                .step("charge", "charge")
                                .build(),
                            saga_handlers());
  EXPECT_EQ(e.saga_index("order"), sg);
  e.start();
  rt::Producer p = e.make_producer();
  auto run_once = [&](std::uint64_t ended) {
    for (auto& a : g_saga_at)
      a = 0;
    g_saga_clock = 0;
    rt::TaskId id;
    EXPECT_EQ(e.try_run_saga(p, sg, nullptr, &id), rt::GraphRunStatus::Started);
    return eventually([&] {
      const rt::SagaStats s = e.saga_stats(sg);
      return !s.running && s.completed + s.compensated + s.compensation_failed + s.stopped >= ended;
    });
  };
  ASSERT_TRUE(run_once(1));
  EXPECT_EQ(e.saga_stats(sg).completed, 1U);
  EXPECT_GT(g_saga_at[4].load(), g_saga_at[2].load());
  g_reserve_fails = true;
  ASSERT_TRUE(run_once(2));
  const rt::SagaStats s = e.saga_stats(sg);
  EXPECT_EQ(s.compensated, 1U);
  EXPECT_EQ(s.last.outcome, rt::SagaOutcome::Compensated);
  EXPECT_EQ(s.last.failed_step_name, "reserve");
  EXPECT_EQ(s.last.error, "no stock");
  EXPECT_EQ(g_saga_at[4].load(), 0);                    // charge never ran
  EXPECT_EQ(g_saga_at[3].load(), 0);                    // reserve failed: nothing of it to release
  EXPECT_GT(g_saga_at[1].load(), g_saga_at[2].load());  // unbook after the failure
  g_reserve_fails = false;
  // A run's outcome event is published after its result: collect until both are in.
  const auto evs = testing_support::events_until(e, [](const std::vector<rt::Event>& all) {
    return testing_support::count_kind(all, rt::EventKind::SagaCompensated) >= 1 &&
           testing_support::count_kind(all, rt::EventKind::SagaCompleted) >= 1;
  });
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::SagaCompleted), 1U);
  EXPECT_EQ(testing_support::count_kind(evs, rt::EventKind::SagaCompensated), 1U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// A saga's task cancelled while queued never runs: its claim is taken back by the next start.
TEST(Workflow, ASagaWhoseTaskWasCancelledCanRunAgain) {
  rt::Engine e(small_config(1));
  const int sg = e.add_saga(rt::SagaBuilder("s").step("book", "book", "unbook").build(), saga_handlers());
  e.start();
  rt::Producer p = e.make_producer();
  testing_support::Blocker blocker;
  ASSERT_TRUE(blocker.hold(p));
  rt::TaskId queued;
  ASSERT_EQ(e.try_run_saga(p, sg, nullptr, &queued), rt::GraphRunStatus::Started);
  EXPECT_EQ(e.try_run_saga(p, sg), rt::GraphRunStatus::Busy);
  EXPECT_EQ(e.cancel(queued), rt::CancelResult::Removed);
  blocker.release();
  rt::TaskId again;
  ASSERT_TRUE(eventually([&] { return e.try_run_saga(p, sg, nullptr, &again) == rt::GraphRunStatus::Started; }));
  ASSERT_TRUE(eventually([&] { return e.saga_stats(sg).completed == 1; }));
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

// Starters on several threads: never two runs of one saga at once.
TEST(Workflow, ConcurrentStartersNeverOverlapASagasRuns) {
  rt::EngineConfig c = small_config(2);
  c.max_producers = 3;
  rt::Engine e(c);
  static std::atomic<int> inside{0};
  static std::atomic<int> overlaps{0};
  static std::atomic<int> done{0};
  done = 0;  // --gtest_repeat runs the test again in this process
  overlaps = 0;
  rt::HandlerRegistry h;
  h.add("step", [] {
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    for (int i = 0; i < 2000; ++i)
      std::atomic_signal_fence(std::memory_order_seq_cst);  // a few microseconds of work the compiler keeps
    inside.fetch_sub(1);
    done.fetch_add(1);
  });
  const int sg = e.add_saga(rt::SagaBuilder("s").step("a", "step").step("b", "step").build(), h);
  e.start();
  std::vector<std::thread> starters;
  starters.reserve(3);
  std::atomic<int> started{0};
  for (int t = 0; t < 3; ++t) {
    starters.emplace_back([&, p = e.make_producer()]() mutable {
      for (int i = 0; i < 300; ++i) {
        if (e.try_run_saga(p, sg) == rt::GraphRunStatus::Started) started.fetch_add(1);
        std::this_thread::yield();
      }
    });
  }
  for (auto& t : starters)
    t.join();
  ASSERT_TRUE(eventually([&] { return !e.saga_stats(sg).running && done.load() == 2 * started.load(); }));
  EXPECT_GT(started.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
  const rt::SagaStats s = e.saga_stats(sg);
  EXPECT_EQ(s.completed, static_cast<std::uint64_t>(started.load()));
  EXPECT_EQ(s.busy + s.runs, 900U);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace
