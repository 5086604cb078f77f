// The bench's arithmetic and its report, on made-up runs: a wrong median, a ratio taken
// across repetitions, a verdict the wrong way round or a lost skip reason fails here.
#include "rtbench/report.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtbench/runner.hpp"

namespace rt::bench {
namespace {

Block lat(const std::vector<ns_t>& v) {
  Block b;
  b.latency = snapshot_of(v);
  return b;
}
Block val(double v) {
  Block b;
  b.value = v;
  return b;
}
Block failed(std::string why) {
  Block b;
  b.error = std::move(why);
  return b;
}

// Each latency block is 100 samples all equal to `us` microseconds: every percentile is `us`.
Block flat(double us) { return lat(std::vector<ns_t>(100, static_cast<ns_t>(us * 1000))); }

GroupRun group(std::vector<ContenderRun> cs, std::vector<Ratio> rs = {}, std::vector<Check> ks = {}) {
  GroupRun g;
  g.id = "PX";
  g.title = "test";
  g.contenders = std::move(cs);
  g.ratios = std::move(rs);
  g.checks = std::move(ks);
  g.reps = 3;
  return g;
}

TEST(BenchStats, MedianAndQuantile) {
  EXPECT_EQ(median({}), 0);
  EXPECT_EQ(median({3, 1, 2}), 2);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(quantile({10, 20, 30, 40, 50}, 0.25), 20);
  EXPECT_EQ(quantile({10, 20}, 0.5), 15);
  EXPECT_EQ(quantile({7}, 0.9), 7);
}

TEST(BenchStats, StatOfReadsTheBlocksFigures) {
  const Block b = lat({1000, 2000, 3000, 4000, 100000});
  EXPECT_EQ(*stat_of(b, Stat::Min), 1000);
  EXPECT_EQ(*stat_of(b, Stat::Max), 100000);
  EXPECT_NEAR(*stat_of(b, Stat::P50), 3000, 3000.0 / 128);
  EXPECT_NEAR(*stat_of(b, Stat::P99), 100000, 100000.0 / 128);
  EXPECT_EQ(*stat_of(val(42), Stat::Value), 42);
  EXPECT_FALSE(stat_of(failed("x"), Stat::P50).has_value());
  EXPECT_FALSE(stat_of(val(1), Stat::P50).has_value()) << "a rate has no percentiles";
}

TEST(BenchFigures, MediansOfRunsAndExtremesOfAll) {
  ContenderRun c{"a", "A", Kind::Latency, {}, {flat(10), flat(30), flat(20), failed("boom")}};
  c.blocks[1].extra = {{"n", 5}};
  c.blocks[2].extra = {{"n", 1}};
  const Figures f = figures_of(c);
  EXPECT_EQ(f.runs, 3);
  EXPECT_NEAR(f.p50, 20'000, 200);
  EXPECT_NEAR(f.min, 10'000, 1);
  EXPECT_NEAR(f.max, 30'000, 1);
  EXPECT_EQ(f.samples, 300U);
  EXPECT_EQ(f.error, "boom");
  ASSERT_EQ(f.extra.size(), 1U);
  EXPECT_EQ(f.extra[0].second, 3);      // median of 5 and 1
  EXPECT_EQ(f.extra_sum[0].second, 6);  // their sum
}

TEST(BenchRatios, MedianOfPerRepetitionRatiosNotRatioOfMedians) {
  // Repetition by repetition a is twice b, though a's median (20) over b's median (30)
  // would say 0.67: the pairing is the point.
  ContenderRun a{"a", "A", Kind::Latency, {}, {flat(10), flat(20), flat(40)}};
  ContenderRun b{"b", "B", Kind::Latency, {}, {flat(5), flat(10), flat(20)}};
  b.blocks = {flat(5), flat(10), flat(20)};
  a.blocks = {flat(10), flat(20), flat(40)};
  b.blocks[2] = flat(20);
  const GroupRun g =
      group({a, b}, {{"a", "b", Stat::P50, 2.5, false, "SPEC"}, {"a", "b", Stat::P50, 1.5, false, "SPEC"}});
  const auto r = evaluate_ratios(g);
  ASSERT_EQ(r.size(), 2U);
  EXPECT_NEAR(r[0].median, 2.0, 0.02);
  EXPECT_EQ(r[0].pairs, 3);
  EXPECT_EQ(r[0].verdict, Verdict::Pass);
  EXPECT_EQ(r[1].verdict, Verdict::Fail);
}

TEST(BenchRatios, AtLeastTargetsAndInformationalOnes) {
  ContenderRun a{"a", "A", Kind::Rate, {}, {val(600), val(500), val(700)}};
  ContenderRun b{"b", "B", Kind::Rate, {}, {val(100), val(100), val(100)}};
  const auto r = evaluate_ratios(group({a, b}, {{"a", "b", Stat::Value, 5, true, "P4"},
                                                {"a", "b", Stat::Value, 7, true, "P4"},
                                                {"a", "b", Stat::Value, 0, false, ""}}));
  EXPECT_NEAR(r[0].median, 6, 1e-9);
  EXPECT_EQ(r[0].verdict, Verdict::Pass);
  EXPECT_EQ(r[1].verdict, Verdict::Fail);
  EXPECT_EQ(r[2].verdict, Verdict::Info);
}

TEST(BenchRatios, ASkippedOrFailedSideSaysWhy) {
  ContenderRun a{"a", "A", Kind::Latency, {}, {flat(1), flat(1)}};
  ContenderRun skipped{"c", "C", Kind::Latency, "cyclictest not found in PATH", {}};
  ContenderRun broken{"d", "D", Kind::Latency, {}, {failed("only 3 of 500 releases ran"), failed("x")}};
  const auto r = evaluate_ratios(group({a, skipped, broken}, {{"a", "c", Stat::P99, 1, false, ""},
                                                              {"a", "d", Stat::P99, 1, false, ""},
                                                              {"a", "zz", Stat::P99, 1, false, ""}}));
  EXPECT_EQ(r[0].verdict, Verdict::Skipped);
  EXPECT_NE(r[0].why.find("cyclictest not found"), std::string::npos) << r[0].why;
  EXPECT_EQ(r[1].verdict, Verdict::Skipped);
  EXPECT_NE(r[1].why.find("only 3 of 500"), std::string::npos) << r[1].why;
  EXPECT_EQ(r[2].verdict, Verdict::Skipped);
  EXPECT_NE(r[2].why.find("zz"), std::string::npos);
}

TEST(BenchChecks, SummedExtrasAndMissingFigures) {
  ContenderRun a{"a", "A", Kind::Latency, {}, {flat(1), flat(1)}};
  a.blocks[0].extra = {{"rt_allocations", 0}, {"rt_page_faults", 0}};
  a.blocks[1].extra = {{"rt_allocations", 0}, {"rt_page_faults", 2}};
  const auto k = evaluate_checks(group({a}, {},
                                       {{"a", Stat::Value, "rt_allocations", true, 0, "allocs", "P6"},
                                        {"a", Stat::Value, "rt_page_faults", true, 0, "faults", "P6"},
                                        {"a", Stat::Value, "missing", true, 0, "x", ""},
                                        {"a", Stat::P99, "", false, 1500, "p99 ns", ""}}));
  EXPECT_EQ(k[0].verdict, Verdict::Pass);
  EXPECT_EQ(k[1].verdict, Verdict::Fail);
  EXPECT_EQ(k[1].value, 2);
  EXPECT_EQ(k[2].verdict, Verdict::Skipped) << "a figure never measured is not a pass";
  EXPECT_EQ(k[3].verdict, Verdict::Pass);
}

TEST(BenchReport, TextJsonAndAllMetAgree) {
  ContenderRun a{"a", "engine", Kind::Latency, {}, {flat(10), flat(12)}};
  ContenderRun b{"b", "cyclictest", Kind::Latency, {}, {flat(10), flat(10)}};
  BenchRun run;
  run.conditions.scheduling = "SCHED_FIFO 80";
  run.conditions.memory = "locked";
  run.conditions.rt_throttling = "lifted for this run";
  run.groups.push_back(group({a, b}, {{"a", "b", Stat::P50, 1.05, false, "SPEC P1"}}));
  const std::string text = render_text(run);
  EXPECT_NE(text.find("RT throttling: lifted for this run"), std::string::npos) << text;
  EXPECT_NE(text.find("engine / cyclictest p50"), std::string::npos) << text;
  EXPECT_NE(text.find("FAIL"), std::string::npos) << text;
  EXPECT_NE(text.find("0 met, 1 not met, 0 not judged"), std::string::npos) << text;
  EXPECT_FALSE(all_met(run));
  const nlohmann::json j = render_json(run);
  EXPECT_EQ(j["all_met"], false);
  EXPECT_EQ(j["conditions"]["rt_throttling"], "lifted for this run");
  const auto& jr = j["groups"][0]["ratios"][0];
  EXPECT_EQ(jr["verdict"], "FAIL");
  ASSERT_EQ(jr["per_rep"].size(), 2U);
  EXPECT_NEAR(jr["median"].get<double>(), 1.1, 0.02);
  EXPECT_EQ(j["groups"][0]["contenders"][0]["blocks"].size(), 2U);
  run.groups[0].ratios[0].limit = 1.2;
  EXPECT_TRUE(all_met(run));
}

TEST(BenchCsv, OneMicrosecondBinsPerLatencyContender) {
  ContenderRun a{"a", "A", Kind::Latency, {}, {lat({1'200, 1'300, 3'700}), lat({1'100})}};
  ContenderRun b{"b", "B", Kind::Latency, {}, {lat({2'500})}};
  ContenderRun r{"r", "R", Kind::Rate, {}, {val(5)}};
  ContenderRun s{"s", "S", Kind::Latency, "not installed", {}};
  const std::string csv = histogram_csv(group({a, b, r, s}));
  EXPECT_EQ(csv,
            "latency_us,a,b\n"
            "0,0,0\n"
            "1,3,0\n"
            "2,0,1\n"
            "3,1,0\n");
  EXPECT_EQ(histogram_csv(group({r})), "");
}

// Above 128 us a histogram bucket is wider than 1 us: its count is spread over the bins
// it covers (no comb of empty bins), and the column still sums to the sample count.
TEST(BenchCsv, AWideBucketIsSpreadOverItsBins) {
  ContenderRun a{"a", "A", Kind::Latency, {}, {lat({300'000, 300'000})}};
  const std::string csv = histogram_csv(group({a}));
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  double sum = 0;
  int nonzero = 0;
  while (std::getline(in, line)) {
    const double v = std::stod(line.substr(line.find(',') + 1));
    sum += v;
    if (v > 0) {
      ++nonzero;
      const double us = std::stod(line.substr(0, line.find(',')));
      EXPECT_GE(us, 298);
      EXPECT_LE(us, 301);
    }
  }
  EXPECT_NEAR(sum, 2.0, 1e-5);  // the CSV keeps 6 significant digits
  EXPECT_GE(nonzero, 2) << csv.substr(csv.size() - 80);
}

TEST(BenchReport, AStrictRunNeedsEveryTargetJudged) {
  ContenderRun a{"a", "A", Kind::Latency, {}, {flat(1)}};
  ContenderRun c{"c", "C", Kind::Latency, "cyclictest not found in PATH", {}};
  BenchRun run;
  run.groups.push_back(group({a, c}, {{"a", "c", Stat::P99, 1.1, false, "SPEC P1"}}));
  EXPECT_FALSE(all_met(run)) << "a target never judged is not met";
  run.groups[0].ratios[0].limit = 0;
  EXPECT_TRUE(all_met(run)) << "an informational ratio does not count";
}

TEST(BenchPlot, ScriptWritesBothFormatsOnLogAxes) {
  const std::string gp =
      gnuplot_script("p1.csv", {"engine sleep", "cyclictest"}, {1000, 500}, "P1", "p1.png", "p1.svg");
  EXPECT_NE(gp.find("set logscale xy"), std::string::npos);
  EXPECT_NE(gp.find("set output 'p1.png'"), std::string::npos);
  EXPECT_NE(gp.find("set output 'p1.svg'"), std::string::npos);
  EXPECT_NE(gp.find("using ($1 + 0.5):($3 > 0 ? $3 / 500 : 1/0)"), std::string::npos)
      << "second contender: column 3, as a fraction of its 500 samples\n"
      << gp;
  EXPECT_NE(gp.find("title 'cyclictest'"), std::string::npos);
}

TEST(BenchRunner, InterleavesForwardThenBackwardAndKeepsErrors) {
  std::vector<std::string> order;
  Group g;
  g.id = "PT";
  g.min_reps = 3;
  auto record = [&order](const std::string& id) {
    return [&order, id](const Settings&) {
      order.push_back(id);
      if (id == "c") throw std::runtime_error("c broke");
      return val(1);
    };
  };
  g.contenders = {{"a", "A", Kind::Rate, record("a"), {}},
                  {"x", "X", Kind::Rate, record("x"), [](const Settings&) { return std::string("not here"); }},
                  {"b", "B", Kind::Rate, record("b"), {}},
                  {"c", "C", Kind::Rate, record("c"), {}}};
  int calls = 0;
  const GroupRun r = run_group(g, Settings{}, 0, [&calls](const Progress& p) {
    ++calls;
    EXPECT_EQ(p.reps, 3);
  });
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "c", "b", "a", "a", "b", "c"}));
  EXPECT_EQ(calls, 9);
  ASSERT_EQ(r.contenders.size(), 4U);
  EXPECT_EQ(r.contenders[1].skipped, "not here");
  EXPECT_TRUE(r.contenders[1].blocks.empty());
  EXPECT_EQ(r.contenders[3].blocks.size(), 3U);
  EXPECT_EQ(r.contenders[3].blocks[0].error, "c broke");
  EXPECT_EQ(run_group(g, Settings{}, 5, {}).reps, 5) << "more repetitions than the default when asked";
}

// A joint is one step of the order, in its first contender's place, and fills each of
// its contenders' blocks; their own blocks run only when the joint cannot (a contender of
// it unavailable). A joint that throws, or measures the wrong number, fails all of them.
TEST(BenchRunner, AJointMeasuresItsContendersInOneStep) {
  std::vector<std::string> order;
  auto alone = [&order](const std::string& id, double v) {
    return [&order, id, v](const Settings&) {
      order.push_back(id);
      return val(v);
    };
  };
  Group g;
  g.id = "PT";
  g.min_reps = 2;
  g.contenders = {{"a", "A", Kind::Rate, alone("a", 1), {}},
                  {"b", "B", Kind::Rate, alone("b", 2), {}},
                  {"c", "C", Kind::Rate, alone("c", 3), {}},
                  {"d", "D", Kind::Rate, alone("d", 4), {}}};
  g.joints = {{{"d", "b"}, [&order](const Settings&) {
                 order.push_back("d+b");
                 return std::vector<Block>{val(40), val(20)};
               }}};
  std::vector<std::string> labels;
  GroupRun r = run_group(g, Settings{}, 0, [&labels](const Progress& p) { labels.push_back(p.contender); });
  EXPECT_EQ(order, (std::vector<std::string>{"a", "d+b", "c", "c", "d+b", "a"}));
  ASSERT_GE(labels.size(), 2U);
  EXPECT_EQ(labels[1], "D + B");
  ASSERT_EQ(r.contenders.size(), 4U);
  for (const ContenderRun& c : r.contenders)
    EXPECT_EQ(c.blocks.size(), 2U) << c.id;
  EXPECT_EQ(r.contenders[1].blocks[0].value, 20) << "b's block is the joint's second";
  EXPECT_EQ(r.contenders[3].blocks[1].value, 40) << "d's block is the joint's first";

  // One of them unavailable: the other is measured alone.
  order.clear();
  g.contenders[3].unavailable = [](const Settings&) { return std::string("not here"); };
  r = run_group(g, Settings{}, 0, {});
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "c", "b", "a"}));
  EXPECT_EQ(r.contenders[1].blocks[0].value, 2);
  EXPECT_EQ(r.contenders[3].skipped, "not here");

  // A joint naming a contender of an earlier joint, one twice, or one that does not exist
  // is not used: each contender is measured once per repetition.
  g.contenders[3].unavailable = {};
  for (const std::vector<std::string>& ids :
       {std::vector<std::string>{"b", "c"}, std::vector<std::string>{"c", "c"}, std::vector<std::string>{"c", "e"}}) {
    Group h = g;
    h.joints.push_back({ids, [&order](const Settings&) {
                          order.push_back("bad");
                          return std::vector<Block>{val(0), val(0)};
                        }});
    order.clear();
    r = run_group(h, Settings{}, 0, {});
    EXPECT_EQ(order, (std::vector<std::string>{"a", "d+b", "c", "c", "d+b", "a"})) << ids[0] << "," << ids[1];
    for (const ContenderRun& c : r.contenders)
      EXPECT_EQ(c.blocks.size(), 2U) << c.id;
  }

  // A joint that throws or measures the wrong number of contenders: an error in each.
  g.joints[0].block = [](const Settings&) -> std::vector<Block> { throw std::runtime_error("joint broke"); };
  r = run_group(g, Settings{}, 0, {});
  EXPECT_EQ(r.contenders[1].blocks[0].error, "joint broke");
  EXPECT_EQ(r.contenders[3].blocks[0].error, "joint broke");
  EXPECT_EQ(r.contenders[0].blocks[0].error, "");
  g.joints[0].block = [](const Settings&) { return std::vector<Block>{val(1)}; };
  r = run_group(g, Settings{}, 0, {});
  EXPECT_NE(r.contenders[1].blocks[0].error.find("measured 1 contenders of 2"), std::string::npos)
      << r.contenders[1].blocks[0].error;
}

// P1 and P6 split --duration into blocks of 1000 periods, one per repetition, never fewer
// than five; --reps, when given, is the count.
TEST(BenchRunner, ReleaseGroupsTakeOneBlockPerThousandPeriods) {
  constexpr ns_t kMs = 1'000'000;
  EXPECT_EQ(release_repetitions(15'000 * kMs, kMs, 0), 15) << "15 s at 1 ms: fifteen 1 s blocks";
  EXPECT_EQ(release_repetitions(60'000 * kMs, kMs, 0), 60);
  EXPECT_EQ(release_repetitions(15'500 * kMs, kMs, 0), 15) << "a part block is not a repetition";
  EXPECT_EQ(release_repetitions(5'000 * kMs, kMs, 0), 5) << "the default 5 s";
  EXPECT_EQ(release_repetitions(2'000 * kMs, kMs, 0), 5) << "at least five, shorter blocks then";
  EXPECT_EQ(release_repetitions(15'000 * kMs, 10 * kMs, 0), 5) << "10 ms: 1000 periods are 10 s";
  EXPECT_EQ(release_repetitions(15'000 * kMs, kMs / 10, 0), 150) << "100 us: 0.1 s blocks";
  EXPECT_EQ(release_repetitions(15'000 * kMs, kMs, 7), 7) << "--reps decides";
}

}  // namespace
}  // namespace rt::bench
