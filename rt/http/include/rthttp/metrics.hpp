#pragma once
// F21: the engine's state as Prometheus text (the exposition format 0.0.4), built from
// the engine's snapshots with prometheus-cpp's metric families and TextSerializer. Runs
// on the HTTP thread that serves the scrape, never on an RT thread: the RT side keeps its
// own lock-free counters and histograms (prometheus-cpp's Histogram takes a mutex).
#include <prometheus/metric_type.h>

#include <array>
#include <cstddef>
#include <string>
#include <utility>
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

// The `le` bounds of every latency histogram, 1 µs to 10 s in 1-2.5-5 steps: a control
// loop's jitter (µs), a task's execution (µs to ms) and a stalled worker's detection (up to
// stall_after, 100 ms by default) each fall inside, and 22 bounds keep a series per loop
// cheap to scrape from many devices.
inline constexpr std::array<ns_t, 22> kLatencyBoundsNs{
    1'000,       2'500,       5'000,         10'000,        25'000,        50'000,        100'000,    250'000,
    500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,    25'000'000,    50'000'000, 100'000'000,
    250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
inline constexpr std::array<double, kLatencyBoundsNs.size()> kLatencyBoundsSeconds = [] {
  std::array<double, kLatencyBoundsNs.size()> s{};
  for (std::size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<double>(kLatencyBoundsNs[i]) / 1e9;
  return s;
}();

// For MetricsSource implementations: an empty family, then a counter member (the labels
// as name, value pairs).
[[nodiscard]] prometheus::MetricFamily make_family(std::string name, std::string help, prometheus::MetricType type);
void add_counter(prometheus::MetricFamily& family, double value,
                 std::vector<std::pair<std::string, std::string>> labels = {});

// A histogram family member from a snapshot: buckets in seconds at fixed bounds
// (kLatencyBoundsSeconds, µs to s), cumulative, +Inf equal to the count, sum in seconds.
// The snapshot's buckets are at most 1/128 wide; one that straddles a bound (its lowest
// value <= the bound < its highest) is counted under the next bound up, so `le` never
// counts a value above it (as percentile() never under-reports a latency).
// Exposed for tests and for MetricsSource implementations.
void add_histogram(prometheus::MetricFamily& family, const HistogramSnapshot& h,
                   std::vector<std::pair<std::string, std::string>> labels = {});

// Allocations made by engine threads (workers, monitor) after start, as counted by the
// process's counting operator new (rt/http/src/alloc_count.cpp, linked into rtengine);
// -1 when that counter is not linked in.
[[nodiscard]] long long allocations_after_start() noexcept;

}  // namespace rt::http
