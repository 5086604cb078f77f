// rtengine bench's external tools: their arguments, their outputs parsed (real outputs
// captured on this VM, tool_fixtures.hpp, and hand-made edge cases), and one real run of
// cyclictest and oslat each when installed.
#include "rtbench/tools.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "caps.hpp"
#include "tool_fixtures.hpp"

namespace rt::bench {
namespace {

using Args = std::vector<std::string>;

// The value a percentile of the engine's histogram reports for a recorded value v.
ns_t top_of(ns_t v) { return Histogram::bucket_high(Histogram::bucket_of(v)); }

// ---- arguments ----

TEST(BenchTools, CyclictestArgsMatchItsOptions) {
  CyclictestSpec s;
  EXPECT_EQ(cyclictest_args(s), (Args{"cyclictest", "-m", "-q", "-t", "1", "-p", "80", "-a", "1", "-i", "1000", "-l",
                                      "500", "-h", "10000", "--mainaffinity=0"}));
  s = {.program = "/opt/ct",
       .priority = 0,
       .cpu = 3,
       .main_cpu = -1,
       .interval_us = 250,
       .loops = 7,
       .histogram_us = 100,
       .pm_qos = false};
  EXPECT_EQ(cyclictest_args(s), (Args{"/opt/ct", "-m", "-q", "-t", "1", "-p", "0", "-a", "3", "--policy=other", "-i",
                                      "250", "-l", "7", "-h", "100", "--laptop"}));
}

TEST(BenchTools, OslatArgsRoundTheDurationUpToWholeSeconds) {
  OslatSpec s;
  EXPECT_EQ(oslat_args(s),
            (Args{"oslat", "-q", "--cpu-list", "1", "-D", "1", "-b", "1024", "-z", "-C", "0", "-f", "80"}));
  s.duration = 2'300'000'000;
  s.priority = 0;
  s.main_cpu = -1;
  s.bucket_count = 32;
  EXPECT_EQ(oslat_args(s), (Args{"oslat", "-q", "--cpu-list", "1", "-D", "3", "-b", "32", "-z"}));
  s.duration = 1;  // oslat's least is one second
  EXPECT_EQ(oslat_args(s)[5], "1");
}

TEST(BenchTools, StressArgsHaveNoTimeout) {
  StressSpec s;
  EXPECT_EQ(stress_args(s), (Args{"stress-ng", "--vm", "1", "--vm-bytes", "256M"}));
  s = {.program = "stress-ng", .cpu_workers = 2, .vm_workers = 0, .vm_bytes = "1G", .io_workers = 1, .cpus = {0, 2}};
  EXPECT_EQ(stress_args(s), (Args{"stress-ng", "--cpu", "2", "--io", "1", "--taskset", "0,2"}));
}

// ---- cyclictest's output ----

TEST(BenchTools, ParsesARealCyclictestHistogram) {
  const CyclictestResult r = parse_cyclictest(fixtures::kCyclictestReal);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.samples, 500U);
  EXPECT_EQ(r.overflows, 0U);
  EXPECT_TRUE(r.pm_qos_held);
  const HistogramSnapshot& h = r.latency;
  EXPECT_EQ(h.count(), 500U);
  EXPECT_EQ(h.min(), 11'500);     // its least bucket, 11 us, at its midpoint
  EXPECT_EQ(h.max(), 3'749'500);  // its one 3749 us latency
  // Every record at bucket k us + 500 ns: the sum of (k + 0.5) us over the 500 rows.
  EXPECT_EQ(h.sum(), 20'655'000U);
  // Rank 250: 224 latencies up to 34 us, 261 up to 35 us.
  EXPECT_EQ(h.percentile(50), top_of(35'500));
  // Rank 495: above it only 84, 87, 91, 97 and 3749 us; 81 us holds ranks 493-495.
  EXPECT_EQ(h.percentile(99), top_of(81'500));
  EXPECT_EQ(h.percentile(99.9), 3'749'500);
}

TEST(BenchTools, RecordsCyclictestOverflowsAtItsMaximum) {
  const CyclictestResult r = parse_cyclictest(fixtures::kCyclictestOverflows);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.samples, 100U);  // 83 in the histogram + 17 overflows
  EXPECT_EQ(r.overflows, 17U);
  EXPECT_EQ(r.latency.count(), 100U);
  EXPECT_EQ(r.latency.max(), 36'500);
  // 1123 us in the rows, 17 x 36 us overflowing, + 0.5 us each.
  EXPECT_EQ(r.latency.sum(), 1'785'000U);
  // Rank 50: 15 latencies up to 12 us, 57 up to 13 us.
  EXPECT_EQ(r.latency.percentile(50), top_of(13'500));
  // Rank 84 is the first overflow (83 in the rows): counted at the maximum, not dropped.
  EXPECT_EQ(r.latency.percentile(83), top_of(19'500));
  EXPECT_EQ(r.latency.percentile(84), 36'500);
}

TEST(BenchTools, CyclictestEdgeCasesAreErrors) {
  EXPECT_EQ(parse_cyclictest("").error, "no output");
  EXPECT_EQ(parse_cyclictest("# Histogram\n000000 000000\n000001 000000\n# Total: 000000000\n"
                             "# Histogram Overflows: 00000\n")
                .error,
            "an empty histogram");
  const CyclictestResult no_fifo = parse_cyclictest(fixtures::kCyclictestNoFifo);
  EXPECT_EQ(no_fifo.error, "no histogram in its output (Unable to change scheduling policy!)");
  EXPECT_EQ(no_fifo.samples, 0U);
  EXPECT_NE(parse_cyclictest("\x01garbage\n\n12 13 14\n").error.find("no histogram in its output"), std::string::npos);
  // Cut off mid-histogram: its total (rows only) says more than the rows.
  EXPECT_EQ(parse_cyclictest("# Histogram\n000010 000004\n# Total: 000000009\n").error,
            "its histogram holds 4 samples, its total says 9 (a truncated output?)");
  EXPECT_EQ(parse_cyclictest("# Histogram\n000010 x\n").error, "an unreadable histogram line (000010 x)");
  EXPECT_EQ(parse_cyclictest("# Histogram\n000010 000004\n# Histogram Overflows: 00002\n").error,
            "2 overflows and no maximum latency to record them at");
  // Only overflows (every latency above -h): still a result, all at the maximum.
  const CyclictestResult all_over = parse_cyclictest(
      "# Histogram\n000000 000000\n# Total: 000000000\n# Max Latencies: 00150\n"
      "# Histogram Overflows: 00003\n");
  ASSERT_EQ(all_over.error, "");
  EXPECT_EQ(all_over.samples, 3U);
  EXPECT_EQ(all_over.latency.min(), 150'500);
  EXPECT_FALSE(all_over.pm_qos_held);  // no "/dev/cpu_dma_latency set to" line
}

// ---- oslat's output ----

TEST(BenchTools, ParsesARealOslatHistogram) {
  const OslatResult r = parse_oslat(fixtures::kOslat32);
  ASSERT_EQ(r.error, "");
  // The sum of its 32 buckets; 159 of them in the last ("including overflows").
  EXPECT_EQ(r.samples, 80'464'628U);
  EXPECT_EQ(r.latency.count(), r.samples);
  EXPECT_EQ(r.min_us, 1.0);
  EXPECT_DOUBLE_EQ(r.avg_us, 1.002);
  EXPECT_EQ(r.max_us, 49'902.0);
  const HistogramSnapshot& h = r.latency;
  // Label L holds [L-1, L) us: "001 (us)" is the sub-microsecond gaps, at 500 ns.
  EXPECT_EQ(h.min(), 500);
  EXPECT_EQ(h.max(), 49'901'500);
  // sum over labels L < 32 of n_L x (L - 0.5) us, + 159 x 49901.5 us.
  EXPECT_EQ(h.sum(), 48'182'280'000U);
  bool first = true;
  h.for_each_bucket([&](ns_t le, std::uint64_t cumulative) {
    if (first) {
      EXPECT_EQ(cumulative, 80'463'344U);  // its first bucket exactly
      EXPECT_EQ(le, top_of(500));
    }
    first = false;
  });
  EXPECT_EQ(h.percentile(50), top_of(500));
  EXPECT_EQ(h.percentile(99.9), top_of(500));  // 99.998 % of its gaps are under 1 us
  // The last regular gap (label 31) and the first of the overflow bucket, at its maximum.
  const double n = static_cast<double>(r.samples);
  EXPECT_EQ(h.percentile(100.0 * (n - 159.5) / n), top_of(30'500));
  EXPECT_EQ(h.percentile(100.0 * (n - 158.5) / n), 49'901'500);
}

TEST(BenchTools, ParsesOslatWithOmittedBucketsAndTwoThreads) {
  const OslatResult z = parse_oslat(fixtures::kOslat1024);
  ASSERT_EQ(z.error, "");
  EXPECT_EQ(z.samples, 40'128'257U);
  EXPECT_EQ(z.latency.sum(), 20'120'199'500U);
  EXPECT_EQ(z.latency.max(), 45'824'500);  // its one gap >= 1023 us
  // "074 (us)" is its longest regular gap: everything but the overflow is at or below it.
  const double n = static_cast<double>(z.samples);
  EXPECT_EQ(z.latency.percentile(100.0 * (n - 1.5) / n), top_of(73'500));

  const OslatResult two = parse_oslat(fixtures::kOslatTwoThreads);
  ASSERT_EQ(two.error, "");
  EXPECT_EQ(two.samples, 70'610'904U);  // both columns
  EXPECT_EQ(two.latency.count(), two.samples);
  EXPECT_EQ(two.latency.sum(), 45'850'119'000U);
  EXPECT_EQ(two.max_us, 14'368.0);  // the larger of the two
  EXPECT_EQ(two.min_us, 1.0);
  EXPECT_DOUBLE_EQ(two.avg_us, 1.004);
}

TEST(BenchTools, OslatEdgeCasesAreErrors) {
  EXPECT_EQ(parse_oslat(fixtures::kOslatNoFifo).error,
            "no histogram in its output (ERROR: TEST(set_fifo_prio(g.rtprio) == 0))");
  EXPECT_EQ(parse_oslat("").error, "no output");
  EXPECT_EQ(parse_oslat("Illegal bucket size: 2 (should be: 4-1024)\n").error,
            "no histogram in its output (Illegal bucket size: 2 (should be: 4-1024))");
  // Cut off before its summary.
  EXPECT_EQ(parse_oslat("        Core:\t 1\n    001 (us):\t 5\n    002 (us):\t 1\n").error,
            "no overflow bucket, Minimum, Average or Maximum for each of its 1 threads (a truncated output?)");
  EXPECT_EQ(parse_oslat("        Core:\t 0 1\n    001 (us):\t 5\n").error,
            "an unreadable histogram line (    001 (us):\t 5)");
  EXPECT_EQ(parse_oslat("        Core:\t 1\n    001 (us):\t 0\n    004 (us):\t 0 (including overflows)\n"
                        "     Minimum:\t 0 (us)\n     Average:\t 0 (us)\n     Maximum:\t 0 (us)\n")
                .error,
            "an empty histogram");
}

// ---- for real ----

std::string cannot_run(const std::string& program, const char* package) {
  if (std::string why = program_unavailable(program, package); !why.empty()) return why;
  if (!testing_support::fifo_allowed()) return "SCHED_FIFO is refused";
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) return "it measures on CPU 1, which this machine lacks";
  return {};
}

bool pm_qos_device_writable() { return access("/dev/cpu_dma_latency", W_OK) == 0; }

TEST(BenchTools, RunsCyclictest) {
  if (const std::string why = cannot_run("cyclictest", "rt-tests"); !why.empty()) GTEST_SKIP() << why;
  const CyclictestResult r = run_cyclictest({.loops = 200});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.samples, 200U);
  EXPECT_EQ(r.latency.count(), 200U);
  EXPECT_GT(r.latency.min(), 0);
  if (pm_qos_device_writable()) {
    EXPECT_TRUE(r.pm_qos_held);
  }
}

TEST(BenchTools, RunsOslatHoldingPmQos) {
  if (const std::string why = cannot_run("oslat", "rt-tests"); !why.empty()) GTEST_SKIP() << why;
  const OslatResult r = run_oslat({.duration = 1'000'000'000});
  ASSERT_EQ(r.error, "");
  // A busy loop over one second: millions of gaps, all in the histogram.
  EXPECT_GT(r.samples, 1'000'000U);
  EXPECT_EQ(r.latency.count(), r.samples);
  EXPECT_GE(r.min_us, 1.0);
  EXPECT_GE(r.max_us, r.min_us);
  EXPECT_EQ(r.pm_qos_held, pm_qos_device_writable());
}

TEST(BenchTools, AMissingToolIsAnError) {
  EXPECT_NE(run_cyclictest({.program = "/nonexistent/cyclictest"}).error.find("cannot run /nonexistent/cyclictest"),
            std::string::npos);
  EXPECT_NE(run_oslat({.program = "/nonexistent/oslat"}).error.find("cannot run"), std::string::npos);
}

}  // namespace
}  // namespace rt::bench
