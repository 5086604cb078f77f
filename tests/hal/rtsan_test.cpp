// Proves the `rtsan` preset checks what HAL_NONBLOCKING promises: a nonblocking function
// that allocates or sleeps is stopped at run time, and the HAL's nonblocking calls pass.
// Skipped in builds without RealtimeSanitizer.
#include <gtest/gtest.h>

#include <cstdlib>

#include "child.hpp"
#include "hal/annotations.hpp"
#include "hal/clock.hpp"
#include "sanitizer.hpp"

namespace {

#ifdef RT_TEST_RTSAN
// These break their promise on purpose; the compile-time check would refuse them.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wfunction-effects"
__attribute__((noinline)) void* allocates_anyway() noexcept HAL_NONBLOCKING { return std::malloc(64); }
__attribute__((noinline)) void sleeps_anyway() noexcept HAL_NONBLOCKING {
  (void)hal::sleep_until(hal::now_ns() + hal::kNsPerMs);
}
#pragma clang diagnostic pop
__attribute__((noinline)) hal::ns_t reads_the_clock() noexcept HAL_NONBLOCKING { return hal::now_ns(); }
#endif

class RealtimeSanitizer : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef RT_TEST_RTSAN
    GTEST_SKIP() << "built without -fsanitize=realtime (the rtsan preset runs these)";
#endif
  }
};

TEST_F(RealtimeSanitizer, StopsAnAllocationInANonblockingFunction) {
#ifdef RT_TEST_RTSAN
  const int rc = testing_support::run_in_child([] { std::free(allocates_anyway()); });
  EXPECT_NE(rc, 0) << "malloc inside HAL_NONBLOCKING went unnoticed";
#endif
}

TEST_F(RealtimeSanitizer, StopsASleepInANonblockingFunction) {
#ifdef RT_TEST_RTSAN
  const int rc = testing_support::run_in_child([] { sleeps_anyway(); });
  EXPECT_NE(rc, 0) << "clock_nanosleep inside HAL_NONBLOCKING went unnoticed";
#endif
}

TEST_F(RealtimeSanitizer, AcceptsTheClockRead) {
#ifdef RT_TEST_RTSAN
  const int rc = testing_support::run_in_child([] { (void)reads_the_clock(); });
  EXPECT_EQ(rc, 0) << "now_ns() is promised nonblocking but RealtimeSanitizer objected";
#endif
}

}  // namespace
