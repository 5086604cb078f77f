#pragma once
// The external programs `rtengine bench` runs beside the engine, as child processes:
// cyclictest and oslat (Debian: rt-tests), stress-ng (Debian: stress-ng), gnuplot.
// Setup/measurement code: allocates, blocks, forks.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rt/histogram.hpp"
#include "rt/types.hpp"

namespace rt::bench {

// Empty when `program` (a path, or a name looked up in PATH) can be executed, else why
// not, naming the Debian package that has it ("cyclictest not found in PATH (Debian: apt
// install rt-tests)"). "none" or "": "turned off".
std::string program_unavailable(const std::string& program, std::string_view package);

struct ProgramResult {
  int exit_status = -1;  // -1: it did not exit normally
  std::string output;    // stdout and stderr, interleaved as written
  std::string error;     // not empty: spawn failed, killed after `timeout`, a signal, exit != 0
};

// Runs argv (argv[0] looked up in PATH), collects its output, waits for it; killed (its
// whole process group) when it runs longer than `timeout`.
ProgramResult run_program(const std::vector<std::string>& argv, ns_t timeout);

// A program running in the background (stress-ng) in its own process group: stop()
// (and the destructor) sends SIGTERM to the group, then SIGKILL after a grace period.
class Background {
 public:
  Background() = default;
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  Background(Background&& o) noexcept;
  Background& operator=(Background&& o) noexcept;
  ~Background();
  // Empty on success, else why it could not start (or exited within `settle`).
  std::string start(const std::vector<std::string>& argv, ns_t settle);
  void stop() noexcept;
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
};

// ---- cyclictest ----

struct CyclictestSpec {
  std::string program = "cyclictest";
  int priority = 80;         // SCHED_FIFO; 0: --policy=other
  int cpu = 1;               // the measuring thread (-a)
  int main_cpu = 0;          // its main thread (--mainaffinity); -1: not set
  int interval_us = 1000;    // -i
  int loops = 500;           // -l
  int histogram_us = 10000;  // -h: longer latencies count as overflows
  bool pm_qos = true;        // false: --laptop (no /dev/cpu_dma_latency request)
};

struct CyclictestResult {
  // Its 1 us histogram as latencies: bucket k (cyclictest truncates to whole us, so
  // [k, k+1) us) recorded at k us + 500 ns; an overflow at its reported maximum.
  HistogramSnapshot latency;
  std::uint64_t samples = 0;  // in the histogram and its overflow
  std::uint64_t overflows = 0;
  bool pm_qos_held = false;  // it said "/dev/cpu_dma_latency set to ..."
  std::string error;         // not empty: no result
};

// argv for `spec` (argv[0] = spec.program): -m -q -t 1 -p -a -i -l -h [--mainaffinity] [--laptop]...
std::vector<std::string> cyclictest_args(const CyclictestSpec& spec);
// Parses the output of `cyclictest -q -h N -t 1`.
CyclictestResult parse_cyclictest(std::string_view output);
// Runs one and parses it; killed after 3x its loops' time + 10 s.
CyclictestResult run_cyclictest(const CyclictestSpec& spec);

// ---- oslat ----

struct OslatSpec {
  std::string program = "oslat";
  int priority = 80;  // -f (SCHED_FIFO); 0: SCHED_OTHER
  int cpu = 1;        // --cpu-list (one CPU: one measuring thread)
  int main_cpu = 0;   // its main thread? oslat has none of ours: taskset is not used; -1
  ns_t duration = 1'000'000'000;  // -D, whole seconds at least 1
  int bucket_count = 32;          // -b
  bool pm_qos = true;             // -z sets /dev/cpu_dma_latency = 0 ... (see tools.cpp)
};

struct OslatResult {
  // Its per-us interruption histogram as latencies (bucket k us recorded at k us, the
  // overflow bucket at its reported maximum).
  HistogramSnapshot latency;
  std::uint64_t samples = 0;
  double min_us = 0, avg_us = 0, max_us = 0;
  std::string error;
};

std::vector<std::string> oslat_args(const OslatSpec& spec);
OslatResult parse_oslat(std::string_view output);
OslatResult run_oslat(const OslatSpec& spec);

// ---- stress-ng ----

struct StressSpec {
  std::string program = "stress-ng";
  int cpu_workers = 0;  // --cpu N (0: none)
  int vm_workers = 1;   // --vm N: page faults and memory traffic, the load SPEC P6 names
  std::string vm_bytes = "256M";
  int io_workers = 0;   // --io N
  std::vector<int> cpus;  // --taskset: where the load runs; empty: everywhere
};

std::vector<std::string> stress_args(const StressSpec& spec);

// ---- gnuplot ----

// Runs `gnuplot script_path`; empty on success, else why not.
std::string run_gnuplot(const std::string& program, const std::string& script_path);

}  // namespace rt::bench
