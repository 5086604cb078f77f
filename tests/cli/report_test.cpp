// `rtengine run`'s report (rt/cli/report.hpp) from hand-built stats.
#include "report.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "demo/plant.hpp"

namespace rt::cli {
namespace {

// Jitter 1..1000 us, one sample each: nearest-rank p50 = 500 us, p99 = 990 us,
// p99.9 = 999 us; each reported as the top of its bucket, at most 1/128 above.
rt::HistogramSnapshot known_jitter() {
  rt::Histogram h;
  for (int v = 1; v <= 1000; ++v)
    h.record(static_cast<ns_t>(v) * 1000);
  return h.snapshot();
}

rt::PeriodicStats loop_stats() {
  rt::PeriodicStats s;
  s.name = "pid";
  s.releases = 10'000;
  s.runs = 9'990;
  s.skipped = 10;
  s.overruns = 4;
  s.deadline_misses = 3;
  s.rollbacks = 2;
  s.exceptions = 1;
  s.execution.p99 = 12'345;
  s.execution.max = 45'000;
  s.period = 1'000'000;  // a hybrid loop: 90 us margin, 9 % of the period
  s.hybrid_margin = 90'000;
  s.wake_lateness_p999 = 70'000;
  s.late_wakes = 7;
  return s;
}

rt::GraphStats graph_stats() {
  rt::GraphStats g;
  g.name = "estimate";
  g.runs = 1000;
  g.completed_runs = 995;
  g.failed_runs = 5;
  g.deadline_misses = 2;
  g.busy = 7;
  g.abandoned = 1;
  g.duration.count = 1000;
  g.duration.min = 20'000;
  g.duration.mean = 40'000;
  g.duration.max = 900'000;
  return g;
}

rt::Stats engine_stats() {
  rt::Stats s;
  s.submitted = 500;
  s.completed = 450;
  s.failed = 20;
  s.timed_out = 10;
  s.cancelled = 5;
  s.skipped = 15;
  s.retries = 33;
  s.dead_lettered = 6;
  s.rolled_back = 4;
  s.circuit_open = 8;
  s.queue_full = {1, 2, 3, 4};
  s.no_free_slot = 9;
  return s;
}

RunReport full_report() {
  RunReport r;
  r.duration_s = 10.0;
  r.rt_mode = "SCHED_FIFO";
  r.loops.push_back(loop_report(loop_stats(), known_jitter()));
  rt::Histogram lat;
  for (int v = 1; v <= 100; ++v)
    lat.record(static_cast<ns_t>(v) * 10'000);  // 10..1000 us
  r.graphs.push_back(graph_report(graph_stats(), lat.snapshot()));
  r.tasks = task_report(engine_stats());
  demo::TrackingStats t;
  t.record(100, 101, 1.0);
  t.record(100, 97, 1.0);
  t.record(100, 0, 0.1);
  r.tracking = tracking_report(t);
  r.events_dropped = 11;
  return r;
}

TEST(LoopReport, PercentilesFromAKnownHistogram) {
  const LoopReport l = loop_report(loop_stats(), known_jitter());
  EXPECT_EQ(l.name, "pid");
  EXPECT_EQ(l.releases, 10'000u);
  EXPECT_EQ(l.runs, 9'990u);
  EXPECT_EQ(l.skipped, 10u);
  EXPECT_EQ(l.overruns, 4u);
  EXPECT_EQ(l.misses, 3u);
  EXPECT_EQ(l.rollbacks, 2u);
  EXPECT_EQ(l.exceptions, 1u);
  EXPECT_EQ(l.jitter_samples, 1000u);
  EXPECT_DOUBLE_EQ(l.jitter_min_us, 1.0);
  EXPECT_DOUBLE_EQ(l.jitter_max_us, 1000.0);
  EXPECT_DOUBLE_EQ(l.jitter_mean_us, 500.5);
  // Never below the exact value, at most 1/128 above it.
  EXPECT_GE(l.jitter_p50_us, 500.0);
  EXPECT_LE(l.jitter_p50_us, 500.0 * (1 + 1.0 / 128));
  EXPECT_GE(l.jitter_p99_us, 990.0);
  EXPECT_LE(l.jitter_p99_us, 990.0 * (1 + 1.0 / 128));
  EXPECT_GE(l.jitter_p999_us, 999.0);
  EXPECT_LE(l.jitter_p999_us, 1000.0);  // clamped to the max
  EXPECT_DOUBLE_EQ(l.exec_p99_us, 12.345);
  EXPECT_DOUBLE_EQ(l.exec_max_us, 45.0);
  EXPECT_DOUBLE_EQ(l.hybrid_margin_us, 90.0);
  EXPECT_DOUBLE_EQ(l.spin_share, 0.09);
  EXPECT_DOUBLE_EQ(l.wake_lateness_p999_us, 70.0);
  EXPECT_EQ(l.late_wakes, 7u);
}

TEST(LoopReport, ExactBelowTheLinearRange) {
  // Values below 256 ns sit in exact buckets: the percentiles are the values.
  rt::Histogram h;
  for (int v = 1; v <= 200; ++v)
    h.record(v);
  const LoopReport l = loop_report(loop_stats(), h.snapshot());
  EXPECT_DOUBLE_EQ(l.jitter_p50_us, 0.100);
  EXPECT_DOUBLE_EQ(l.jitter_p99_us, 0.198);
  EXPECT_DOUBLE_EQ(l.jitter_p999_us, 0.200);
}

TEST(LoopReport, AnEmptyHistogramGivesZeros) {
  const LoopReport l = loop_report(loop_stats(), rt::HistogramSnapshot{});
  EXPECT_EQ(l.jitter_samples, 0u);
  EXPECT_EQ(l.jitter_p99_us, 0.0);
  EXPECT_EQ(l.jitter_max_us, 0.0);
}

TEST(GraphReport, WithAndWithoutALatencyHistogram) {
  const GraphReport plain = graph_report(graph_stats());
  EXPECT_EQ(plain.name, "estimate");
  EXPECT_EQ(plain.runs, 1000u);
  EXPECT_EQ(plain.completed, 995u);
  EXPECT_EQ(plain.failed, 5u);
  EXPECT_EQ(plain.misses, 2u);
  EXPECT_EQ(plain.busy, 7u);
  EXPECT_EQ(plain.abandoned, 1u);
  EXPECT_DOUBLE_EQ(plain.latency_min_us, 20.0);
  EXPECT_DOUBLE_EQ(plain.latency_mean_us, 40.0);
  EXPECT_DOUBLE_EQ(plain.latency_max_us, 900.0);
  EXPECT_FALSE(plain.latency_p50_us.has_value());
  EXPECT_FALSE(plain.latency_p99_us.has_value());

  rt::Histogram lat;
  for (int v = 1; v <= 100; ++v)
    lat.record(static_cast<ns_t>(v) * 10'000);
  const GraphReport g = graph_report(graph_stats(), lat.snapshot());
  ASSERT_TRUE(g.latency_p50_us && g.latency_p99_us);
  EXPECT_GE(*g.latency_p50_us, 500.0);
  EXPECT_LE(*g.latency_p50_us, 500.0 * (1 + 1.0 / 128));
  EXPECT_GE(*g.latency_p99_us, 990.0);
  EXPECT_LE(*g.latency_p99_us, 990.0 * (1 + 1.0 / 128));
  EXPECT_DOUBLE_EQ(g.latency_min_us, 10.0);
  EXPECT_DOUBLE_EQ(g.latency_max_us, 1000.0);
  EXPECT_DOUBLE_EQ(g.latency_mean_us, 505.0);
}

TEST(TaskReport, CountsEveryOutcomeAndSumsQueueFull) {
  const TaskReport t = task_report(engine_stats());
  EXPECT_EQ(t.submitted, 500u);
  EXPECT_EQ(t.completed, 450u);
  EXPECT_EQ(t.failed, 20u);
  EXPECT_EQ(t.timed_out, 10u);
  EXPECT_EQ(t.cancelled, 5u);
  EXPECT_EQ(t.skipped, 15u);
  EXPECT_EQ(t.retries, 33u);
  EXPECT_EQ(t.dead_lettered, 6u);
  EXPECT_EQ(t.rolled_back, 4u);
  EXPECT_EQ(t.circuit_open, 8u);
  EXPECT_EQ(t.queue_full, 10u);
  EXPECT_EQ(t.no_free_slot, 9u);
}

TEST(PrintReport, HasEverySectionAndTheNumbers) {
  std::ostringstream out;
  print_report(full_report(), out);
  const std::string text = out.str();
  for (const char* s : {"rtengine run: 10.0 s, SCHED_FIFO", "Loops: release jitter", "Loops: runs",
                        "Loops: hybrid spin", "      90.0       9.0           70.0          7", "Graphs: frames",
                        "Tasks by outcome", "Plant tracking", "Events dropped: 11"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
  for (const char* s : {"pid", "10000", "9990", "1000.0", "500.5", "12.3", "45.0", "estimate", "995", "505.0",
                        "dead-lettered", "33", "refused: queue full", "rad/s"}) {
    EXPECT_NE(text.find(s), std::string::npos) << s << "\n" << text;
  }
  // The tracking: rms of {1, -3} = sqrt(5) = 2.236, max 3, 1 of 3 samples in band.
  EXPECT_NE(text.find("2.236"), std::string::npos) << text;
  EXPECT_NE(text.find("3.000"), std::string::npos) << text;
  EXPECT_NE(text.find("33.3 %"), std::string::npos) << text;
}

TEST(PrintReport, ColumnsAreAligned) {
  RunReport r = full_report();
  LoopReport wide = r.loops[0];
  wide.name = "a-much-longer-loop-name";
  wide.releases = 123;
  r.loops.push_back(wide);
  std::ostringstream out;
  print_report(r, out);
  // In each loop table the rows are as long as the header.
  std::istringstream in(out.str());
  std::string line, header;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.find("  name") == 0) {
      header = line;
      continue;
    }
    if (!header.empty() && !line.empty() && (line.find("  pid") == 0 || line.find("  a-much") == 0)) {
      EXPECT_EQ(line.size(), header.size()) << line << "\n" << header;
      ++rows;
    }
    if (line.empty()) header.clear();
  }
  EXPECT_EQ(rows, 6);
}

TEST(PrintReport, OmitsTrackingWithoutAPlantAndSaysNoneForEmptyTables) {
  RunReport r;
  r.rt_mode = "degraded: no CAP_SYS_NICE";
  std::ostringstream out;
  print_report(r, out);
  EXPECT_EQ(out.str().find("Plant tracking"), std::string::npos);
  EXPECT_EQ(out.str().find("hybrid spin"), std::string::npos);  // no hybrid loop
  EXPECT_NE(out.str().find("degraded: no CAP_SYS_NICE"), std::string::npos);
  EXPECT_NE(out.str().find("(none)"), std::string::npos);
  EXPECT_TRUE(report_json(r)["tracking"].is_null());
}

TEST(ReportJson, HasEveryFieldWithItsValue) {
  const RunReport r = full_report();
  const nlohmann::json j = report_json(r);
  EXPECT_EQ(j["duration_s"], 10.0);
  EXPECT_EQ(j["rt_mode"], "SCHED_FIFO");
  EXPECT_EQ(j["events_dropped"], 11);

  ASSERT_EQ(j["loops"].size(), 1u);
  const auto& l = j["loops"][0];
  const LoopReport& lr = r.loops[0];
  EXPECT_EQ(l.size(), 21u);
  EXPECT_EQ(l["name"], "pid");
  EXPECT_EQ(l["releases"], 10'000);
  EXPECT_EQ(l["runs"], 9'990);
  EXPECT_EQ(l["skipped"], 10);
  EXPECT_EQ(l["overruns"], 4);
  EXPECT_EQ(l["misses"], 3);
  EXPECT_EQ(l["rollbacks"], 2);
  EXPECT_EQ(l["exceptions"], 1);
  EXPECT_EQ(l["jitter_samples"], 1000);
  EXPECT_EQ(l["jitter_min_us"], 1.0);
  EXPECT_EQ(l["jitter_p50_us"], lr.jitter_p50_us);
  EXPECT_EQ(l["jitter_p99_us"], lr.jitter_p99_us);
  EXPECT_EQ(l["jitter_p999_us"], lr.jitter_p999_us);
  EXPECT_EQ(l["jitter_max_us"], 1000.0);
  EXPECT_EQ(l["jitter_mean_us"], 500.5);
  EXPECT_EQ(l["exec_p99_us"], 12.345);
  EXPECT_EQ(l["exec_max_us"], 45.0);
  EXPECT_EQ(l["hybrid_margin_us"], 90.0);
  EXPECT_EQ(l["spin_share"], 0.09);
  EXPECT_EQ(l["wake_lateness_p999_us"], 70.0);
  EXPECT_EQ(l["late_wakes"], 7);

  ASSERT_EQ(j["graphs"].size(), 1u);
  const auto& g = j["graphs"][0];
  EXPECT_EQ(g.size(), 12u);
  EXPECT_EQ(g["name"], "estimate");
  EXPECT_EQ(g["runs"], 1000);
  EXPECT_EQ(g["completed"], 995);
  EXPECT_EQ(g["failed"], 5);
  EXPECT_EQ(g["misses"], 2);
  EXPECT_EQ(g["busy"], 7);
  EXPECT_EQ(g["abandoned"], 1);
  EXPECT_EQ(g["latency_min_us"], 10.0);
  EXPECT_EQ(g["latency_mean_us"], 505.0);
  EXPECT_EQ(g["latency_max_us"], 1000.0);
  EXPECT_EQ(g["latency_p50_us"], *r.graphs[0].latency_p50_us);
  EXPECT_EQ(g["latency_p99_us"], *r.graphs[0].latency_p99_us);

  const auto& t = j["tasks"];
  EXPECT_EQ(t.size(), 12u);
  EXPECT_EQ(t["submitted"], 500);
  EXPECT_EQ(t["completed"], 450);
  EXPECT_EQ(t["failed"], 20);
  EXPECT_EQ(t["timed_out"], 10);
  EXPECT_EQ(t["cancelled"], 5);
  EXPECT_EQ(t["skipped"], 15);
  EXPECT_EQ(t["retries"], 33);
  EXPECT_EQ(t["dead_lettered"], 6);
  EXPECT_EQ(t["rolled_back"], 4);
  EXPECT_EQ(t["circuit_open"], 8);
  EXPECT_EQ(t["queue_full"], 10);
  EXPECT_EQ(t["no_free_slot"], 9);

  const auto& tr = j["tracking"];
  EXPECT_EQ(tr.size(), 5u);
  EXPECT_DOUBLE_EQ(tr["rms"].get<double>(), std::sqrt(5.0));
  EXPECT_EQ(tr["max_abs"], 3.0);
  EXPECT_DOUBLE_EQ(tr["in_band_ratio"].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(tr["settle_s"], 0.5);
  EXPECT_EQ(tr["samples"], 3);
  EXPECT_EQ(j.size(), 7u);
}

TEST(ReportJson, UnknownGraphPercentilesAreNull) {
  RunReport r;
  r.graphs.push_back(graph_report(graph_stats()));
  const nlohmann::json j = report_json(r);
  EXPECT_TRUE(j["graphs"][0]["latency_p50_us"].is_null());
  EXPECT_TRUE(j["graphs"][0]["latency_p99_us"].is_null());
  EXPECT_EQ(j["graphs"][0]["latency_max_us"], 900.0);
}

TEST(ProgressLine, OneLineOfStableWidth) {
  Progress small;
  Progress typical{.uptime_s = 12.34,
                   .releases = 12'345,
                   .misses = 3,
                   .rollbacks = 2,
                   .p99_jitter_us = 14.24,
                   .retries = 17,
                   .dead_lettered = 1,
                   .queue_depth = 5};
  Progress huge{.uptime_s = 3.0e7,
                .releases = 12'345'678'901ULL,
                .misses = 123'456,
                .rollbacks = 99'999,
                .p99_jitter_us = 1.5e9,
                .retries = UINT64_MAX,
                .dead_lettered = 10'000,
                .queue_depth = 1'000'000};
  Progress negative{.uptime_s = -1, .p99_jitter_us = -5, .queue_depth = -3};
  for (const Progress& p : {small, typical, huge, negative}) {
    const std::string line = progress_line(p);
    EXPECT_EQ(line.size(), kProgressWidth) << '[' << line << ']';
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\r'), std::string::npos);
  }
  const std::string t = progress_line(typical);
  EXPECT_EQ(t, "   12.3s rel    12345 p99   14.2us miss    3 rb    2 retry   17 dlq    1 q    5") << t;
  const std::string h = progress_line(huge);
  EXPECT_NE(h.find("12345M"), std::string::npos) << h;  // releases in an 8-wide field
  EXPECT_NE(h.find(" 123k"), std::string::npos) << h;   // misses in a 4-wide field
  EXPECT_NE(h.find("99k"), std::string::npos) << h;     // 99999 rollbacks
  EXPECT_NE(h.find("dlq  10k"), std::string::npos) << h;
  EXPECT_NE(h.find("q   1M"), std::string::npos) << h;
}

}  // namespace
}  // namespace rt::cli
