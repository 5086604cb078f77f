#pragma once
// F21: the engine's state as Prometheus text (the exposition format 0.0.4), built from
// the engine's snapshots with prometheus-cpp's metric families and TextSerializer. Runs
// on the HTTP thread that serves the scrape, never on an RT thread: the RT side keeps its
// own lock-free counters and histograms (prometheus-cpp's Histogram takes a mutex).
#include <string>
#include <vector>

#include "rt/engine.hpp"
#include "rt/event_bus.hpp"

namespace prometheus {
struct MetricFamily;
}

namespace rt::http {

// Series that are not the engine's own: what `rtengine run` measures around it (frame
// latency per graph, the load generator's refusals, the API's counters). Called on the
// scrape's thread; appends families.
class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual void collect(std::vector<prometheus::MetricFamily>& out) const = 0;
};

// Every rtengine_* family from `e` (and `bus`, when given), then `extra`'s. Not for RT
// threads: allocates.
[[nodiscard]] std::string render_metrics(const Engine& e, const EventBus* bus = nullptr,
                                         const MetricsSource* extra = nullptr);

// A histogram family member from a snapshot: buckets in seconds at fixed bounds
// (kLatencyBoundsSeconds, µs to s), cumulative, +Inf equal to the count, sum in seconds.
// Exposed for tests and for MetricsSource implementations.
void add_histogram(prometheus::MetricFamily& family, const HistogramSnapshot& h,
                   std::vector<std::pair<std::string, std::string>> labels = {});

// Allocations made by engine threads (workers, monitor) after start, as counted by the
// process's counting operator new (rt/http/src/alloc_count.cpp, linked into rtengine);
// -1 when that counter is not linked in.
[[nodiscard]] long long allocations_after_start() noexcept;

}  // namespace rt::http
