#pragma once
// The project's method for a performance ratio (issue 14, section 3): a contender and its
// baseline are measured in ADJACENT short blocks, many times, and the figure reported is
// the median over pairs of (contender percentile / baseline percentile).
//
// Why: our VMs alternate periods of about a second in which everything is ~3x slower, so
// a ratio of two medians taken seconds apart can be off 3x either way. Two adjacent
// blocks of well under a second mostly see the same machine, and the median over pairs
// throws away the pairs that straddle a change.
//
// Only one contender is alive at a time: a block sets its contender up (outside the
// samples), takes its samples and tears it down. A hot engine worker spins after each
// task and would otherwise steal the CPU from a baseline's consumer pinned beside it.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "support/latency.hpp"

namespace bench_support {

enum class Stat : std::uint8_t { P50, P99, P999 };
[[nodiscard]] const char* to_string(Stat s) noexcept;
[[nodiscard]] double value(const Percentiles& p, Stat s) noexcept;

// One block of one contender.
struct BlockResult {
  Percentiles p;
  std::string error;  // not empty: not measured; the comparisons with this contender stop, saying why
};

struct Contender {
  std::string name;
  // Sets up, measures one block, tears down. Must leave no thread of its own running.
  std::function<BlockResult()> block;
  // Asked once before the schedule: empty when the contender can run, else why it cannot
  // (a program not installed...). Its comparisons are then skipped with that reason.
  std::function<std::string()> unavailable;
};

// Met when the median over pairs of (contender / baseline) at `stat` is <= `limit`.
struct Target {
  std::string source;  // where it is set: "SPEC P2", "issue 14"
  Stat stat = Stat::P50;
  double limit = 1.0;
};

class PairedRun {
 public:
  // `title` heads the tables; `block` says what one block is, e.g. "500 samples".
  PairedRun(std::string title, std::string block);

  // Contenders are held by reference: they must outlive run() (the tables keep only
  // their names). `key` names the comparison in benchmark counters ("hot/raw" gives
  // "hot/raw_p50"...).
  void compare(const Contender& contender, const Contender& baseline, std::string key,
               std::vector<Target> targets = {});

  // `pairs` rounds; in each, every comparison measures its contender and its baseline
  // in two adjacent blocks, the contender first in even rounds and second in odd ones,
  // so a drift within a pair favours neither side.
  void run(int pairs);

  // Median over pairs of the ratios at `stat` of comparison `i`; 0 when none.
  [[nodiscard]] double median_ratio(std::size_t i, Stat s) const;
  // Median ratios (p50, p99, p99.9) of every comparison as counters.
  void set_counters(benchmark::State& state) const;
  [[nodiscard]] bool ran() const noexcept { return ran_; }

  // The contender table (median over its blocks of each raw percentile) and the
  // comparison table (median of per-pair ratios, with the interquartile range).
  void print(std::FILE* out) const;
  // One line per target of every comparison: the ratio, the limit, met / NOT met (or
  // skipped, and why). Information only: never an exit status.
  void print_targets(std::FILE* out) const;
  static void print_targets_header(std::FILE* out);

 private:
  struct Record {
    const Contender* contender;  // valid during run() only
    std::string name;
    std::vector<Percentiles> blocks;
  };
  struct Comparison {
    std::size_t contender, baseline;  // into records_
    std::string key;
    std::vector<Target> targets;
    std::array<std::vector<double>, 3> ratios;  // per Stat, one per pair
    std::string skipped;                        // why, when it stopped
  };
  std::size_t record_of(const Contender& c);
  [[nodiscard]] std::string label(const Comparison& c) const;

  std::string title_, block_;
  std::vector<Record> records_;
  std::vector<Comparison> comparisons_;
  bool ran_ = false;
};

// Median, and the q-th quantile (nearest rank) of a copy of `v`; 0 when empty.
[[nodiscard]] double median(std::vector<double> v);
[[nodiscard]] double quantile(std::vector<double> v, double q);

}  // namespace bench_support
