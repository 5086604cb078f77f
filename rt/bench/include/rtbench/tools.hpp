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
  // Not empty: spawn failed, killed after `timeout`, a signal, exit != 0; it names
  // argv[0] and quotes the line of the output that tells why ("cyclictest: exit status 1:
  // Unable to change scheduling policy!").
  std::string error;
};

// Runs argv (argv[0] looked up in PATH) in its own process group, stdin from /dev/null,
// collects its output and waits for it; its whole group is killed (SIGKILL) when it runs
// longer than `timeout`, and whatever it leaves running in its group when it exits.
ProgramResult run_program(const std::vector<std::string>& argv, ns_t timeout);

// A program running in the background (stress-ng) in its own process group, its output
// kept in memory (never a pipe it could block on): stop() (and the destructor) sends
// SIGTERM to the group, waits up to 2 s for it to exit, then SIGKILLs the group and reaps it.
// The group is not killed if this process dies without unwinding (SIGKILL, a crash).
class Background {
 public:
  Background() = default;
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  Background(Background&& o) noexcept;
  Background& operator=(Background&& o) noexcept;
  ~Background();
  // Empty on success, else why it could not start, or what it printed when it exited
  // within `settle`. One program at a time: an error while one runs.
  std::string start(const std::vector<std::string>& argv, ns_t settle);
  // Blocks up to ~2 s. No allocation.
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
  // [k, k+1) us) recorded at k us + 500 ns; each overflow at its reported maximum (also
  // truncated) + 500 ns: never under-reported.
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

// oslat (rt-tests 2.4) busy-loops on its CPU reading the TSC and histograms the gaps
// between consecutive reads: what interrupts a spinning thread. It makes no PM QoS
// request of its own (no /dev/cpu_dma_latency in its source; strace shows no open) and
// has no flag for one, so run_oslat holds /dev/cpu_dma_latency = 0 itself while oslat
// runs when `pm_qos` (as the engine does while it runs SCHED_FIFO workers).
struct OslatSpec {
  std::string program = "oslat";
  int priority = 80;              // -f (SCHED_FIFO); 0: SCHED_OTHER (no -f)
  int cpu = 1;                    // --cpu-list (one CPU: one measuring thread)
  int main_cpu = 0;               // -C: its main thread (it sleeps and waits); -1: not set (CPU 0)
  ns_t duration = 1'000'000'000;  // -D in whole seconds, rounded up, at least 1 (after a 1 s pre-heat)
  // -b: buckets of 1 us; the last one takes every longer gap. 1024 (its most) keeps that
  // overflow bucket to the rare >= 1 ms gaps; -z prints only the non-empty buckets.
  int bucket_count = 1024;
  bool pm_qos = true;  // hold /dev/cpu_dma_latency = 0 while it runs (only with priority > 0)
};

struct OslatResult {
  // Its 1 us histogram as latencies. Its bucket labelled L us holds the gaps in
  // [L-1, L) us (it truncates to whole us and adds 1), recorded at L-1 us + 500 ns as
  // cyclictest's; its last bucket ("including overflows", gaps >= L-1 us) at its
  // Maximum (also L-style) - 500 ns: never under-reported. Several threads are merged.
  HistogramSnapshot latency;
  std::uint64_t samples = 0;
  double min_us = 0, avg_us = 0, max_us = 0;  // as it printed them (L-style: one above the truncated us)
  bool pm_qos_held = false;                   // run_oslat held /dev/cpu_dma_latency while it ran
  std::string error;
};

// argv for `spec` (argv[0] = spec.program): -q --cpu-list -D -b -z [-C] [-f].
std::vector<std::string> oslat_args(const OslatSpec& spec);
// Parses the summary of `oslat -q` (one column per measuring thread; -z or not).
OslatResult parse_oslat(std::string_view output);
// Runs one and parses it; killed after 2x its duration + 15 s.
OslatResult run_oslat(const OslatSpec& spec);

// ---- stress-ng ----

struct StressSpec {
  std::string program = "stress-ng";
  int cpu_workers = 0;  // --cpu N (0: none)
  int vm_workers = 1;   // --vm N: page faults and memory traffic, the load SPEC P6 names
  std::string vm_bytes = "256M";
  int io_workers = 0;     // --io N
  std::vector<int> cpus;  // --taskset: where the load runs; empty: wherever the caller may run
  // --timeout: a safety net only (Background::stop ends it): a bench killed before it
  // could stop its load (a second Ctrl-C, a crash) leaves no load behind for longer.
  int timeout_s = 0;
};

// argv for `spec` (argv[0] = spec.program).
std::vector<std::string> stress_args(const StressSpec& spec);

// ---- gnuplot ----

// Runs `gnuplot script_path` in directory `dir` (the script's relative file names are
// read and written there); empty on success, else why not.
std::string run_gnuplot(const std::string& program, const std::string& script_path, const std::string& dir = ".");

}  // namespace rt::bench
