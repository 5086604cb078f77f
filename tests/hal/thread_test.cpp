#include "hal/thread.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "caps.hpp"
#include "child.hpp"
#include "hal/cpu.hpp"
#include "hal/report.hpp"

namespace {

int last_online_cpu() {
  const auto online = hal::read_cpu_info().online;
  return online.empty() ? 0 : online.back();
}

struct Seen {
  int policy = -1;
  int priority = -1;
  int cpus = 0;
  bool on_cpu = false;
  char name[16] = {};
};

Seen observe(int cpu) {
  Seen s;
  sched_param sp{};
  s.policy = sched_getscheduler(0);
  (void)sched_getparam(0, &sp);
  s.priority = sp.sched_priority;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0) {
    s.cpus = CPU_COUNT(&set);
    s.on_cpu = cpu >= 0 && CPU_ISSET(cpu, &set);
  }
  (void)pthread_getname_np(pthread_self(), s.name, sizeof s.name);
  return s;
}

TEST(Thread, PinnedFifoIsReallyApplied) {
  const int cpu = last_online_cpu();
  Seen seen;
  hal::Thread t({.name = "rt-test-worker-long-name", .cpu = cpu, .priority = 10}, [&] { seen = observe(cpu); });
  t.join();
  const hal::ThreadApplied& a = t.applied();
  ASSERT_TRUE(a.readback.ok()) << a.readback.message();
  ASSERT_TRUE(a.affinity.ok()) << a.affinity.message();
  EXPECT_EQ(a.cpu, cpu);
  EXPECT_EQ(seen.cpus, 1);
  EXPECT_TRUE(seen.on_cpu);
  EXPECT_STREQ(seen.name, "rt-test-worker-");  // the kernel keeps 15 bytes
  if (!a.sched.ok()) {
    GTEST_SKIP() << "SCHED_FIFO not permitted here: " << a.sched.message() << ": "
                 << hal::explain_rt_refusal(a.sched.err);
  }
  EXPECT_EQ(a.policy, SCHED_FIFO);
  EXPECT_EQ(a.priority, 10);
  EXPECT_EQ(seen.policy, SCHED_FIFO);  // what the thread itself sees, not what we asked for
  EXPECT_EQ(seen.priority, 10);
  EXPECT_FALSE(a.degraded());
}

TEST(Thread, BodyRunsExactlyOnceAndJoinWaits) {
  std::atomic<int> runs{0};
  {
    hal::Thread t({.name = "once"}, [&] { runs.fetch_add(1); });
    EXPECT_TRUE(t.joinable());
    t.join();
    EXPECT_FALSE(t.joinable());
    EXPECT_EQ(runs.load(), 1);
  }
  {
    hal::Thread t({.name = "dtor-joins"}, [&] { runs.fetch_add(1); });
    hal::Thread moved = std::move(t);
    // Checking the moved-from state is the point here.
    EXPECT_FALSE(t.joinable());  // NOLINT(bugprone-use-after-move,clang-analyzer-cplusplus.Move)
    EXPECT_TRUE(moved.joinable());
  }
  EXPECT_EQ(runs.load(), 2);
}

TEST(Thread, PriorityOutOfRangeDegradesToOther) {
  hal::Thread t({.name = "bad-prio", .priority = 1000}, [] {});
  t.join();
  const hal::ThreadApplied& a = t.applied();
  EXPECT_EQ(a.sched.err, EINVAL);
  EXPECT_EQ(a.policy, SCHED_OTHER);
  EXPECT_TRUE(a.degraded());
  EXPECT_NE(hal::explain_rt_refusal(EINVAL).find("1..99"), std::string::npos);
}

TEST(Thread, UnknownCpuRunsUnpinned) {
  std::atomic<bool> ran{false};
  hal::Thread t({.name = "bad-cpu", .cpu = CPU_SETSIZE + 5}, [&] { ran = true; });
  t.join();
  EXPECT_TRUE(ran.load());
  EXPECT_EQ(t.applied().affinity.err, EINVAL);
  EXPECT_EQ(t.applied().cpu, hal::kNoCpu);
  EXPECT_TRUE(t.applied().degraded());
}

std::string g_reported;
void capture(std::string_view line) { g_reported += std::string(line) + "\n"; }

[[noreturn]] void child_WithoutRtRightsFallsBackAndSaysWhyOnce() {
  // What an unprivileged user on a default system has.
  const rlimit zero{0, 0};
  if (!testing_support::drop_capability(CAP_SYS_NICE) || setrlimit(RLIMIT_RTPRIO, &zero) != 0) {
    _exit(testing_support::kChildSkip);
  }
  hal::reset_reports();
  hal::set_report_sink(&capture);
  for (int i = 0; i < 3; ++i) {
    hal::Thread t({.name = "no-rights", .priority = 20}, [] {});
    t.join();
    const hal::ThreadApplied& a = t.applied();
    if (a.sched.err != EPERM) _exit(12);
    if (a.policy != SCHED_OTHER || !a.degraded()) _exit(13);
  }
  if (g_reported.find("lacks CAP_SYS_NICE") == std::string::npos) _exit(14);
  if (g_reported.find("RLIMIT_RTPRIO is 0") == std::string::npos) _exit(15);
  if (g_reported.find("SCHED_OTHER") == std::string::npos) _exit(16);
  if (g_reported.find('\n') != g_reported.size() - 1) _exit(17);  // three threads, one line
  _exit(0);
}

TEST(Thread, WithoutRtRightsFallsBackAndSaysWhyOnce) {
  const int rc = testing_support::run_in_child(child_WithoutRtRightsFallsBackAndSaysWhyOnce);
  if (rc == testing_support::kChildSkip) GTEST_SKIP() << "cannot drop CAP_SYS_NICE or lower RLIMIT_RTPRIO here";
  EXPECT_EQ(rc, 0) << "the child failed at the check that exits with this code";
}

TEST(Thread, ApplyToCurrentThreadReadsBack) {
  hal::Thread t({.name = "plain"}, [] {
    const hal::ThreadApplied a = hal::apply_to_current_thread({.name = "plain2", .cpu = 0, .priority = 0});
    EXPECT_TRUE(a.sched.ok());
    EXPECT_EQ(a.policy, SCHED_OTHER);
    EXPECT_EQ(a.cpu, 0);
  });
}

}  // namespace
