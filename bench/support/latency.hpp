#pragma once
// Latency samples for benchmarks: preallocated, sorted once at the end of a run or of a
// block. Percentiles are nearest-rank, as rt::HistogramSnapshot::percentile: the smallest
// sample with at least q % of the samples at or below it.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "support/env.hpp"

namespace bench_support {

// Percentiles of one set of samples, in microseconds.
struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0;
};

class Samples {
 public:
  explicit Samples(std::size_t capacity) { v_.reserve(capacity); }
  // A new block: drops the samples, keeps the memory.
  void clear() noexcept { v_.clear(); }
  void add(std::int64_t ns) noexcept {
    if (v_.size() < v_.capacity()) v_.push_back(ns);
  }
  [[nodiscard]] std::size_t size() const noexcept { return v_.size(); }

  // Sorts the samples. All zero when there are none.
  Percentiles percentiles() {
    if (v_.empty()) return {};
    std::sort(v_.begin(), v_.end());
    return {at(50), at(99), at(99.9)};
  }

  // Adds p50/p99/p99.9/max in microseconds to the state's counters.
  void report(benchmark::State& state) {
    if (v_.empty()) return;
    const Percentiles p = percentiles();
    state.counters["p50_us"] = p.p50;
    state.counters["p99_us"] = p.p99;
    state.counters["p999_us"] = p.p999;
    state.counters["max_us"] = static_cast<double>(v_.back()) / 1000.0;
  }

 private:
  // Sorted v_ only.
  double at(double q) const {
    const auto n = static_cast<double>(v_.size());
    const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(q / 100.0 * n)));
    return static_cast<double>(v_[std::min(rank, v_.size()) - 1]) / 1000.0;
  }
  std::vector<std::int64_t> v_;
};

}  // namespace bench_support
