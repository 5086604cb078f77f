// The P4 and P5 groups of `rtengine bench`: each contender measures one tiny block without
// error and with plausible content, and the ratios name contenders that exist. No timing
// is asserted: the blocks are too short to mean anything, and this VM is noisy.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "rtbench/measure.hpp"

namespace rt::bench {
namespace {

// Small and unprivileged: SCHED_OTHER, no PM QoS request.
Settings tiny() {
  Settings s;
  s.samples = 20;
  s.block = 20 * hal::kNsPerMs;
  s.priority = 0;
  s.pm_qos = false;
  return s;
}

void expect_well_formed(const Group& g) {
  std::set<std::string> ids;
  for (const Contender& c : g.contenders) {
    EXPECT_FALSE(c.id.empty());
    EXPECT_FALSE(c.label.empty()) << c.id;
    EXPECT_TRUE(ids.insert(c.id).second) << "duplicate id " << c.id;
    EXPECT_TRUE(static_cast<bool>(c.block)) << c.id;
  }
  for (const Ratio& r : g.ratios) {
    EXPECT_TRUE(ids.count(r.contender) == 1) << r.contender;
    EXPECT_TRUE(ids.count(r.baseline) == 1) << r.baseline;
    if (r.limit > 0) {
      EXPECT_FALSE(r.source.empty()) << r.contender << "/" << r.baseline;
    }
  }
  for (const Check& c : g.checks)
    EXPECT_TRUE(ids.count(c.contender) == 1) << c.contender;
  EXPECT_GE(g.min_reps, 5);
  ASSERT_TRUE(static_cast<bool>(g.rep_time));
  EXPECT_GT(g.rep_time(tiny()), 0);
}

TEST(BenchGroups, P4IsWellFormed) {
  const Group g = p4_throughput(tiny());
  EXPECT_EQ(g.id, "P4");
  expect_well_formed(g);
  int targets = 0;
  for (const Ratio& r : g.ratios)
    targets += r.limit > 0 ? 1 : 0;
  EXPECT_EQ(targets, 2);  // >= 5x the mutex pool, >= 0.8x raw moodycamel
}

TEST(BenchGroups, P4ContendersMeasureARate) {
  const Settings s = tiny();
  for (const Contender& c : p4_throughput(s).contenders) {
    SCOPED_TRACE(c.id);
    EXPECT_EQ(c.kind, Kind::Rate);
    if (c.unavailable) {
      EXPECT_EQ(c.unavailable(s), "");
    }
    const Block b = c.block(s);
    EXPECT_EQ(b.error, "");
    EXPECT_FALSE(b.latency.has_value());
    EXPECT_GT(b.value, 0);
    double tasks = 0;
    for (const auto& [name, v] : b.extra) {
      if (name == "tasks") tasks = v;
    }
    EXPECT_GT(tasks, 0);
  }
}

TEST(BenchGroups, P5IsWellFormed) {
  const Group g = p5_critical(tiny());
  EXPECT_EQ(g.id, "P5");
  expect_well_formed(g);
}

TEST(BenchGroups, P5ContendersMeasureOneLatencyPerSample) {
  const Settings s = tiny();
  for (const Contender& c : p5_critical(s).contenders) {
    SCOPED_TRACE(c.id);
    EXPECT_EQ(c.kind, Kind::Latency);
    const Block b = c.block(s);
    EXPECT_EQ(b.error, "");
    ASSERT_TRUE(b.latency.has_value());
    EXPECT_EQ(b.latency->count(), static_cast<std::uint64_t>(s.samples));
    EXPECT_GT(b.latency->max(), 0);
  }
}

}  // namespace
}  // namespace rt::bench
