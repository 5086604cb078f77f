#pragma once
// Runs the groups of `rtengine bench`: the contenders of a group interleaved over
// repetitions (forward in even repetitions, backward in odd ones, so a drift within a
// repetition favours no contender and the two sides of a ratio are measured in adjacent
// blocks when listed next to each other), the figures kept per repetition for the report. A Joint's contenders
// are one step of that order, measured together. Setup code throughout.
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "rtbench/measure.hpp"

namespace rt::bench {

struct ContenderRun {
  std::string id, label;
  Kind kind = Kind::Latency;
  std::string skipped;        // not empty: never ran (Contender::unavailable said why)
  std::vector<Block> blocks;  // one per repetition, in order; a Block may carry an error
};

struct GroupRun {
  std::string id, title;
  std::vector<ContenderRun> contenders;
  std::vector<Ratio> ratios;
  std::vector<Check> checks;
  std::vector<std::string> notes;
  int reps = 0;
  ns_t elapsed = 0;
  bool interrupted = false;  // `cancel` was set: the repetitions after it did not run
  [[nodiscard]] const ContenderRun* find(const std::string& contender_id) const noexcept;
};

// What the progress line shows.
struct Progress {
  std::string group, contender;  // "P1", "engine sleep"
  int rep = 0, reps = 0;         // 1-based
  ns_t left = 0;                 // estimated time left for the whole bench
};

// The repetitions a group gets: at least its min_reps.
[[nodiscard]] int reps_for(const Group& g, int reps) noexcept;

// The repetitions of the release-latency groups (P1, P6), which split `duration` into one
// block per repetition: `reps` when given (> 0), else one block per 1000 periods (1 s at
// 1 ms), at least 5. This VM switches between a fast and a slow state every second or so:
// two adjacent blocks of a second see one state far more often than two of three seconds,
// and more pairs steady their median (P1 sleep / cyclictest p99 at --duration 15s, separate
// blocks: five of 3 s 1.14 [0.98, 1.35]; fifteen of 1 s 0.95 [0.76, 1.13] and 1.12 [1.03,
// 1.37] in two runs, which is why P1's judged pair now shares its blocks).
[[nodiscard]] int release_repetitions(ns_t duration, ns_t period, int reps) noexcept;

// Estimated wall time of the whole plan (sum of rep_time x reps).
[[nodiscard]] ns_t estimate(const std::vector<Group>& groups, const Settings& s, int reps);

// Runs one group; `progress` is called before each block; `already` is the time the
// groups before it took (for `left`), `total` the whole plan's estimate. When `cancel`
// becomes non-zero (a signal) no further block starts: the group ends with what it has.
GroupRun run_group(const Group& g, const Settings& s, int reps, const std::function<void(const Progress&)>& progress,
                   ns_t total = 0, ns_t already = 0, const std::atomic<int>* cancel = nullptr);

}  // namespace rt::bench
