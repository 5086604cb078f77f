// The engine's PM QoS request (issue 14, item 0): held from start to stop while it runs RT
// workers, as cyclictest holds it, visible in its stats and to the kernel, and refused
// loudly once, never fatally.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "child.hpp"
#include "engine_test_support.hpp"
#include "hal/cpu.hpp"
#include "hal/report.hpp"

namespace {

using testing_support::small_config;

constexpr const char* kDevice = "/dev/cpu_dma_latency";

// The kernel's effective target: the smallest of every request held (a read returns it).
std::int32_t effective_target() {
  const int fd = open(kDevice, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -2;
  std::int32_t v = -1;
  const bool ok = read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v);
  close(fd);
  return ok ? v : -1;
}

// The engine's own request, made and dropped: whether this process may hold one.
bool may_request() { return hal::DmaLatencyRequest{}.request(0, kDevice).ok(); }

rt::EngineConfig rt_config() {
  rt::EngineConfig c = small_config();
  c.workers[0].priority = 10;  // an RT worker; SCHED_FIFO may still be refused: the request does not depend on it
  return c;
}

TEST(PmQos, HeldFromStartToStopWithAnRtWorker) {
  if (!may_request()) GTEST_SKIP() << kDevice << " cannot be opened for writing (needs root or a udev rule)";
  rt::EngineConfig c = rt_config();
  c.pm_qos.latency_us = 0;
  rt::Engine e(c);
  EXPECT_FALSE(e.stats().pm_qos_held);  // not before start
  e.start();
  const rt::Stats s = e.stats();
  EXPECT_TRUE(s.pm_qos_held);
  EXPECT_EQ(s.pm_qos_latency_us, 0);
  EXPECT_EQ(effective_target(), 0);  // the kernel sees it
  (void)e.stop(rt::StopMode::Drain);
  EXPECT_FALSE(e.stats().pm_qos_held);
  EXPECT_EQ(e.stats().pm_qos_latency_us, -1);
}

TEST(PmQos, TargetIsTheConfiguredLatency) {
  if (!may_request()) GTEST_SKIP() << kDevice << " cannot be opened for writing (needs root or a udev rule)";
  rt::EngineConfig c = rt_config();
  c.pm_qos.latency_us = 37;
  rt::Engine e(c);
  e.start();
  EXPECT_TRUE(e.stats().pm_qos_held);
  EXPECT_EQ(e.stats().pm_qos_latency_us, 37);
  // The effective value is the minimum over all holders: at most ours.
  const std::int32_t eff = effective_target();
  EXPECT_GE(eff, 0);
  EXPECT_LE(eff, 37);
  (void)e.stop(rt::StopMode::Drain);
}

TEST(PmQos, NotHeldWhenDisabledOrWithoutRtWorkers) {
  rt::EngineConfig off = rt_config();
  off.pm_qos.enabled = false;  // cyclictest --laptop
  rt::Engine a(off);
  a.start();
  EXPECT_FALSE(a.stats().pm_qos_held);
  (void)a.stop(rt::StopMode::Drain);

  rt::Engine b(small_config());  // SCHED_OTHER workers only
  b.start();
  EXPECT_FALSE(b.stats().pm_qos_held);
  (void)b.stop(rt::StopMode::Drain);
}

TEST(PmQos, NegativeLatencyIsAConfigError) {
  rt::EngineConfig c = rt_config();
  c.pm_qos.latency_us = -1;
  try {
    rt::Engine e(c);
    FAIL() << "accepted a negative latency";
  } catch (const std::invalid_argument& ex) {
    EXPECT_NE(std::string(ex.what()).find("pm_qos.latency_us"), std::string::npos) << ex.what();
  }
}

std::string g_lines;
void capture(std::string_view line) { g_lines += std::string(line) + "\n"; }

// Without the right to the device the engine says so once, names the cause and the way
// out, and runs on: tasks still complete.
TEST(PmQos, RefusedRequestIsReportedOnceAndTheEngineRuns) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to become another user in a child";
  const int rc = testing_support::run_in_child([] {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(testing_support::kChildSkip);
    if (may_request()) _exit(testing_support::kChildSkip);  // the device is world-writable here
    hal::reset_reports();
    hal::set_report_sink(&capture);
    for (int round = 0; round < 2; ++round) {  // two starts: still one line
      rt::Engine e(rt_config());
      e.start();
      if (e.stats().pm_qos_held) _exit(10);
      rt::Producer p = e.make_producer();
      std::atomic<int> ran{0};
      if (p.try_submit([&ran] { ran++; }) != rt::SubmitStatus::Ok) _exit(11);
      if (!e.stop(rt::StopMode::Drain).balanced || ran.load() != 1) _exit(12);
    }
    std::size_t lines = 0;
    for (std::size_t at = 0; (at = g_lines.find("cannot hold /dev/cpu_dma_latency", at)) != std::string::npos; ++at)
      ++lines;  // other lines may come too (SCHED_FIFO refused): this one, exactly once
    if (lines != 1) _exit(13);
    if (g_lines.find("pm_qos.enabled = false") == std::string::npos) _exit(14);
    _exit(0);
  });
  if (rc == testing_support::kChildSkip)
    GTEST_SKIP() << "could not become an unprivileged user, or the device is open to all";
  EXPECT_EQ(rc, 0) << "10 held, 11 refused a task, 12 lost a task, 13 not exactly one report line, 14 no way out named";
}

}  // namespace
