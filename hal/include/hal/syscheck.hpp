#pragma once
// The data behind `rtengine doctor`: what this machine and process allow a real-time
// engine to do, and a verdict per item. Facts are read from files under a root folder
// (so tests use fake /proc and /sys trees); the few that need a live call (timer
// resolution, an io_uring ring) come in LiveFacts. All setup only.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hal/cpu.hpp"

namespace hal {

struct SystemFacts {
  std::string kernel_release;  // /proc/sys/kernel/osrelease
  std::string kernel_version;  // /proc/sys/kernel/version: "#1 SMP PREEMPT_DYNAMIC ..."
  bool realtime_flag = false;  // /sys/kernel/realtime = 1 on PREEMPT_RT kernels
  std::string preempt_mode;    // /sys/kernel/debug/sched/preempt, the "(...)" entry, if readable
  bool limits_known = false;   // /proc/self/limits was readable
  std::int64_t rtprio_soft = -1;
  std::int64_t rtprio_hard = -1;
  std::uint64_t memlock_soft = 0;  // bytes; kUnlimited (hal/memory.hpp) for unlimited
  std::uint64_t memlock_hard = 0;
  bool caps_known = false;
  bool cap_sys_nice = false;
  bool cap_ipc_lock = false;
  std::int64_t sched_rt_runtime_us = -2;  // -1 is "no throttling"; -2 unknown
  std::int64_t sched_rt_period_us = -2;
  std::int64_t cgroup_rt_runtime_us = -2;  // cgroup v1 cpu.rt_runtime_us; -2 not in use
  int io_uring_disabled = -1;              // kernel.io_uring_disabled; -1 absent (before 6.6)
  std::int64_t timerslack_ns = -1;
  bool dma_latency_device = false;
  bool notify_built_in = false;  // this binary, not the tree: it can send systemd READY=1 (hal/notify.hpp)
  CpuInfo cpu;
};

SystemFacts read_system_facts(const std::filesystem::path& root = "/");

struct LiveFacts {
  std::int64_t clock_resolution_ns = -1;
  bool io_uring_usable = false;
  std::string io_uring_reason;
  // A real PM QoS request (the engine holds one while RT workers run): held, or why not.
  bool dma_latency_held = false;
  std::string dma_latency_reason;
  // Under a service manager: NOTIFY_SOCKET is set, and the WatchdogSec= it asks of us (0 none).
  bool notify_socket = false;
  std::int64_t watchdog_ms = 0;
};

// One clock_getres, one io_uring probe and one PM QoS request (dropped at once) on this machine.
LiveFacts probe_live_facts();

enum class Verdict : std::uint8_t { Ok, Info, Warn, Fail };
[[nodiscard]] const char* to_string(Verdict v) noexcept;

struct Check {
  std::string id;     // stable, for --json consumers: "kernel_preemption", "rt_priority"...
  std::string title;  // for people
  std::string value;  // what was found
  Verdict verdict = Verdict::Info;
  std::string advice;  // what to do about a Warn or Fail; empty otherwise
};

struct Report {
  std::vector<Check> checks;
  int ok = 0, info = 0, warn = 0, fail = 0;
  Verdict overall = Verdict::Ok;
  std::string summary;  // one sentence
};

// `live` may be null (fake trees): the live-only items are then reported as not measured.
Report evaluate(const SystemFacts& facts, const LiveFacts* live);

}  // namespace hal
