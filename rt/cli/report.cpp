// `rtengine run`'s report: builders from the engine's stats, the text and JSON renderers
// and the progress line.
#include "report.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ostream>

#include "demo/plant.hpp"

namespace rt::cli {

namespace {

double us(ns_t v) { return static_cast<double>(v) / 1000.0; }
double us(double v) { return v / 1000.0; }

// snprintf into a std::string: the formats here are ours and short.
template <class... A>
std::string format(const char* fmt, A... args) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n < 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buf) return std::string(buf, static_cast<std::size_t>(n));
  std::string s(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(s.data(), s.size(), fmt, args...);
  s.resize(static_cast<std::size_t>(n));
  return s;
}

unsigned long long ull(std::uint64_t v) { return v; }

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

template <class T>
std::size_t name_width(const std::vector<T>& rows) {
  std::size_t w = 4;  // "name"
  for (const auto& r : rows)
    w = std::max(w, r.name.size());
  return w;
}

void print_loops(const RunReport& r, std::ostream& out) {
  out << "Loops: release jitter (start - release), us\n";
  if (r.loops.empty()) {
    out << "  (none)\n\n";
    return;
  }
  const std::size_t w = name_width(r.loops);
  out << "  " << pad("name", w)
      << format("  %10s %9s %9s %9s %9s %9s %9s\n", "samples", "min", "p50", "p99", "p99.9", "max", "mean");
  for (const auto& l : r.loops) {
    out << "  " << pad(l.name, w)
        << format("  %10llu %9.2f %9.2f %9.2f %9.2f %9.2f %9.2f\n", ull(l.jitter_samples), l.jitter_min_us,
                  l.jitter_p50_us, l.jitter_p99_us, l.jitter_p999_us, l.jitter_max_us, l.jitter_mean_us);
  }
  out << "\nLoops: runs\n";
  out << "  " << pad("name", w)
      << format("  %10s %10s %8s %8s %8s %9s %10s %12s %12s\n", "releases", "runs", "skipped", "overruns", "misses",
                "rollbacks", "exceptions", "exec p99 us", "exec max us");
  for (const auto& l : r.loops) {
    out << "  " << pad(l.name, w)
        << format("  %10llu %10llu %8llu %8llu %8llu %9llu %10llu %12.1f %12.1f\n", ull(l.releases), ull(l.runs),
                  ull(l.skipped), ull(l.overruns), ull(l.misses), ull(l.rollbacks), ull(l.exceptions), l.exec_p99_us,
                  l.exec_max_us);
  }
  if (std::any_of(r.loops.begin(), r.loops.end(), [](const LoopReport& l) { return l.hybrid_margin_us > 0; })) {
    out << "\nLoops: hybrid spin margin before each release\n";
    out << "  " << pad("name", w)
        << format("  %10s %9s %14s %10s\n", "margin us", "CPU %", "wake p99.9 us", "late wakes");
    for (const auto& l : r.loops) {
      if (l.hybrid_margin_us <= 0) continue;
      out << "  " << pad(l.name, w)
          << format("  %10.1f %9.1f %14.1f %10llu\n", l.hybrid_margin_us, 100 * l.spin_share, l.wake_lateness_p999_us,
                    ull(l.late_wakes));
    }
  }
  out << '\n';
}

std::string optional_us(const std::optional<double>& v) { return v ? format("%9.1f", *v) : format("%9s", "-"); }

void print_graphs(const RunReport& r, std::ostream& out) {
  out << "Graphs: frames, latency (run -> last node's end), us\n";
  if (r.graphs.empty()) {
    out << "  (none)\n\n";
    return;
  }
  const std::size_t w = name_width(r.graphs);
  out << "  " << pad("name", w)
      << format("  %10s %10s %8s %8s %8s %9s %9s %9s %9s %9s %9s\n", "runs", "completed", "failed", "misses", "busy",
                "abandoned", "min", "p50", "p99", "max", "mean");
  for (const auto& g : r.graphs) {
    out << "  " << pad(g.name, w)
        << format("  %10llu %10llu %8llu %8llu %8llu %9llu %9.1f ", ull(g.runs), ull(g.completed), ull(g.failed),
                  ull(g.misses), ull(g.busy), ull(g.abandoned), g.latency_min_us)
        << optional_us(g.latency_p50_us) << ' ' << optional_us(g.latency_p99_us)
        << format(" %9.1f %9.1f\n", g.latency_max_us, g.latency_mean_us);
  }
  out << '\n';
}

void print_tasks(const TaskReport& t, std::ostream& out) {
  out << "Tasks by outcome\n";
  const std::pair<const char*, std::uint64_t> rows[] = {
      {"submitted", t.submitted},
      {"completed", t.completed},
      {"failed", t.failed},
      {"timed out", t.timed_out},
      {"cancelled", t.cancelled},
      {"skipped", t.skipped},
      {"retries", t.retries},
      {"dead-lettered", t.dead_lettered},
      {"rolled back", t.rolled_back},
      {"refused: circuit open", t.circuit_open},
      {"refused: queue full", t.queue_full},
      {"refused: no free slot", t.no_free_slot},
  };
  for (const auto& [label, value] : rows)
    out << format("  %-22s %12llu\n", label, ull(value));
  out << '\n';
}

void print_tracking(const TrackingReport& t, std::ostream& out) {
  out << format("Plant tracking: speed vs set-point (%.1f s after each change excluded)\n", t.settle_s);
  out << format("  %-22s %12.3f rad/s\n", "RMS error", t.rms);
  out << format("  %-22s %12.3f rad/s\n", "max error", t.max_abs);
  out << format("  %-22s %12.1f %% of %llu samples\n", "within +-2 % band", 100.0 * t.in_band_ratio, ull(t.samples));
  out << '\n';
}

// A count in at most `width` characters: the digits while they fit, then thousands with
// a suffix (k, M, G, T, P, E), so the progress line keeps its width for any value.
std::string fit(std::uint64_t v, int width) {
  std::string s = std::to_string(v);
  static constexpr char kSuffix[] = "kMGTPE";
  for (int i = 0; static_cast<int>(s.size()) > width && i < 6; ++i) {
    v /= 1000;
    s = std::to_string(v) + kSuffix[i];
  }
  return s;
}

// A non-negative measure: one decimal while it fits, then as a count.
std::string fit(double v, int width) {
  if (!(v > 0)) v = 0;  // also NaN
  std::string s = format("%.1f", v);
  if (static_cast<int>(s.size()) <= width) return s;
  return fit(static_cast<std::uint64_t>(std::min(v, 1.8e19)), width);
}

nlohmann::json optional_json(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

}  // namespace

LoopReport loop_report(const rt::PeriodicStats& stats, const rt::HistogramSnapshot& jitter) {
  LoopReport r;
  r.name = stats.name;
  r.releases = stats.releases;
  r.runs = stats.runs;
  r.skipped = stats.skipped;
  r.overruns = stats.overruns;
  r.misses = stats.deadline_misses;
  r.rollbacks = stats.rollbacks;
  r.exceptions = stats.exceptions;
  r.jitter_samples = jitter.count();
  if (jitter.count() > 0) {
    r.jitter_min_us = us(jitter.min());
    r.jitter_p50_us = us(jitter.percentile(50));
    r.jitter_p99_us = us(jitter.percentile(99));
    r.jitter_p999_us = us(jitter.percentile(99.9));
    r.jitter_max_us = us(jitter.max());
    r.jitter_mean_us = us(jitter.mean());
  }
  r.exec_p99_us = us(stats.execution.p99);
  r.exec_max_us = us(stats.execution.max);
  r.hybrid_margin_us = us(stats.hybrid_margin);
  r.spin_share = stats.period > 0 ? static_cast<double>(stats.hybrid_margin) / static_cast<double>(stats.period) : 0;
  r.wake_lateness_p999_us = us(stats.wake_lateness_p999);
  r.late_wakes = stats.late_wakes;
  return r;
}

GraphReport graph_report(const rt::GraphStats& stats) {
  GraphReport r;
  r.name = stats.name;
  r.runs = stats.runs;
  r.completed = stats.completed_runs;
  r.failed = stats.failed_runs;
  r.misses = stats.deadline_misses;
  r.busy = stats.busy;
  r.abandoned = stats.abandoned;
  r.latency_min_us = us(stats.duration.min);
  r.latency_mean_us = us(stats.duration.mean);
  r.latency_max_us = us(stats.duration.max);
  return r;
}

GraphReport graph_report(const rt::GraphStats& stats, const rt::HistogramSnapshot& latency) {
  GraphReport r = graph_report(stats);
  if (latency.count() == 0) return r;
  r.latency_min_us = us(latency.min());
  r.latency_mean_us = us(latency.mean());
  r.latency_max_us = us(latency.max());
  r.latency_p50_us = us(latency.percentile(50));
  r.latency_p99_us = us(latency.percentile(99));
  return r;
}

TaskReport task_report(const rt::Stats& s) {
  TaskReport t;
  t.submitted = s.submitted;
  t.completed = s.completed;
  t.failed = s.failed;
  t.timed_out = s.timed_out;
  t.cancelled = s.cancelled;
  t.skipped = s.skipped;
  t.retries = s.retries;
  t.dead_lettered = s.dead_lettered;
  t.rolled_back = s.rolled_back;
  t.circuit_open = s.circuit_open;
  for (const auto q : s.queue_full)
    t.queue_full += q;
  t.no_free_slot = s.no_free_slot;
  return t;
}

TrackingReport tracking_report(const rt::demo::TrackingStats& tracking) {
  TrackingReport t;
  t.rms = tracking.rms();
  t.max_abs = tracking.max_abs;
  t.in_band_ratio = tracking.in_band_ratio();
  t.settle_s = tracking.settle_s;
  t.samples = tracking.samples;
  return t;
}

void print_report(const RunReport& r, std::ostream& out) {
  out << format("rtengine run: %.1f s, %s\n\n", r.duration_s, r.rt_mode.c_str());
  print_loops(r, out);
  print_graphs(r, out);
  print_tasks(r.tasks, out);
  if (r.tracking) print_tracking(*r.tracking, out);
  out << format("Events dropped: %llu\n", ull(r.events_dropped));
}

nlohmann::json report_json(const RunReport& r) {
  nlohmann::json loops = nlohmann::json::array();
  for (const auto& l : r.loops) {
    loops.push_back({{"name", l.name},
                     {"releases", l.releases},
                     {"runs", l.runs},
                     {"skipped", l.skipped},
                     {"overruns", l.overruns},
                     {"misses", l.misses},
                     {"rollbacks", l.rollbacks},
                     {"exceptions", l.exceptions},
                     {"jitter_samples", l.jitter_samples},
                     {"jitter_min_us", l.jitter_min_us},
                     {"jitter_p50_us", l.jitter_p50_us},
                     {"jitter_p99_us", l.jitter_p99_us},
                     {"jitter_p999_us", l.jitter_p999_us},
                     {"jitter_max_us", l.jitter_max_us},
                     {"jitter_mean_us", l.jitter_mean_us},
                     {"exec_p99_us", l.exec_p99_us},
                     {"exec_max_us", l.exec_max_us},
                     {"hybrid_margin_us", l.hybrid_margin_us},
                     {"spin_share", l.spin_share},
                     {"wake_lateness_p999_us", l.wake_lateness_p999_us},
                     {"late_wakes", l.late_wakes}});
  }
  nlohmann::json graphs = nlohmann::json::array();
  for (const auto& g : r.graphs) {
    graphs.push_back({{"name", g.name},
                      {"runs", g.runs},
                      {"completed", g.completed},
                      {"failed", g.failed},
                      {"misses", g.misses},
                      {"busy", g.busy},
                      {"abandoned", g.abandoned},
                      {"latency_min_us", g.latency_min_us},
                      {"latency_mean_us", g.latency_mean_us},
                      {"latency_max_us", g.latency_max_us},
                      {"latency_p50_us", optional_json(g.latency_p50_us)},
                      {"latency_p99_us", optional_json(g.latency_p99_us)}});
  }
  const TaskReport& t = r.tasks;
  nlohmann::json tracking;  // null
  if (r.tracking) {
    tracking = {{"rms", r.tracking->rms},
                {"max_abs", r.tracking->max_abs},
                {"in_band_ratio", r.tracking->in_band_ratio},
                {"settle_s", r.tracking->settle_s},
                {"samples", r.tracking->samples}};
  }
  return {{"duration_s", r.duration_s},
          {"rt_mode", r.rt_mode},
          {"loops", std::move(loops)},
          {"graphs", std::move(graphs)},
          {"tasks",
           {{"submitted", t.submitted},
            {"completed", t.completed},
            {"failed", t.failed},
            {"timed_out", t.timed_out},
            {"cancelled", t.cancelled},
            {"skipped", t.skipped},
            {"retries", t.retries},
            {"dead_lettered", t.dead_lettered},
            {"rolled_back", t.rolled_back},
            {"circuit_open", t.circuit_open},
            {"queue_full", t.queue_full},
            {"no_free_slot", t.no_free_slot}}},
          {"tracking", std::move(tracking)},
          {"events_dropped", r.events_dropped}};
}

std::string progress_line(const Progress& p) {
  return format("%7ss rel %8s p99 %6sus miss %4s rb %4s retry %4s dlq %4s q %4s", fit(p.uptime_s, 7).c_str(),
                fit(p.releases, 8).c_str(), fit(p.p99_jitter_us, 6).c_str(), fit(p.misses, 4).c_str(),
                fit(p.rollbacks, 4).c_str(), fit(p.retries, 4).c_str(), fit(p.dead_lettered, 4).c_str(),
                fit(p.queue_depth < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(p.queue_depth), 4).c_str());
}

}  // namespace rt::cli
