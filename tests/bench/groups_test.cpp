// The P1, P2, P4 and P5 groups of `rtengine bench`: each contender measures one tiny block without
// error and with plausible content, and the ratios name contenders that exist. No timing
// is asserted: the blocks are too short to mean anything, and this VM is noisy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "caps.hpp"
#include "hal/clock.hpp"
#include "rtbench/measure.hpp"
#include "rtbench/tools.hpp"
#include "sanitizer.hpp"

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
    if (c.unavailable && !c.unavailable(s).empty()) continue;  // the dedicated shape at priority 0: below
    const Block b = c.block(s);
    EXPECT_EQ(b.error, "");
    ASSERT_TRUE(b.latency.has_value());
    EXPECT_EQ(b.latency->count(), 4 * static_cast<std::uint64_t>(s.samples)) << "P5 takes 4 x --samples";
    EXPECT_GT(b.latency->max(), 0);
  }
}

// Each engine shape's idle and loaded contenders are measured together, their samples
// alternating in one engine, and compared with each other.
TEST(BenchGroups, P5MeasuresEachShapesPairInOneBlock) {
  const Settings s = tiny();
  const Group g = p5_critical(s);
  ASSERT_EQ(g.joints.size(), 2U);
  EXPECT_EQ(g.joints[0].ids, (std::vector<std::string>{"critical_idle", "critical_low_full"}));
  EXPECT_EQ(g.joints[1].ids, (std::vector<std::string>{"dedicated_idle", "dedicated_low_full"}));
  int judged = 0;
  for (const Ratio& r : g.ratios)
    if (r.limit > 0) judged += (r.baseline == r.contender.substr(0, r.contender.find('_')) + "_idle") ? 1 : 0;
  EXPECT_EQ(judged, 1) << "the shared worker's loaded p99 against its idle p99; the dedicated pair is reported";
  int reported = 0;
  for (const Ratio& r : g.ratios)
    reported += (r.contender == "dedicated_low_full" && r.baseline == "dedicated_idle" && r.stat == Stat::P99) ? 1 : 0;
  EXPECT_EQ(reported, 1);
  // A run counts only with no hold that ended itself, summed over the repetitions.
  ASSERT_EQ(g.checks.size(), 1U);
  EXPECT_EQ(g.checks[0].contender, "critical_low_full");
  EXPECT_EQ(g.checks[0].extra, "holds_expired");
  EXPECT_TRUE(g.checks[0].sum);
  EXPECT_EQ(g.checks[0].limit, 0);
  // The dedicated shape needs a priority with one above it; at 1 it runs (SCHED_FIFO
  // where permitted, else the engine's degraded SCHED_OTHER, which the fill's bound covers).
  for (const Contender& c : g.contenders) {
    if (c.id.rfind("dedicated_", 0) != 0) continue;
    Settings edge = s;
    for (const int p : {0, 99}) {
      edge.priority = p;
      EXPECT_NE(c.unavailable(edge).find("SCHED_FIFO priority of 1..98"), std::string::npos) << c.id << " at " << p;
    }
    edge.priority = 1;
    EXPECT_EQ(c.unavailable(edge), "") << c.id;
  }
  Settings one = s;
  one.priority = 1;
  for (const Joint& j : g.joints) {
    SCOPED_TRACE(j.ids[0]);
    // Where SCHED_FIFO is granted, priority 1 puts the two workers at 2 and 1 on one CPU:
    // the shape ThreadSanitizer's own locks deadlock in (sanitizer.hpp). It hung CI (stop 27)
    // and 3 runs in 15 here; with P5's hold bounded, still 1 in 80, inside TSan's allocator.
    if (j.ids[0] == "dedicated_idle" && testing_support::kThreadSanitizer && testing_support::fifo_allowed()) {
      std::cout << "not run: the dedicated shape's block at SCHED_FIFO 2 over 1 on one CPU, which can deadlock in "
                   "ThreadSanitizer's own locks\n";
      continue;
    }
    const std::vector<Block> blocks = j.block(j.ids[0] == "dedicated_idle" ? one : s);
    ASSERT_EQ(blocks.size(), 2U);
    for (const Block& b : blocks) {
      EXPECT_EQ(b.error, "");
      ASSERT_TRUE(b.latency.has_value());
      EXPECT_EQ(b.latency->count(), 4 * static_cast<std::uint64_t>(s.samples)) << "P5 takes 4 x --samples";
    }
    EXPECT_EQ(blocks[0].extra.size(), 1U) << "the idle side sends no LOW work: its submission time only";
    double full_gaps = -1, low_per_s = -1, expired = -1;
    for (const auto& [name, v] : blocks[1].extra) {
      if (name == "full_gaps") full_gaps = v;
      if (name == "low_per_s") low_per_s = v;
      if (name == "holds_expired") expired = v;
    }
    EXPECT_GE(full_gaps, 0) << "the loaded side reports how often its ring was full";
    // The shared worker turns to LOW tasks the moment a hold ends; the dedicated LOW worker
    // must first be woken and scheduled, which under ThreadSanitizer took longer than the
    // 20 us gap and the hand-off in every sample of 2 blocks in 60. (A LOW worker that never
    // runs fails anyway: the idle samples wait for its ring to drain.)
    if (j.ids[0] == "critical_idle" || !testing_support::kThreadSanitizer)
      EXPECT_GT(low_per_s, 0) << "LOW tasks ran";
    else
      EXPECT_GE(low_per_s, 0) << "LOW's rate is reported";
    // Not asserted 0: a hold ends itself when the sampler is held up for 10 ms (P5's check
    // judges it in a real run).
    EXPECT_GE(expired, 0) << "the loaded side reports the holds that ended themselves";
  }
}

// P2's blocked engine worker and the condvar pool take their samples in turns, in one
// block; the other contenders keep blocks of their own.
TEST(BenchGroups, P2IdleEngineAndPoolShareOneBlock) {
  const Settings s = tiny();
  const Group g = p2_handoff(s);
  ASSERT_EQ(g.joints.size(), 1U);
  EXPECT_EQ(g.joints[0].ids, (std::vector<std::string>{"engine_idle", "condvar_pool"}));
  const std::vector<Block> blocks = g.joints[0].block(s);
  ASSERT_EQ(blocks.size(), 2U);
  for (const Block& b : blocks) {
    EXPECT_EQ(b.error, "");
    ASSERT_TRUE(b.latency.has_value());
    EXPECT_EQ(b.latency->count(), static_cast<std::uint64_t>(s.samples));
    EXPECT_GT(b.latency->min(), 0);
    double call = -1;
    for (const auto& [name, v] : b.extra)
      if (name == "hand-off call p50 ns") call = v;
    EXPECT_GT(call, 0) << "the producer's own call is reported";
    EXPECT_LE(call, static_cast<double>(b.latency->percentile(50)) * 1.01 + 1000)
        << "the call is part of the latency (one bucket's slack, a clock read's jitter)";
  }
  for (const Contender& c : g.contenders) {
    SCOPED_TRACE(c.id);
    const Block b = c.block(s);
    EXPECT_EQ(b.error, "");
    ASSERT_TRUE(b.latency.has_value());
    EXPECT_EQ(b.latency->count(), static_cast<std::uint64_t>(s.samples));
  }
}

// Only the release-latency groups split --duration into their blocks; the others count
// samples or time blocks of their own.
TEST(BenchGroups, OnlyP1AndP6SplitTheDuration) {
  const Settings s = tiny();
  EXPECT_TRUE(p1_release(s).splits_duration);
  EXPECT_TRUE(p6_load(s).splits_duration);
  for (const Group& g : {p2_handoff(s), p3_detection(s), p4_throughput(s), p5_critical(s), p7_graph(s)})
    EXPECT_FALSE(g.splits_duration) << g.id;
}

double extra_of(const Block& b, const std::string& name, double missing = -1) {
  for (const auto& [n, v] : b.extra)
    if (n == name) return v;
  return missing;
}

// P1's sleep loop and cyclictest share one block: with blocks too short for the phase probe
// the loop runs after cyclictest (beside_cyclictest 0); with longer ones beside it, its
// releases between a quarter and three quarters of a period after cyclictest's wake-ups
// (or, when the probe found nothing on a loaded machine, after it). Either way both blocks
// hold the block's releases. Needs cyclictest (rt-tests): skipped without it.
TEST(BenchGroups, P1SleepLoopAndCyclictestShareOneBlock) {
  Settings s = tiny();
  const Group g = p1_release(s);
  expect_well_formed(g);
  ASSERT_EQ(g.joints.size(), 1U);
  EXPECT_EQ(g.joints[0].ids, (std::vector<std::string>{"engine_sleep", "cyclictest"}));
  EXPECT_TRUE(g.splits_duration) << "its blocks split --duration";
  if (const std::string why = program_unavailable(s.cyclictest, "rt-tests"); !why.empty()) GTEST_SKIP() << why;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) GTEST_SKIP() << "it measures on CPU 1, which this machine lacks";
  for (const ns_t block : {ns_t{50} * hal::kNsPerMs, ns_t{300} * hal::kNsPerMs}) {
    s.block = block;
    SCOPED_TRACE(block);
    const std::vector<Block> blocks = g.joints[0].block(s);
    ASSERT_EQ(blocks.size(), 2U);
    const auto releases = static_cast<std::uint64_t>(block / s.period);
    for (const Block& b : blocks) {
      ASSERT_EQ(b.error, "");
      ASSERT_TRUE(b.latency.has_value());
    }
    EXPECT_EQ(blocks[1].latency->count(), releases) << "cyclictest's -l";
    EXPECT_GE(blocks[0].latency->count(), releases) << "the loop runs until it has as many";
    EXPECT_LE(blocks[0].latency->count(), 2 * releases) << "and is stopped soon after (it polls)";
    const double beside = extra_of(blocks[0], "beside_cyclictest");
    EXPECT_EQ(extra_of(blocks[1], "beside_cyclictest"), beside) << "both blocks say the same";
    if (block < 100 * hal::kNsPerMs) {
      EXPECT_EQ(beside, 0.0) << "50 releases leave no room for the probe";
    } else if (beside == 1.0) {
      const double offset = extra_of(blocks[0], "offset_from_cyclictest_us");
      const double period_us = static_cast<double>(s.period) / 1000.0;
      EXPECT_GE(offset, period_us / 4);
      EXPECT_LE(offset, 3 * period_us / 4);
    } else {
      EXPECT_EQ(beside, 0.0);
    }
  }
}

}  // namespace
}  // namespace rt::bench
