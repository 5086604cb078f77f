#pragma once
// cyclictest (Debian: rt-tests) as a baseline block: one run of `loops` wake-ups per
// block, in histogram mode, its per-microsecond histogram parsed from stdout.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "support/latency.hpp"

namespace bench_rt {

struct CyclictestSpec {
  std::string program = "cyclictest";  // a path, or a name looked up in PATH
  int priority = 80;                   // SCHED_FIFO; 0: SCHED_OTHER (--policy=other)
  int cpu = 1;                         // the measuring thread (-a)
  int main_cpu = 0;                    // its main thread, which wakes every 10 ms (--mainaffinity)
  int interval_us = 1000;              // -i
  int loops = 500;                     // -l
  int histogram_us = 10000;            // -h: longer latencies count as overflows
  bool pm_qos = true;                  // false: --laptop (no /dev/cpu_dma_latency request)
};

struct CyclictestResult {
  // cyclictest truncates each latency to whole microseconds (bucket k is [k, k+1) us),
  // so a percentile is its bucket's midpoint, k + 0.5 us: within 0.5 us, and unbiased.
  // One in the overflow is cyclictest's exact maximum.
  bench_support::Percentiles p;
  std::uint64_t samples = 0;  // in the histogram and its overflow
  bool pm_qos_held = false;   // it said "/dev/cpu_dma_latency set to ..."
  std::string error;          // not empty: no result
};

// Setup only: empty when `program` can be executed, else why not.
std::string cyclictest_unavailable(const std::string& program);

// Setup only: the arguments for `spec` (argv[0] included).
std::vector<std::string> cyclictest_args(const CyclictestSpec& spec);

// Setup only: runs one block and waits for it; a run that takes 3x its loops' time plus
// 10 s is killed (by its pid) and reported as an error.
CyclictestResult run_cyclictest(const CyclictestSpec& spec);

// Parses the output of `cyclictest -q -h N -t 1`.
CyclictestResult parse_cyclictest(std::string_view output);

}  // namespace bench_rt
