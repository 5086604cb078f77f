#pragma once
// Latency samples for benchmarks: preallocated, sorted once at the end, reported as
// Google Benchmark counters so contenders in one run line up side by side.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace bench_support {

// The environment knobs every benchmark shares (see each program's header comment).
inline int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}
inline int prio() { return env_int("RT_BENCH_PRIO", 80); }
inline int producer_cpu() { return env_int("RT_BENCH_CPU_PRODUCER", 0); }
inline int worker_cpu() { return env_int("RT_BENCH_CPU_WORKER", 1); }

class Samples {
 public:
  explicit Samples(std::size_t capacity) { v_.reserve(capacity); }
  void add(std::int64_t ns) {
    if (v_.size() < v_.capacity()) v_.push_back(ns);
  }
  // Adds p50/p99/p99.9/max in microseconds to the state's counters.
  void report(benchmark::State& state) {
    if (v_.empty()) return;
    std::sort(v_.begin(), v_.end());
    auto at = [&](double q) {
      const auto i = static_cast<std::size_t>(q * static_cast<double>(v_.size() - 1));
      return static_cast<double>(v_[i]) / 1000.0;
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
    state.counters["p999_us"] = at(0.999);
    state.counters["max_us"] = static_cast<double>(v_.back()) / 1000.0;
  }

 private:
  std::vector<std::int64_t> v_;
};

}  // namespace bench_support
