#include "hal/memory.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <fstream>
#include <string>
#include <thread>

#include "caps.hpp"
#include "hal/report.hpp"

namespace {

long vm_locked_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(Memory, MemlockLimitMatchesGetrlimit) {
  rlimit rl{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &rl), 0);
  const hal::MemlockLimit lim = hal::memlock_limit();
  ASSERT_TRUE(lim.status.ok());
  EXPECT_EQ(lim.soft, rl.rlim_cur == RLIM_INFINITY ? hal::kUnlimited : rl.rlim_cur);
  EXPECT_EQ(lim.hard, rl.rlim_max == RLIM_INFINITY ? hal::kUnlimited : rl.rlim_max);
}

TEST(Memory, LockAllLocksAndUnlocks) {
  const hal::Status s = hal::lock_memory();
  if (!s.ok()) GTEST_SKIP() << "mlockall refused here: " << s.message();
  EXPECT_GT(vm_locked_kib(), 0);
  ASSERT_TRUE(hal::unlock_memory().ok());
  EXPECT_EQ(vm_locked_kib(), 0);
}

std::string g_reported;
void capture(std::string_view line) { g_reported += std::string(line) + "\n"; }

[[noreturn]] void child_RefusedLockIsReportedOnceAndDegrades() {
  // No CAP_IPC_LOCK and a zero limit: what an unprivileged user on a default system has.
  if (!testing_support::drop_capability(CAP_IPC_LOCK)) _exit(10);
  const rlimit zero{0, 0};
  if (setrlimit(RLIMIT_MEMLOCK, &zero) != 0) _exit(11);
  hal::reset_reports();
  hal::set_report_sink(&capture);
  const hal::LockOutcome a = hal::lock_memory_or_report();
  const hal::LockOutcome b = hal::lock_memory_or_report();
  if (a.locked || b.locked) _exit(12);
  if (a.status.err != ENOMEM && a.status.err != EPERM) _exit(13);
  if (g_reported.find("RLIMIT_MEMLOCK is 0 KiB") == std::string::npos) _exit(14);
  if (g_reported.find("mlockall") == std::string::npos) _exit(15);
  if (g_reported.find('\n') != g_reported.size() - 1) _exit(16);  // said once
  _exit(0);
}

TEST(Memory, RefusedLockIsReportedOnceAndDegrades) { EXPECT_EXIT(child_RefusedLockIsReportedOnceAndDegrades(), ::testing::ExitedWithCode(0), ""); }

// Touches `bytes` of stack in a frame of its own, returning the faults it took.
__attribute__((noinline)) long touch_stack(std::size_t bytes) {
  const long before = hal::minor_faults_this_thread();
  auto* buf = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::size_t off = 0; off < bytes; off += 512) buf[off] = 1;
  return hal::minor_faults_this_thread() - before;
}

TEST(Memory, PrefaultedStackDoesNotFault) {
  constexpr std::size_t kDepth = 512 * 1024;
  long faults = -1;
  std::thread th([&] {
    (void)touch_stack(1024);  // fault in the code and the first stack pages
    hal::prefault_stack(kDepth + 64 * 1024);
    faults = touch_stack(kDepth);
  });
  th.join();
  // 128 pages touched; without the prefault each would fault (unless huge pages back
  // the stack), with it none should. A couple are allowed for the getrusage path.
  EXPECT_GE(faults, 0);
  EXPECT_LE(faults, 2);
}

TEST(Memory, MinorFaultsCountFreshPages) {
  constexpr std::size_t kPages = 64;
  const std::size_t len = kPages * hal::page_size();
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(madvise(p, len, MADV_NOHUGEPAGE), 0);
  const long before = hal::minor_faults_this_thread();
  hal::prefault(p, len);
  const long during = hal::minor_faults_this_thread() - before;
  const long again = hal::minor_faults_this_thread();
  hal::prefault(p, len);
  const long after = hal::minor_faults_this_thread() - again;
  munmap(p, len);
  EXPECT_GE(during, static_cast<long>(kPages));
  EXPECT_LE(after, 1);
}

[[noreturn]] void child_PrefaultedHeapIsReused() {
  constexpr std::size_t kBytes = 8 << 20;
  if (!hal::prefault_heap(kBytes).ok()) _exit(10);
  const long before = hal::minor_faults_this_thread();
  void* p = std::malloc(kBytes / 2);
  if (p == nullptr) _exit(11);
  hal::prefault(p, kBytes / 2);
  const long faults = hal::minor_faults_this_thread() - before;
  std::free(p);
  // 1024 pages touched; served from the kept heap they must not fault again.
  _exit(faults <= 4 ? 0 : 12);
}

TEST(Memory, PrefaultedHeapIsReused) { EXPECT_EXIT(child_PrefaultedHeapIsReused(), ::testing::ExitedWithCode(0), ""); }

}  // namespace
