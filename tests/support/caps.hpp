#pragma once
// Test-only helpers to take away what a root test process has, so the degraded paths
// (no CAP_SYS_NICE, no CAP_IPC_LOCK, no io_uring) run for real in a forked child
// (EXPECT_EXIT), never in the test process itself.
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

namespace testing_support {

// Removes `cap` from the effective and permitted sets of the calling thread.
// Returns false when the kernel refuses.
inline bool drop_capability(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (syscall(SYS_capget, &hdr, data) != 0) return false;
  const auto idx = static_cast<unsigned>(cap) / 32U;
  const std::uint32_t bit = 1U << (static_cast<unsigned>(cap) % 32U);
  data[idx].effective &= ~bit;
  data[idx].permitted &= ~bit;
  data[idx].inheritable &= ~bit;
  return syscall(SYS_capset, &hdr, data) == 0;
}

// Whether this process may run a thread at SCHED_FIFO 1 (root, CAP_SYS_NICE or
// RLIMIT_RTPRIO), tried on a thread of its own.
inline bool fifo_allowed() {
  bool ok = false;
  std::thread([&] {
    const sched_param p{1};
    ok = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p) == 0;
  }).join();
  return ok;
}

}  // namespace testing_support
