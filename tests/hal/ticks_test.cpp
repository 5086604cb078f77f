#include "hal/ticks.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace {

#if defined(__x86_64__)
std::string clocksource() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  f >> name;
  return name;
}
#endif

TEST(Ticks, InitIsIdempotent) {
  hal::init_ticks();
  const bool tsc = hal::ticks_are_tsc();
  const double rate = hal::ns_per_tick();
  hal::init_ticks();
  EXPECT_EQ(hal::ticks_are_tsc(), tsc);
  EXPECT_EQ(hal::ns_per_tick(), rate);
  EXPECT_GT(rate, 0);
}

TEST(Ticks, TscOnlyWhereTheKernelKeepsTimeWithIt) {
  hal::init_ticks();
#if defined(__x86_64__)
  if (clocksource() != "tsc") {
    EXPECT_FALSE(hal::ticks_are_tsc());
  }
#else
  EXPECT_FALSE(hal::ticks_are_tsc());
#endif
  if (!hal::ticks_are_tsc()) {
    EXPECT_EQ(hal::ns_per_tick(), 1.0);
  }
}

// A scaled tick interval lies within the CLOCK_MONOTONIC reads around it, and is at least
// the sleep inside it: a preemption anywhere only widens the outer interval.
TEST(Ticks, ScaledIntervalsAgreeWithTheClock) {
  hal::init_ticks();
  for (const hal::ns_t sleep : {hal::kNsPerMs, 10 * hal::kNsPerMs}) {
    const hal::ns_t outer0 = hal::now_ns();
    const std::uint64_t t0 = hal::ticks();
    ASSERT_TRUE(hal::sleep_until(hal::now_ns() + sleep).ok());
    const std::uint64_t t1 = hal::ticks();
    const hal::ns_t outer1 = hal::now_ns();
    ASSERT_GE(t1, t0);
    const double scaled = static_cast<double>(t1 - t0) * hal::ns_per_tick();
    // The rate is measured to ~1e-5; the reads are unfenced (a few dozen cycles).
    EXPECT_GE(scaled, static_cast<double>(sleep) * (1 - 1e-3)) << "sleep " << sleep;
    EXPECT_LE(scaled, static_cast<double>(outer1 - outer0) * (1 + 1e-3) + 1000) << "sleep " << sleep;
  }
}

}  // namespace
