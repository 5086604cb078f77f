#include "rtbench/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace rt::bench {

std::optional<double> stat_of(const Block& b, Stat s) {
  if (!b.error.empty()) return std::nullopt;
  if (s == Stat::Value) return b.value;
  if (!b.latency || b.latency->count() == 0) return std::nullopt;
  const HistogramSnapshot& h = *b.latency;
  switch (s) {
    case Stat::Min:
      return static_cast<double>(h.min());
    case Stat::P50:
      return static_cast<double>(h.percentile(50));
    case Stat::P99:
      return static_cast<double>(h.percentile(99));
    case Stat::P999:
      return static_cast<double>(h.percentile(99.9));
    case Stat::Max:
      return static_cast<double>(h.max());
    case Stat::Value:
      break;
  }
  return std::nullopt;
}

std::optional<double> extra_of(const Block& b, const std::string& name) {
  if (!b.error.empty()) return std::nullopt;
  for (const auto& [n, v] : b.extra)
    if (n == name) return v;
  return std::nullopt;
}

const char* to_string(Stat s) noexcept {
  switch (s) {
    case Stat::Min:
      return "min";
    case Stat::P50:
      return "p50";
    case Stat::P99:
      return "p99";
    case Stat::P999:
      return "p99.9";
    case Stat::Max:
      return "max";
    case Stat::Value:
      return "value";
  }
  return "?";
}

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::Pass:
      return "PASS";
    case Verdict::Fail:
      return "FAIL";
    case Verdict::Info:
      return "info";
    case Verdict::Skipped:
      return "skipped";
  }
  return "?";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

namespace {

void add_to(std::vector<std::pair<std::string, std::vector<double>>>& acc, const std::string& name, double v) {
  for (auto& [n, vs] : acc)
    if (n == name) {
      vs.push_back(v);
      return;
    }
  acc.push_back({name, {v}});
}

}  // namespace

Figures figures_of(const ContenderRun& c) {
  Figures f;
  std::vector<double> p50, p99, p999, value;
  std::vector<std::pair<std::string, std::vector<double>>> extras;
  bool first = true;
  for (const Block& b : c.blocks) {
    if (!b.error.empty()) {
      if (f.error.empty()) f.error = b.error;
      continue;
    }
    ++f.runs;
    value.push_back(b.value);
    for (const auto& [n, v] : b.extra)
      add_to(extras, n, v);
    if (const auto lo = stat_of(b, Stat::Min)) {
      f.min = first ? *lo : std::min(f.min, *lo);
      f.max = first ? *stat_of(b, Stat::Max) : std::max(f.max, *stat_of(b, Stat::Max));
      first = false;
      p50.push_back(*stat_of(b, Stat::P50));
      p99.push_back(*stat_of(b, Stat::P99));
      p999.push_back(*stat_of(b, Stat::P999));
      f.samples += b.latency->count();
    }
  }
  f.p50 = median(p50);
  f.p99 = median(p99);
  f.p999 = median(p999);
  f.value = median(value);
  for (const auto& [n, vs] : extras) {
    f.extra.emplace_back(n, median(vs));
    double sum = 0;
    for (const double v : vs)
      sum += v;
    f.extra_sum.emplace_back(n, sum);
  }
  return f;
}

std::vector<RatioOutcome> evaluate_ratios(const GroupRun& g) {
  std::vector<RatioOutcome> out;
  for (const Ratio& r : g.ratios) {
    RatioOutcome o{r, 0, 0, 0, 0, Verdict::Skipped, {}};
    const ContenderRun* a = g.find(r.contender);
    const ContenderRun* b = g.find(r.baseline);
    if (a == nullptr || b == nullptr) {
      o.why = "no contender '" + (a == nullptr ? r.contender : r.baseline) + "'";
    } else if (!a->skipped.empty() || !b->skipped.empty()) {
      o.why = (a->skipped.empty() ? b : a)->skipped;
    } else {
      std::vector<double> ratios;
      const std::size_t n = std::min(a->blocks.size(), b->blocks.size());
      for (std::size_t i = 0; i < n; ++i) {
        const auto x = stat_of(a->blocks[i], r.stat);
        const auto y = stat_of(b->blocks[i], r.stat);
        if (x && y && *y > 0) ratios.push_back(*x / *y);
      }
      o.pairs = static_cast<int>(ratios.size());
      if (ratios.empty()) {
        const std::string& err = !figures_of(*a).error.empty() ? figures_of(*a).error : figures_of(*b).error;
        o.why = err.empty() ? "no repetition measured both" : err;
      } else {
        o.median = median(ratios);
        o.q1 = quantile(ratios, 0.25);
        o.q3 = quantile(ratios, 0.75);
        if (r.limit <= 0)
          o.verdict = Verdict::Info;
        else
          o.verdict = (r.at_least ? o.median >= r.limit : o.median <= r.limit) ? Verdict::Pass : Verdict::Fail;
      }
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<CheckOutcome> evaluate_checks(const GroupRun& g) {
  std::vector<CheckOutcome> out;
  for (const Check& c : g.checks) {
    CheckOutcome o{c, 0, Verdict::Skipped, {}};
    const ContenderRun* a = g.find(c.contender);
    if (a == nullptr) {
      o.why = "no contender '" + c.contender + "'";
    } else if (!a->skipped.empty()) {
      o.why = a->skipped;
    } else {
      const Figures f = figures_of(*a);
      bool found = false;
      if (!c.extra.empty()) {
        for (const auto& [n, v] : c.sum ? f.extra_sum : f.extra)
          if (n == c.extra) {
            o.value = v;
            found = true;
          }
      } else if (f.runs > 0 && (c.stat == Stat::Value || f.samples > 0)) {
        found = true;
        switch (c.stat) {
          case Stat::Min:
            o.value = f.min;
            break;
          case Stat::P50:
            o.value = f.p50;
            break;
          case Stat::P99:
            o.value = f.p99;
            break;
          case Stat::P999:
            o.value = f.p999;
            break;
          case Stat::Max:
            o.value = f.max;
            break;
          case Stat::Value:
            o.value = f.value;
            break;
        }
      }
      if (!found)
        o.why = f.runs == 0 ? (f.error.empty() ? "nothing measured" : f.error) : "not measured: " + c.extra;
      else
        o.verdict = o.value <= c.limit ? Verdict::Pass : Verdict::Fail;
    }
    out.push_back(std::move(o));
  }
  return out;
}

bool all_met(const BenchRun& run) {
  for (const GroupRun& g : run.groups) {
    for (const auto& o : evaluate_ratios(g))
      if (o.verdict == Verdict::Fail || (o.verdict == Verdict::Skipped && o.ratio.limit > 0)) return false;
    for (const auto& o : evaluate_checks(g))
      if (o.verdict == Verdict::Fail || o.verdict == Verdict::Skipped) return false;
  }
  return true;
}

}  // namespace rt::bench
