#pragma once
// The report of `rtengine bench`: per contender the medians of its per-repetition
// figures; per ratio the median of its per-repetition ratios (both blocks of a pair ran
// in the same repetition, adjacent or nearly), each judged against SPEC's target; the
// text tables, the JSON, the histogram CSV and the gnuplot script. Pure functions of the
// runs, so they are unit-tested on made-up runs.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rtbench/measure.hpp"
#include "rtbench/runner.hpp"

namespace rt::bench {

// A block's figure at `stat` (ns for latencies and costs, per second for rates);
// nothing when the block has an error or lacks that figure.
[[nodiscard]] std::optional<double> stat_of(const Block& b, Stat s);
[[nodiscard]] std::optional<double> extra_of(const Block& b, const std::string& name);
[[nodiscard]] const char* to_string(Stat s) noexcept;

// Median of `v` (the mean of the middle two for an even count); 0 when empty.
[[nodiscard]] double median(std::vector<double> v);
// q-quantile, linear between ranks (q in [0, 1]); 0 when empty.
[[nodiscard]] double quantile(std::vector<double> v, double q);

// One contender over its repetitions: p50/p99/p99.9/value are medians of the
// per-repetition figures; min is the smallest min and max the largest max (extremes of
// the whole run).
struct Figures {
  int runs = 0;  // repetitions that measured something
  double min = 0, p50 = 0, p99 = 0, p999 = 0, max = 0, value = 0;
  std::uint64_t samples = 0;                          // latencies over all repetitions
  std::vector<std::pair<std::string, double>> extra;  // median over repetitions, by name
  std::vector<std::pair<std::string, double>> extra_sum;
  std::string error;  // the first block error (shown when runs == 0)
};
[[nodiscard]] Figures figures_of(const ContenderRun& c);

enum class Verdict : std::uint8_t { Pass, Fail, Info, Skipped };
[[nodiscard]] const char* to_string(Verdict v) noexcept;

struct RatioOutcome {
  Ratio ratio;
  int pairs = 0;                      // repetitions where both measured
  double median = 0, q1 = 0, q3 = 0;  // of the per-repetition ratios
  Verdict verdict = Verdict::Skipped;
  std::string why;  // Skipped: why
};
[[nodiscard]] std::vector<RatioOutcome> evaluate_ratios(const GroupRun& g);

struct CheckOutcome {
  Check check;
  double value = 0;
  Verdict verdict = Verdict::Skipped;
  std::string why;
};
[[nodiscard]] std::vector<CheckOutcome> evaluate_checks(const GroupRun& g);

// How the whole bench ran: printed above the tables and kept in the JSON.
struct Conditions {
  Settings settings;
  std::string machine;        // uname: kernel, architecture
  std::string scheduling;     // "SCHED_FIFO 80" or what was refused and what runs instead
  std::string memory;         // "locked" or why not
  std::string rt_throttling;  // on (and what it costs a spinning contender), off, or lifted for the run
  std::string load;           // "" or "stress-ng --vm 1 ..." for the whole bench
  std::vector<std::string> warnings;
};

struct BenchRun {
  Conditions conditions;
  std::vector<GroupRun> groups;
  ns_t elapsed = 0;
};

// The tables: per group the contenders (min p50 p99 p99.9 max, or the value), the
// ratios and checks with PASS/FAIL; then one summary line per target.
[[nodiscard]] std::string render_text(const BenchRun& run);
// Every figure: settings, conditions, per contender its figures and every block, per
// ratio its per-repetition values and verdict.
[[nodiscard]] nlohmann::json render_json(const BenchRun& run);
// True when every ratio and check with a target was judged and met (--strict): a
// target skipped (a program missing, a backend unusable) is not met. Informational
// ratios (no target) do not count.
[[nodiscard]] bool all_met(const BenchRun& run);

// The latency distributions of a group's latency contenders (merged over repetitions) in
// `bin_ns` bins: "latency_us,<id>,<id>..." then one row per bin up to the last non-empty
// one, samples per bin. A histogram bucket wider than a bin is spread over the bins it
// covers (so a count may be fractional). Empty when no latency contender ran.
[[nodiscard]] std::string histogram_csv(const GroupRun& g, ns_t bin_ns = 1000);
// A gnuplot script plotting `csv` (as histogram_csv wrote it; `labels` the titles of its
// columns in order, `totals` their sample counts) as fractions of samples on log-log
// axes, once as PNG and once as SVG.
[[nodiscard]] std::string gnuplot_script(const std::string& csv, const std::vector<std::string>& labels,
                                         const std::vector<double>& totals, const std::string& title,
                                         const std::string& png, const std::string& svg);

}  // namespace rt::bench
