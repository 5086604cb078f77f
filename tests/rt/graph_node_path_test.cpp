// F18's per-node path as P7 made it faster: a chain still yields to a higher class between
// two nodes (the check before the decrements, with its cached reservation counts), and
// node durations, timed in ticks, are still nanoseconds and still count every node.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"

namespace {

using testing_support::eventually;
using testing_support::small_config;

// Order of what ran: chain nodes 0..7 by index, the Critical tasks at 10 and 11.
std::atomic<int> g_clock{0};
std::array<std::atomic<int>, 16> g_ran_at{};
// Used by the chain's nodes only (one worker: one thread at a time).
rt::Producer* g_producer = nullptr;
std::atomic<int> g_refused{0};

void stamp(std::size_t what) { g_ran_at[what] = g_clock.fetch_add(1) + 1; }

std::size_t node_of(const rt::TaskContext& ctx) { return static_cast<std::size_t>(ctx.id().index & 0xFFFFU); }

template <std::size_t kWhat>
void submit_critical() {
  if (g_producer->try_submit([] { stamp(kWhat); }, {.priority = rt::Priority::Critical}) != rt::SubmitStatus::Ok)
    g_refused.fetch_add(1);
}

rt::HandlerRegistry chain_handlers() {
  rt::HandlerRegistry h;
  h.add("rec", [](rt::TaskContext& ctx) { stamp(node_of(ctx)); });
  h.add("rec+critical1", [](rt::TaskContext& ctx) {
    stamp(node_of(ctx));
    submit_critical<10>();
  });
  h.add("rec+critical2", [](rt::TaskContext& ctx) {
    stamp(node_of(ctx));
    submit_critical<11>();
  });
  return h;
}

TEST(GraphNodePath, AChainYieldsToAHigherClassBetweenTwoNodes) {
  g_clock = 0;
  for (auto& r : g_ran_at)
    r = 0;
  rt::Engine e(small_config(1));  // one worker serving every class
  const rt::GraphSpec chain = rt::pipeline("chain", {{"n0", "rec"},
                                                     {"n1", "rec+critical1"},
                                                     {"n2", "rec"},
                                                     {"n3", "rec"},
                                                     {"n4", "rec+critical2"},
                                                     {"n5", "rec"},
                                                     {"n6", "rec"},
                                                     {"n7", "rec"}});
  const int g = e.add_graph(chain, chain_handlers());
  e.start();
  rt::Producer starter = e.make_producer();
  rt::Producer nodes = e.make_producer();
  g_producer = &nodes;
  ASSERT_EQ(e.try_run_graph(starter, g), rt::GraphRunStatus::Started);
  ASSERT_TRUE(eventually([&] { return e.graph_stats(g).completed_runs == 1 && g_ran_at[11] != 0; }));
  EXPECT_EQ(g_refused.load(), 0);
  for (std::size_t i = 1; i < 8; ++i)
    EXPECT_GT(g_ran_at[i].load(), g_ran_at[i - 1].load()) << "n" << i;
  // Submitted by n1 (n4): run before n2 (n5), which waited in its ring behind it.
  EXPECT_GT(g_ran_at[10].load(), g_ran_at[1].load());
  EXPECT_LT(g_ran_at[10].load(), g_ran_at[2].load());
  EXPECT_GT(g_ran_at[11].load(), g_ran_at[4].load());
  EXPECT_LT(g_ran_at[11].load(), g_ran_at[5].load());
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
  g_producer = nullptr;
}

TEST(GraphNodePath, NodeDurationsAreNanosecondsAndCountEveryNode) {
  rt::Engine e(small_config(1));
  rt::HandlerRegistry h;
  h.add("nap", [] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); });
  h.add("quick", [] {});
  const int g = e.add_graph(rt::pipeline("naps", {{"a", "quick"}, {"b", "nap"}, {"c", "quick"}}), h);
  e.start();
  rt::Producer p = e.make_producer();
  constexpr std::uint64_t kRuns = 3;
  for (std::uint64_t run = 1; run <= kRuns; ++run) {
    ASSERT_TRUE(eventually([&] { return e.try_run_graph(p, g) == rt::GraphRunStatus::Started; }));
    ASSERT_TRUE(eventually([&] {
      const rt::GraphStats s = e.graph_stats(g);
      return !s.running && s.completed_runs == run;
    }));
  }
  const rt::GraphStats s = e.graph_stats(g);
  double nodes_mean = 0;
  for (const rt::NodeStats& n : s.nodes) {
    EXPECT_EQ(n.completed, kRuns) << n.name;
    EXPECT_EQ(n.failed + n.timed_out + n.skipped, 0U) << n.name;
    EXPECT_EQ(n.duration.count, kRuns) << n.name;
    EXPECT_LE(n.duration.min, n.duration.max) << n.name;
    nodes_mean += n.duration.mean;
  }
  // The nap's duration holds its 2 ms sleep; the nodes' durations fit in the runs'.
  EXPECT_GE(s.nodes[1].duration.min, 2 * hal::kNsPerMs * 999 / 1000);
  EXPECT_LE(nodes_mean, s.duration.mean * 1.01 + 10'000);
  EXPECT_TRUE(e.stop(rt::StopMode::Drain).balanced);
}

}  // namespace
