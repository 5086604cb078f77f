#include "rtbench/measure.hpp"

#include <gtest/gtest.h>

namespace rt::bench {
namespace {

TEST(BenchMeasure, SnapshotOfSamplesKeepsCountMinAndMax) {
  const HistogramSnapshot h = snapshot_of({5'000, 1'000, 3'000, 2'000, 4'000});
  EXPECT_EQ(h.count(), 5U);
  EXPECT_EQ(h.min(), 1'000);
  EXPECT_EQ(h.max(), 5'000);
  EXPECT_GE(h.percentile(50), 3'000);
  EXPECT_LT(h.percentile(50), 3'100);
}

}  // namespace
}  // namespace rt::bench
