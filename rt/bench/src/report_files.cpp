// The machine-readable report of `rtengine bench`: JSON, histogram CSV, gnuplot script.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "rtbench/report.hpp"

namespace rt::bench {

namespace {

const char* to_string(Kind k) noexcept {
  switch (k) {
    case Kind::Latency:
      return "latency_ns";
    case Kind::Rate:
      return "per_second";
    case Kind::Cost:
      return "ns_per_item";
  }
  return "?";
}

nlohmann::json block_json(const Block& b) {
  nlohmann::json j = nlohmann::json::object();
  if (!b.error.empty()) {
    j["error"] = b.error;
    return j;
  }
  if (b.latency && b.latency->count() > 0) {
    const HistogramSnapshot& h = *b.latency;
    j["count"] = h.count();
    j["min"] = h.min();
    j["p50"] = h.percentile(50);
    j["p99"] = h.percentile(99);
    j["p999"] = h.percentile(99.9);
    j["max"] = h.max();
  } else {
    j["value"] = b.value;
  }
  for (const auto& [n, v] : b.extra)
    j["extra"][n] = v;
  return j;
}

nlohmann::json pairs_json(const std::vector<std::pair<std::string, double>>& v) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [n, x] : v)
    j[n] = x;
  return j;
}

// Per-repetition ratios, recomputed as evaluate_ratios does, for the JSON.
std::vector<double> ratio_values(const GroupRun& g, const Ratio& r) {
  std::vector<double> out;
  const ContenderRun* a = g.find(r.contender);
  const ContenderRun* b = g.find(r.baseline);
  if (a == nullptr || b == nullptr) return out;
  for (std::size_t i = 0; i < std::min(a->blocks.size(), b->blocks.size()); ++i) {
    const auto x = stat_of(a->blocks[i], r.stat);
    const auto y = stat_of(b->blocks[i], r.stat);
    if (x && y && *y > 0) out.push_back(*x / *y);
  }
  return out;
}

}  // namespace

nlohmann::json render_json(const BenchRun& run) {
  const Conditions& c = run.conditions;
  const Settings& s = c.settings;
  nlohmann::json j;
  j["settings"] = {{"period_ns", s.period},     {"cpu", s.cpu},
                   {"side_cpu", s.side_cpu},    {"priority", s.priority},
                   {"block_ns", s.block},       {"samples", s.samples},
                   {"pm_qos", wants_pm_qos(s)}, {"cyclictest", s.cyclictest},
                   {"oslat", s.oslat},          {"stress_ng", s.stress_ng}};
  j["conditions"] = {{"machine", c.machine}, {"scheduling", c.scheduling},
                     {"memory", c.memory},   {"rt_throttling", c.rt_throttling},
                     {"load", c.load},       {"warnings", c.warnings}};
  j["elapsed_ns"] = run.elapsed;
  j["all_met"] = all_met(run);
  j["groups"] = nlohmann::json::array();
  for (const GroupRun& g : run.groups) {
    nlohmann::json jg{
        {"id", g.id}, {"title", g.title}, {"reps", g.reps}, {"elapsed_ns", g.elapsed}, {"notes", g.notes}};
    jg["contenders"] = nlohmann::json::array();
    for (const ContenderRun& cr : g.contenders) {
      nlohmann::json jc{{"id", cr.id}, {"label", cr.label}, {"unit", to_string(cr.kind)}};
      if (!cr.skipped.empty()) {
        jc["skipped"] = cr.skipped;
      } else {
        const Figures f = figures_of(cr);
        jc["runs"] = f.runs;
        if (!f.error.empty()) jc["error"] = f.error;
        if (cr.kind == Kind::Latency)
          jc["figures"] = {{"min", f.min},   {"p50", f.p50}, {"p99", f.p99},
                           {"p999", f.p999}, {"max", f.max}, {"samples", f.samples}};
        else
          jc["figures"] = {{"value", f.value}};
        jc["extra_median"] = pairs_json(f.extra);
        jc["extra_sum"] = pairs_json(f.extra_sum);
        jc["blocks"] = nlohmann::json::array();
        for (const Block& b : cr.blocks)
          jc["blocks"].push_back(block_json(b));
      }
      jg["contenders"].push_back(std::move(jc));
    }
    jg["ratios"] = nlohmann::json::array();
    for (const RatioOutcome& o : evaluate_ratios(g)) {
      nlohmann::json jr{{"contender", o.ratio.contender},
                        {"baseline", o.ratio.baseline},
                        {"stat", to_string(o.ratio.stat)},
                        {"target", o.ratio.limit > 0 ? nlohmann::json(o.ratio.limit) : nlohmann::json(nullptr)},
                        {"at_least", o.ratio.at_least},
                        {"source", o.ratio.source},
                        {"verdict", to_string(o.verdict)},
                        {"pairs", o.pairs}};
      if (o.verdict == Verdict::Skipped) {
        jr["why"] = o.why;
      } else {
        jr["median"] = o.median;
        jr["q1"] = o.q1;
        jr["q3"] = o.q3;
        jr["per_rep"] = ratio_values(g, o.ratio);
      }
      jg["ratios"].push_back(std::move(jr));
    }
    jg["checks"] = nlohmann::json::array();
    for (const CheckOutcome& o : evaluate_checks(g)) {
      nlohmann::json jk{{"contender", o.check.contender},
                        {"what", o.check.what},
                        {"limit", o.check.limit},
                        {"source", o.check.source},
                        {"verdict", to_string(o.verdict)}};
      if (o.verdict == Verdict::Skipped)
        jk["why"] = o.why;
      else
        jk["value"] = o.value;
      jg["checks"].push_back(std::move(jk));
    }
    j["groups"].push_back(std::move(jg));
  }
  return j;
}

std::string histogram_csv(const GroupRun& g, ns_t bin_ns) {
  if (bin_ns <= 0) bin_ns = 1000;
  std::vector<std::string> ids;
  std::vector<std::map<ns_t, double>> bins;
  ns_t last = -1;
  for (const ContenderRun& c : g.contenders) {
    if (c.kind != Kind::Latency || !c.skipped.empty()) continue;
    std::map<ns_t, double> m;
    for (const Block& b : c.blocks) {
      if (!b.error.empty() || !b.latency) continue;
      std::uint64_t before = 0;
      b.latency->for_each_bucket([&](ns_t high, std::uint64_t cumulative) {
        const ns_t low = Histogram::bucket_low(Histogram::bucket_of(high));
        const auto count = static_cast<double>(cumulative - before);
        before = cumulative;
        if (high - low < bin_ns) {
          // A bucket narrower than a bin: its midpoint decides the bin.
          m[(low + (high - low) / 2) / bin_ns] += count;
          return;
        }
        // Wider (a bucket is 1/128 of its value: above 128 us at 1 us bins): spread over
        // the bins it covers, so the curve has no comb of empty bins.
        const auto width = static_cast<double>(high - low + 1);
        for (ns_t k = low / bin_ns; k <= high / bin_ns; ++k) {
          const ns_t from = std::max(low, k * bin_ns);
          const ns_t to = std::min(high + 1, (k + 1) * bin_ns);
          m[k] += count * static_cast<double>(to - from) / width;
        }
      });
    }
    if (m.empty()) continue;
    last = std::max(last, m.rbegin()->first);
    ids.push_back(c.id);
    bins.push_back(std::move(m));
  }
  if (ids.empty()) return {};
  std::string out = bin_ns == 1000 ? "latency_us" : "latency_bin_" + std::to_string(bin_ns) + "ns";
  for (const auto& id : ids)
    out += "," + id;
  out += "\n";
  for (ns_t k = 0; k <= last; ++k) {
    std::string row = std::to_string(static_cast<double>(k * bin_ns) / 1000.0);
    if (const auto dot = row.find('.'); dot != std::string::npos) {
      row.erase(row.find_last_not_of('0') + 1);
      if (row.back() == '.') row.pop_back();
    }
    for (const auto& m : bins) {
      const auto it = m.find(k);
      char v[32];
      std::snprintf(v, sizeof v, "%.6g", it == m.end() ? 0.0 : it->second);
      row += ",";
      row += v;
    }
    out += row + "\n";
  }
  return out;
}

std::string gnuplot_script(const std::string& csv, const std::vector<std::string>& labels,
                           const std::vector<double>& totals, const std::string& title, const std::string& png,
                           const std::string& svg) {
  std::string plot = "plot ";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) plot += ", \\\n     ";
    const std::string col = "$" + std::to_string(i + 2);
    char total[32];
    std::snprintf(total, sizeof total, "%.17g", i < totals.size() && totals[i] > 0 ? totals[i] : 1.0);
    // Fractions, so contenders with different sample counts share the axis; a zero is
    // undefined on a log axis: 1/0 tells gnuplot to leave the point out.
    plot += "'";
    plot += csv;
    plot += "' using ($1 + 0.5):(";
    plot += col;
    plot += " > 0 ? ";
    plot += col;
    plot += " / ";
    plot += total;
    plot += " : 1/0) with steps lw 2 title '";
    plot += labels[i];
    plot += "'";
  }
  std::string s;
  s += "# rtengine bench: latency distributions (gnuplot " + std::string("script; run: gnuplot THIS_FILE)\n");
  s += "set datafile separator ','\nset key autotitle columnhead\nset key top right\n";
  s += "set title '" + title + "'\nset xlabel 'latency (us, 1 us bins)'\nset ylabel 'fraction of samples per bin'\n";
  s += "set logscale xy\nset grid\n";
  s += "set terminal pngcairo size 1200,700 noenhanced\nset output '" + png + "'\n" + plot + "\n";
  s += "set terminal svg size 1200,700 dynamic noenhanced\nset output '" + svg + "'\n" + plot + "\n";
  return s;
}

}  // namespace rt::bench
