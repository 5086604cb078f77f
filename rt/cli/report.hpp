#pragma once
// The report of `rtengine run` (issue 16): what the engine measured, gathered into plain
// structs after the run, and rendered as an aligned text report for people or one JSON
// object for tools (the same fields either way). Plus the one-line live progress. Not for
// RT threads: everything here allocates.
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "rt/engine.hpp"
#include "rt/histogram.hpp"
#include "rt/periodic.hpp"
#include "rt/workflow.hpp"

namespace rt::demo {
struct TrackingStats;
}

namespace rt::cli {

// One periodic loop. Jitter is the release latency (start - release), in microseconds.
struct LoopReport {
  std::string name;
  std::uint64_t releases = 0, runs = 0, skipped = 0, overruns = 0, misses = 0, rollbacks = 0, exceptions = 0;
  std::uint64_t jitter_samples = 0;
  double jitter_min_us = 0, jitter_p50_us = 0, jitter_p99_us = 0, jitter_p999_us = 0, jitter_max_us = 0;
  double jitter_mean_us = 0;
  double exec_p99_us = 0, exec_max_us = 0;  // end - start: the loop body's cost
  // Hybrid loops (0 otherwise): the spin margin in effect (hybrid_margin = "auto": the one
  // the worker chose), its share of the period (the spin's CPU share), the p99.9 lateness
  // of the worker's wake-ups it is based on, and the wake-ups after the release.
  double hybrid_margin_us = 0, spin_share = 0, wake_lateness_p999_us = 0;
  std::uint64_t late_wakes = 0;
};

// One graph. Frame latency is try_run -> the last node's end, in microseconds; p50 and
// p99 need a histogram of it (GraphStats keeps only min/mean/max), so they are empty
// when the builder got none.
struct GraphReport {
  std::string name;
  std::uint64_t runs = 0, completed = 0, failed = 0, misses = 0, busy = 0, abandoned = 0;
  double latency_min_us = 0, latency_mean_us = 0, latency_max_us = 0;
  std::optional<double> latency_p50_us, latency_p99_us;
};

// One-shot tasks by outcome (rt::Stats), and the submissions refused.
struct TaskReport {
  std::uint64_t submitted = 0, completed = 0, failed = 0, timed_out = 0, cancelled = 0, skipped = 0;
  std::uint64_t retries = 0, dead_lettered = 0, rolled_back = 0;
  std::uint64_t circuit_open = 0, queue_full = 0, no_free_slot = 0;  // refused by try_submit
};

// The plant's speed against its set-point (rt/cli/demo/plant.hpp, TrackingStats), rad/s.
struct TrackingReport {
  double rms = 0, max_abs = 0;  // after the settling window
  double in_band_ratio = 0;     // share of all samples within +-2 % of the set-point
  double settle_s = 0;          // the window excluded after each set-point change
  std::uint64_t samples = 0;
};

struct RunReport {
  double duration_s = 0;
  std::string rt_mode;  // "SCHED_FIFO", or "degraded: <why>"
  std::vector<LoopReport> loops;
  std::vector<GraphReport> graphs;
  TaskReport tasks;
  std::optional<TrackingReport> tracking;  // empty: no plant in this run
  std::uint64_t events_dropped = 0;
};

// Counts from `stats`; jitter percentiles (p50, p99, p99.9, nearest rank, never below the
// exact value and at most 1/128 above it) from `jitter`, e.g. Engine::periodic_jitter(id).
[[nodiscard]] LoopReport loop_report(const rt::PeriodicStats& stats, const rt::HistogramSnapshot& jitter);
// Without a latency histogram: min/mean/max from stats.duration, no p50/p99.
[[nodiscard]] GraphReport graph_report(const rt::GraphStats& stats);
// With one (the runner records each frame's latency): percentiles, min and max from it.
[[nodiscard]] GraphReport graph_report(const rt::GraphStats& stats, const rt::HistogramSnapshot& latency);
// queue_full is summed over the classes.
[[nodiscard]] TaskReport task_report(const rt::Stats& stats);
[[nodiscard]] TrackingReport tracking_report(const rt::demo::TrackingStats& tracking);

// The text report: sections "Loops", "Graphs", "Tasks", "Plant tracking" (the last two
// only when there is something to say), columns aligned, times in microseconds.
void print_report(const RunReport& r, std::ostream& out);
// The same fields as one object: {"duration_s", "rt_mode", "loops": [...], "graphs": [...],
// "tasks": {...}, "tracking": {...} or null, "events_dropped"}; a graph's p50/p99 are null
// when unknown. Keys are the struct members' names.
[[nodiscard]] nlohmann::json report_json(const RunReport& r);

// The live progress line.
struct Progress {
  double uptime_s = 0;
  std::uint64_t releases = 0, misses = 0, rollbacks = 0;  // summed over the loops
  double p99_jitter_us = 0;                               // the worst loop's
  std::uint64_t retries = 0, dead_lettered = 0;           // one-shot tasks
  std::int64_t queue_depth = 0;                           // summed over the classes
};

// One line of exactly kProgressWidth characters, no newline (the caller ends it with \r
// on a terminal, \n otherwise), so successive lines overwrite each other cleanly on an
// 80-column terminal:
//   "   12.3s rel    12300 p99   14.2us miss    0 rb    3 retry   17 dlq    2 q    0"
// uptime, loop releases, the worst loop's p99 jitter, deadline misses, rollbacks, task
// retries, dead letters, queue depth. A value too wide for its field is shown in
// thousands with a suffix (12345 -> "12k" in a 4-wide field), never widening the line.
inline constexpr std::size_t kProgressWidth = 79;
[[nodiscard]] std::string progress_line(const Progress& p);

}  // namespace rt::cli
