// The text tables of `rtengine bench` (report.hpp).
#include <algorithm>
#include <cstdio>
#include <string>

#include "rtbench/report.hpp"

namespace rt::bench {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Microseconds, with the digits that mean something at that size.
std::string us(double ns) {
  const double v = ns / 1000.0;
  return fmt(v < 10 ? "%.2f" : v < 1000 ? "%.1f" : "%.0f", v);
}

std::string rate(double per_s) {
  if (per_s >= 1e6) return fmt("%.2f M/s", per_s / 1e6);
  if (per_s >= 1e3) return fmt("%.1f k/s", per_s / 1e3);
  return fmt("%.0f /s", per_s);
}

std::string pad(const std::string& s, std::size_t w, bool right = false) {
  if (s.size() >= w) return s + " ";
  return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

std::string target_text(const Ratio& r) {
  if (r.limit <= 0) return "-";
  return std::string(r.at_least ? ">= " : "<= ") + fmt("%g", r.limit);
}

std::string label_of(const GroupRun& g, const std::string& id) {
  const ContenderRun* c = g.find(id);
  return c != nullptr ? c->label : id;
}

// The label column fits the group's longest label.
std::size_t label_width(const GroupRun& g) {
  std::size_t w = 24;
  for (const ContenderRun& c : g.contenders)
    w = std::max(w, c.label.size() + 2);
  return w;
}

void contender_rows(const GroupRun& g, std::string& out) {
  const std::size_t w = label_width(g);
  bool latency_header = false;
  for (const ContenderRun& c : g.contenders) {
    if (c.kind == Kind::Latency && !latency_header) {
      out += "  " + pad("contender", w) + pad("runs", 6, true) + pad("min", 9, true) + pad("p50", 9, true) +
             pad("p99", 9, true) + pad("p99.9", 9, true) + pad("max", 9, true) + "  (us)\n";
      latency_header = true;
    }
  }
  for (const ContenderRun& c : g.contenders) {
    std::string line = "  " + pad(c.label, w);
    if (!c.skipped.empty()) {
      out += line + "skipped: " + c.skipped + "\n";
      continue;
    }
    const Figures f = figures_of(c);
    line += pad(std::to_string(f.runs), 6, true);
    if (f.runs == 0) {
      out += line + "  not measured: " + f.error + "\n";
      continue;
    }
    if (c.kind == Kind::Latency)
      line += pad(us(f.min), 9, true) + pad(us(f.p50), 9, true) + pad(us(f.p99), 9, true) + pad(us(f.p999), 9, true) +
              pad(us(f.max), 9, true);
    else if (c.kind == Kind::Rate)
      line += "  " + rate(f.value);
    else
      line += "  " + fmt("%.1f ns", f.value);
    for (const auto& [n, v] : f.extra)
      line += "  " + n + " " + fmt("%g", v);
    if (static_cast<std::size_t>(f.runs) < c.blocks.size())
      line += "  (" + std::to_string(c.blocks.size() - static_cast<std::size_t>(f.runs)) + " failed: " + f.error + ")";
    out += line + "\n";
  }
}

}  // namespace

std::string render_text(const BenchRun& run) {
  std::string out;
  const Conditions& c = run.conditions;
  out += "rtengine bench: period " + std::to_string(c.settings.period / 1000) + " us, CPU " +
         std::to_string(c.settings.cpu) + " (others on CPU " + std::to_string(c.settings.side_cpu) + "), " +
         c.scheduling + "\n";
  if (!c.machine.empty()) out += "  machine: " + c.machine + "\n";
  out += "  memory: " + c.memory +
         "; PM QoS (/dev/cpu_dma_latency = 0): " + (wants_pm_qos(c.settings) ? "held by every contender" : "off") +
         "\n";
  if (!c.rt_throttling.empty()) out += "  RT throttling: " + c.rt_throttling + "\n";
  out += "  load: " + (c.load.empty() ? std::string("none (idle machine)") : c.load) + "\n";
  for (const auto& w : c.warnings)
    out += "  WARNING: " + w + "\n";
  out +=
      "  figures: medians over repetitions of each repetition's percentile (min and max: extremes of all);\n"
      "  ratios: median over repetitions of the per-repetition ratio [interquartile range]\n";
  int pass = 0, fail = 0, skipped = 0;
  std::string failed;
  for (const GroupRun& g : run.groups) {
    out += "\n" + g.id + "  " + g.title + "  (" + (g.interrupted ? "interrupted, " : "") + std::to_string(g.reps) +
           " repetitions, " + fmt("%.1f", static_cast<double>(g.elapsed) / 1e9) + " s)\n";
    contender_rows(g, out);
    const auto ratios = evaluate_ratios(g);
    const auto checks = evaluate_checks(g);
    if (!ratios.empty() || !checks.empty()) out += "\n";
    std::size_t nw = 40;  // the name column fits the longest ratio or check name
    for (const auto& o : ratios)
      nw = std::max(nw, label_of(g, o.ratio.contender).size() + label_of(g, o.ratio.baseline).size() + 10);
    for (const auto& o : checks)
      nw = std::max(nw, label_of(g, o.check.contender).size() + o.check.what.size() + 4);
    for (const auto& o : ratios) {
      std::string name =
          label_of(g, o.ratio.contender) + " / " + label_of(g, o.ratio.baseline) + " " + to_string(o.ratio.stat);
      std::string line = "  " + pad(name, nw);
      if (o.verdict == Verdict::Skipped) {
        line += pad("-", 22) + pad(target_text(o.ratio), 10) + "skipped: " + o.why;
      } else {
        line += pad(fmt("%.3g", o.median), 7, true) +
                pad(" [" + fmt("%.3g", o.q1) + ", " + fmt("%.3g", o.q3) + "]", 15) + pad(target_text(o.ratio), 10) +
                pad(to_string(o.verdict), 8) + o.ratio.source;
      }
      out += line + "\n";
      if (o.verdict == Verdict::Pass) ++pass;
      if (o.verdict == Verdict::Skipped && o.ratio.limit > 0) ++skipped;
      if (o.verdict == Verdict::Fail) {
        ++fail;
        failed +=
            "  " + g.id + ": " + name + " = " + fmt("%.3g", o.median) + " (target " + target_text(o.ratio) + ")\n";
      }
    }
    for (const auto& o : checks) {
      std::string line = "  " + pad(label_of(g, o.check.contender) + ": " + o.check.what, nw);
      const std::string target = "<= " + fmt("%g", o.check.limit);
      if (o.verdict == Verdict::Skipped)
        line += pad("-", 22) + pad(target, 10) + "skipped: " + o.why;
      else
        line += pad(fmt("%g", o.value), 22) + pad(target, 10) + pad(to_string(o.verdict), 8) + o.check.source;
      out += line + "\n";
      if (o.verdict == Verdict::Pass) ++pass;
      if (o.verdict == Verdict::Skipped) ++skipped;
      if (o.verdict == Verdict::Fail) {
        ++fail;
        failed += "  " + g.id + ": " + label_of(g, o.check.contender) + ": " + o.check.what + " = " +
                  fmt("%g", o.value) + " (target " + target + ")\n";
      }
    }
    for (const auto& n : g.notes)
      out += "  note: " + n + "\n";
  }
  out += "\nTargets: " + std::to_string(pass) + " met, " + std::to_string(fail) + " not met, " +
         std::to_string(skipped) + " not judged (" + fmt("%.0f", static_cast<double>(run.elapsed) / 1e9) + " s)\n" +
         failed;
  return out;
}

}  // namespace rt::bench
