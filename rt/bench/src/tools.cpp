// cyclictest, oslat, stress-ng and gnuplot: their arguments, and the two histograms
// parsed into the engine's own histogram so every contender is reported alike.
#include "rtbench/tools.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hal/cpu.hpp"
#include "output.hpp"

namespace rt::bench {

namespace {

using detail::for_each_line;

// A latency far beyond any histogram either program keeps (cyclictest -h, oslat's 1024
// buckets), below the Histogram's range: past it a line is not a latency.
constexpr std::uint64_t kMaxUs = 60'000'000;

// The unsigned integer at the start of `s` (after blanks), consumed; false when none.
bool take_uint(std::string_view& s, std::uint64_t& v) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return false;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return true;
}

bool take_double(std::string_view& s, double& v) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end == s.data()) return false;
  s.remove_prefix(static_cast<std::size_t>(end - s.data()));
  return true;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// One microsecond interval [us, us+1) as a latency: its midpoint, within 0.5 us of any
// value in it, and unbiased.
constexpr ns_t midpoint_ns(std::uint64_t us) { return static_cast<ns_t>(us) * 1000 + 500; }

// `n` records of `v`. oslat's first bucket holds ~40 million gaps per second of its run:
// one record_local each (a load and a store, ~2 ns) parses its 2 s run in 0.16 s here.
void record_n(Histogram& h, ns_t v, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i)
    h.record_local(v);
}

std::string no_histogram(std::string_view output) {
  const std::string why = detail::telling_line(output);
  return why.empty() ? "no output" : "no histogram in its output (" + why + ")";
}

}  // namespace

// ---- cyclictest ----

std::vector<std::string> cyclictest_args(const CyclictestSpec& s) {
  std::vector<std::string> a{s.program, "-m", "-q", "-t", "1"};
  a.insert(a.end(), {"-p", std::to_string(s.priority), "-a", std::to_string(s.cpu)});
  if (s.priority == 0) a.emplace_back("--policy=other");
  a.insert(a.end(),
           {"-i", std::to_string(s.interval_us), "-l", std::to_string(s.loops), "-h", std::to_string(s.histogram_us)});
  if (s.main_cpu >= 0) a.push_back("--mainaffinity=" + std::to_string(s.main_cpu));
  if (!s.pm_qos) a.emplace_back("--laptop");
  return a;
}

CyclictestResult parse_cyclictest(std::string_view output) {
  CyclictestResult r;
  Histogram h;
  bool histogram = false, has_total = false;
  std::uint64_t in_buckets = 0, total = 0, max_us = 0;
  for_each_line(output, [&](std::string_view line) {
    if (!r.error.empty()) return;
    std::uint64_t a = 0, b = 0;
    if (starts_with(line, "# Histogram Overflows:")) {
      line.remove_prefix(22);
      (void)take_uint(line, r.overflows);
    } else if (starts_with(line, "# Max Latencies:")) {
      line.remove_prefix(16);
      // One per thread: the largest.
      for (std::uint64_t v = 0; take_uint(line, v);)
        max_us = std::max(max_us, v);
    } else if (starts_with(line, "# Total:")) {
      line.remove_prefix(8);
      has_total = take_uint(line, total);
    } else if (line.find("/dev/cpu_dma_latency set to") != std::string_view::npos) {
      r.pm_qos_held = true;
    } else if (starts_with(line, "# Histogram")) {
      histogram = true;
    } else if (histogram && !line.empty() && line[0] >= '0' && line[0] <= '9') {
      // "000012 000007": latency in us, count (one count column per thread; -t 1).
      std::string_view rest = line;
      if (!take_uint(rest, a) || !take_uint(rest, b) || a > kMaxUs) {
        r.error = "an unreadable histogram line (" + std::string(line) + ")";
        return;
      }
      record_n(h, midpoint_ns(a), b);
      in_buckets += b;
    }
  });
  if (!r.error.empty()) return r;
  if (!histogram) {
    r.error = no_histogram(output);
    return r;
  }
  // Its total counts the histogram without the overflows: a cut-off output falls short.
  if (has_total && total != in_buckets) {
    r.error = "its histogram holds " + std::to_string(in_buckets) + " samples, its total says " +
              std::to_string(total) + " (a truncated output?)";
    return r;
  }
  if (r.overflows > 0) {
    if (max_us == 0 || max_us > kMaxUs) {
      r.error = std::to_string(r.overflows) + " overflows and no maximum latency to record them at";
      return r;
    }
    record_n(h, midpoint_ns(max_us), r.overflows);
  }
  r.samples = in_buckets + r.overflows;
  if (r.samples == 0) {
    r.error = "an empty histogram";
    return r;
  }
  r.latency = h.snapshot();
  return r;
}

CyclictestResult run_cyclictest(const CyclictestSpec& spec) {
  const ns_t expected = static_cast<ns_t>(spec.loops) * spec.interval_us * hal::kNsPerUs;
  const ProgramResult p = run_program(cyclictest_args(spec), 3 * expected + 10 * hal::kNsPerSec);
  if (!p.error.empty()) {
    CyclictestResult r;
    r.error = p.error;
    return r;
  }
  return parse_cyclictest(p.output);
}

// ---- oslat ----

std::vector<std::string> oslat_args(const OslatSpec& s) {
  const ns_t seconds = std::max<ns_t>(1, (s.duration + hal::kNsPerSec - 1) / hal::kNsPerSec);
  std::vector<std::string> a{s.program,    "-q",
                             "--cpu-list", std::to_string(s.cpu),
                             "-D",         std::to_string(seconds),
                             "-b",         std::to_string(s.bucket_count),
                             "-z"};
  if (s.main_cpu >= 0) a.insert(a.end(), {"-C", std::to_string(s.main_cpu)});
  if (s.priority > 0) a.insert(a.end(), {"-f", std::to_string(s.priority)});
  return a;
}

namespace {

// The values after "label:", one per measuring thread, up to the unit ("(us)").
template <class T>
std::vector<T> values_of(std::string_view rest) {
  std::vector<T> v;
  for (T x{};;) {
    if constexpr (std::is_same_v<T, double>) {
      if (!take_double(rest, x)) break;
    } else {
      if (!take_uint(rest, x)) break;
    }
    v.push_back(x);
  }
  return v;
}

struct OslatTable {
  std::vector<std::pair<std::uint64_t, std::vector<std::uint64_t>>> buckets;  // label us, counts per thread
  std::vector<std::uint64_t> last;                                            // the overflow bucket
  std::uint64_t last_label = 0;
  std::vector<std::uint64_t> min, max;
  std::vector<double> avg;
  std::size_t threads = 0;
};

// "    001 (us):\t 80463344" (one count per thread; the last ends "(including
// overflows)"), "     Minimum:\t 1 (us)", "     Average:\t 1.002 (us)"...
std::string read_oslat(std::string_view output, OslatTable& t) {
  std::string error;
  for_each_line(output, [&](std::string_view line) {
    const auto colon = line.find(':');
    if (!error.empty() || colon == std::string_view::npos) return;
    std::string_view label = line.substr(0, colon);
    const std::string_view rest = line.substr(colon + 1);
    while (!label.empty() && label.front() == ' ')
      label.remove_prefix(1);
    std::uint64_t us = 0;
    if (label == "Core") {
      t.threads = values_of<std::uint64_t>(rest).size();
    } else if (label == "Minimum") {
      t.min = values_of<std::uint64_t>(rest);
    } else if (label == "Average") {
      t.avg = values_of<double>(rest);
    } else if (label == "Maximum") {
      t.max = values_of<std::uint64_t>(rest);
    } else if (std::string_view l = label; take_uint(l, us) && l == " (us)") {
      auto counts = values_of<std::uint64_t>(rest);
      if (us == 0 || us > kMaxUs || counts.empty() || (t.threads != 0 && counts.size() != t.threads)) {
        error = "an unreadable histogram line (" + std::string(line) + ")";
        return;
      }
      if (t.threads == 0) t.threads = counts.size();
      if (rest.find("including overflows") != std::string_view::npos) {
        t.last = std::move(counts);
        t.last_label = us;
      } else {
        t.buckets.emplace_back(us, std::move(counts));
      }
    }
  });
  return error;
}

}  // namespace

OslatResult parse_oslat(std::string_view output) {
  OslatResult r;
  OslatTable t;
  r.error = read_oslat(output, t);
  if (!r.error.empty()) return r;
  if (t.buckets.empty() && t.last.empty()) {
    r.error = no_histogram(output);
    return r;
  }
  const std::size_t n = t.threads;
  if (t.last.size() != n || t.min.size() != n || t.max.size() != n || t.avg.size() != n) {
    r.error = "no overflow bucket, Minimum, Average or Maximum for each of its " + std::to_string(n) +
              " threads (a truncated output?)";
    return r;
  }
  Histogram h;
  double weighted_avg = 0;
  for (std::size_t k = 0; k < n; ++k) {
    std::uint64_t thread_samples = t.last[k];
    // Label L: the gaps it truncated to L-1 us.
    for (const auto& [label, counts] : t.buckets) {
      record_n(h, midpoint_ns(label - 1), counts[k]);
      thread_samples += counts[k];
    }
    // Every gap >= last_label - 1 us, the longest at its Maximum: all there.
    if (t.max[k] > kMaxUs) {
      r.error = "an unreadable Maximum (" + std::to_string(t.max[k]) + " us)";
      return r;
    }
    record_n(h, midpoint_ns(std::max(t.max[k], t.last_label) - 1), t.last[k]);
    r.samples += thread_samples;
    weighted_avg += t.avg[k] * static_cast<double>(thread_samples);
  }
  if (r.samples == 0) {
    r.error = "an empty histogram";
    return r;
  }
  r.min_us = static_cast<double>(*std::min_element(t.min.begin(), t.min.end()));
  r.max_us = static_cast<double>(*std::max_element(t.max.begin(), t.max.end()));
  r.avg_us = weighted_avg / static_cast<double>(r.samples);
  r.latency = h.snapshot();
  return r;
}

OslatResult run_oslat(const OslatSpec& spec) {
  // oslat asks for none itself (see OslatSpec): held here for its whole run, as the
  // engine holds one while its SCHED_FIFO workers run.
  hal::DmaLatencyRequest qos;
  if (spec.pm_qos && spec.priority > 0) (void)qos.request(0);
  const ns_t duration = std::max<ns_t>(spec.duration, hal::kNsPerSec);
  const ProgramResult p = run_program(oslat_args(spec), 2 * duration + 15 * hal::kNsPerSec);
  OslatResult r;
  if (!p.error.empty()) {
    r.error = p.error;
  } else {
    r = parse_oslat(p.output);
  }
  r.pm_qos_held = qos.active();
  return r;
}

// ---- stress-ng ----

std::vector<std::string> stress_args(const StressSpec& s) {
  std::vector<std::string> a{s.program};
  if (s.vm_workers > 0) a.insert(a.end(), {"--vm", std::to_string(s.vm_workers), "--vm-bytes", s.vm_bytes});
  if (s.cpu_workers > 0) a.insert(a.end(), {"--cpu", std::to_string(s.cpu_workers)});
  if (s.io_workers > 0) a.insert(a.end(), {"--io", std::to_string(s.io_workers)});
  if (!s.cpus.empty()) {
    std::string list;
    for (const int c : s.cpus)
      list += (list.empty() ? "" : ",") + std::to_string(c);
    a.insert(a.end(), {"--taskset", list});
  }
  if (s.timeout_s > 0) a.insert(a.end(), {"--timeout", std::to_string(s.timeout_s)});
  return a;
}

// ---- gnuplot ----

std::string run_gnuplot(const std::string& program, const std::string& script_path, const std::string& dir) {
  // A plot takes well under a second; a minute means it is waiting for something.
  // gnuplot's own `cd` (quoted for gnuplot: a ' is doubled) leaves our directory alone.
  std::string quoted;
  for (const char ch : dir)
    quoted += ch == '\'' ? std::string("''") : std::string(1, ch);
  return run_program({program, "-e", "cd '" + quoted + "'", script_path}, 60 * hal::kNsPerSec).error;
}

}  // namespace rt::bench
