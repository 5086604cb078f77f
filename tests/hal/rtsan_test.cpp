// Proves the `rtsan` preset checks what HAL_NONBLOCKING promises: a nonblocking function
// that allocates or sleeps is stopped at run time, and the HAL's nonblocking calls pass.
// Each case runs in a child whose stderr is captured: the child must end the way
// RealtimeSanitizer ends a process, and its report must name the call it stopped -- not
// merely "the child did not exit 0", which a failed fork or any crash would satisfy.
// Skipped in builds without RealtimeSanitizer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "child.hpp"
#include "hal/annotations.hpp"
#include "hal/clock.hpp"
#include "sanitizer.hpp"

namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

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

// How RealtimeSanitizer ends a process on a violation (halt_on_error, its default): exit
// with its `exitcode` flag, 43 by default, or abort when abort_on_error=1.
constexpr int kRtsanExit = 43;
::testing::Matcher<int> halted_by_rtsan() { return AnyOf(kRtsanExit, 128 + SIGABRT); }

// Written by the child after the call: RealtimeSanitizer must stop it before.
constexpr const char* kReturned = "child: the violating call returned";
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
  const testing_support::ChildOutput r = testing_support::run_in_child_capturing_stderr([] {
    std::free(allocates_anyway());
    std::fprintf(stderr, "%s\n", kReturned);
  });
  EXPECT_THAT(r.status, halted_by_rtsan()) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ERROR: RealtimeSanitizer: unsafe-library-call"));
  // LLVM 20 and later word it "Intercepted call..."; LLVM 19 "Real-time violation: intercepted call...".
  EXPECT_THAT(r.err, AnyOf(HasSubstr("Intercepted call to real-time unsafe function `malloc` in real-time context"),
                           HasSubstr("Real-time violation: intercepted call to real-time unsafe function `malloc`")));
  EXPECT_THAT(r.err, Not(HasSubstr(kReturned)));
#endif
}

// RealtimeSanitizer (clang 22) does not intercept clock_nanosleep, the call under
// hal::sleep_until: what stops this sleep is hal::sleep_until being HAL_BLOCKING
// ([[clang::blocking]]), which the sanitizer reports when a nonblocking function calls it.
TEST_F(RealtimeSanitizer, StopsASleepInANonblockingFunction) {
#ifdef RT_TEST_RTSAN
  const testing_support::ChildOutput r = testing_support::run_in_child_capturing_stderr([] {
    sleeps_anyway();
    std::fprintf(stderr, "%s\n", kReturned);
  });
  EXPECT_THAT(r.status, halted_by_rtsan()) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ERROR: RealtimeSanitizer: blocking-call"));
  EXPECT_THAT(r.err, HasSubstr("Call to blocking function `hal::sleep_until("));
  EXPECT_THAT(r.err, Not(HasSubstr(kReturned)));
#endif
}

TEST_F(RealtimeSanitizer, AcceptsTheClockRead) {
#ifdef RT_TEST_RTSAN
  const testing_support::ChildOutput r = testing_support::run_in_child_capturing_stderr([] {
    if (reads_the_clock() <= 0) _exit(3);
  });
  EXPECT_EQ(r.status, 0) << "now_ns() is promised nonblocking but RealtimeSanitizer objected:\n" << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("RealtimeSanitizer")));
#endif
}

}  // namespace
