#include "rthttp/metrics.hpp"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string_view>
#include <utility>

#include "hal/alloc_watch.hpp"
#include "rt/version.hpp"

namespace rt::http {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr double kNsPerSecond = 1e9;
double num(std::uint64_t v) { return static_cast<double>(v); }
double num(std::int64_t v) { return static_cast<double>(v); }
double seconds(std::int64_t ns) { return static_cast<double>(ns) / kNsPerSecond; }

ClientMetric member(const Labels& labels) {
  ClientMetric m;
  for (const auto& [k, v] : labels)
    m.label.push_back(ClientMetric::Label{k, v});
  return m;
}

// One family, filled then appended whole: a reference into `out` would dangle at the next
// family's push_back.
class Family {
 public:
  Family(std::string name, std::string help, MetricType type)
      : f_(make_family(std::move(name), std::move(help), type)) {}
  Family& add(double value, const Labels& labels = {}) {
    if (f_.type == MetricType::Counter) {
      add_counter(f_, value, labels);
      return *this;
    }
    ClientMetric m = member(labels);
    m.gauge.value = value;
    f_.metric.push_back(std::move(m));
    return *this;
  }
  MetricFamily& get() { return f_; }
  void into(std::vector<MetricFamily>& out) { out.push_back(std::move(f_)); }

 private:
  MetricFamily f_;
};

Family counter(std::string name, std::string help) { return {std::move(name), std::move(help), MetricType::Counter}; }
Family gauge(std::string name, std::string help) { return {std::move(name), std::move(help), MetricType::Gauge}; }
Family histogram(std::string name, std::string help) {
  return {std::move(name), std::move(help), MetricType::Histogram};
}

void add_engine_totals(const Engine& e, const Stats& s, std::vector<MetricFamily>& out) {
  gauge("rtengine_build_info", "The rtengine build: version and build-time choices; always 1")
      .add(1, {{"version", rt::version()}, {"build", rt::build_info()}})
      .into(out);
  gauge("rtengine_monitor_backend_info", "The deadline monitor's timer backend really in use; always 1")
      .add(1, {{"backend", hal::to_string(s.monitor_backend)}})
      .into(out);
  gauge("rtengine_running", "1 while the engine accepts tasks").add(e.running() ? 1 : 0).into(out);
  gauge("rtengine_uptime_seconds", "Time since the engine started; 0 when stopped").add(seconds(s.uptime_ns)).into(out);
  gauge("rtengine_pm_qos_held", "1 while a /dev/cpu_dma_latency request is held").add(s.pm_qos_held ? 1 : 0).into(out);

  counter("rtengine_tasks_submitted_total", "Tasks accepted by try_submit and try_post")
      .add(num(s.submitted))
      .into(out);
  counter("rtengine_tasks_posted_total", "Of the submitted tasks, those accepted by try_post (no slot, not queryable)")
      .add(num(s.posted))
      .into(out);
  counter("rtengine_task_outcomes_total", "Accepted tasks by how they ended")
      .add(num(s.completed), {{"outcome", "completed"}})
      .add(num(s.failed), {{"outcome", "failed"}})
      .add(num(s.timed_out), {{"outcome", "timed_out"}})
      .add(num(s.cancelled), {{"outcome", "cancelled"}})
      .add(num(s.skipped), {{"outcome", "skipped"}})
      .into(out);
  gauge("rtengine_tasks_in_flight", "Accepted tasks without an outcome yet").add(num(e.in_flight())).into(out);
  gauge("rtengine_tasks_running", "Tasks running on a worker now").add(num(s.running)).into(out);
  gauge("rtengine_tasks_scheduled", "Tasks waiting for their start time").add(num(s.scheduled)).into(out);
  gauge("rtengine_tasks_retained", "Finished tasks still queryable").add(num(std::uint64_t{s.retained})).into(out);

  const auto& types = e.config().task_types;
  Family failures = counter("rtengine_task_failures_total",
                            "Attempts of one-shot tasks that failed or timed out, by task type and reason "
                            "(each attempt, retried or not)");
  Family rollbacks = counter("rtengine_rollback_operations_total",
                             "Rollbacks of bound state after a violation, one-shot and periodic, by task type");
  for (std::size_t t = 0; t < types.size(); ++t) {
    if (t < s.failures_by_type.size()) {
      const TypeFailures& f = s.failures_by_type[t];
      failures.add(num(f.exceptions), {{"type", types[t]}, {"reason", std::string(to_string(Reason::Exception))}});
      failures.add(num(f.gate_violations),
                   {{"type", types[t]}, {"reason", std::string(to_string(Reason::GateViolation))}});
      failures.add(num(f.deadline_misses),
                   {{"type", types[t]}, {"reason", std::string(to_string(Reason::DeadlineMissed))}});
    }
    if (t < s.rollbacks_by_type.size()) rollbacks.add(num(s.rollbacks_by_type[t]), {{"type", types[t]}});
  }
  failures.into(out);
  rollbacks.into(out);
  counter("rtengine_task_deadline_misses_total", "One-shot task attempts that missed their deadline")
      .add(num(s.deadline_misses))
      .into(out);
  counter("rtengine_deadline_misses_detected_by_monitor_total",
          "Deadline misses (one-shot and periodic) the monitor caught while the task ran")
      .add(num(s.detected_by_monitor))
      .into(out);
  counter("rtengine_task_retries_total", "Failed attempts released again (F13)").add(num(s.retries)).into(out);
  counter("rtengine_tasks_dead_lettered_total", "Tasks that exhausted their retries (F14)")
      .add(num(s.dead_lettered))
      .into(out);
  counter("rtengine_release_deferrals_total", "Delayed starts that met a full ring and were retried")
      .add(num(s.release_deferrals))
      .into(out);
  counter("rtengine_refused_transitions_total", "State changes the transition table refused")
      .add(num(s.refused_transitions))
      .into(out);

  Family depth = gauge("rtengine_task_queue_depth", "Tasks queued in each priority class's ring");
  Family full = counter("rtengine_queue_full_total", "Submissions refused: the class's ring at capacity");
  for (std::size_t k = 0; k < kClassCount; ++k) {
    const Labels l{{"priority", std::string(to_string(static_cast<Priority>(k)))}};
    depth.add(num(s.queue_depth[k]), l);
    full.add(num(s.queue_full[k]), l);
  }
  depth.into(out);
  full.into(out);
  counter("rtengine_submit_refusals_total", "Submissions refused for another reason than a full ring")
      .add(num(s.no_free_slot), {{"reason", "no_free_slot"}})
      .add(num(s.circuit_open), {{"reason", "circuit_open"}})
      .add(num(s.invalid), {{"reason", "invalid"}})
      .into(out);
  counter("rtengine_ring_push_refusals_total", "Ring pushes refused below capacity (also in queue_full)")
      .add(num(s.ring_push_refusals))
      .into(out);
  counter("rtengine_ring_allocations_refused_total", "Ring memory requests after setup (expected 0)")
      .add(num(s.ring_allocations_refused))
      .into(out);
  counter("rtengine_events_published_total", "Engine events queued for the event bus")
      .add(num(s.events_published))
      .into(out);
  counter("rtengine_events_dropped_total", "Engine events dropped: the event ring was full")
      .add(num(s.events_dropped))
      .into(out);
}

void add_workers(const Engine& e, const Stats& s, std::vector<MetricFamily>& out) {
  gauge("rtengine_workers_active", "Workers running now").add(num(std::uint64_t{e.active_workers()})).into(out);
  Family state = gauge("rtengine_worker_state", "1 for each worker's current state, 0 for the others");
  Family util = gauge("rtengine_worker_utilization_ratio", "Busy time over uptime, per worker");
  Family done = counter("rtengine_worker_tasks_done_total", "Tasks and periodic runs a worker ran");
  Family busy = counter("rtengine_worker_busy_seconds_total", "Time a worker spent running tasks");
  Family faults = counter("rtengine_worker_minor_faults_total", "Minor page faults of the worker's thread");
  Family prewakes = counter("rtengine_worker_prewakes_total",
                            "Sleeps a worker ended by its own timer ahead of a periodic graph's release");
  Family met = counter("rtengine_worker_feeds_met_total",
                       "Periodic graph releases whose start a worker took while it waited awake");
  Family sleeps = counter("rtengine_worker_sleeps_total",
                          "Times a worker went to sleep on its futex (a worker kept hot by its idle_spin: none)");
  Family lead = gauge("rtengine_worker_feed_lead_seconds",
                      "The lead a worker last set its timer to ahead of a periodic graph's release (0: never)");
  for (const WorkerStats& w : s.workers) {
    const std::string id = std::to_string(w.index);
    for (const WorkerState st : {WorkerState::Idle, WorkerState::Busy, WorkerState::Stalled, WorkerState::Stopped})
      state.add(w.state == st ? 1 : 0, {{"worker", id}, {"state", std::string(to_string(st))}});
    util.add(w.utilization, {{"worker", id}});
    done.add(num(w.tasks_done), {{"worker", id}});
    prewakes.add(num(w.prewakes), {{"worker", id}});
    met.add(num(w.feeds_met), {{"worker", id}});
    sleeps.add(num(w.sleeps), {{"worker", id}});
    lead.add(seconds(w.feed_lead), {{"worker", id}});
    busy.add(seconds(w.busy_ns), {{"worker", id}});
    if (w.minor_faults >= 0) faults.add(static_cast<double>(w.minor_faults), {{"worker", id}});  // -1: unknown
  }
  for (Family* f : {&state, &util, &done, &busy, &faults, &prewakes, &met, &sleeps, &lead})
    f->into(out);
  counter("rtengine_worker_stalls_total", "Workers marked STALLED by the monitor").add(num(s.stalls)).into(out);
}

void add_periodic(const Engine& e, std::vector<MetricFamily>& out) {
  Family jitter = histogram("rtengine_execution_jitter_seconds", "Release latency (start - release) per periodic loop");
  Family releases = counter("rtengine_periodic_releases_total", "Grid points that came due: runs + skipped");
  Family runs = counter("rtengine_periodic_runs_total", "Runs of each periodic loop");
  Family skipped = counter("rtengine_periodic_skipped_total", "Releases skipped (overrun, or deadline passed first)");
  Family overruns = counter("rtengine_periodic_overruns_total", "Runs that ended after the next release was due");
  Family misses = counter("rtengine_periodic_deadline_misses_total", "Runs that missed their deadline");
  Family failures = counter("rtengine_periodic_failures_total", "Runs that threw or found a gate closed");
  Family rollbacks = counter("rtengine_periodic_rollbacks_total", "Runs whose bound state was rolled back");
  Family state = gauge("rtengine_periodic_state", "1 for each loop's current state, 0 for the others");
  Family period = gauge("rtengine_periodic_period_seconds", "Each loop's period");
  Family margin =
      gauge("rtengine_periodic_hybrid_margin_seconds",
            "A hybrid loop's spin margin before each release (auto: the one the worker chose); 0 otherwise");
  Family late = counter("rtengine_periodic_late_wakes_total",
                        "A hybrid loop's wake-ups after the release: its margin did not cover them");
  for (std::size_t i = 0; i < e.periodic_count(); ++i) {
    const int id = static_cast<int>(i);
    const PeriodicStats p = e.periodic_stats(id);
    const Labels l{{"loop", p.name}};
    add_histogram(jitter.get(), e.periodic_jitter(id), l);
    releases.add(num(p.releases), l);
    runs.add(num(p.runs), l);
    skipped.add(num(p.skipped), l);
    overruns.add(num(p.overruns), l);
    misses.add(num(p.deadline_misses), l);
    failures.add(num(p.exceptions), {{"loop", p.name}, {"reason", std::string(to_string(Reason::Exception))}});
    failures.add(num(p.gate_violations), {{"loop", p.name}, {"reason", std::string(to_string(Reason::GateViolation))}});
    rollbacks.add(num(p.rollbacks), l);
    for (const PeriodicState st : {PeriodicState::Stopped, PeriodicState::Running, PeriodicState::Paused})
      state.add(p.state == st ? 1 : 0, {{"loop", p.name}, {"state", std::string(to_string(st))}});
    period.add(seconds(p.period), l);
    margin.add(seconds(p.hybrid_margin), l);
    late.add(num(p.late_wakes), l);
  }
  for (Family* f : {&jitter, &releases, &runs, &skipped, &overruns, &misses, &failures, &rollbacks, &state, &period,
                    &margin, &late})
    f->into(out);
}

void add_graphs(const Engine& e, std::vector<MetricFamily>& out) {
  Family runs = counter("rtengine_graph_runs_total", "Graph runs started");
  Family ends = counter("rtengine_graph_run_outcomes_total", "Graph runs by how they ended");
  Family misses = counter("rtengine_graph_deadline_misses_total", "Runs that ended after the whole-graph deadline");
  Family busy = counter("rtengine_graph_busy_total", "try_run refused: the previous run had not ended");
  // GraphStats keeps a count, a mean and extremes, no distribution: a summary without
  // quantiles (its _sum is mean * count), and the latest and largest as gauges.
  Family duration = {"rtengine_graph_run_duration_seconds", "Graph run latency: try_run to the last node's end",
                     MetricType::Summary};
  Family last = gauge("rtengine_graph_run_last_duration_seconds", "The latest graph run's latency");
  Family max = gauge("rtengine_graph_run_max_duration_seconds", "The largest graph run latency so far");
  for (std::size_t i = 0; i < e.graph_count(); ++i) {
    const GraphStats g = e.graph_stats(static_cast<int>(i));
    const Labels l{{"graph", g.name}};
    runs.add(num(g.runs), l);
    ends.add(num(g.completed_runs), {{"graph", g.name}, {"outcome", "completed"}});
    ends.add(num(g.failed_runs), {{"graph", g.name}, {"outcome", "failed"}});
    ends.add(num(g.abandoned), {{"graph", g.name}, {"outcome", "abandoned"}});
    misses.add(num(g.deadline_misses), l);
    busy.add(num(g.busy), l);
    ClientMetric m = member(l);
    m.summary.sample_count = g.duration.count;
    m.summary.sample_sum = g.duration.mean * num(g.duration.count) / kNsPerSecond;
    duration.get().metric.push_back(std::move(m));
    last.add(seconds(g.duration.last), l);
    max.add(seconds(g.duration.max), l);
  }
  for (Family* f : {&runs, &ends, &misses, &busy, &duration, &last, &max})
    f->into(out);
}

void add_resilience(const Engine& e, std::vector<MetricFamily>& out) {
  const DeadLetterStats d = e.dead_letter_stats();
  counter("rtengine_dead_letters_pushed_total", "Records put on the dead-letter queue").add(num(d.pushed)).into(out);
  gauge("rtengine_dead_letters", "Records on the dead-letter queue now").add(num(std::uint64_t{d.size})).into(out);
  gauge("rtengine_dead_letters_capacity", "Records the dead-letter queue holds")
      .add(num(std::uint64_t{d.capacity}))
      .into(out);
  counter("rtengine_dead_letters_dropped_total", "Records lost before anyone took them")
      .add(num(d.dropped_oldest), {{"reason", "oldest"}})
      .add(num(d.dropped_contended), {{"reason", "contended"}})
      .into(out);
  counter("rtengine_dead_letters_removed_total", "Records taken out (redrive) or purged")
      .add(num(d.taken), {{"how", "taken"}})
      .add(num(d.purged), {{"how", "purged"}})
      .into(out);

  Family state = gauge("rtengine_breaker_state", "1 for each circuit breaker's current state, 0 for the others");
  Family failures = counter("rtengine_breaker_failures_total", "Failures a breaker saw");
  Family successes = counter("rtengine_breaker_successes_total", "Successes a breaker saw");
  Family rejected = counter("rtengine_breaker_rejected_total", "Submissions a breaker refused");
  Family opened = counter("rtengine_breaker_opened_total", "Times a breaker's circuit opened");
  const auto& types = e.config().task_types;
  for (std::size_t t = 0; t < types.size(); ++t) {
    BreakerStats b;
    if (!e.breaker_stats(static_cast<TypeId>(t), b)) continue;
    const Labels l{{"type", types[t]}};
    for (const BreakerState st : {BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen})
      state.add(b.state == st ? 1 : 0, {{"type", types[t]}, {"state", std::string(to_string(st))}});
    failures.add(num(b.failures), l);
    successes.add(num(b.successes), l);
    rejected.add(num(b.rejected), l);
    opened.add(num(b.opened), l);
  }
  for (Family* f : {&state, &failures, &successes, &rejected, &opened})
    f->into(out);
}

void add_latencies(const Engine& e, std::vector<MetricFamily>& out) {
  const std::pair<const char*, const char*> names[] = {
      {"rtengine_task_execution_latency_seconds", "One-shot task execution time: started to finished"},
      {"rtengine_task_dispatch_latency_seconds", "One-shot task dispatch latency: ready to started"},
      {"rtengine_deadline_detection_latency_seconds", "Deadline to the monitor's detection of the miss"}};
  const HistogramSnapshot snaps[] = {e.execution_time(), e.dispatch_latency(), e.detection_latency()};
  for (std::size_t i = 0; i < std::size(snaps); ++i) {
    Family f = histogram(names[i].first, names[i].second);
    add_histogram(f.get(), snaps[i]);
    f.into(out);
  }
}

void add_bus(const EventBus& bus, std::vector<MetricFamily>& out) {
  const EventBusStats b = bus.stats();
  counter("rtengine_event_bus_polled_total", "Events the bus took from the engine").add(num(b.polled)).into(out);
  counter("rtengine_event_bus_deliveries_total", "Handler calls, over all subscribers").add(num(b.delivered)).into(out);
  counter("rtengine_event_bus_subscriber_errors_total", "Handler calls that threw")
      .add(num(b.subscriber_errors))
      .into(out);
  counter("rtengine_event_bus_history_evicted_total", "History entries dropped for newer events")
      .add(num(b.history_evicted))
      .into(out);
  gauge("rtengine_event_bus_subscribers", "Subscribers now").add(num(std::uint64_t{b.subscribers.size()})).into(out);
}

}  // namespace

prometheus::MetricFamily make_family(std::string name, std::string help, prometheus::MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_counter(prometheus::MetricFamily& family, double value,
                 std::vector<std::pair<std::string, std::string>> labels) {
  ClientMetric m;
  for (auto& l : labels)
    m.label.push_back(ClientMetric::Label{std::move(l.first), std::move(l.second)});
  m.counter.value = value;
  family.metric.push_back(std::move(m));
}

void add_histogram(prometheus::MetricFamily& family, const HistogramSnapshot& h,
                   std::vector<std::pair<std::string, std::string>> labels) {
  ClientMetric m;
  for (auto& l : labels)
    m.label.push_back(ClientMetric::Label{std::move(l.first), std::move(l.second)});
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = static_cast<double>(h.sum()) / kNsPerSecond;
  // Non-empty buckets in order, each as (highest value, cumulative count); bound i takes
  // the cumulative count of the last bucket whose highest value is within it.
  std::vector<std::pair<ns_t, std::uint64_t>> filled;
  h.for_each_bucket([&filled](ns_t high, std::uint64_t cumulative) { filled.emplace_back(high, cumulative); });
  std::size_t next = 0;
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < kLatencyBoundsNs.size(); ++i) {
    for (; next < filled.size() && filled[next].first <= kLatencyBoundsNs[i]; ++next)
      below = filled[next].second;
    m.histogram.bucket.push_back(ClientMetric::Bucket{below, kLatencyBoundsSeconds[i]});
  }
  m.histogram.bucket.push_back(ClientMetric::Bucket{h.count(), std::numeric_limits<double>::infinity()});
  family.metric.push_back(std::move(m));
}

long long allocations_after_start() noexcept {
  if (!hal::allocation_counting()) return -1;
  return static_cast<long long>(hal::rt_thread_allocations());
}

std::string render_metrics(const Engine& e, const EventBus* bus, const MetricsSource* extra) {
  const Stats s = e.stats();
  std::vector<MetricFamily> out;
  add_engine_totals(e, s, out);
  add_workers(e, s, out);
  add_latencies(e, out);
  add_periodic(e, out);
  add_graphs(e, out);
  add_resilience(e, out);
  // Absent rather than a made-up number when the counting allocator is not linked in.
  if (const long long n = allocations_after_start(); n >= 0) {
    counter("rtengine_allocations_after_start_total",
            "Heap allocations (operator new) made on engine RT threads (workers, monitor) after they started")
        .add(static_cast<double>(n))
        .into(out);
  }
  if (bus != nullptr) add_bus(*bus, out);
  if (extra != nullptr) extra->collect(out);
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, out);
  return text.str();
}

}  // namespace rt::http
