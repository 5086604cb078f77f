#include "support/paired.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace bench_support {

const char* to_string(Stat s) noexcept {
  switch (s) {
    case Stat::P50:
      return "p50";
    case Stat::P99:
      return "p99";
    case Stat::P999:
      return "p99.9";
  }
  return "?";
}

double value(const Percentiles& p, Stat s) noexcept {
  switch (s) {
    case Stat::P50:
      return p.p50;
    case Stat::P99:
      return p.p99;
    case Stat::P999:
      return p.p999;
  }
  return 0;
}

namespace {
constexpr std::array kStats{Stat::P50, Stat::P99, Stat::P999};
constexpr std::size_t index(Stat s) noexcept { return static_cast<std::size_t>(s); }
}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(q * static_cast<double>(v.size()))));
  return v[std::min(rank, v.size()) - 1];
}

PairedRun::PairedRun(std::string title, std::string block) : title_(std::move(title)), block_(std::move(block)) {}

std::size_t PairedRun::record_of(const Contender& c) {
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (records_[i].contender == &c) return i;
  }
  records_.push_back({&c, c.name, {}});
  return records_.size() - 1;
}

void PairedRun::compare(const Contender& contender, const Contender& baseline, std::string key,
                        std::vector<Target> targets) {
  const std::size_t c = record_of(contender);
  const std::size_t b = record_of(baseline);
  comparisons_.push_back({c, b, std::move(key), std::move(targets), {}, {}});
}

std::string PairedRun::label(const Comparison& c) const {
  return records_[c.contender].name + " / " + records_[c.baseline].name;
}

void PairedRun::run(int pairs) {
  ran_ = true;
  for (auto& r : records_)
    r.blocks.clear();
  for (auto& c : comparisons_) {
    for (auto& v : c.ratios)
      v.clear();
    c.skipped.clear();
    for (const std::size_t side : {c.contender, c.baseline}) {
      const Contender& who = *records_[side].contender;
      const std::string why = who.unavailable ? who.unavailable() : std::string();
      if (!why.empty() && c.skipped.empty()) c.skipped = who.name + ": " + why;
    }
  }
  const bool progress = isatty(STDERR_FILENO) != 0;
  for (int round = 0; round < pairs; ++round) {
    if (progress) std::fprintf(stderr, "\r%s: pair %d/%d ", title_.c_str(), round + 1, pairs);
    for (auto& c : comparisons_) {
      if (!c.skipped.empty()) continue;
      // Even rounds: contender then baseline; odd rounds the other way round.
      const std::size_t first = round % 2 == 0 ? c.contender : c.baseline;
      const std::size_t second = first == c.contender ? c.baseline : c.contender;
      const BlockResult a = records_[first].contender->block();
      const BlockResult b = a.error.empty() ? records_[second].contender->block() : BlockResult{};
      const BlockResult& failed = !a.error.empty() ? a : b;
      if (!failed.error.empty()) {
        const std::size_t who = !a.error.empty() ? first : second;
        c.skipped = records_[who].name + ": " + failed.error;
        if (round > 0) c.skipped += " (stopped after " + std::to_string(round) + " pairs)";
        continue;
      }
      records_[first].blocks.push_back(a.p);
      records_[second].blocks.push_back(b.p);
      const Percentiles& pc = first == c.contender ? a.p : b.p;
      const Percentiles& pb = first == c.contender ? b.p : a.p;
      for (const Stat s : kStats) {
        // A zero baseline percentile cannot be divided by: that pair says nothing.
        if (value(pb, s) > 0) c.ratios[index(s)].push_back(value(pc, s) / value(pb, s));
      }
    }
  }
  if (progress) std::fprintf(stderr, "\r%*s\r", static_cast<int>(title_.size()) + 24, "");
}

double PairedRun::median_ratio(std::size_t i, Stat s) const { return median(comparisons_.at(i).ratios[index(s)]); }

void PairedRun::set_counters(benchmark::State& state) const {
  for (std::size_t i = 0; i < comparisons_.size(); ++i) {
    if (comparisons_[i].ratios[0].empty()) continue;
    for (const Stat s : kStats)
      state.counters[comparisons_[i].key + "_" + to_string(s)] = median_ratio(i, s);
  }
}

void PairedRun::print(std::FILE* out) const {
  std::fprintf(out, "\n%s\n", title_.c_str());
  std::fprintf(out, "Paired: contender and baseline in adjacent blocks of %s, order alternating; one\n",
               block_.c_str());
  std::fprintf(out, "contender alive at a time; figures are medians over pairs (IQR: 25th-75th percentile).\n\n");
  std::fprintf(out, "  %-30s %6s %10s %10s %10s   (median over its blocks)\n", "contender", "blocks", "p50 us",
               "p99 us", "p99.9 us");
  for (const auto& r : records_) {
    std::vector<double> v[3];
    for (const auto& p : r.blocks) {
      for (const Stat s : kStats)
        v[index(s)].push_back(value(p, s));
    }
    if (r.blocks.empty()) {
      std::fprintf(out, "  %-30s %6d %10s %10s %10s\n", r.name.c_str(), 0, "-", "-", "-");
      continue;
    }
    std::fprintf(out, "  %-30s %6zu %10.2f %10.2f %10.2f\n", r.name.c_str(), r.blocks.size(), median(v[0]),
                 median(v[1]), median(v[2]));
  }
  std::fprintf(out, "\n  %-46s %5s  %-19s %-19s %s\n", "contender / baseline (per-pair ratio)", "pairs",
               "p50 median (IQR)", "p99 median (IQR)", "p99.9 median (IQR)");
  for (const auto& c : comparisons_) {
    const std::size_t n = c.ratios[0].size();
    std::fprintf(out, "  %-46s %5zu ", label(c).c_str(), n);
    if (n > 0) {
      for (const Stat s : kStats) {
        const auto& v = c.ratios[index(s)];
        char cell[64];
        std::snprintf(cell, sizeof cell, "%.3f (%.2f-%.2f)", median(v), quantile(v, 0.25), quantile(v, 0.75));
        std::fprintf(out, s == Stat::P999 ? " %s" : " %-19s", cell);
      }
    }
    if (!c.skipped.empty()) std::fprintf(out, " skipped: %s", c.skipped.c_str());
    std::fprintf(out, "\n");
  }
}

void PairedRun::print_targets_header(std::FILE* out) {
  std::fprintf(out, "\nTargets (median of per-pair ratios; information only, never an exit status)\n");
  std::fprintf(out, "  %-10s %-46s %-6s %8s %9s  %s\n", "source", "contender / baseline", "stat", "ratio", "limit",
               "result");
}

void PairedRun::print_targets(std::FILE* out) const {
  for (const auto& c : comparisons_) {
    for (const auto& t : c.targets) {
      const auto& v = c.ratios[index(t.stat)];
      std::fprintf(out, "  %-10s %-46s %-6s ", t.source.c_str(), label(c).c_str(), to_string(t.stat));
      if (v.empty()) {
        std::fprintf(out, "%8s  <= %5.2f  skipped: %s\n", "-", t.limit,
                     c.skipped.empty() ? "no pair measured" : c.skipped.c_str());
        continue;
      }
      const double r = median(v);
      std::fprintf(out, "%8.3f  <= %5.2f  %s%s%s\n", r, t.limit, r <= t.limit ? "met" : "NOT met",
                   c.skipped.empty() ? "" : "; incomplete: ", c.skipped.c_str());
    }
  }
}

}  // namespace bench_support
