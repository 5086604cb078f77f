// F21: the Prometheus exposition, checked on a real engine's output (families, labels,
// histogram invariants), by promtool (the exposition and the fleet's scrape config), and
// against the Grafana dashboard, which may only name series the engine exposes.
#include "rthttp/metrics.hpp"

#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../rt/engine_test_support.hpp"
#include "hal/alloc_watch.hpp"
#include "rt/event_bus.hpp"
#include "rt/graph.hpp"
#include "rt/version.hpp"

namespace {

using testing_support::eventually;

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The exposition's sample lines (text format 0.0.4): name{k="v",...} value.
std::vector<Sample> parse(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    std::size_t i = line.find_first_of("{ ");
    s.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (line[i] != '}') {
        const std::size_t eq = line.find('=', i);
        const std::string key = line.substr(i, eq - i);
        std::string value;
        for (i = eq + 2; line[i] != '"'; ++i) {
          if (line[i] == '\\') ++i;
          value += line[i];
        }
        s.labels[key] = value;
        i += line[i + 1] == ',' ? 2 : 1;
      }
      ++i;
    }
    s.value = std::stod(line.substr(line.rfind(' ') + 1));
    out.push_back(s);
  }
  return out;
}

std::vector<Sample> named(const std::vector<Sample>& all, const std::string& name) {
  std::vector<Sample> out;
  for (const auto& s : all)
    if (s.name == name) out.push_back(s);
  return out;
}

// The one sample of `name` whose labels include `want`; fails the test when not exactly one.
double value_of(const std::vector<Sample>& all, const std::string& name,
                const std::map<std::string, std::string>& want = {}) {
  std::vector<double> found;
  for (const auto& s : named(all, name)) {
    bool match = true;
    for (const auto& [k, v] : want)
      match = match && s.labels.count(k) == 1 && s.labels.at(k) == v;
    if (match) found.push_back(s.value);
  }
  EXPECT_EQ(found.size(), 1U) << name;
  return found.empty() ? NAN : found[0];
}

// Runs `cmd` with `input` on its stdin; returns its exit status, its output in `output`.
int run_tool(const std::string& cmd, const std::string& input, std::string& output) {
  char path[] = "/tmp/rt_metrics_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp");
  close(fd);
  std::ofstream(path) << input;
  FILE* p = popen((cmd + " < " + path + " 2>&1").c_str(), "r");
  char buf[512];
  output.clear();
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
    output.append(buf, n);
  const int status = pclose(p);
  std::remove(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Every PromQL string in a Grafana dashboard: panel targets' `expr`, template variables'
// `query` and `definition`.
void collect_queries(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if ((k == "expr" || k == "query" || k == "definition") && v.is_string()) {
        out.push_back(v.get<std::string>());
      } else {
        collect_queries(v, out);
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j)
      collect_queries(v, out);
  }
}

bool have_promtool() { return access("/usr/bin/promtool", X_OK) == 0; }

// An engine that has done a bit of everything the exposition reports: a periodic loop,
// plain tasks and posts, one that throws (type "flaky", which has a breaker), one that misses its
// deadline (type "task"), one graph run.
struct Scene {
  static rt::EngineConfig config() {
    rt::EngineConfig c = testing_support::small_config(2);
    c.task_types = {"task", "flaky"};
    c.breakers = {rt::BreakerConfig{.type = "flaky"}};
    c.post_capacity[static_cast<std::size_t>(rt::Priority::Normal)] = 16;
    return c;
  }
  rt::Engine e{config()};
  rt::EventBus bus{e};
  int loop = -1;

  Scene() {
    rt::HandlerRegistry h;
    h.add("step", [] {});
    const int graph = e.add_graph(rt::pipeline("line", {{"a", "step"}, {"b", "step"}}), h);
    loop = e.add_periodic(rt::PeriodicSpec{.name = "control", .period = hal::kNsPerMs}, [] {});
    e.start();
    rt::Producer p = e.make_producer();
    EXPECT_TRUE(e.start_periodic(loop));
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(p.try_submit([] {}), rt::SubmitStatus::Ok);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(p.try_post([] {}, rt::Priority::Normal), rt::SubmitStatus::Ok);
    EXPECT_EQ(p.try_submit([] { throw std::runtime_error("boom"); }, {.type = 1}), rt::SubmitStatus::Ok);
    // It times out whether it starts or not: the monitor stops it, or it is never started.
    static std::atomic<bool> saw_stop{false};
    EXPECT_EQ(p.try_submit(testing_support::spin_until_stopped(saw_stop), {.deadline_in = hal::kNsPerMs}),
              rt::SubmitStatus::Ok);
    EXPECT_EQ(e.try_run_graph(p, graph), rt::GraphRunStatus::Started);
    EXPECT_TRUE(eventually([&] {
      const rt::Stats s = e.stats();
      return s.completed == 13 && s.failed == 1 && s.timed_out == 1 && e.periodic_stats(loop).runs >= 20 &&
             e.graph_stats(graph).completed_runs == 1;
    })) << "completed "
        << e.stats().completed << " failed " << e.stats().failed << " timed out " << e.stats().timed_out
        << " loop runs " << e.periodic_stats(loop).runs << " graph runs " << e.graph_stats(graph).completed_runs;
    // The loop stops, so its counts hold still between the render and the checks.
    EXPECT_TRUE(e.stop_periodic(loop));
    EXPECT_TRUE(eventually([&] { return e.periodic_stats(loop).state == rt::PeriodicState::Stopped; }));
  }
};

TEST(MetricsHistogram, FixedBoundsCumulativeInfIsCountSumInSeconds) {
  rt::Histogram h;
  const rt::ns_t values[] = {500, 1'500, 3'000'000, 3'000'000, 20 * hal::kNsPerSec};
  for (const rt::ns_t v : values)
    h.record(v);
  prometheus::MetricFamily f;
  rt::http::add_histogram(f, h.snapshot(), {{"loop", "x"}});
  ASSERT_EQ(f.metric.size(), 1U);
  const auto& m = f.metric[0];
  ASSERT_EQ(m.label.size(), 1U);
  EXPECT_EQ(m.label[0].name, "loop");
  EXPECT_EQ(m.histogram.sample_count, 5U);
  EXPECT_DOUBLE_EQ(m.histogram.sample_sum, 20.006002);
  const auto& b = m.histogram.bucket;
  ASSERT_EQ(b.size(), rt::http::kLatencyBoundsSeconds.size() + 1);
  for (std::size_t i = 0; i < rt::http::kLatencyBoundsSeconds.size(); ++i) {
    const double le = rt::http::kLatencyBoundsSeconds[i];
    EXPECT_DOUBLE_EQ(b[i].upper_bound, le);
    std::uint64_t want = 0;  // the values are far from any bound: no bucket straddles one here
    for (const rt::ns_t v : values)
      want += static_cast<double>(v) / 1e9 <= le ? 1U : 0U;
    EXPECT_EQ(b[i].cumulative_count, want) << "le=" << le;
  }
  EXPECT_TRUE(std::isinf(b.back().upper_bound));
  EXPECT_EQ(b.back().cumulative_count, 5U);
}

TEST(MetricsHistogram, StraddlingBucketCountsUnderTheNextBound) {
  // 1000 ns lies in the bucket [1000, 1003]: it may hold values above 1 µs, so it is
  // counted under 2.5 µs, never under a bound it might exceed.
  rt::Histogram h;
  h.record(1'000);
  prometheus::MetricFamily f;
  rt::http::add_histogram(f, h.snapshot());
  EXPECT_EQ(f.metric[0].histogram.bucket[0].cumulative_count, 0U);
  EXPECT_EQ(f.metric[0].histogram.bucket[1].cumulative_count, 1U);
}

TEST(MetricsRender, EngineFamiliesLabelsAndHistogramInvariants) {
  Scene sc;
  const std::string text = rt::http::render_metrics(sc.e, &sc.bus);
  const auto all = parse(text);
  EXPECT_EQ(value_of(all, "rtengine_build_info", {{"version", rt::version()}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_task_failures_total", {{"type", "flaky"}, {"reason", "exception"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_task_failures_total", {{"type", "task"}, {"reason", "deadline_missed"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_task_failures_total", {{"type", "task"}, {"reason", "exception"}}), 0);
  EXPECT_EQ(value_of(all, "rtengine_task_outcomes_total", {{"outcome", "failed"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_tasks_posted_total"), 3);
  EXPECT_EQ(value_of(all, "rtengine_task_outcomes_total", {{"outcome", "completed"}}), 13);
  EXPECT_EQ(value_of(all, "rtengine_task_deadline_misses_total"), 1);
  EXPECT_EQ(value_of(all, "rtengine_rollback_operations_total", {{"type", "flaky"}}), 0);
  EXPECT_EQ(named(all, "rtengine_task_queue_depth").size(), rt::kClassCount);
  EXPECT_EQ(value_of(all, "rtengine_queue_full_total", {{"priority", "critical"}}), 0);
  EXPECT_EQ(value_of(all, "rtengine_breaker_state", {{"type", "flaky"}, {"state", "closed"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_breaker_failures_total", {{"type", "flaky"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_graph_runs_total", {{"graph", "line"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_graph_run_duration_seconds_count", {{"graph", "line"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_periodic_state", {{"loop", "control"}, {"state", "stopped"}}), 1);
  EXPECT_EQ(value_of(all, "rtengine_dead_letters_capacity"), 256);
  EXPECT_EQ(value_of(all, "rtengine_event_bus_subscribers"), 0);
  EXPECT_EQ(value_of(all, "rtengine_monitor_backend_info", {{"backend", hal::to_string(sc.e.monitor_backend())}}), 1);
  // One state per worker is 1; utilization is a ratio.
  for (const char* w : {"0", "1"}) {
    double states = 0;
    for (const auto& s : named(all, "rtengine_worker_state"))
      states += s.labels.at("worker") == w ? s.value : 0;
    EXPECT_EQ(states, 1) << "worker " << w;
    const double u = value_of(all, "rtengine_worker_utilization_ratio", {{"worker", w}});
    EXPECT_GE(u, 0);
    EXPECT_LE(u, 1);
  }
  const auto loop = sc.e.periodic_stats(sc.loop);
  EXPECT_EQ(value_of(all, "rtengine_periodic_runs_total", {{"loop", "control"}}), static_cast<double>(loop.runs));
  EXPECT_EQ(value_of(all, "rtengine_periodic_hybrid_margin_seconds", {{"loop", "control"}}), 0);  // a sleep loop
  EXPECT_EQ(value_of(all, "rtengine_periodic_late_wakes_total", {{"loop", "control"}}), 0);
  EXPECT_EQ(value_of(all, "rtengine_execution_jitter_seconds_count", {{"loop", "control"}}),
            static_cast<double>(sc.e.periodic_jitter(sc.loop).count()));
  EXPECT_GE(value_of(all, "rtengine_task_execution_latency_seconds_count"), 11);

  // Every histogram series: one bucket per bound and +Inf, cumulative, +Inf == _count.
  const std::set<std::string> histograms{
      "rtengine_task_execution_latency_seconds", "rtengine_task_dispatch_latency_seconds",
      "rtengine_deadline_detection_latency_seconds", "rtengine_execution_jitter_seconds"};
  for (const auto& h : histograms) {
    for (const auto& count : named(all, h + "_count")) {
      std::vector<Sample> buckets;
      for (const auto& b : named(all, h + "_bucket")) {
        auto labels = b.labels;
        labels.erase("le");
        if (labels == count.labels) buckets.push_back(b);
      }
      ASSERT_EQ(buckets.size(), rt::http::kLatencyBoundsSeconds.size() + 1) << h;
      for (std::size_t i = 1; i < buckets.size(); ++i)
        EXPECT_LE(buckets[i - 1].value, buckets[i].value) << h << " le=" << buckets[i].labels.at("le");
      EXPECT_EQ(buckets.back().labels.at("le"), "+Inf") << h;
      EXPECT_EQ(buckets.back().value, count.value) << h;
    }
  }
}

TEST(MetricsRender, PromtoolFindsNoProblem) {
  if (!have_promtool()) GTEST_SKIP() << "no /usr/bin/promtool (Debian's `prometheus` package)";
  Scene sc;
  const std::string text = rt::http::render_metrics(sc.e, &sc.bus);
  std::string output;
  EXPECT_EQ(run_tool("/usr/bin/promtool check metrics", text, output), 0) << output;
  EXPECT_EQ(output, "") << text;
}

TEST(MetricsAllocations, CountsWhatAnEngineThreadAllocatesAndNothingElse) {
  const long long before = rt::http::allocations_after_start();
  if (before < 0) GTEST_SKIP() << "the counting operator new is not linked in (a sanitizer build)";
  rt::Engine e(testing_support::small_config(1));
  const int loop = e.add_periodic(rt::PeriodicSpec{.name = "quiet", .period = hal::kNsPerMs}, [] {});
  e.start();
  rt::Producer p = e.make_producer();
  ASSERT_TRUE(e.start_periodic(loop));
  std::atomic<int> ran{0};
  std::atomic<int>* counter = &ran;
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(p.try_submit([counter] { counter->fetch_add(1); }), rt::SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return ran.load() == 100 && e.periodic_stats(loop).runs >= 10; }));
  // The test thread allocates meanwhile (stats, vectors): not an engine thread, not counted.
  EXPECT_EQ(rt::http::allocations_after_start(), before);

  // A task runs on a worker: its `new` is counted (the pointer escapes, so it stays).
  std::atomic<int*> made{nullptr};
  std::atomic<int*>* out = &made;
  ASSERT_EQ(p.try_submit([out] { out->store(new int(7)); }), rt::SubmitStatus::Ok);
  ASSERT_TRUE(eventually([&] { return made.load() != nullptr; }));
  EXPECT_EQ(rt::http::allocations_after_start(), before + 1);
  delete made.load();
  (void)e.stop(rt::StopMode::Drain);
}

// The fleet view (config/): the scrape config passes promtool, and the dashboard only
// names series a real engine exposes.
TEST(MetricsFleet, PrometheusConfigIsValid) {
  if (!have_promtool()) GTEST_SKIP() << "no /usr/bin/promtool (Debian's `prometheus` package)";
  std::string output;
  EXPECT_EQ(
      run_tool(std::string("/usr/bin/promtool check config ") + RT_SOURCE_DIR + "/config/prometheus/prometheus.yml", "",
               output),
      0)
      << output;
}

TEST(MetricsFleet, DashboardNamesOnlyExposedSeries) {
  std::ifstream in(std::string(RT_SOURCE_DIR) + "/config/grafana/rtengine-dashboard.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json dash = nlohmann::json::parse(in);  // throws (fails the test) when not JSON
  ASSERT_TRUE(dash.contains("panels"));

  Scene sc;
  std::set<std::string> exposed;
  for (const auto& s : parse(rt::http::render_metrics(sc.e, &sc.bus)))
    exposed.insert(s.name);

  // Scanned by hand, not with std::regex: GCC 12 warns inside <regex> under ASan -O2.
  std::vector<std::string> exprs;
  collect_queries(dash, exprs);
  std::set<std::string> named_in_dashboard;
  for (const auto& e : exprs) {
    for (std::size_t at = e.find("rtengine_"); at != std::string::npos; at = e.find("rtengine_", at + 1)) {
      std::size_t end = at + 9;
      while (end < e.size() && ((e[end] >= 'a' && e[end] <= 'z') || e[end] == '_'))
        ++end;
      named_in_dashboard.insert(e.substr(at, end - at));
    }
  }
  EXPECT_GE(exprs.size(), 5U);
  const auto base = [](std::string n) {  // a histogram's or summary's series -> its family
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        return n.substr(0, n.size() - suffix.size());
    }
    return n;
  };
  for (const auto& name : named_in_dashboard) {
    // Not exposed when no counting allocator is linked in (sanitizer builds): absent, not 0.
    if (name == "rtengine_allocations_after_start_total" && !hal::allocation_counting()) continue;
    const bool found = exposed.count(name) == 1 || exposed.count(base(name) + "_count") == 1;
    EXPECT_TRUE(found) << "the dashboard names " << name << ", which render_metrics does not expose";
  }
  for (const char* want : {"rtengine_execution_jitter_seconds_bucket", "rtengine_task_queue_depth",
                           "rtengine_worker_utilization_ratio", "rtengine_rollback_operations_total"})
    EXPECT_EQ(named_in_dashboard.count(want), 1U) << want;
}

}  // namespace
