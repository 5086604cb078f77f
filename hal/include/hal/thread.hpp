#pragma once
// Threads pinned to a CPU with a SCHED_FIFO priority, and what the OS really applied.
// The thread applies its own policy and affinity before running its body, then reads
// them back; the creator waits for that, so applied() is the truth, not the request.
// A refused priority or CPU is not fatal: the thread runs degraded (SCHED_OTHER, or
// unpinned), the reason is reported once per process, and applied() says so.
#include <pthread.h>
#include <sched.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hal/status.hpp"

namespace hal {

inline constexpr int kNoCpu = -1;

struct ThreadSpec {
  std::string name = "rt";  // shown by ps/top; the kernel keeps 15 bytes
  int cpu = kNoCpu;         // pin to this CPU; kNoCpu leaves the affinity as inherited
  int priority = 0;         // 1..99 asks for SCHED_FIFO; 0 for SCHED_OTHER
  std::size_t stack_bytes = std::size_t{512} * 1024;
  // Touched before the body runs, so the first deep call path does not page-fault on a
  // deadline. 0 turns it off.
  std::size_t prefault_stack_bytes = std::size_t{128} * 1024;
};

struct ThreadApplied {
  int policy = SCHED_OTHER;  // sched_getscheduler after the attempt
  int priority = 0;          // sched_param.sched_priority after the attempt
  int cpu = kNoCpu;          // the only CPU in the affinity mask, or kNoCpu
  Status sched;              // why the requested policy was refused; ok otherwise
  Status affinity;           // why the requested CPU was refused; ok otherwise
  Status readback;           // a failure reading the above back

  bool degraded() const noexcept { return !sched.ok() || !affinity.ok(); }
};

// Setup only: may allocate and report. Applies `spec` (policy, priority, CPU, name) to
// the calling thread and reads back what took effect.
ThreadApplied apply_to_current_thread(const ThreadSpec& spec);

// Setup only: allocates. Reads /proc and the rlimits to say why SCHED_FIFO was refused
// with `err` (CAP_SYS_NICE missing, RLIMIT_RTPRIO 0, RT group scheduling...).
std::string explain_rt_refusal(int err);

class Thread {
 public:
  Thread() noexcept = default;
  // Setup only: allocates; blocks until the new thread has applied `spec`.
  // Throws std::system_error when no thread can be created at all.
  Thread(ThreadSpec spec, std::function<void()> body);
  Thread(Thread&& other) noexcept;
  Thread& operator=(Thread&& other) noexcept;
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;
  ~Thread();  // joins

  // Blocks until the body returns.
  void join();
  [[nodiscard]] bool joinable() const noexcept { return started_; }
  [[nodiscard]] const ThreadApplied& applied() const noexcept { return applied_; }
  [[nodiscard]] pthread_t native_handle() const noexcept { return handle_; }

 private:
  pthread_t handle_{};
  bool started_ = false;
  ThreadApplied applied_;
};

// Setup only: lets the calling thread run on any of `cpus` (non-RT helpers such as the
// HTTP server keep off the CPUs of RT threads this way). Empty: nothing changes.
Status set_current_affinity(const std::vector<int>& cpus);

// The calling thread's kernel id (gettid). Setup only: one syscall.
[[nodiscard]] int current_tid() noexcept;

}  // namespace hal
