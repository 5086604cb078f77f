#include "hal/memory.hpp"

#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hal/report.hpp"

namespace hal {

namespace {
std::uint64_t to_bytes(rlim_t v) { return v == RLIM_INFINITY ? kUnlimited : static_cast<std::uint64_t>(v); }

// Stops the compiler from proving the touched buffer dead and dropping the writes.
void escape(void* p) noexcept { asm volatile("" : : "g"(p) : "memory"); }
}  // namespace

std::string format_bytes(std::uint64_t b) {
  if (b == kUnlimited) return "unlimited";
  if (b >= (1ULL << 30) && b % (1ULL << 30) == 0) return std::to_string(b >> 30) + " GiB";
  if (b >= (1ULL << 20)) return std::to_string(b >> 20) + " MiB";
  return std::to_string(b >> 10) + " KiB";
}

MemlockLimit memlock_limit() noexcept {
  MemlockLimit out;
  rlimit rl{};
  if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
    out.status = errno_status("getrlimit(RLIMIT_MEMLOCK)");
    return out;
  }
  out.soft = to_bytes(rl.rlim_cur);
  out.hard = to_bytes(rl.rlim_max);
  return out;
}

Status lock_memory() noexcept {
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) return errno_status("mlockall");
  return {};
}

Status unlock_memory() noexcept {
  if (munlockall() != 0) return errno_status("munlockall");
  return {};
}

LockOutcome lock_memory_or_report() {
  LockOutcome out;
  out.status = lock_memory();
  out.locked = out.status.ok();
  if (!out.locked) {
    const MemlockLimit lim = memlock_limit();
    report_once("mlockall",
                "cannot lock memory (" + out.status.message() + "); RLIMIT_MEMLOCK is " + format_bytes(lim.soft) +
                    " (hard " + format_bytes(lim.hard) +
                    "). Pages may be swapped or faulted on the run path. Raise it with "
                    "'ulimit -l unlimited' or '@realtime - memlock unlimited' in limits.conf, or grant CAP_IPC_LOCK.");
  }
  return out;
}

void prefault(void* p, std::size_t n) noexcept {
  auto* bytes = static_cast<volatile unsigned char*>(p);
  const std::size_t page = page_size();
  for (std::size_t off = 0; off < n; off += page)
    bytes[off] = bytes[off];
  if (n > 0) bytes[n - 1] = bytes[n - 1];
}

std::size_t stack_room() noexcept {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  void* lo = nullptr;
  std::size_t size = 0;
  const int rc = pthread_attr_getstack(&attr, &lo, &size);
  pthread_attr_destroy(&attr);
  if (rc != 0) return 0;
  unsigned char here = 0;
  escape(&here);
  const auto sp = reinterpret_cast<std::uintptr_t>(&here);
  const auto bottom = reinterpret_cast<std::uintptr_t>(lo);
  return sp > bottom ? sp - bottom : 0;
}

// noinline: the buffer must live in a frame of its own below the caller's.
__attribute__((noinline)) std::size_t prefault_stack(std::size_t bytes) noexcept {
  // Never reach the guard page: the room left is less than the stack size (glibc keeps
  // TLS at the top of a thread's stack, and sanitizer runtimes keep a lot of it there).
  constexpr std::size_t kMargin = std::size_t{32} * 1024;
  const std::size_t room = stack_room();
  bytes = std::min(bytes, room > kMargin ? room - kMargin : 0);
  if (bytes == 0) return 0;
  // One block of exactly `bytes` in this frame, released on return.
  auto* buf = static_cast<unsigned char*>(__builtin_alloca(bytes));
  const std::size_t page = page_size();
  for (std::size_t off = 0; off < bytes; off += page)
    buf[off] = 0;
  escape(buf);
  return bytes;
}

Status prefault_heap(std::size_t bytes) noexcept {
  if (mallopt(M_TRIM_THRESHOLD, -1) != 1) return Status{EINVAL, "mallopt(M_TRIM_THRESHOLD)"};
  if (mallopt(M_MMAP_MAX, 0) != 1) return Status{EINVAL, "mallopt(M_MMAP_MAX)"};
  void* p = std::malloc(bytes);
  if (p == nullptr) return Status{ENOMEM, "malloc"};
  // Every page written once: faulted in and kept. Not zero: GCC turns malloc + memset(0)
  // into calloc, which skips the writes on fresh pages and so faults nothing in.
  std::memset(p, 0xA5, bytes);
  escape(p);
  std::free(p);
  return {};
}

std::size_t page_size() noexcept {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

long minor_faults_this_thread() noexcept {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) return -1;
  return ru.ru_minflt;
}

long minor_faults_of_thread(int tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  // Fields 3.. follow: state ppid pgrp session tty_nr tpgid flags minflt (field 10).
  for (int field = 2; field < 10 && p != nullptr; ++field)
    p = std::strchr(p + 1, ' ');
  if (p == nullptr) return -1;
  char* end = nullptr;
  const long v = std::strtol(p + 1, &end, 10);
  return end == p + 1 ? -1 : v;
}

}  // namespace hal
