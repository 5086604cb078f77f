#include "rt/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "rt/arena.hpp"

namespace {

using rt::Histogram;
using rt::HistogramSnapshot;
using rt::ns_t;

constexpr double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100};

// The definition the histogram promises to approximate: the smallest recorded value v with
// at least q % of the values <= v.
ns_t exact_percentile(const std::vector<ns_t>& sorted, double q) {
  const double n = static_cast<double>(sorted.size());
  for (std::size_t i = 0; i < sorted.size(); ++i)
    if (static_cast<double>(i + 1) * 100.0 >= q * n) return sorted[i];
  return sorted.back();
}

HistogramSnapshot record_all(const std::vector<ns_t>& values) {
  Histogram h;
  for (ns_t v : values)
    h.record(v);
  return h.snapshot();
}

std::vector<std::pair<ns_t, std::uint64_t>> buckets_of(const HistogramSnapshot& s) {
  std::vector<std::pair<ns_t, std::uint64_t>> out;
  s.for_each_bucket([&](ns_t high, std::uint64_t cumulative) { out.emplace_back(high, cumulative); });
  return out;
}

// Every percentile within 1 % of the exact one and never below it; min, max, mean exact.
void expect_matches(std::vector<ns_t> values) {
  const HistogramSnapshot s = record_all(values);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(s.count(), values.size());
  EXPECT_EQ(s.min(), values.front());
  EXPECT_EQ(s.max(), values.back());
  std::uint64_t sum = 0;
  for (ns_t v : values)
    sum += static_cast<std::uint64_t>(v);
  EXPECT_EQ(s.sum(), sum);
  EXPECT_DOUBLE_EQ(s.mean(), static_cast<double>(sum) / static_cast<double>(values.size()));
  for (double q : kPercentiles) {
    const ns_t want = exact_percentile(values, q);
    const ns_t got = s.percentile(q);
    EXPECT_GE(got, want) << "p" << q;
    EXPECT_LE(static_cast<double>(got - want), 0.01 * static_cast<double>(want)) << "p" << q << " exact " << want;
  }
  const rt::HistogramSummary sum_s = s.summary();
  EXPECT_EQ(sum_s.count, values.size());
  EXPECT_EQ(sum_s.p50, s.percentile(50));
  EXPECT_EQ(sum_s.p9999, s.percentile(99.99));
}

TEST(Histogram, BucketSchemeCoversEveryValueWithinOnePercent) {
  std::size_t prev = 0;
  for (ns_t v = 0; v <= 1'000'000; ++v) {
    const std::size_t b = Histogram::bucket_of(v);
    ASSERT_LT(b, Histogram::kBuckets);
    ASSERT_LE(Histogram::bucket_low(b), v);
    ASSERT_GE(Histogram::bucket_high(b), v);
    ASSERT_GE(b, prev) << v;
    prev = b;
  }
  for (ns_t v = 0; v < 256; ++v)
    EXPECT_EQ(Histogram::bucket_low(Histogram::bucket_of(v)), v);  // exact

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<ns_t> any(1'000'000, Histogram::kMaxValue);
  std::vector<ns_t> large;
  large.reserve(1'000'100);
  for (int i = 0; i < 1'000'000; ++i)
    large.push_back(any(rng));
  for (int e = 20; e < 36; ++e)
    for (ns_t d : {-1, 0, 1})
      large.push_back((ns_t{1} << e) + d);
  large.push_back(Histogram::kMaxValue);
  for (ns_t v : large) {
    const std::size_t b = Histogram::bucket_of(v);
    ASSERT_LE(Histogram::bucket_low(b), v);
    ASSERT_GE(Histogram::bucket_high(b), v);
  }

  for (std::size_t b = 0; b < Histogram::kBuckets; ++b) {
    const ns_t low = Histogram::bucket_low(b), high = Histogram::bucket_high(b);
    ASSERT_LE(low, high) << b;
    ASSERT_EQ(Histogram::bucket_of(low), b);
    ASSERT_EQ(Histogram::bucket_of(high), b);
    if (low > 0) {
      ASSERT_LE((high - low) * 128, low) << b;
    }
    if (b + 1 < Histogram::kBuckets) {
      ASSERT_EQ(high + 1, Histogram::bucket_low(b + 1)) << b;  // contiguous and increasing
    }
  }
  EXPECT_EQ(Histogram::bucket_of(Histogram::kMaxValue), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::bucket_high(Histogram::kBuckets - 1), Histogram::kMaxValue);
  EXPECT_EQ(Histogram::bucket_of(Histogram::kMaxValue + 1), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::bucket_of(-5), 0U);
}

TEST(Histogram, UniformPercentilesMatchExact) {
  std::vector<ns_t> values;
  values.reserve(100'000);
  for (ns_t v = 1; v <= 100'000; ++v)
    values.push_back(v);
  std::shuffle(values.begin(), values.end(), std::mt19937_64(1));
  expect_matches(values);
}

TEST(Histogram, LogNormalPercentilesMatchExact) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> d(10.0, 1.5);  // median ~22 us, a long tail into ms
  std::vector<ns_t> values;
  values.reserve(200'000);
  for (int i = 0; i < 200'000; ++i)
    values.push_back(std::min(static_cast<ns_t>(d(rng)), Histogram::kMaxValue));
  expect_matches(values);
}

TEST(Histogram, ExponentialPercentilesMatchExact) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> d(1.0 / 5'000.0);
  std::vector<ns_t> values;
  values.reserve(100'000);
  for (int i = 0; i < 100'000; ++i)
    values.push_back(static_cast<ns_t>(d(rng)));
  expect_matches(values);
}

TEST(Histogram, BimodalPercentilesMatchExact) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(2'000.0, 100.0), slow(5'000'000.0, 200'000.0);
  std::vector<ns_t> values;
  values.reserve(100'000);
  for (int i = 0; i < 95'000; ++i)
    values.push_back(static_cast<ns_t>(fast(rng)));
  for (int i = 0; i < 5'000; ++i)
    values.push_back(static_cast<ns_t>(slow(rng)));
  expect_matches(values);
  // The p90 / p99 boundary falls between the modes.
  const HistogramSnapshot s = record_all(values);
  EXPECT_LT(s.percentile(90), 3'000);
  EXPECT_GT(s.percentile(99), 4'000'000);
}

TEST(Histogram, ConstantSetIsExactAtEveryPercentile) {
  const std::vector<ns_t> values(10'000, 123'457);
  expect_matches(values);
  const HistogramSnapshot s = record_all(values);
  for (double q : kPercentiles)
    EXPECT_EQ(s.percentile(q), 123'457) << q;
  EXPECT_DOUBLE_EQ(s.mean(), 123'457.0);
}

TEST(Histogram, SingleValue) {
  const HistogramSnapshot s = record_all({987'654'321});
  EXPECT_EQ(s.count(), 1U);
  for (double q : kPercentiles)
    EXPECT_EQ(s.percentile(q), 987'654'321) << q;
  const rt::HistogramSummary sum = s.summary();
  EXPECT_EQ(sum.min, 987'654'321);
  EXPECT_EQ(sum.max, 987'654'321);
  EXPECT_EQ(sum.p9999, 987'654'321);
  EXPECT_DOUBLE_EQ(sum.mean, 987'654'321.0);
}

TEST(Histogram, EmptyIsAllZeros) {
  const Histogram h;
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 0U);
  EXPECT_EQ(s.min(), 0);
  EXPECT_EQ(s.max(), 0);
  EXPECT_EQ(s.mean(), 0.0);
  EXPECT_EQ(s.overflow(), 0U);
  for (double q : kPercentiles)
    EXPECT_EQ(s.percentile(q), 0) << q;
  const rt::HistogramSummary sum = s.summary();
  EXPECT_EQ(sum.count, 0U);
  EXPECT_EQ(sum.p50, 0);
  EXPECT_EQ(sum.p9999, 0);
  EXPECT_TRUE(buckets_of(s).empty());
}

TEST(Histogram, OverflowIsCountedAndClamped) {
  Histogram h;
  h.record(1'000);
  h.record(Histogram::kMaxValue);
  h.record(Histogram::kMaxValue + 1);
  h.record(INT64_MAX);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 4U);
  EXPECT_EQ(s.overflow(), 2U);
  EXPECT_EQ(s.max(), Histogram::kMaxValue);
  EXPECT_EQ(s.percentile(100), Histogram::kMaxValue);
  EXPECT_EQ(s.percentile(50), Histogram::kMaxValue);
  EXPECT_EQ(s.sum(), 1'000 + 3 * static_cast<std::uint64_t>(Histogram::kMaxValue));
  const auto buckets = buckets_of(s);
  ASSERT_EQ(buckets.size(), 2U);
  EXPECT_EQ(buckets.back(), std::make_pair(Histogram::kMaxValue, std::uint64_t{4}));

  h.record_local(Histogram::kMaxValue + 5);  // the single-writer path counts it too
  EXPECT_EQ(h.snapshot().overflow(), 3U);
}

TEST(Histogram, NegativeValuesAreRecordedAsZero) {
  Histogram h;
  h.record(-10);
  h.record_local(-1);
  h.record(50);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 3U);
  EXPECT_EQ(s.min(), 0);
  EXPECT_EQ(s.max(), 50);
  EXPECT_EQ(s.sum(), 50U);
  EXPECT_EQ(s.percentile(50), 0);
}

TEST(Histogram, RecordLocalMatchesRecord) {
  std::mt19937_64 rng(5);
  std::exponential_distribution<double> d(1.0 / 40'000.0);
  Histogram shared, local;
  for (int i = 0; i < 50'000; ++i) {
    const auto v = static_cast<ns_t>(d(rng));
    shared.record(v);
    local.record_local(v);
  }
  EXPECT_EQ(buckets_of(shared.snapshot()), buckets_of(local.snapshot()));
  EXPECT_EQ(shared.snapshot().sum(), local.snapshot().sum());
}

TEST(Histogram, ResetEmpties) {
  Histogram h;
  for (ns_t v = 1; v <= 1000; ++v)
    h.record(v);
  h.reset();
  EXPECT_EQ(h.snapshot().count(), 0U);
  h.record(77);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 1U);
  EXPECT_EQ(s.min(), 77);
  EXPECT_EQ(s.max(), 77);
  EXPECT_EQ(s.sum(), 77U);
}

TEST(Histogram, MergeEqualsRecordingBoth) {
  std::mt19937_64 rng(9);
  std::lognormal_distribution<double> a(8.0, 1.0), b(12.0, 0.5);
  Histogram ha, hb, both;
  for (int i = 0; i < 60'000; ++i) {
    const auto v = static_cast<ns_t>(a(rng));
    ha.record(v);
    both.record(v);
  }
  for (int i = 0; i < 40'000; ++i) {
    const auto v = static_cast<ns_t>(b(rng));
    hb.record(v);
    both.record(v);
  }
  both.record(Histogram::kMaxValue + 1);
  hb.record(Histogram::kMaxValue + 1);
  HistogramSnapshot merged = ha.snapshot();
  merged.merge(hb.snapshot());
  const HistogramSnapshot want = both.snapshot();
  EXPECT_EQ(buckets_of(merged), buckets_of(want));
  EXPECT_EQ(merged.count(), want.count());
  EXPECT_EQ(merged.sum(), want.sum());
  EXPECT_EQ(merged.overflow(), 1U);
  const rt::HistogramSummary m = merged.summary(), w = want.summary();
  EXPECT_EQ(m.count, w.count);
  EXPECT_EQ(m.min, w.min);
  EXPECT_EQ(m.max, w.max);
  EXPECT_DOUBLE_EQ(m.mean, w.mean);
  EXPECT_EQ(m.p50, w.p50);
  EXPECT_EQ(m.p90, w.p90);
  EXPECT_EQ(m.p99, w.p99);
  EXPECT_EQ(m.p999, w.p999);
  EXPECT_EQ(m.p9999, w.p9999);

  // Empty on either side: the other distribution unchanged, min not dragged to 0.
  HistogramSnapshot empty = Histogram().snapshot();
  empty.merge(hb.snapshot());
  EXPECT_EQ(buckets_of(empty), buckets_of(hb.snapshot()));
  EXPECT_EQ(empty.min(), hb.snapshot().min());
  HistogramSnapshot same = ha.snapshot();
  same.merge(HistogramSnapshot());
  EXPECT_EQ(same.summary().min, ha.snapshot().min());
  EXPECT_EQ(same.count(), ha.snapshot().count());
}

TEST(Histogram, ConcurrentRecordIsExact) {
  constexpr int kThreads = 4;
  constexpr ns_t kPerThread = 250'000;
  Histogram h;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&h, &go, t] {
      while (!go.load()) {
      }
      // Thread t records t*kPerThread+1 .. (t+1)*kPerThread: disjoint, together 1..1e6.
      for (ns_t i = 1; i <= kPerThread; ++i)
        h.record(t * kPerThread + i);
    });
  }
  go.store(true);
  for (auto& th : threads)
    th.join();
  const HistogramSnapshot s = h.snapshot();
  const auto n = static_cast<std::uint64_t>(kThreads * kPerThread);
  EXPECT_EQ(s.count(), n);
  EXPECT_EQ(s.sum(), n * (n + 1) / 2);
  EXPECT_EQ(s.min(), 1);
  EXPECT_EQ(s.max(), static_cast<ns_t>(n));
  EXPECT_EQ(s.overflow(), 0U);
  const ns_t p50 = s.percentile(50);
  EXPECT_GE(p50, 500'000);
  EXPECT_LE(p50, 505'000);
}

// The per-bucket counts of a snapshot, rebuilt from its cumulative `le` buckets.
std::vector<std::uint64_t> counts_of(const HistogramSnapshot& s) {
  std::vector<std::uint64_t> out(Histogram::kBuckets, 0);
  std::uint64_t prev = 0;
  s.for_each_bucket([&](ns_t high, std::uint64_t cumulative) {
    out[Histogram::bucket_of(high)] = cumulative - prev;
    prev = cumulative;
  });
  return out;
}

// What the snapshot's own buckets say percentile q must be (nearest rank, reported as
// the top of the bucket clamped to [min, max]), computed here without the class. The rank,
// ceil(q % of n), in integers: q is a multiple of 0.01 in kPercentiles.
ns_t percentile_from_buckets(const std::vector<std::uint64_t>& counts, std::uint64_t n, ns_t lo, ns_t hi, double q) {
  if (q <= 0) return lo;
  if (q >= 100) return hi;
  const auto hundredths = static_cast<std::uint64_t>(std::llround(q * 100));
  const std::uint64_t rank = std::max<std::uint64_t>(1, (hundredths * n + 9'999) / 10'000);
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < counts.size(); ++b) {
    cumulative += counts[b];
    if (cumulative >= rank) return std::clamp(Histogram::bucket_high(b), lo, hi);
  }
  return hi;
}

// Snapshots taken while one thread records (the per-worker histograms, read by stats()).
// The writer goes on until the reader has taken 50 snapshots during which it really
// recorded, so the test never passes on snapshots of a finished or untouched histogram.
// Each such snapshot:
// - counts no fewer records than were done before it began, and no more than were done
//   when it ended plus the one the writer may be in the middle of (its bucket already
//   stored, `recorded` not yet); no bucket goes down from one snapshot to the next;
// - is self-consistent: count is the sum of its buckets, so every percentile is the one its
//   buckets give (recomputed here);
// - has min, max and sum covering the records it counts (the writes before each bucket's
//   release store): max at least the lowest value of its highest bucket, min at most the
//   top of its lowest, sum at least the buckets' lower bounds.
TEST(Histogram, RecordLocalWhileSnapshotting) {
  constexpr std::uint64_t kMinRecords = 200'000;
  constexpr int kConcurrentSnapshots = 50;
  auto value_of = [](std::uint64_t i) { return static_cast<ns_t>(i % 50'000 + 1); };
  Histogram h;
  std::atomic<std::uint64_t> recorded{0};  // records done; stored after each one
  std::atomic<bool> enough{false};
  std::thread writer([&] {
    for (std::uint64_t i = 1; i <= kMinRecords || !enough.load(std::memory_order_relaxed); ++i) {
      h.record_local(value_of(i));
      recorded.store(i, std::memory_order_release);
    }
  });
  // A failed ASSERT returns from this lambda only: the writer is always stopped and joined.
  auto snapshots = [&] {
    int concurrent = 0;
    std::vector<std::uint64_t> last(Histogram::kBuckets, 0);
    while (concurrent < kConcurrentSnapshots) {
      const std::uint64_t done_before = recorded.load(std::memory_order_acquire);
      const HistogramSnapshot s = h.snapshot();
      const std::uint64_t done_after = recorded.load(std::memory_order_acquire);
      if (done_after > done_before) ++concurrent;
      ASSERT_GE(s.count(), done_before);
      ASSERT_LE(s.count(), done_after + 1);
      const std::vector<std::uint64_t> counts = counts_of(s);
      std::uint64_t total = 0, low_sum = 0;
      std::size_t lowest = Histogram::kBuckets, highest = 0;
      for (std::size_t b = 0; b < counts.size(); ++b) {
        ASSERT_GE(counts[b], last[b]) << "bucket " << b << " went down";
        total += counts[b];
        low_sum += counts[b] * static_cast<std::uint64_t>(Histogram::bucket_low(b));
        if (counts[b] != 0) {
          lowest = std::min(lowest, b);
          highest = b;
        }
      }
      last = counts;
      ASSERT_EQ(total, s.count());
      if (s.count() == 0) continue;
      EXPECT_GE(s.max(), Histogram::bucket_low(highest));
      EXPECT_LE(s.max(), 50'000);
      EXPECT_LE(s.min(), Histogram::bucket_high(lowest));
      EXPECT_GE(s.min(), 1);
      EXPECT_GE(s.sum(), low_sum);
      for (double q : kPercentiles)
        ASSERT_EQ(s.percentile(q), percentile_from_buckets(counts, s.count(), s.min(), s.max(), q)) << "p" << q;
    }
  };
  snapshots();
  enough.store(true);
  writer.join();
  if (HasFatalFailure()) return;
  // Quiescent: exact.
  const std::uint64_t n = recorded.load();
  std::uint64_t sum = 0;
  for (std::uint64_t i = 1; i <= n; ++i)
    sum += static_cast<std::uint64_t>(value_of(i));
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), n);
  EXPECT_EQ(s.sum(), sum);
  EXPECT_EQ(s.min(), 1);
  EXPECT_EQ(s.max(), 50'000);
  EXPECT_EQ(s.percentile(100), 50'000);  // the exact largest value, not its bucket's top
}

// The scheme recomputed from its definition, not from the class: values below 2 * 128 are
// their own bucket; above, [2^e, 2^(e+1)) is cut into 128 buckets of width 2^(e-7).
TEST(Histogram, BucketBoundariesMatchTheSchemeComputedIndependently) {
  auto expected = [](ns_t v) {
    ns_t width = 1;
    if (v >= 256) {
      int e = 0;
      while ((ns_t{2} << e) <= v)
        ++e;  // 2^e <= v < 2^(e+1)
      width = ns_t{1} << (e - 7);
    }
    const ns_t low = v - v % width;
    return std::make_pair(low, low + width - 1);
  };
  std::mt19937_64 rng(17);
  std::uniform_int_distribution<int> exponent(0, 35);
  std::vector<ns_t> probe;
  for (int i = 0; i < 200'000; ++i) {
    const ns_t top = (ns_t{2} << exponent(rng)) - 1;
    probe.push_back(std::uniform_int_distribution<ns_t>(0, std::min(top, Histogram::kMaxValue))(rng));
  }
  for (int e = 0; e < 36; ++e)
    for (ns_t d : {-1, 0, 1})
      probe.push_back(std::clamp<ns_t>((ns_t{1} << e) + d, 0, Histogram::kMaxValue));
  for (ns_t v : probe) {
    const std::size_t b = Histogram::bucket_of(v);
    ASSERT_EQ(std::make_pair(Histogram::bucket_low(b), Histogram::bucket_high(b)), expected(v)) << v;
  }
  // A few by hand: 1000 = 0b1111101000 is in [512, 1024), width 4; 10^6 in [2^19, 2^20), width 4096.
  EXPECT_EQ(Histogram::bucket_low(Histogram::bucket_of(1'000)), 1'000);
  EXPECT_EQ(Histogram::bucket_high(Histogram::bucket_of(1'001)), 1'003);
  EXPECT_EQ(Histogram::bucket_low(Histogram::bucket_of(1'000'000)), 999'424);
  EXPECT_EQ(Histogram::bucket_high(Histogram::bucket_of(1'000'000)), 1'003'519);
}

TEST(Histogram, ArenaBacked) {
  // bytes() is what the engine sizes its arena with: exactly what a histogram takes. With
  // bytes() left it fits, with less it throws.
  rt::Arena arena(2 * Histogram::bytes(), false);
  ASSERT_NE(arena.try_allocate(arena.size() - Histogram::bytes()), nullptr);
  const std::size_t before = arena.used();
  Histogram h(arena);
  EXPECT_EQ(arena.used() - before, Histogram::bytes());
  EXPECT_EQ(arena.used(), arena.size());
  for (ns_t v = 1; v <= 10'000; ++v)
    h.record_local(v);
  const HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 10'000U);
  EXPECT_EQ(s.max(), 10'000);

  rt::Arena short_one(2 * Histogram::bytes(), false);
  ASSERT_NE(short_one.try_allocate(short_one.size() - Histogram::bytes() + 1), nullptr);
  EXPECT_THROW(Histogram{short_one}, std::length_error);
}

}  // namespace
