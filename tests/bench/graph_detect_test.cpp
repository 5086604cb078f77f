// P3 and P7 of `rtengine bench` with tiny settings: every contender measures a block (or
// says why it cannot), and the group's ratios and checks name its contenders. No timing
// is asserted: a noisy 2-core VM makes any figure a fact of the moment.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "rtbench/measure.hpp"

namespace rt::bench {
namespace {

Settings tiny() {
  Settings s;
  s.samples = 20;
  s.priority = 0;  // SCHED_OTHER: runs unprivileged
  s.cpu = 1;
  s.side_cpu = 0;
  return s;
}

void expect_consistent(const Group& g) {
  std::set<std::string> ids;
  for (const Contender& c : g.contenders) {
    EXPECT_FALSE(c.id.empty());
    EXPECT_FALSE(c.label.empty()) << c.id;
    EXPECT_TRUE(ids.insert(c.id).second) << "duplicate id " << c.id;
    EXPECT_TRUE(static_cast<bool>(c.block)) << c.id;
    EXPECT_TRUE(static_cast<bool>(c.unavailable)) << c.id;
  }
  for (const Ratio& r : g.ratios) {
    EXPECT_TRUE(ids.count(r.contender) == 1) << r.contender;
    EXPECT_TRUE(ids.count(r.baseline) == 1) << r.baseline;
    EXPECT_NE(r.contender, r.baseline);
    EXPECT_FALSE(r.source.empty());
  }
  for (const Check& c : g.checks) {
    EXPECT_TRUE(ids.count(c.contender) == 1) << c.contender;
    EXPECT_GT(c.limit, 0) << c.contender;
  }
  EXPECT_GE(g.min_reps, 5);
  ASSERT_TRUE(static_cast<bool>(g.rep_time));
  EXPECT_GT(g.rep_time(tiny()), 0);
  EXPECT_FALSE(g.notes.empty());
}

// Each contender once; a Latency block holds `samples` latencies, a Cost block a value.
// `per_sample`: latencies per --samples in a block (P7's frames take 4).
void expect_blocks(const Group& g, const Settings& s, int per_sample = 1) {
  for (const Contender& c : g.contenders) {
    SCOPED_TRACE(c.id);
    if (const std::string why = c.unavailable(s); !why.empty()) {
      std::printf("  %s unavailable: %s\n", c.id.c_str(), why.c_str());
      continue;
    }
    const Block b = c.block(s);
    ASSERT_TRUE(b.error.empty()) << b.error;
    if (c.kind == Kind::Latency) {
      ASSERT_TRUE(b.latency.has_value());
      EXPECT_EQ(b.latency->count(), static_cast<std::uint64_t>(per_sample * s.samples));
      EXPECT_GT(b.latency->max(), 0);
    } else {
      EXPECT_GT(b.value, 0);
    }
    for (const auto& [name, v] : b.extra) {
      EXPECT_FALSE(name.empty());
      EXPECT_GE(v, 0) << name;
    }
  }
}

TEST(BenchP3, GroupIsConsistent) {
  const Group g = p3_detection(tiny());
  EXPECT_EQ(g.id, "P3");
  expect_consistent(g);
}

TEST(BenchP3, EveryContenderMeasuresABlock) { expect_blocks(p3_detection(tiny()), tiny()); }

TEST(BenchP7, GroupIsConsistent) {
  const Group g = p7_graph(tiny());
  EXPECT_EQ(g.id, "P7");
  expect_consistent(g);
}

TEST(BenchP7, EveryContenderMeasuresABlock) { expect_blocks(p7_graph(tiny()), tiny(), 4); }

// Each frame and its budget share one engine: the frame's samples and the plain task's
// releases interleaved, half a period apart.
TEST(BenchP7, EachFrameAndItsBudgetShareABlock) {
  const Settings s = tiny();
  const Group g = p7_graph(s);
  ASSERT_EQ(g.joints.size(), 2U);
  EXPECT_EQ(g.joints[0].ids, (std::vector<std::string>{"frame", "frame_budget"}));
  EXPECT_EQ(g.joints[1].ids, (std::vector<std::string>{"frame_hot", "frame_budget_hot"}));
  const std::vector<Block> blocks = g.joints[0].block(s);
  ASSERT_EQ(blocks.size(), 2U);
  for (const Block& b : blocks) {
    ASSERT_EQ(b.error, "");
    ASSERT_TRUE(b.latency.has_value());
    EXPECT_EQ(b.latency->count(), 4 * static_cast<std::uint64_t>(s.samples)) << "frames: 4 x --samples";
  }
  double hand = -1, release_p99 = -1, offset = -1, loop_release = -1;
  for (const auto& [name, v] : blocks[1].extra) {
    if (name == "hot handoff p50 ns") hand = v;
    if (name == "release p99 ns") release_p99 = v;
    if (name == "plain release offset ns") offset = v;
  }
  for (const auto& [name, v] : blocks[0].extra)
    if (name == "loop release p99 ns") loop_release = v;
  EXPECT_GT(hand, 0);
  EXPECT_GT(release_p99, 0);
  EXPECT_GT(loop_release, 0) << "the frame reports its own loop's releases";
  // Both tasks started before the engine: their grids begin at one instant, so the plain
  // task's releases fall exactly half a period after the frame's.
  const ns_t half_period = s.period / 2;  // the phase is whole nanoseconds, as the engine sets it
  EXPECT_EQ(offset, static_cast<double>(half_period));
}

}  // namespace
}  // namespace rt::bench
