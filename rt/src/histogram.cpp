#include "rt/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace rt {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

}  // namespace

Histogram::Histogram(Arena& arena) : buckets_(arena.make_array<Counter>(kBuckets, "histogram buckets")) {}

Histogram::Histogram() : owned_(std::make_unique<Counter[]>(kBuckets)), buckets_(owned_.get()) {}

// Ordering: min, max, sum and overflow are written before the bucket's release add, and
// snapshot() reads each bucket with acquire before them, so every record a snapshot
// counts is also in its min, max and sum.
void Histogram::record(ns_t v) noexcept {
  if (v < 0) v = 0;
  if (v > kMaxValue) {
    v = kMaxValue;
    overflow_.fetch_add(1, kRelaxed);
  }
  ns_t cur = min_.load(kRelaxed);
  while (v < cur && !min_.compare_exchange_weak(cur, v, kRelaxed)) {
  }
  cur = max_.load(kRelaxed);
  while (v > cur && !max_.compare_exchange_weak(cur, v, kRelaxed)) {
  }
  sum_.fetch_add(static_cast<std::uint64_t>(v), kRelaxed);
  buckets_[bucket_of(v)].fetch_add(1, std::memory_order_release);
}

// A load and a store instead of a read-modify-write: no lock prefix on x86, no LL/SC loop
// on Arm. Correct only because no other thread writes this histogram.
void Histogram::record_local(ns_t v) noexcept {
  if (v < 0) v = 0;
  if (v > kMaxValue) {
    v = kMaxValue;
    overflow_.store(overflow_.load(kRelaxed) + 1, kRelaxed);
  }
  if (v < min_.load(kRelaxed)) min_.store(v, kRelaxed);
  if (v > max_.load(kRelaxed)) max_.store(v, kRelaxed);
  sum_.store(sum_.load(kRelaxed) + static_cast<std::uint64_t>(v), kRelaxed);
  Counter& b = buckets_[bucket_of(v)];
  b.store(b.load(kRelaxed) + 1, std::memory_order_release);
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    s.buckets_[b] = buckets_[b].load(std::memory_order_acquire);
    s.count_ += s.buckets_[b];
  }
  if (s.count_ == 0) return s;
  s.sum_ = sum_.load(kRelaxed);
  s.overflow_ = overflow_.load(kRelaxed);
  s.min_ = min_.load(kRelaxed);
  s.max_ = max_.load(kRelaxed);
  return s;
}

void Histogram::reset() noexcept {
  for (std::size_t b = 0; b < kBuckets; ++b)
    buckets_[b].store(0, kRelaxed);
  sum_.store(0, kRelaxed);
  overflow_.store(0, kRelaxed);
  min_.store(kNoMin, kRelaxed);
  max_.store(0, kRelaxed);
}

HistogramSnapshot::HistogramSnapshot() : buckets_(Histogram::kBuckets, 0) {}

double HistogramSnapshot::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

ns_t HistogramSnapshot::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (!(q > 0)) return min_;  // also NaN
  if (q >= 100) return max_;
  // rank = ceil(q % of count). The slack keeps a product that is integral but for
  // double rounding (99.9 % of 1000 -> 999.0000000000001) from moving up one rank.
  const double exact = q / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<std::uint64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t cumulative = 0;
  std::size_t b = 0;
  for (; b < buckets_.size(); ++b) {
    cumulative += buckets_[b];
    if (cumulative >= rank) break;
  }
  return std::clamp(Histogram::bucket_high(b), min_, max_);
}

HistogramSummary HistogramSnapshot::summary() const noexcept {
  HistogramSummary s;
  s.count = count_;
  s.min = min_;
  s.max = max_;
  s.mean = mean();
  s.p50 = percentile(50);
  s.p90 = percentile(90);
  s.p99 = percentile(99);
  s.p999 = percentile(99.9);
  s.p9999 = percentile(99.99);
  return s;
}

void HistogramSnapshot::merge(const HistogramSnapshot& other) {
  if (other.count_ == 0) return;
  for (std::size_t b = 0; b < buckets_.size(); ++b)
    buckets_[b] += other.buckets_[b];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
  overflow_ += other.overflow_;
}

}  // namespace rt
