#pragma once
// F10: fixed-memory log-linear latency histograms (HdrHistogram's bucket scheme). Each
// power of two is split into 2^kSubBits linear sub-buckets, so a bucket is never wider
// than 1/128 of its lowest value: every percentile is within 1 % of the exact one, at a
// fixed 30 KiB per histogram whatever the number or the spread of the values recorded.
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "hal/annotations.hpp"
#include "rt/arena.hpp"
#include "rt/types.hpp"

namespace rt {

struct HistogramSummary {
  std::uint64_t count = 0;
  ns_t min = 0, max = 0;  // 0 when empty
  double mean = 0;
  ns_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, p9999 = 0;
};

class HistogramSnapshot;

class Histogram {
 public:
  static constexpr int kSubBits = 7;  // 128 sub-buckets per power of two: width/low <= 1/128 < 1 %
  // ~68.7 s: far beyond any latency we measure, and it keeps the table at 3840 buckets.
  static constexpr int kMaxBits = 36;
  static constexpr ns_t kMaxValue = (ns_t{1} << kMaxBits) - 1;
  static constexpr ns_t kSub = ns_t{1} << kSubBits;
  // Values below 2 * kSub are exact; above, one row of kSub buckets per power of two.
  static constexpr std::size_t kBuckets = static_cast<std::size_t>(kMaxBits - kSubBits + 1) << kSubBits;

  // Negative values map to bucket 0, values above kMaxValue to the top bucket.
  static constexpr std::size_t bucket_of(ns_t v) noexcept {
    if (v <= 0) return 0;
    if (v > kMaxValue) v = kMaxValue;
    const auto w = static_cast<int>(std::bit_width(static_cast<std::uint64_t>(v)));
    const int shift = w > kSubBits + 1 ? w - kSubBits - 1 : 0;
    return (static_cast<std::size_t>(shift) << kSubBits) + static_cast<std::size_t>(v >> shift);
  }
  static constexpr ns_t bucket_low(std::size_t b) noexcept {
    if (b < 2 * static_cast<std::size_t>(kSub)) return static_cast<ns_t>(b);
    const int shift = static_cast<int>(b >> kSubBits) - 1;
    return (kSub + static_cast<ns_t>(b & (kSub - 1))) << shift;
  }
  static constexpr ns_t bucket_high(std::size_t b) noexcept {
    return b + 1 < kBuckets ? bucket_low(b + 1) - 1 : kMaxValue;
  }

  // Setup only: the buckets are carved from `arena`; throws std::length_error (naming
  // "histogram buckets") when it is exhausted.
  explicit Histogram(Arena& arena);
  // Setup only: allocates its buckets on the heap (tests, benches, use outside an engine).
  Histogram();
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Any number of threads at once. A value above kMaxValue is recorded as kMaxValue and
  // counted in overflow(); a negative one as 0.
  // RT: lock-free (atomic adds, CAS on min/max only when they change); no allocation, no syscall.
  void record(ns_t v) noexcept HAL_NONBLOCKING;
  // Only when the calling thread is the sole writer (a per-worker histogram); never mixed
  // with record() on the same histogram. Readers (snapshot) may run concurrently.
  // RT: wait-free (relaxed loads and stores, no locked instruction); no allocation, no syscall.
  void record_local(ns_t v) noexcept HAL_NONBLOCKING;

  // Not for RT threads (allocates): a copy for queries, safe while others record. A
  // record may be half-visible; the snapshot's count is the sum of the buckets it read,
  // so its percentiles are self-consistent, and sum/min/max cover at least those records.
  [[nodiscard]] HistogramSnapshot snapshot() const;
  // Not concurrent with record(): a record racing a reset may survive it in part.
  void reset() noexcept;
  // The arena bytes one histogram takes, so the engine can size its arena.
  [[nodiscard]] static constexpr std::size_t bytes() noexcept { return kBuckets * sizeof(Counter); }

 private:
  using Counter = std::atomic<std::uint64_t>;
  static_assert(Counter::is_always_lock_free, "record must not fall back to a lock");
  static_assert(std::atomic<ns_t>::is_always_lock_free, "record must not fall back to a lock");
  static constexpr ns_t kNoMin = INT64_MAX;

  std::unique_ptr<Counter[]> owned_;  // null when the buckets live in an arena
  Counter* buckets_;
  Counter sum_{0};
  Counter overflow_{0};
  std::atomic<ns_t> min_{kNoMin};
  std::atomic<ns_t> max_{0};
};

static_assert(Histogram::kBuckets == 3840);
static_assert(Histogram::bucket_of(Histogram::kMaxValue) == Histogram::kBuckets - 1);

// A plain (non-atomic) copy of a histogram for queries. Not for RT threads: it allocates.
class HistogramSnapshot {
 public:
  HistogramSnapshot();

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] ns_t min() const noexcept { return min_; }
  [[nodiscard]] ns_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  [[nodiscard]] std::uint64_t sum() const noexcept { return sum_; }            // exact, of the clamped values
  [[nodiscard]] std::uint64_t overflow() const noexcept { return overflow_; }  // values above kMaxValue

  // Nearest rank: the smallest recorded value v with at least q % of the values <= v,
  // q in [0, 100] (0: min, 100: max). Reported as the top of v's bucket clamped to
  // [min, max], so it is never below the exact value (a latency is never under-reported)
  // and at most 1/128 above it.
  [[nodiscard]] ns_t percentile(double q) const noexcept;
  [[nodiscard]] HistogramSummary summary() const noexcept;
  // Adds `other`'s distribution to this one (per-worker histograms into one).
  void merge(const HistogramSnapshot& other);

  // fn(upper_bound_inclusive_ns, cumulative_count) for each non-empty bucket, in
  // increasing order (the Prometheus `le` buckets).
  template <class Fn>
  void for_each_bucket(Fn&& fn) const {
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      if (buckets_[b] == 0) continue;
      cumulative += buckets_[b];
      fn(Histogram::bucket_high(b), cumulative);
    }
  }

 private:
  friend class Histogram;
  std::vector<std::uint64_t> buckets_;
  std::uint64_t count_ = 0, sum_ = 0, overflow_ = 0;
  ns_t min_ = 0, max_ = 0;
};

}  // namespace rt
