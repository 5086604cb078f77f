// rtbench/phase.hpp: the phase of another thread's periodic wake-ups, read from outside
// (P1 runs the engine's sleep loop beside cyclictest with it).
#include "rtbench/phase.hpp"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "child.hpp"
#include "hal/clock.hpp"
#include "rtbench/tools.hpp"

namespace rt::bench {
namespace {

constexpr ns_t kUs = 1'000;
constexpr ns_t kMs = 1'000'000;

// How far apart two phases are on the circle of one period.
ns_t circular_distance(ns_t a, ns_t b, ns_t period) {
  const ns_t d = phase_offset(a, b, period);
  return std::min(d, period - d);
}

TEST(Phase, SchedstatGivesItsThirdField) {
  EXPECT_EQ(parse_schedstat_runs("1234567 89012 345\n"), 345U);
  EXPECT_EQ(parse_schedstat_runs("0 0 0\n"), 0U);
  EXPECT_FALSE(parse_schedstat_runs("1234567 89012\n").has_value()) << "two fields";
  EXPECT_FALSE(parse_schedstat_runs("").has_value());
  EXPECT_FALSE(parse_schedstat_runs("a b c").has_value());
}

TEST(Phase, OffsetIsWithinOnePeriod) {
  EXPECT_EQ(phase_offset(10 * kMs + 300 * kUs, 100 * kUs, kMs), 200 * kUs);
  EXPECT_EQ(phase_offset(10 * kMs + 100 * kUs, 300 * kUs, kMs), 800 * kUs) << "before the phase: the period's rest";
  EXPECT_EQ(phase_offset(5 * kMs, 0, kMs), 0);
}

// Wake-ups k periods apart, each late by 10..40 us: the phase is where they cluster.
std::vector<ns_t> wakes_at(ns_t phase, ns_t period, int n) {
  std::vector<ns_t> w;
  w.reserve(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k)
    w.push_back(1'000 * period + k * period + phase + 10 * kUs + (k * 7 % 31) * kUs);
  return w;
}

TEST(Phase, WakeupsClusterAtTheirPhase) {
  const auto p = wake_phase(wakes_at(300 * kUs, kMs, 20), kMs);
  ASSERT_TRUE(p.has_value());
  EXPECT_LT(circular_distance(*p, 325 * kUs, kMs), 20 * kUs) << *p;
}

TEST(Phase, WakeupsAcrossThePeriodsBoundaryStayOneCluster) {
  // Phase 980 us, 10..40 us late: some land before the boundary, some after it. The phase
  // is in their cluster (a mean of the times modulo the period would be mid-period).
  const auto p = wake_phase(wakes_at(980 * kUs, kMs, 20), kMs);
  ASSERT_TRUE(p.has_value());
  EXPECT_LT(circular_distance(*p, 5 * kUs, kMs), 25 * kUs) << *p;
}

TEST(Phase, AFewStrayWakeupsDoNotMoveIt) {
  std::vector<ns_t> w = wakes_at(600 * kUs, kMs, 20);
  w[3] += 300 * kUs;  // a late one
  w[9] += 450 * kUs;
  w.push_back(w.back() + 100 * kUs);  // the thread put on its CPU twice in one period
  const auto p = wake_phase(w, kMs);
  ASSERT_TRUE(p.has_value());
  EXPECT_LT(circular_distance(*p, 625 * kUs, kMs), 30 * kUs) << *p;
}

// The first time is the reference the distances are cut around: a stray there half a
// period from the cluster's middle cuts the cluster in two halves, and must not become the
// answer by sitting between them.
TEST(Phase, AStrayFirstWakeupDoesNotSplitTheCluster) {
  for (const ns_t phase : {100 * kUs, 480 * kUs, 900 * kUs}) {
    std::vector<ns_t> w{1'000 * kMs + phase + 25 * kUs + kMs / 2};  // the stray
    for (int k = 1; k <= 20; ++k)                                   // late by 15..24 and 25..34 us: ten on each side
      w.push_back(1'000 * kMs + k * kMs + phase + (k % 2 == 0 ? 14 + k / 2 : 25 + k / 2) * kUs);
    const auto p = wake_phase(w, kMs);
    ASSERT_TRUE(p.has_value());
    EXPECT_LT(circular_distance(*p, phase + 25 * kUs, kMs), 15 * kUs) << phase << " -> " << *p;
  }
}

TEST(Phase, TooFewWakeupsGiveNone) {
  EXPECT_FALSE(wake_phase(wakes_at(0, kMs, 7), kMs).has_value());
  EXPECT_FALSE(wake_phase({}, kMs).has_value());
}

// A thread of this process sleeping to absolute times on a 4 ms grid: the probe, reading
// its schedstat from this thread, finds the grid's phase (within a quarter period: the
// bench aims half a period away from it). Under an emulator a thread's wake-up is late by
// milliseconds at random: skipped there.
TEST(Phase, ProbeFindsARealLoopsPhase) {
  if (const char* emu = testing_support::emulator(); emu != nullptr)
    GTEST_SKIP() << "wake-up times under " << emu << " are not a grid";
  constexpr ns_t kPeriod = 4 * kMs;
  const ns_t phase = 1'300 * kUs;
  std::atomic<pid_t> tid{0};
  std::atomic<bool> stop{false};
  std::thread loop([&] {
    tid.store(static_cast<pid_t>(::syscall(SYS_gettid)));
    ns_t next = hal::now_ns() / kPeriod * kPeriod + kPeriod + phase;
    while (!stop.load()) {
      const timespec ts{static_cast<time_t>(next / 1'000'000'000), static_cast<long>(next % 1'000'000'000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      next += kPeriod;
    }
  });
  while (tid.load() == 0)
    std::this_thread::yield();
  const PhaseProbe p = probe_phase(::getpid(), tid.load(), kPeriod, 16, 4'000 * kMs);
  stop = true;
  loop.join();
  if (!p.phase && p.wakes == 0) GTEST_SKIP() << "no wake-ups in schedstat here: " << p.why;
  ASSERT_TRUE(p.phase.has_value()) << p.why;
  EXPECT_GE(p.wakes, 8) << "a phase needs eight";
  EXPECT_LT(circular_distance(*p.phase, phase, kPeriod), kPeriod / 4) << *p.phase;
}

TEST(Phase, AMissingThreadIsSaid) {
  const PhaseProbe p = probe_phase(::getpid(), 0x7FFFFFF0, kMs, 8, 10 * kMs);
  EXPECT_FALSE(p.phase.has_value());
  EXPECT_NE(p.why.find("schedstat"), std::string::npos) << p.why;
}

// run_program's child, on another thread, as P1 starts cyclictest: found by its name.
TEST(Phase, FindsAChildByNameAndASecondThread) {
  std::thread child([] { (void)run_program({"sleep", "1"}, 5'000 * kMs); });
  const pid_t pid = find_child("sleep", 2'000 * kMs);
  child.join();
  EXPECT_GT(pid, 0);
  EXPECT_EQ(find_child("no-such-child", 5 * kMs), 0);
  std::atomic<bool> stop{false};
  std::thread other([&stop] {
    while (!stop.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  const pid_t second = find_second_thread(::getpid(), 1'000 * kMs);
  const bool ours = std::filesystem::exists("/proc/self/task/" + std::to_string(second));
  stop = true;
  other.join();
  EXPECT_GT(second, 0);
  EXPECT_NE(second, ::getpid());
  EXPECT_TRUE(ours) << "a thread of this process";
}

}  // namespace
}  // namespace rt::bench
