#include "hal/timer.hpp"

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <thread>

#include "child.hpp"
#include "hal/report.hpp"

namespace hal {
// Names the backend in test listings instead of "1-byte object <01>".
void PrintTo(TimerBackend b, std::ostream* os) { *os << to_string(b); }
}  // namespace hal

namespace {

using hal::kNsPerMs;
using hal::kNsPerUs;
using hal::ns_t;

class TimerTest : public ::testing::TestWithParam<hal::TimerBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == hal::TimerBackend::IoUring) {
      const hal::UringSupport u = hal::probe_io_uring();
      if (!u.usable) GTEST_SKIP() << "io_uring unusable here: " << u.reason;
      timer_ = hal::make_uring_timer();
    } else {
      timer_ = hal::make_timerfd_timer();
    }
    ASSERT_EQ(timer_->backend(), GetParam());
  }

  std::uint64_t wait() {
    std::uint64_t n = ~0ULL;
    const hal::Status s = timer_->wait(n);
    EXPECT_TRUE(s.ok()) << s.message();
    return n;
  }

  std::unique_ptr<hal::Timer> timer_;
};

TEST_P(TimerTest, OneShotNeverFiresBeforeItsTime) {
  for (ns_t offset : {20 * kNsPerUs, 200 * kNsPerUs, kNsPerMs, 5 * kNsPerMs}) {
    const ns_t t = hal::now_ns() + offset;
    ASSERT_TRUE(timer_->arm_at(t).ok());
    EXPECT_EQ(wait(), 1u) << "offset " << offset;
    EXPECT_GE(hal::now_ns(), t) << "offset " << offset;
  }
}

TEST_P(TimerTest, AnInstantInThePastFiresAtOnce) {
  ASSERT_TRUE(timer_->arm_at(hal::now_ns() - kNsPerMs).ok());
  EXPECT_EQ(wait(), 1u);
  ASSERT_TRUE(timer_->arm_at(0).ok());
  EXPECT_EQ(wait(), 1u);
}

TEST_P(TimerTest, PeriodicNeverFiresEarlyAndCountsEveryRelease) {
  const ns_t period = kNsPerMs;
  const ns_t first = hal::now_ns() + 2 * kNsPerMs;
  ASSERT_TRUE(timer_->arm_periodic(first, period).ok());
  std::uint64_t releases = 0;
  for (int i = 0; i < 50; ++i) {
    const std::uint64_t n = wait();
    ASSERT_GE(n, 1u);
    releases += n;
    // The latest release counted so far is first + (releases - 1) * period.
    EXPECT_GE(hal::now_ns(), first + static_cast<ns_t>(releases - 1) * period);
  }
  EXPECT_GE(releases, 50u);
  ASSERT_TRUE(timer_->disarm().ok());
}

TEST_P(TimerTest, OverrunReportsTheMissedReleases) {
  const ns_t period = kNsPerMs;
  const ns_t first = hal::now_ns() + kNsPerMs;
  ASSERT_TRUE(timer_->arm_periodic(first, period).ok());
  ASSERT_TRUE(hal::sleep_until(first + 5 * period + period / 2).ok());  // releases 0..5 pass
  const std::uint64_t n = wait();
  EXPECT_GE(n, 6u);
  // The series stays on its grid: the next wake is not before the next grid point.
  const std::uint64_t m = wait();
  EXPECT_GE(m, 1u);
  EXPECT_GE(hal::now_ns(), first + static_cast<ns_t>(n + m - 1) * period);
  ASSERT_TRUE(timer_->disarm().ok());
}

TEST_P(TimerTest, RearmingReplacesTheEarlierInstant) {
  const ns_t far = hal::now_ns() + 60'000 * kNsPerMs;
  ASSERT_TRUE(timer_->arm_at(far).ok());
  const ns_t near = hal::now_ns() + 2 * kNsPerMs;
  ASSERT_TRUE(timer_->arm_at(near).ok());
  EXPECT_EQ(wait(), 1u);
  const ns_t woke = hal::now_ns();
  EXPECT_GE(woke, near);
  EXPECT_LT(woke, far);  // the first arming did not survive (it would block for a minute)
}

TEST_P(TimerTest, NotifyWakesABlockedWaitWithoutAnExpiry) {
  std::thread waker([&] {
    (void)hal::sleep_until(hal::now_ns() + 10 * kNsPerMs);
    EXPECT_TRUE(timer_->notify().ok());
  });
  EXPECT_EQ(wait(), 0u);
  waker.join();
}

TEST_P(TimerTest, NotifyBeforeWaitIsNotLost) {
  ASSERT_TRUE(timer_->notify().ok());
  EXPECT_EQ(wait(), 0u);
}

TEST_P(TimerTest, DisarmedTimerDoesNotFire) {
  ASSERT_TRUE(timer_->arm_at(hal::now_ns() + 2 * kNsPerMs).ok());
  ASSERT_TRUE(timer_->disarm().ok());
  std::thread waker([&] {
    (void)hal::sleep_until(hal::now_ns() + 30 * kNsPerMs);
    EXPECT_TRUE(timer_->notify().ok());
  });
  EXPECT_EQ(wait(), 0u);  // woken by notify, not by the disarmed instant
  waker.join();
}

TEST_P(TimerTest, PeriodMustBePositive) {
  EXPECT_EQ(timer_->arm_periodic(hal::now_ns(), 0).err, EINVAL);
  EXPECT_EQ(timer_->arm_periodic(hal::now_ns(), -5).err, EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Backends, TimerTest, ::testing::Values(hal::TimerBackend::TimerFd, hal::TimerBackend::IoUring),
                         [](const auto& p) {
                           return std::string(hal::to_string(p.param)) == "io_uring" ? "IoUring" : "TimerFd";
                         });

TEST(TimerChoice, TimerFdIsAlwaysThere) {
  hal::TimerChoice c = hal::make_timer(hal::TimerBackend::TimerFd);
  ASSERT_NE(c.timer, nullptr);
  EXPECT_EQ(c.active, hal::TimerBackend::TimerFd);
  EXPECT_TRUE(c.fallback_reason.empty());
}

TEST(TimerChoice, IoUringWhenUsableElseTimerFdWithAReason) {
  const hal::UringSupport u = hal::probe_io_uring();
  hal::TimerChoice c = hal::make_timer(hal::TimerBackend::IoUring);
  ASSERT_NE(c.timer, nullptr);
  EXPECT_EQ(c.timer->backend(), c.active);
  if (u.usable) {
    EXPECT_EQ(c.active, hal::TimerBackend::IoUring);
  } else {
    EXPECT_EQ(c.active, hal::TimerBackend::TimerFd);
    EXPECT_EQ(c.fallback_reason, u.reason);
  }
}

// Refuses io_uring_setup with EPERM, as Docker's default seccomp profile does.
bool forbid_io_uring() {
#if defined(__x86_64__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_AARCH64;
#elif defined(__arm__)
  constexpr std::uint32_t kArch = AUDIT_ARCH_ARM;
#else
  return false;
#endif
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(std::size(filter)), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

std::string g_reported;
void capture(std::string_view line) { g_reported += std::string(line) + "\n"; }

[[noreturn]] void child_FallsBackToTimerFdWhenSeccompRefusesIoUring() {
  if (!forbid_io_uring()) _exit(testing_support::kChildSkip);
  hal::reset_reports();
  hal::set_report_sink(&capture);
  if (hal::probe_io_uring().usable) _exit(11);
  hal::TimerChoice c = hal::make_timer(hal::TimerBackend::IoUring);
  if (c.active != hal::TimerBackend::TimerFd || c.timer->backend() != hal::TimerBackend::TimerFd) _exit(12);
  if (c.fallback_reason.empty()) _exit(13);
  if (g_reported.find("using timerfd") == std::string::npos) _exit(14);
  const ns_t t = hal::now_ns() + kNsPerMs;
  std::uint64_t n = 0;
  if (!c.timer->arm_at(t).ok() || !c.timer->wait(n).ok() || n != 1 || hal::now_ns() < t) _exit(15);
  _exit(0);
}

TEST(TimerChoice, FallsBackToTimerFdWhenSeccompRefusesIoUring) {
  const int rc = testing_support::run_in_child(child_FallsBackToTimerFdWhenSeccompRefusesIoUring);
  if (rc == testing_support::kChildSkip) GTEST_SKIP() << "cannot install a seccomp filter here (qemu-user has none)";
  EXPECT_EQ(rc, 0) << "the child failed at the check that exits with this code";
}

}  // namespace
