#include "hal/memory.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <fstream>
#include <limits>
#include <string>
#include <thread>

#include "caps.hpp"
#include "child.hpp"
#include "hal/report.hpp"
#include "sanitizer.hpp"

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

using testing_support::kShadowSanitizer;

// The sanitizers' mlockall interceptors succeed without locking anything.
#define SKIP_IF_SANITIZED(what)                                                         \
  do {                                                                                  \
    if (kShadowSanitizer != nullptr) GTEST_SKIP() << kShadowSanitizer << " " << (what); \
  } while (0)

TEST(Memory, LockAllLocksAndUnlocks) {
  SKIP_IF_SANITIZED("turns mlockall into a no-op");
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
  const rlimit zero{0, 0};
  if (!testing_support::drop_capability(CAP_IPC_LOCK) || setrlimit(RLIMIT_MEMLOCK, &zero) != 0) {
    _exit(testing_support::kChildSkip);
  }
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

TEST(Memory, RefusedLockIsReportedOnceAndDegrades) {
  SKIP_IF_SANITIZED("turns mlockall into a no-op");
  const int rc = testing_support::run_in_child(child_RefusedLockIsReportedOnceAndDegrades);
  if (rc == testing_support::kChildSkip) GTEST_SKIP() << "cannot drop CAP_IPC_LOCK or lower RLIMIT_MEMLOCK here";
  EXPECT_EQ(rc, 0) << "the child failed at the check that exits with this code";
}

// Touches `bytes` of stack in a frame of its own, returning the faults it took.
__attribute__((noinline)) long touch_stack(std::size_t bytes) {
  const long before = hal::minor_faults_this_thread();
  auto* buf = static_cast<volatile unsigned char*>(__builtin_alloca(bytes));
  for (std::size_t off = 0; off < bytes; off += 512)
    buf[off] = 1;
  return hal::minor_faults_this_thread() - before;
}

TEST(Memory, PrefaultedStackDoesNotFault) {
  SKIP_IF_SANITIZED("faults its shadow memory on first touch");
  constexpr std::size_t kDepth = std::size_t{512} * 1024;
  long faults = -1;
  std::thread th([&] {
    (void)touch_stack(1024);  // fault in the code and the first stack pages
    ASSERT_EQ(hal::prefault_stack(kDepth + std::size_t{64} * 1024), kDepth + std::size_t{64} * 1024);
    faults = touch_stack(kDepth);
  });
  th.join();
  // 128 pages touched; without the prefault each would fault (unless huge pages back
  // the stack), with it none should. A couple are allowed for the getrusage path.
  EXPECT_GE(faults, 0);
  EXPECT_LE(faults, 2);
}

TEST(Memory, StackPrefaultStopsShortOfTheGuardPage) {
  std::size_t room = 0, touched = 0;
  std::thread th([&] {
    room = hal::stack_room();
    touched = hal::prefault_stack(std::numeric_limits<std::size_t>::max());  // far more than any stack
  });
  th.join();
  ASSERT_GT(room, 64u * 1024);
  EXPECT_GT(touched, 0u);
  EXPECT_LT(touched, room);  // it survived, and left the margin
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
  if (testing_support::emulator() != nullptr) _exit(testing_support::kChildSkip);
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

TEST(Memory, PrefaultedHeapIsReused) {
  SKIP_IF_SANITIZED("replaces malloc (no mallopt, freed blocks quarantined)");
  const int rc = testing_support::run_in_child(child_PrefaultedHeapIsReused);
  if (rc == testing_support::kChildSkip)
    GTEST_SKIP() << "page faults under " << testing_support::emulator() << " are the emulator's, not the target's";
  EXPECT_EQ(rc, 0) << "the child failed at the check that exits with this code";
}

}  // namespace
