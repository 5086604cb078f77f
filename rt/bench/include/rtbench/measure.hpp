#pragma once
// `rtengine bench` (F27, SPEC P1-P7): what one measurement is. A Group is one P-target:
// its contenders (the engine in some configuration, and the baselines it is compared
// with), the ratios SPEC names between them, and the absolute checks. The runner
// (runner.hpp) interleaves the contenders of a group over repetitions; the report
// (report.hpp) takes medians of per-repetition figures and per-repetition ratios.
//
// Everything here is setup/measurement code, not the engine's run path: it allocates and
// may block freely. Contenders measure the engine through its public API only.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hal/cpu.hpp"
#include "rt/histogram.hpp"
#include "rt/types.hpp"

namespace rt::bench {

// What every contender of every group runs with (the command line's options).
struct Settings {
  ns_t period = 1'000'000;                // --period: release period of P1/P6 loops and cyclictest's -i
  int cpu = 1;                            // --cpu: the measured CPU (loops, workers, cyclictest's thread, oslat)
  int side_cpu = 0;                       // the other CPU: producers, the monitor, the bench's own thread
  int priority = 80;                      // --priority: SCHED_FIFO priority of every measured thread; 0: SCHED_OTHER
  ns_t block = 1'000'000'000;             // wall time of one block of a time-based contender (P1, P6)
  int samples = 500;                      // samples in one block of a count-based contender (P2, P3, P5)
  std::string cyclictest = "cyclictest";  // program names (or paths); "none" turns one off
  std::string oslat = "oslat";
  std::string stress_ng = "stress-ng";
  bool pm_qos = true;  // hold /dev/cpu_dma_latency while a contender runs, as cyclictest does by default
};

// What a contender measured in one block.
struct Block {
  std::optional<HistogramSnapshot> latency;  // latencies in ns (Kind::Latency)
  double value = 0;                          // Kind::Rate: items per second; Kind::Cost: ns per item
  // Named figures worth reporting (an allocation count, the margin a loop chose...),
  // summed (counts) or taken at the median over repetitions by the report.
  std::vector<std::pair<std::string, double>> extra;
  std::string error;  // not empty: nothing measured; the comparisons with this contender say why
};

enum class Kind : std::uint8_t { Latency, Rate, Cost };

struct Contender {
  std::string id;     // short, stable, for JSON/CSV: "engine_sleep", "cyclictest"
  std::string label;  // for tables: "engine sleep", "cyclictest"
  Kind kind = Kind::Latency;
  std::function<Block(const Settings&)> block;  // set up, measure one block, tear down
  // Asked once before the group runs: empty when it can run, else why not (a program not
  // installed, a backend not usable); the contender is then reported as skipped.
  std::function<std::string(const Settings&)> unavailable;
};

// Which figure of a contender a ratio or check reads.
enum class Stat : std::uint8_t { Min, P50, P99, P999, Max, Value };

// A ratio SPEC names: median over repetitions of (contender / baseline) at `stat`, met
// when <= limit (Le) or >= limit (Ge). limit <= 0: reported, no target.
struct Ratio {
  std::string contender, baseline;  // Contender::id
  Stat stat = Stat::P50;
  double limit = 0;
  bool at_least = false;  // Ge: throughput ratios
  std::string source;     // "SPEC P1"
};

// An absolute check on one contender: median over repetitions of `stat` (in ns for
// latencies and costs), or of the named extra figure (summed over repetitions when
// `sum`), met when <= limit.
struct Check {
  std::string contender;
  Stat stat = Stat::Value;
  std::string extra;  // not empty: the named extra figure instead of `stat`
  bool sum = false;
  double limit = 0;
  std::string what;  // "allocations on RT threads after start"
  std::string source;
};

// Contenders measured in one block, their samples interleaved one by one or (P1's sleep
// loop and cyclictest) taken at the same time: the finest pairing, as a drift of the
// machine between blocks (~1 s fast and slow periods on a VM) cannot favour one of them.
// `block` returns one Block per id, in `ids` order. The contenders keep a `block` of their
// own, used when one of them cannot run.
struct Joint {
  std::vector<std::string> ids;
  std::function<std::vector<Block>(const Settings&)> block;
};

struct Group {
  std::string id;     // "P1"
  std::string title;  // "Periodic release latency"
  std::vector<Contender> contenders;
  std::vector<Joint> joints;  // each contender in one at most
  std::vector<Ratio> ratios;
  std::vector<Check> checks;
  int min_reps = 5;  // at least this many repetitions, whatever --reps says
  // A release-latency group (P1, P6): its blocks are Settings::block long, --duration split
  // into one per repetition (release_repetitions, runner.hpp), which then sets min_reps.
  bool splits_duration = false;
  // Time one repetition takes, for the progress line's estimate.
  std::function<ns_t(const Settings&)> rep_time;
  std::vector<std::string> notes;  // printed under the group's tables
};

// The groups, one per P-target (p1_release.cpp ... p7_graph.cpp).
Group p1_release(const Settings& s);
Group p2_handoff(const Settings& s);
Group p3_detection(const Settings& s);
Group p4_throughput(const Settings& s);
Group p5_critical(const Settings& s);
Group p6_load(const Settings& s);
Group p7_graph(const Settings& s);
// The load P6 (and --load stress-ng) runs: the stress-ng command line.
std::string describe_load(const Settings& s);
std::vector<std::string> load_args(const Settings& s);

}  // namespace rt::bench

namespace rt::bench {

// Latencies of one block as a histogram (the engine's own bucket scheme, so every
// contender is reported alike: a percentile is its bucket's top, <= 1/128 above).
[[nodiscard]] HistogramSnapshot snapshot_of(const std::vector<ns_t>& samples);

// Like with like: while alive, holds /dev/cpu_dma_latency at 0 when the engine would
// (settings.pm_qos and a SCHED_FIFO priority), as cyclictest does by default. A baseline
// block holds one; an engine block gets the engine's own. A refusal is reported once.
class PmQosHold {
 public:
  explicit PmQosHold(const Settings& s);
  [[nodiscard]] bool held() const noexcept { return request_.active(); }

 private:
  hal::DmaLatencyRequest request_;
};

// The engine's rule (rt::PmQosConfig): a request whenever a SCHED_FIFO thread runs.
[[nodiscard]] inline bool wants_pm_qos(const Settings& s) noexcept { return s.pm_qos && s.priority > 0; }

}  // namespace rt::bench
