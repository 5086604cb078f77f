#pragma once
// Memory locking and prefaulting: after setup, no page the run path touches may fault.
// mlockall(MCL_CURRENT | MCL_FUTURE) keeps pages resident; prefaulting makes them exist
// in the first place (a locked but never-touched stack page still faults once).
#include <cstddef>
#include <cstdint>
#include <string>

#include "hal/status.hpp"

namespace hal {

struct MemlockLimit {
  std::uint64_t soft = 0;  // bytes; kUnlimited when RLIM_INFINITY
  std::uint64_t hard = 0;
  Status status;  // getrlimit's failure, if any
};
inline constexpr std::uint64_t kUnlimited = ~std::uint64_t{0};

// Setup only.
[[nodiscard]] MemlockLimit memlock_limit() noexcept;

// Setup only: allocates. "unlimited" for kUnlimited, else GiB (when exact), MiB or KiB.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

// Setup only: mlockall(MCL_CURRENT | MCL_FUTURE). Fails with ENOMEM when RLIMIT_MEMLOCK
// is too small for what is mapped, EPERM without CAP_IPC_LOCK and a zero limit.
Status lock_memory() noexcept;
// Setup only: munlockall.
Status unlock_memory() noexcept;

// Setup only: lock_memory(), and on failure one clear report (the limit, what to raise)
// and a degraded result instead of an abort.
struct LockOutcome {
  bool locked = false;
  Status status;
};
LockOutcome lock_memory_or_report();

// Setup only: writes one byte in every page of [p, p + n) so no later access faults.
void prefault(void* p, std::size_t n) noexcept;

// Setup only: touches up to `bytes` below the current stack frame of the calling
// thread, never closer than 32 KiB to the end of its stack. Returns what it touched.
std::size_t prefault_stack(std::size_t bytes) noexcept;

// Setup only: bytes of stack left below the caller's frame (0 if unknown).
[[nodiscard]] std::size_t stack_room() noexcept;

// Setup only: allocates and frees `bytes` of heap after telling glibc never to return
// memory to the OS (M_TRIM_THRESHOLD) nor to serve large blocks by mmap (M_MMAP_MAX), so
// later malloc calls up to that size reuse resident pages.
Status prefault_heap(std::size_t bytes) noexcept;

// Setup only.
[[nodiscard]] std::size_t page_size() noexcept;

// Minor page faults of the calling thread so far (getrusage RUSAGE_THREAD); -1 on error.
// Setup only: one syscall (tests and metrics sample it around run phases).
[[nodiscard]] long minor_faults_this_thread() noexcept;

// Minor page faults of thread `tid` of this process, read from /proc/self/task/TID/stat
// by the calling thread, so the measured thread makes no syscall for it; -1 when
// unreadable. Setup only: opens a file.
[[nodiscard]] long minor_faults_of_thread(int tid) noexcept;

}  // namespace hal
