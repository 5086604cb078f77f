#include "hal/clock.hpp"

#include <gtest/gtest.h>

namespace {

TEST(Clock, MonotonicNeverGoesBack) {
  hal::ns_t prev = hal::now_ns();
  for (int i = 0; i < 100000; ++i) {
    const hal::ns_t t = hal::now_ns();
    ASSERT_GE(t, prev);
    prev = t;
  }
}

TEST(Clock, MatchesClockGettimeMonotonic) {
  timespec ts{};
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
  const hal::ns_t before = ts.tv_sec * hal::kNsPerSec + ts.tv_nsec;
  const hal::ns_t t = hal::now_ns();
  ASSERT_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
  const hal::ns_t after = ts.tv_sec * hal::kNsPerSec + ts.tv_nsec;
  EXPECT_LE(before, t);
  EXPECT_LE(t, after);
}

TEST(Clock, SleepUntilNeverReturnsEarly) {
  for (hal::ns_t offset : {10 * hal::kNsPerUs, 100 * hal::kNsPerUs, hal::kNsPerMs, 5 * hal::kNsPerMs}) {
    const hal::ns_t t = hal::now_ns() + offset;
    ASSERT_TRUE(hal::sleep_until(t).ok());
    EXPECT_GE(hal::now_ns(), t) << "offset " << offset;
  }
}

TEST(Clock, SleepUntilThePastReturnsAtOnce) {
  EXPECT_TRUE(hal::sleep_until(hal::now_ns() - hal::kNsPerSec).ok());
  EXPECT_TRUE(hal::sleep_until(0).ok());
}

TEST(Clock, SleepUntilRejectsNegativeInstants) {
  const hal::Status s = hal::sleep_until(-1);
  EXPECT_EQ(s.err, EINVAL);
  EXPECT_STREQ(s.op, "clock_nanosleep");
}

TEST(Clock, ResolutionIsReported) {
  const hal::ns_t res = hal::clock_resolution_ns();
  EXPECT_GT(res, 0);
  EXPECT_LE(res, 10 * hal::kNsPerMs);  // a jiffy at HZ=100 is the coarsest Linux has
}

}  // namespace
