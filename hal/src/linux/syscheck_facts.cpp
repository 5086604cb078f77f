// `rtengine doctor`, its first half: the facts, read below a root folder (proc/, sys/,
// dev/) and probed live. The verdicts on them are syscheck.cpp's.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "hal/clock.hpp"
#include "hal/memory.hpp"
#include "hal/notify.hpp"
#include "hal/syscheck.hpp"
#include "hal/timer.hpp"

namespace hal {

namespace fs = std::filesystem;

namespace {

constexpr int kCapIpcLock = 14;  // linux/capability.h
constexpr int kCapSysNice = 23;

std::optional<std::int64_t> read_int(const fs::path& root, std::string_view rel) {
  auto line = read_first_line(root, rel);
  if (!line || line->empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const long long v = std::stoll(*line, &used);
    return used == line->size() ? std::optional<std::int64_t>(v) : std::nullopt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::uint64_t limit_value(const std::string& tok) {
  if (tok == "unlimited") return kUnlimited;
  try {
    return std::stoull(tok);
  } catch (const std::exception&) {
    return 0;
  }
}

void read_limits(const fs::path& root, SystemFacts& f) {
  std::ifstream in(root / "proc/self/limits");
  std::string line;
  while (std::getline(in, line)) {
    auto take = [&](std::string_view name, auto&& store) {
      if (line.rfind(name, 0) != 0) return;
      std::istringstream rest(line.substr(name.size()));
      std::string soft, hard;
      if (rest >> soft >> hard) {
        store(soft, hard);
        f.limits_known = true;
      }
    };
    take("Max locked memory", [&](const std::string& s, const std::string& h) {
      f.memlock_soft = limit_value(s);
      f.memlock_hard = limit_value(h);
    });
    take("Max realtime priority", [&](const std::string& s, const std::string& h) {
      f.rtprio_soft = s == "unlimited" ? 99 : static_cast<std::int64_t>(limit_value(s));
      f.rtprio_hard = h == "unlimited" ? 99 : static_cast<std::int64_t>(limit_value(h));
    });
  }
}

void read_caps(const fs::path& root, SystemFacts& f) {
  std::ifstream in(root / "proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    try {
      const std::uint64_t eff = std::stoull(line.substr(7), nullptr, 16);
      f.cap_sys_nice = ((eff >> kCapSysNice) & 1U) != 0;
      f.cap_ipc_lock = ((eff >> kCapIpcLock) & 1U) != 0;
      f.caps_known = true;
    } catch (const std::exception&) {
    }
  }
}

// cgroup v1 with CONFIG_RT_GROUP_SCHED gives each group an RT budget; a group with 0
// refuses SCHED_FIFO even to root. cgroup v2 has no RT controller.
void read_cgroup_rt(const fs::path& root, SystemFacts& f) {
  std::ifstream in(root / "proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t a = line.find(':');
    const std::size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    const std::string controllers = "," + line.substr(a + 1, b - a - 1) + ",";
    if (controllers.find(",cpu,") == std::string::npos) continue;
    const std::string path = line.substr(b + 1);
    for (const char* mount : {"sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpu"}) {
      if (auto v = read_int(root, std::string(mount) + path + "/cpu.rt_runtime_us")) {
        f.cgroup_rt_runtime_us = *v;
        return;
      }
    }
  }
}

}  // namespace

SystemFacts read_system_facts(const fs::path& root) {
  SystemFacts f;
  f.kernel_release = read_first_line(root, "proc/sys/kernel/osrelease").value_or("");
  f.kernel_version = read_first_line(root, "proc/sys/kernel/version").value_or("");
  f.realtime_flag = read_int(root, "sys/kernel/realtime").value_or(0) == 1;
  if (auto p = read_first_line(root, "sys/kernel/debug/sched/preempt")) {
    const std::size_t l = p->find('('), r = p->find(')');
    if (l != std::string::npos && r != std::string::npos && r > l) f.preempt_mode = p->substr(l + 1, r - l - 1);
  }
  read_limits(root, f);
  read_caps(root, f);
  f.sched_rt_runtime_us = read_int(root, "proc/sys/kernel/sched_rt_runtime_us").value_or(-2);
  f.sched_rt_period_us = read_int(root, "proc/sys/kernel/sched_rt_period_us").value_or(-2);
  read_cgroup_rt(root, f);
  f.io_uring_disabled = static_cast<int>(read_int(root, "proc/sys/kernel/io_uring_disabled").value_or(-1));
  f.timerslack_ns = read_int(root, "proc/self/timerslack_ns").value_or(-1);
  std::error_code ec;
  f.dma_latency_device = fs::exists(root / "dev/cpu_dma_latency", ec);
  f.cpu = read_cpu_info(root);
  f.notify_built_in = notify_built_in();
  return f;
}

LiveFacts probe_live_facts() {
  LiveFacts live;
  live.clock_resolution_ns = clock_resolution_ns();
  const UringSupport u = probe_io_uring();
  live.io_uring_usable = u.usable;
  live.io_uring_reason = u.reason;
  DmaLatencyRequest pm;
  const Status st = pm.request(0);
  live.dma_latency_held = st.ok();
  if (!st.ok()) live.dma_latency_reason = st.message();
  const Notifier n;
  live.notify_socket = n.asked();
  live.watchdog_ms = n.watchdog_interval() / kNsPerMs;
  return live;
}

}  // namespace hal
