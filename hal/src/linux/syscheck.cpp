// `rtengine doctor`, its second half: a verdict per fact, with the why and the fix. The
// facts are read by syscheck_facts.cpp.
#include "hal/syscheck.hpp"

#include <algorithm>
#include <iterator>
#include <string>

#include "hal/memory.hpp"

namespace hal {

namespace {

// Below this, mlockall of a process with its libraries, stacks and arenas fails (ENOMEM).
constexpr std::uint64_t kMemlockWanted = 256ULL << 20;

bool contains(const std::string& s, std::string_view word) { return s.find(word) != std::string::npos; }

}  // namespace

const char* to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::Ok:
      return "ok";
    case Verdict::Info:
      return "info";
    case Verdict::Warn:
      return "warn";
    case Verdict::Fail:
      return "fail";
  }
  return "?";
}

namespace {

Check kernel_check(const SystemFacts& f) {
  Check c{"kernel_preemption", "Kernel preemption model", f.kernel_release, Verdict::Warn, ""};
  const std::string& v = f.kernel_version;
  std::string model;
  if (f.realtime_flag || contains(v, "PREEMPT_RT")) {
    model = "PREEMPT_RT";
    c.verdict = Verdict::Ok;
  } else if (contains(v, "PREEMPT_DYNAMIC")) {
    model = "PREEMPT_DYNAMIC" + (f.preempt_mode.empty() ? std::string() : " (" + f.preempt_mode + ")");
    c.advice =
        "stock kernel: expect tens to hundreds of microseconds of worst-case latency; boot a PREEMPT_RT kernel "
        "(Debian: linux-image-rt-*) for bounded latency";
  } else if (contains(v, "PREEMPT")) {
    model = "PREEMPT (low-latency desktop)";
    c.advice = "boot a PREEMPT_RT kernel for bounded latency";
  } else if (v.empty()) {
    model = "unknown (/proc/sys/kernel/version unreadable)";
    c.advice = "cannot tell the preemption model; check `uname -v`";
  } else {
    model = "no forced preemption (server kernel)";
    c.advice = "a non-preemptible kernel can hold an RT thread off for milliseconds; boot a PREEMPT_RT kernel";
  }
  c.value = (f.kernel_release.empty() ? std::string() : f.kernel_release + ", ") + model;
  return c;
}

Check rtprio_check(const SystemFacts& f) {
  Check c{"rt_priority", "SCHED_FIFO allowed (RLIMIT_RTPRIO)", "", Verdict::Ok, ""};
  if (!f.limits_known && !f.caps_known) {
    c.value = "unknown (/proc/self/limits and status unreadable)";
    c.verdict = Verdict::Warn;
    c.advice = "cannot tell whether SCHED_FIFO will be granted";
  } else if (f.cap_sys_nice) {
    c.value = "yes, any priority 1-99 (CAP_SYS_NICE; RLIMIT_RTPRIO " + std::to_string(f.rtprio_soft) + ")";
  } else if (f.rtprio_soft > 0) {
    c.value = "yes, priorities up to " + std::to_string(f.rtprio_soft) + " (RLIMIT_RTPRIO)";
  } else {
    c.value = "no: RLIMIT_RTPRIO is 0 and CAP_SYS_NICE is missing";
    c.verdict = Verdict::Fail;
    c.advice =
        "workers fall back to SCHED_OTHER; add '@realtime - rtprio 98' to /etc/security/limits.conf and join the "
        "group, or run with CAP_SYS_NICE";
  }
  return c;
}

Check memlock_check(const SystemFacts& f) {
  Check c{"memlock", "Memory locking (RLIMIT_MEMLOCK)", "", Verdict::Ok, ""};
  if (!f.limits_known) {
    c.value = "unknown (/proc/self/limits unreadable)";
    c.verdict = Verdict::Warn;
    c.advice = "cannot tell whether mlockall will succeed";
    return c;
  }
  c.value = format_bytes(f.memlock_soft) + " (hard " + format_bytes(f.memlock_hard) + ")";
  if (f.cap_ipc_lock) {
    c.value += ", CAP_IPC_LOCK: no limit applies";
  } else if (f.memlock_soft != kUnlimited && f.memlock_soft < kMemlockWanted) {
    c.verdict = Verdict::Fail;
    c.advice =
        "mlockall will fail and run-path pages may fault; raise it to unlimited ('@realtime - memlock unlimited' in "
        "limits.conf, LimitMEMLOCK=infinity for a systemd unit) or grant CAP_IPC_LOCK";
  }
  return c;
}

Check cap_check(const SystemFacts& f) {
  Check c{"cap_sys_nice", "CAP_SYS_NICE", "", Verdict::Ok, ""};
  if (!f.caps_known) {
    c.value = "unknown (/proc/self/status unreadable)";
    c.verdict = Verdict::Warn;
  } else if (f.cap_sys_nice) {
    c.value = "present";
  } else {
    c.value = "absent";
    c.verdict = Verdict::Warn;
    c.advice =
        "priorities are capped by RLIMIT_RTPRIO; `setcap cap_sys_nice,cap_ipc_lock+ep rtengine` grants both without "
        "root";
  }
  return c;
}

Check throttling_check(const SystemFacts& f) {
  Check c{"rt_throttling", "RT throttling (sched_rt_runtime_us)", "", Verdict::Ok, ""};
  if (f.sched_rt_runtime_us == -2) {
    c.value = "unknown (/proc/sys/kernel/sched_rt_runtime_us unreadable)";
    c.verdict = Verdict::Info;
  } else if (f.sched_rt_runtime_us == -1) {
    c.value = "off (-1): RT threads may use the whole CPU";
  } else {
    c.value = "on: RT threads get " + std::to_string(f.sched_rt_runtime_us) + " us of every " +
              std::to_string(f.sched_rt_period_us > 0 ? f.sched_rt_period_us : 1000000) + " us";
    c.verdict = Verdict::Warn;
    c.advice =
        "a spinning loop (hybrid or spin precision) or a worker kept hot by its idle_spin is stalled for the rest of "
        "each period once the budget is spent; "
        "`sysctl kernel.sched_rt_runtime_us=-1` on a dedicated machine";
  }
  return c;
}

Check cgroup_check(const SystemFacts& f) {
  Check c{"rt_group", "RT group scheduling", "", Verdict::Ok, ""};
  if (f.cgroup_rt_runtime_us == -2) {
    c.value = "not in use (cgroup v2 or CONFIG_RT_GROUP_SCHED off)";
  } else if (f.cgroup_rt_runtime_us == 0) {
    c.value = "this cgroup has no RT budget (cpu.rt_runtime_us = 0)";
    c.verdict = Verdict::Fail;
    c.advice =
        "SCHED_FIFO is refused even to root; give the cgroup a budget (cpu.rt_runtime_us) or run from the root cgroup";
  } else {
    c.value = "cgroup budget " + std::to_string(f.cgroup_rt_runtime_us) + " us per period";
  }
  return c;
}

Check uring_check(const SystemFacts& f, const LiveFacts* live) {
  Check c{"io_uring", "io_uring timer backend", "", Verdict::Ok, ""};
  const std::string sysctl =
      f.io_uring_disabled < 0 ? "" : " (kernel.io_uring_disabled = " + std::to_string(f.io_uring_disabled) + ")";
  if (live != nullptr) {
    c.value = (live->io_uring_usable ? "usable" : "unusable: " + live->io_uring_reason) + sysctl;
    if (!live->io_uring_usable) {
      c.verdict = Verdict::Warn;
      c.advice = "the deadline monitor uses timerfd instead";
    }
  } else if (f.io_uring_disabled == 2) {
    c.value = "disabled" + sysctl;
    c.verdict = Verdict::Warn;
    c.advice = "the deadline monitor uses timerfd instead";
  } else {
    c.value = "not probed" + sysctl;
    c.verdict = Verdict::Info;
  }
  return c;
}

Check resolution_check(const LiveFacts* live) {
  Check c{"timer_resolution", "Timer resolution (CLOCK_MONOTONIC)", "not measured", Verdict::Info, ""};
  if (live == nullptr || live->clock_resolution_ns < 0) return c;
  c.value = std::to_string(live->clock_resolution_ns) + " ns";
  if (live->clock_resolution_ns <= 1) {
    c.value += " (high-resolution timers)";
    c.verdict = Verdict::Ok;
  } else {
    c.verdict = Verdict::Fail;
    c.advice = "no high-resolution timers: every release is rounded to a scheduler tick; enable CONFIG_HIGH_RES_TIMERS";
  }
  return c;
}

Check slack_check(const SystemFacts& f) {
  Check c{"timer_slack", "Timer slack", "", Verdict::Info, ""};
  if (f.timerslack_ns < 0) {
    c.value = "unknown (/proc/self/timerslack_ns unreadable)";
  } else {
    c.value = std::to_string(f.timerslack_ns) + " ns for this thread";
    c.verdict = f.timerslack_ns <= 1 ? Verdict::Ok : Verdict::Info;
    if (f.timerslack_ns > 1) c.value += "; SCHED_FIFO threads get none, rtengine sets 1 ns on the threads it starts";
  }
  return c;
}

Check smt_check(const SystemFacts& f) {
  Check c{"smt", "Simultaneous multithreading", "", Verdict::Info, ""};
  if (f.cpu.smt_active < 0) {
    c.value = "not reported";
  } else if (f.cpu.smt_active == 0) {
    c.value = "off";
    c.verdict = Verdict::Ok;
  } else {
    c.value = "on";
    c.verdict = Verdict::Warn;
    c.advice =
        "sibling threads share a core's pipeline and caches; keep an RT worker's sibling idle or isolated, or boot "
        "with nosmt";
  }
  return c;
}

Check isolation_check(const SystemFacts& f) {
  Check c{"isolation", "CPU isolation (isolcpus, nohz_full)", "", Verdict::Ok, ""};
  const std::string iso = f.cpu.isolated.empty() ? "none" : format_cpu_list(f.cpu.isolated);
  const std::string nohz = f.cpu.nohz_full.empty() ? "none" : format_cpu_list(f.cpu.nohz_full);
  c.value = "isolated " + iso + ", nohz_full " + nohz + " of online " +
            (f.cpu.online.empty() ? std::string("?") : format_cpu_list(f.cpu.online));
  if (f.cpu.isolated.empty() && f.cpu.nohz_full.empty()) {
    c.verdict = Verdict::Warn;
    c.advice =
        "RT workers share their CPUs with everything else; boot with isolcpus=N nohz_full=N rcu_nocbs=N and pin "
        "workers there";
  }
  return c;
}

Check governor_check(const SystemFacts& f) {
  Check c{"cpu_governor", "CPU frequency governor", "", Verdict::Ok, ""};
  if (f.cpu.governors.empty()) {
    c.value = "no cpufreq (fixed clock or virtual machine)";
    c.verdict = Verdict::Info;
    return c;
  }
  std::vector<int> slow;
  std::string first_slow;
  for (const auto& [cpu, gov] : f.cpu.governors) {
    if (gov != "performance") {
      slow.push_back(cpu);
      if (first_slow.empty()) first_slow = gov;
    }
  }
  if (slow.empty()) {
    c.value = "performance on all CPUs";
  } else {
    c.value = first_slow + " on CPUs " + format_cpu_list(slow);
    c.verdict = Verdict::Warn;
    c.advice = "frequency ramps add latency to the first work after idle; `cpupower frequency-set -g performance`";
  }
  return c;
}

Check dma_check(const SystemFacts& f, const LiveFacts* live) {
  Check c{"cpu_dma_latency", "PM QoS (/dev/cpu_dma_latency)", "", Verdict::Ok, ""};
  if (!f.dma_latency_device) {
    c.value = "absent: the engine runs without a PM QoS request";
    c.verdict = Verdict::Info;
  } else if (live == nullptr) {
    c.value = "present (not probed)";
  } else if (live->dma_latency_held) {
    c.value =
        "the engine holds it at 0 us while RT workers run (as cyclictest does), keeping CPUs out of deep C-states";
  } else {
    c.value = "refused: " + live->dma_latency_reason;
    c.verdict = Verdict::Warn;
    c.advice =
        "without it, idle CPUs sleep deeply and wake-ups can come twice as late; run as root or give the "
        "user write access to /dev/cpu_dma_latency (a udev rule)";
  }
  return c;
}

Check clocksource_check(const SystemFacts& f) {
  Check c{"clocksource", "Clock source", f.cpu.clocksource, Verdict::Ok, ""};
  static constexpr std::string_view kVdso[] = {"tsc", "kvm-clock", "arch_sys_counter", "hyperv_clocksource_tsc_page"};
  if (f.cpu.clocksource.empty()) {
    c.value = "not reported";
    c.verdict = Verdict::Info;
  } else if (std::find(std::begin(kVdso), std::end(kVdso), f.cpu.clocksource) != std::end(kVdso)) {
    c.value += " (read in user space through the vDSO)";
  } else {
    c.verdict = Verdict::Warn;
    c.advice = "this clock source cannot be read through the vDSO, so every clock read is a syscall";
  }
  return c;
}

// rtengine.service is Type=notify: systemd waits for READY=1, which needs libsystemd.
Check service_check(const SystemFacts& f, const LiveFacts* live) {
  Check c{"systemd_notify", "systemd notify (READY=1, watchdog)", "", Verdict::Info, ""};
  c.value = f.notify_built_in ? "built in (libsystemd)" : "built without libsystemd";
  if (live != nullptr && live->notify_socket) {
    c.value += live->watchdog_ms > 0 ? "; under systemd, WatchdogSec=" + std::to_string(live->watchdog_ms) + " ms"
                                     : "; under systemd, no watchdog";
    c.verdict = f.notify_built_in ? Verdict::Ok : Verdict::Fail;
  } else if (live != nullptr) {
    c.value += "; not under a service manager (NOTIFY_SOCKET unset)";
  }
  if (!f.notify_built_in)
    c.advice = "a Type=notify unit (config/systemd/rtengine.service) never sees READY=1: rebuild with libsystemd-dev";
  return c;
}

}  // namespace

Report evaluate(const SystemFacts& f, const LiveFacts* live) {
  Report r;
  r.checks = {kernel_check(f),     rtprio_check(f),      memlock_check(f),      cap_check(f),
              throttling_check(f), cgroup_check(f),      uring_check(f, live),  resolution_check(live),
              slack_check(f),      clocksource_check(f), smt_check(f),          isolation_check(f),
              governor_check(f),   dma_check(f, live),   service_check(f, live)};
  for (const Check& c : r.checks) {
    switch (c.verdict) {
      case Verdict::Ok:
        ++r.ok;
        break;
      case Verdict::Info:
        ++r.info;
        break;
      case Verdict::Warn:
        ++r.warn;
        break;
      case Verdict::Fail:
        ++r.fail;
        break;
    }
  }
  if (r.fail > 0) {
    r.overall = Verdict::Fail;
    r.summary = "not real-time capable as configured: rtengine runs degraded (see the failed lines)";
  } else if (r.warn > 0) {
    r.overall = Verdict::Warn;
    r.summary = "real-time capable with caveats: nothing fails, but latency tails depend on the warnings";
  } else {
    r.overall = Verdict::Ok;
    r.summary = "ready for hard real-time";
  }
  return r;
}

}  // namespace hal
