#include "fake_tree.hpp"

#include <stdlib.h>

#include <fstream>
#include <stdexcept>
#include <string>

namespace testing_support {

namespace fs = std::filesystem;

FakeTree::FakeTree() {
  std::string tmpl = (fs::temp_directory_path() / "rtengine-tree-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
  root_ = tmpl;
}

FakeTree::~FakeTree() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

void FakeTree::write(std::string_view rel, std::string_view content) const {
  const fs::path p = root_ / rel;
  fs::create_directories(p.parent_path());
  std::ofstream out(p);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

void FakeTree::remove(std::string_view rel) const { fs::remove(root_ / rel); }

namespace {
constexpr std::string_view kLimitsHeader =
    "Limit                     Soft Limit           Hard Limit           Units     \n"
    "Max cpu time              unlimited            unlimited            seconds   \n";
}

void FakeTree::make_rt_machine(const FakeTree& t) {
  t.write("proc/sys/kernel/osrelease", "6.12.43+deb13-rt-arm64\n");
  t.write("proc/sys/kernel/version", "#1 SMP PREEMPT_RT Debian 6.12.43-1 (2025-08-27)\n");
  t.write("sys/kernel/realtime", "1\n");
  t.write("proc/self/limits", std::string(kLimitsHeader) +
                                  "Max locked memory         unlimited            unlimited            bytes     \n"
                                  "Max realtime priority     98                   98                   \n");
  t.write("proc/self/status", "Name:\trtengine\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n");
  t.write("proc/sys/kernel/sched_rt_runtime_us", "-1\n");
  t.write("proc/sys/kernel/sched_rt_period_us", "1000000\n");
  t.write("proc/self/cgroup", "0::/system.slice/rtengine.service\n");
  t.write("proc/sys/kernel/io_uring_disabled", "0\n");
  t.write("proc/self/timerslack_ns", "1\n");
  t.write("proc/cmdline",
          "BOOT_IMAGE=/vmlinuz root=/dev/mmcblk0p2 isolcpus=domain,managed_irq,2-3 nohz_full=2-3 rcu_nocbs=2-3\n");
  t.write("sys/devices/system/cpu/online", "0-3\n");
  t.write("sys/devices/system/cpu/isolated", "2-3\n");
  t.write("sys/devices/system/cpu/nohz_full", "2-3\n");
  t.write("sys/devices/system/cpu/smt/active", "0\n");
  for (int c = 0; c < 4; ++c) {
    t.write("sys/devices/system/cpu/cpu" + std::to_string(c) + "/cpufreq/scaling_governor", "performance\n");
  }
  t.write("sys/devices/system/clocksource/clocksource0/current_clocksource", "arch_sys_counter\n");
  t.write("dev/cpu_dma_latency", "");
}

void FakeTree::make_stock_machine(const FakeTree& t) {
  t.write("proc/sys/kernel/osrelease", "6.1.0-37-amd64\n");
  t.write("proc/sys/kernel/version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.140-1 (2025-05-22)\n");
  t.write("proc/self/limits", std::string(kLimitsHeader) +
                                  "Max locked memory         8388608              8388608              bytes     \n"
                                  "Max realtime priority     0                    0                    \n");
  t.write("proc/self/status", "Name:\trtengine\nCapEff:\t0000000000000000\n");
  t.write("proc/sys/kernel/sched_rt_runtime_us", "950000\n");
  t.write("proc/sys/kernel/sched_rt_period_us", "1000000\n");
  t.write("proc/self/cgroup", "0::/user.slice/user-1000.slice/session-2.scope\n");
  t.write("proc/self/timerslack_ns", "50000\n");
  t.write("proc/cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-37-amd64 root=UUID=0 ro quiet\n");
  t.write("sys/devices/system/cpu/online", "0-7\n");
  t.write("sys/devices/system/cpu/isolated", "\n");
  t.write("sys/devices/system/cpu/nohz_full", "(null)\n");
  t.write("sys/devices/system/cpu/smt/active", "1\n");
  for (int c = 0; c < 8; ++c) {
    t.write("sys/devices/system/cpu/cpu" + std::to_string(c) + "/cpufreq/scaling_governor", "schedutil\n");
  }
  t.write("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
}

}  // namespace testing_support
