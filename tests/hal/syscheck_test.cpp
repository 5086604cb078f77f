#include "hal/syscheck.hpp"

#include <gtest/gtest.h>

#include <string>

#include "fake_tree.hpp"
#include "hal/memory.hpp"
#include "hal/notify.hpp"

namespace {

using hal::Verdict;
using testing_support::FakeTree;

const hal::Check& find(const hal::Report& r, const std::string& id) {
  for (const auto& c : r.checks) {
    if (c.id == id) return c;
  }
  throw std::runtime_error("no check " + id);
}

hal::Report report_of(const FakeTree& t, const hal::LiveFacts* live = nullptr) {
  return hal::evaluate(hal::read_system_facts(t.root()), live);
}

TEST(SysCheck, RtMachineIsReady) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  const hal::SystemFacts f = hal::read_system_facts(t.root());
  EXPECT_TRUE(f.realtime_flag);
  EXPECT_EQ(f.rtprio_soft, 98);
  EXPECT_EQ(f.memlock_soft, hal::kUnlimited);
  EXPECT_TRUE(f.cap_sys_nice);
  EXPECT_TRUE(f.cap_ipc_lock);
  EXPECT_EQ(f.sched_rt_runtime_us, -1);
  EXPECT_EQ(f.cgroup_rt_runtime_us, -2);

  const hal::Report r = hal::evaluate(f, nullptr);
  for (const char* id : {"kernel_preemption", "rt_priority", "memlock", "cap_sys_nice", "rt_throttling", "rt_group",
                         "timer_slack", "clocksource", "smt", "isolation", "cpu_governor", "cpu_dma_latency"}) {
    EXPECT_EQ(find(r, id).verdict, Verdict::Ok) << id << ": " << find(r, id).value;
  }
  EXPECT_NE(find(r, "kernel_preemption").value.find("PREEMPT_RT"), std::string::npos);
  EXPECT_EQ(find(r, "timer_resolution").verdict, Verdict::Info);  // not measured on a fake tree
  EXPECT_EQ(find(r, "io_uring").verdict, Verdict::Info);
  EXPECT_EQ(r.fail, 0);
  EXPECT_EQ(r.warn, 0);
  EXPECT_EQ(r.overall, Verdict::Ok);
  EXPECT_EQ(r.ok + r.info + r.warn + r.fail, static_cast<int>(r.checks.size()));
}

TEST(SysCheck, StockKernelUnprivilegedUser) {
  FakeTree t;
  FakeTree::make_stock_machine(t);
  const hal::Report r = report_of(t);
  EXPECT_EQ(find(r, "kernel_preemption").verdict, Verdict::Warn);
  EXPECT_NE(find(r, "kernel_preemption").value.find("PREEMPT_DYNAMIC"), std::string::npos);
  EXPECT_EQ(find(r, "rt_priority").verdict, Verdict::Fail);
  EXPECT_EQ(find(r, "memlock").verdict, Verdict::Fail);
  EXPECT_NE(find(r, "memlock").value.find("8 MiB"), std::string::npos);
  EXPECT_EQ(find(r, "cap_sys_nice").verdict, Verdict::Warn);
  EXPECT_EQ(find(r, "rt_throttling").verdict, Verdict::Warn);
  EXPECT_NE(find(r, "rt_throttling").value.find("950000 us of every 1000000 us"), std::string::npos);
  EXPECT_EQ(find(r, "smt").verdict, Verdict::Warn);
  EXPECT_EQ(find(r, "isolation").verdict, Verdict::Warn);
  EXPECT_EQ(find(r, "cpu_governor").verdict, Verdict::Warn);
  EXPECT_EQ(find(r, "cpu_governor").value, "schedutil on CPUs 0-7");
  EXPECT_EQ(find(r, "timer_slack").verdict, Verdict::Info);
  EXPECT_EQ(find(r, "cpu_dma_latency").verdict, Verdict::Info);
  for (const auto& c : r.checks) {
    if (c.verdict == Verdict::Warn || c.verdict == Verdict::Fail) {
      EXPECT_FALSE(c.advice.empty()) << c.id;
    }
  }
  EXPECT_EQ(r.fail, 2);
  EXPECT_EQ(r.overall, Verdict::Fail);
}

TEST(SysCheck, ThrottlingOnAndOff) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  t.write("proc/sys/kernel/sched_rt_runtime_us", "950000\n");
  EXPECT_EQ(find(report_of(t), "rt_throttling").verdict, Verdict::Warn);
  EXPECT_EQ(report_of(t).overall, Verdict::Warn);
  t.write("proc/sys/kernel/sched_rt_runtime_us", "-1\n");
  EXPECT_EQ(find(report_of(t), "rt_throttling").verdict, Verdict::Ok);
}

TEST(SysCheck, RtPriorityFromTheLimitAlone) {
  FakeTree t;
  FakeTree::make_stock_machine(t);
  t.write("proc/self/limits",
          "Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max locked memory         unlimited            unlimited            bytes     \n"
          "Max realtime priority     95                   95                   \n");
  const hal::Report r = report_of(t);
  EXPECT_EQ(find(r, "rt_priority").verdict, Verdict::Ok);
  EXPECT_NE(find(r, "rt_priority").value.find("up to 95"), std::string::npos);
  EXPECT_EQ(find(r, "memlock").verdict, Verdict::Ok);
  EXPECT_EQ(r.fail, 0);
}

TEST(SysCheck, MissingFilesAreUnknownNotOk) {
  FakeTree t;  // empty
  const hal::SystemFacts f = hal::read_system_facts(t.root());
  EXPECT_FALSE(f.limits_known);
  EXPECT_FALSE(f.caps_known);
  const hal::Report r = hal::evaluate(f, nullptr);
  EXPECT_EQ(find(r, "kernel_preemption").verdict, Verdict::Warn);
  EXPECT_NE(find(r, "kernel_preemption").value.find("unknown"), std::string::npos);
  EXPECT_EQ(find(r, "rt_priority").verdict, Verdict::Warn);
  EXPECT_EQ(find(r, "memlock").verdict, Verdict::Warn);
  EXPECT_EQ(find(r, "rt_throttling").verdict, Verdict::Info);
  EXPECT_EQ(find(r, "smt").value, "not reported");
  EXPECT_EQ(find(r, "cpu_governor").verdict, Verdict::Info);
  EXPECT_EQ(r.fail, 0);
  EXPECT_EQ(r.overall, Verdict::Warn);  // unknown is never reported as ready
}

TEST(SysCheck, CgroupV1WithoutRtBudgetFails) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  t.write("proc/self/cgroup", "12:pids:/x\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n");
  t.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.rt_runtime_us", "0\n");
  EXPECT_EQ(hal::read_system_facts(t.root()).cgroup_rt_runtime_us, 0);
  EXPECT_EQ(find(report_of(t), "rt_group").verdict, Verdict::Fail);
  t.write("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.rt_runtime_us", "950000\n");
  EXPECT_EQ(find(report_of(t), "rt_group").verdict, Verdict::Ok);
}

TEST(SysCheck, PreemptDynamicModeIsShown) {
  FakeTree t;
  FakeTree::make_stock_machine(t);
  t.write("sys/kernel/debug/sched/preempt", "none voluntary (full) lazy\n");
  EXPECT_NE(find(report_of(t), "kernel_preemption").value.find("PREEMPT_DYNAMIC (full)"), std::string::npos);
}

TEST(SysCheck, OtherPreemptionModels) {
  FakeTree t;
  FakeTree::make_stock_machine(t);
  t.write("proc/sys/kernel/version", "#1 SMP Debian 5.10.0\n");
  EXPECT_NE(find(report_of(t), "kernel_preemption").value.find("no forced preemption"), std::string::npos);
  t.write("proc/sys/kernel/version", "#1 SMP PREEMPT Debian 5.10.0\n");
  EXPECT_NE(find(report_of(t), "kernel_preemption").value.find("low-latency"), std::string::npos);
}

TEST(SysCheck, IoUringDisabledBySysctl) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  t.write("proc/sys/kernel/io_uring_disabled", "2\n");
  EXPECT_EQ(find(report_of(t), "io_uring").verdict, Verdict::Warn);
  hal::LiveFacts live{1, false, "io_uring is refused", true, ""};
  const hal::Report r = report_of(t, &live);
  const hal::Check& c = find(r, "io_uring");
  EXPECT_EQ(c.verdict, Verdict::Warn);
  EXPECT_NE(c.value.find("io_uring is refused"), std::string::npos);
}

TEST(SysCheck, TimerResolution) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  hal::LiveFacts hres{1, true, "", true, ""};
  EXPECT_EQ(find(report_of(t, &hres), "timer_resolution").verdict, Verdict::Ok);
  hal::LiveFacts jiffies{4'000'000, true, "", true, ""};
  EXPECT_EQ(find(report_of(t, &jiffies), "timer_resolution").verdict, Verdict::Fail);
}

// The engine holds a PM QoS request while RT workers run; doctor says whether it can.
TEST(SysCheck, PmQosHeldRefusedOrAbsent) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  t.write("dev/cpu_dma_latency", "");
  hal::LiveFacts held{1, true, "", true, ""};
  const hal::Report with = report_of(t, &held);
  const hal::Check& ok = find(with, "cpu_dma_latency");
  EXPECT_EQ(ok.verdict, Verdict::Ok);
  EXPECT_NE(ok.value.find("holds it at 0 us"), std::string::npos) << ok.value;
  hal::LiveFacts refused{1, true, "", false, "open(cpu_dma_latency): Permission denied"};
  const hal::Report r = report_of(t, &refused);
  const hal::Check& no = find(r, "cpu_dma_latency");
  EXPECT_EQ(no.verdict, Verdict::Warn);
  EXPECT_NE(no.value.find("Permission denied"), std::string::npos) << no.value;
  EXPECT_NE(no.advice.find("udev"), std::string::npos) << no.advice;
  t.remove("dev/cpu_dma_latency");
  EXPECT_EQ(find(report_of(t, &held), "cpu_dma_latency").verdict, Verdict::Info);
}

TEST(SysCheck, SlowClockSourceWarns) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  t.write("sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet\n");
  EXPECT_EQ(find(report_of(t), "clocksource").verdict, Verdict::Warn);
}

TEST(SysCheck, SystemdNotifyIsShownAndFailsOnlyWhenSystemdWaitsInVain) {
  FakeTree t;
  FakeTree::make_rt_machine(t);
  hal::SystemFacts f = hal::read_system_facts(t.root());
  EXPECT_EQ(f.notify_built_in, hal::notify_built_in());  // this binary's, whatever the tree
  hal::LiveFacts live{1, true, "", true, ""};
  live.notify_socket = true;
  live.watchdog_ms = 10000;
  f.notify_built_in = true;
  hal::Check c = find(hal::evaluate(f, &live), "systemd_notify");
  EXPECT_EQ(c.verdict, Verdict::Ok);
  EXPECT_NE(c.value.find("WatchdogSec=10000 ms"), std::string::npos) << c.value;
  f.notify_built_in = false;
  c = find(hal::evaluate(f, &live), "systemd_notify");
  EXPECT_EQ(c.verdict, Verdict::Fail);  // a Type=notify unit waits for a READY=1 that never comes
  EXPECT_FALSE(c.advice.empty());
  live.notify_socket = false;
  c = find(hal::evaluate(f, &live), "systemd_notify");
  EXPECT_EQ(c.verdict, Verdict::Info);
  EXPECT_NE(c.value.find("built without libsystemd"), std::string::npos) << c.value;
}

TEST(SysCheck, ThisMachineIsReadable) {
  const hal::SystemFacts f = hal::read_system_facts("/");
  EXPECT_FALSE(f.kernel_release.empty());
  EXPECT_TRUE(f.limits_known);
  EXPECT_TRUE(f.caps_known);
  EXPECT_FALSE(f.cpu.online.empty());
  const hal::LiveFacts live = hal::probe_live_facts();
  EXPECT_GT(live.clock_resolution_ns, 0);
  const hal::Report r = hal::evaluate(f, &live);
  EXPECT_NE(find(r, "timer_resolution").verdict, Verdict::Info);  // measured
}

}  // namespace
