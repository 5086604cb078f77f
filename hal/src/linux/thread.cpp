#include "hal/thread.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "hal/memory.hpp"
#include "hal/report.hpp"
#include "hal/syscheck.hpp"

namespace hal {

namespace {

Status apply_affinity(int cpu) {
  if (cpu == kNoCpu) return {};
  if (cpu < 0 || cpu >= CPU_SETSIZE) return Status{EINVAL, "pthread_setaffinity_np"};
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // pthread_* return the error number instead of setting errno.
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  return Status{rc, rc != 0 ? "pthread_setaffinity_np" : ""};
}

Status apply_policy(int priority) {
  sched_param sp{};
  sp.sched_priority = priority;
  const int policy = priority > 0 ? SCHED_FIFO : SCHED_OTHER;
  if (priority < 0 || priority > sched_get_priority_max(SCHED_FIFO)) {
    return Status{EINVAL, "pthread_setschedparam"};
  }
  const int rc = pthread_setschedparam(pthread_self(), policy, &sp);
  return Status{rc, rc != 0 ? "pthread_setschedparam" : ""};
}

void read_back(ThreadApplied& out) {
  sched_param sp{};
  int policy = SCHED_OTHER;
  if (int rc = pthread_getschedparam(pthread_self(), &policy, &sp); rc != 0) {
    out.readback = Status{rc, "pthread_getschedparam"};
  } else {
    out.policy = policy;
    out.priority = sp.sched_priority;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (int rc = pthread_getaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
    out.readback = Status{rc, "pthread_getaffinity_np"};
  } else if (CPU_COUNT(&set) == 1) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) out.cpu = c;
    }
  }
}

}  // namespace

Status set_current_affinity(const std::vector<int>& cpus) {
  if (cpus.empty()) return {};
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) return Status{EINVAL, "pthread_setaffinity_np"};
    CPU_SET(cpu, &set);
  }
  const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  return Status{rc, rc != 0 ? "pthread_setaffinity_np" : ""};
}

std::string explain_rt_refusal(int err) {
  std::ostringstream why;
  if (err == EINVAL) {
    why << "the priority is outside 1.." << sched_get_priority_max(SCHED_FIFO);
    return why.str();
  }
  if (err != EPERM) {
    why << Status{err, "pthread_setschedparam"}.message();
    return why.str();
  }
  const SystemFacts f = read_system_facts("/");
  rlimit rl{};
  getrlimit(RLIMIT_RTPRIO, &rl);
  const char* sep = "";
  if (!f.cap_sys_nice) {
    why << "the process lacks CAP_SYS_NICE";
    sep = " and ";
  }
  if (rl.rlim_cur == 0) {
    why << sep << "RLIMIT_RTPRIO is 0 (raise it in /etc/security/limits.conf: '@realtime - rtprio 98', or ulimit -r)";
    sep = "; ";
  }
  if (f.cgroup_rt_runtime_us == 0) {
    why << sep << "RT group scheduling gives this cgroup no RT runtime (cpu.rt_runtime_us = 0)";
    sep = "; ";
  }
  if (*sep == '\0')
    why << "the kernel refused SCHED_FIFO (EPERM) for a reason rtengine cannot see (container seccomp or LSM?)";
  return why.str();
}

ThreadApplied apply_to_current_thread(const ThreadSpec& spec) {
  ThreadApplied out;
  if (!spec.name.empty()) {
    // The kernel limit is 16 bytes with the NUL; longer names fail with ERANGE.
    (void)pthread_setname_np(pthread_self(), spec.name.substr(0, 15).c_str());
  }
  // SCHED_FIFO threads ignore slack, but a degraded SCHED_OTHER thread would otherwise
  // wake up to 50 us late (the default slack); 1 ns is the smallest the kernel takes.
  (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  out.affinity = apply_affinity(spec.cpu);
  out.sched = apply_policy(spec.priority);
  read_back(out);
  if (!out.sched.ok()) {
    report_once("sched:" + std::to_string(out.sched.err),
                "SCHED_FIFO refused (" + out.sched.message() + "): " + explain_rt_refusal(out.sched.err) +
                    ". Running degraded on SCHED_OTHER: expect millisecond-scale jitter.");
  }
  if (!out.affinity.ok()) {
    report_once("affinity:" + std::to_string(spec.cpu), "cannot pin to CPU " + std::to_string(spec.cpu) + " (" +
                                                            out.affinity.message() + "); the thread runs unpinned.");
  }
  return out;
}

namespace {

struct Start {
  ThreadSpec spec;
  std::function<void()> body;
  std::mutex mu;  // setup handshake only; the body runs after it is released
  std::condition_variable cv;
  bool ready = false;
  ThreadApplied applied;
};

void* trampoline(void* arg) {
  // Own the start block from here on; the creator only reads `applied` before `ready`.
  Start* s = static_cast<Start*>(arg);
  std::function<void()> body = std::move(s->body);
  ThreadApplied applied = apply_to_current_thread(s->spec);
  if (s->spec.prefault_stack_bytes > 0) (void)prefault_stack(s->spec.prefault_stack_bytes);
  {
    // Notify under the lock: once it is released the creator may free `s`.
    std::lock_guard lock(s->mu);
    s->applied = applied;
    s->ready = true;
    s->cv.notify_one();
  }
  body();
  return nullptr;
}

}  // namespace

Thread::Thread(ThreadSpec spec, std::function<void()> body) {
  auto start = std::make_unique<Start>();
  start->spec = std::move(spec);
  start->body = std::move(body);

  pthread_attr_t attr;
  if (int rc = pthread_attr_init(&attr); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_attr_init");
  const long page = sysconf(_SC_PAGESIZE);
  std::size_t stack = start->spec.stack_bytes;
  if (stack < static_cast<std::size_t>(PTHREAD_STACK_MIN)) stack = PTHREAD_STACK_MIN;
  stack = (stack + page - 1) / page * page;
  if (int rc = pthread_attr_setstacksize(&attr, stack); rc != 0) {
    pthread_attr_destroy(&attr);
    throw std::system_error(rc, std::generic_category(), "pthread_attr_setstacksize");
  }
  const int rc = pthread_create(&handle_, &attr, &trampoline, start.get());
  pthread_attr_destroy(&attr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_create(" + start->spec.name + ")");
  started_ = true;
  {
    std::unique_lock lock(start->mu);
    start->cv.wait(lock, [&] { return start->ready; });
    applied_ = start->applied;
  }
  // The thread no longer touches `start` after `ready`; it is freed here.
}

Thread::Thread(Thread&& other) noexcept
    : handle_(other.handle_), started_(std::exchange(other.started_, false)), applied_(other.applied_) {}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    join();
    handle_ = other.handle_;
    started_ = std::exchange(other.started_, false);
    applied_ = other.applied_;
  }
  return *this;
}

Thread::~Thread() { join(); }

void Thread::join() {
  if (!started_) return;
  started_ = false;
  pthread_join(handle_, nullptr);
}

int current_tid() noexcept { return static_cast<int>(syscall(SYS_gettid)); }

}  // namespace hal
