// P6/R1: after start, the engine's run path (submit, dispatch, execute, retire) never
// allocates and never page-faults on a worker thread.
//
// Two builds run this same scenario:
// - plain builds replace the global allocator with a counting one (below) and assert 0
//   allocations between start and the end of 10^6 submit/execute cycles;
// - the rtsan preset keeps the allocator and relies on RealtimeSanitizer: the run path is
//   marked HAL_NONBLOCKING, so any malloc, lock or blocking call inside it aborts.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"
#include "rt/engine.hpp"
#include "sanitizer.hpp"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

#ifndef RT_TEST_RTSAN
namespace {
inline void note() noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

// Every way a C++ program reaches the heap: operator new in all its forms, and the C
// allocator (which moodycamel, glibc and the task bodies could call directly).
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
void* malloc(std::size_t n) {
  note();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t m) {
  note();
  return __libc_calloc(n, m);
}
void* realloc(void* p, std::size_t n) {
  note();
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  note();
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  note();
  *out = __libc_memalign(a, n);
  return *out != nullptr ? 0 : ENOMEM;
}
void free(void* p) { __libc_free(p); }
}
void* operator new(std::size_t n) {
  void* p = malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return malloc(n == 0 ? 1 : n); }
void* operator new(std::size_t n, std::align_val_t a) {
  void* p = aligned_alloc(static_cast<std::size_t>(a),
                          (n + static_cast<std::size_t>(a) - 1) & ~(static_cast<std::size_t>(a) - 1));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, std::size_t) noexcept { free(p); }
void operator delete[](void* p, std::size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { free(p); }
#endif

namespace {

using testing_support::eventually;

TEST(NoAllocation, CountingAllocatorSeesEveryAllocation) {
#ifdef RT_TEST_RTSAN
  GTEST_SKIP() << "RealtimeSanitizer build: the allocator is the sanitizer's";
#else
  // The check that makes the zero below mean something.
  g_allocations = 0;
  g_counting = true;
  auto* p = new int(7);
  void* q = std::malloc(100);
  g_counting = false;
  delete p;
  std::free(q);
  EXPECT_EQ(g_allocations.load(), 2u);
#endif
}

TEST(NoAllocation, MillionSubmitExecuteCyclesAfterStart) {
  constexpr std::size_t kProducers = 3;
  constexpr std::uint64_t kCycles = 1'000'000;
  rt::EngineConfig c = testing_support::small_config(2);
  c.lock_memory = true;  // as in production; refused locking only degrades
  c.max_producers = kProducers;
  c.max_tasks = 4096;
  c.retain_completed = 128;
  c.ring_capacity = {512, 512, 512, 512, 512};
  rt::Engine e(c);
  e.start();

  std::atomic<std::uint64_t> done{0};
  std::atomic<int> phase{0};  // 0 wait, 1 warm-up, 2 measured run, 3 exit
  std::vector<std::thread> threads;
  threads.reserve(kProducers);
  for (std::size_t t = 0; t < kProducers; ++t) {
    threads.emplace_back([&, t, p = e.make_producer()]() mutable {
      for (int want = 1; want <= 2; ++want) {
        while (phase.load() < want)
          std::this_thread::yield();
        const std::uint64_t n = want == 1 ? 10'000 : kCycles;
        for (std::uint64_t i = t; i < n; i += kProducers) {
          const auto pr = static_cast<rt::Priority>(i % rt::kClassCount);
          while (p.try_submit([&done] { done.fetch_add(1, std::memory_order_relaxed); }, {.priority = pr}) !=
                 rt::SubmitStatus::Ok) {
            std::this_thread::yield();
          }
        }
      }
    });
  }

  // Warm-up, then let every worker go to sleep once: that is where it samples its faults.
  phase = 1;
  ASSERT_TRUE(eventually([&] { return done.load() == 10'000; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const rt::Stats before = e.stats();

  g_allocations = 0;
  g_counting = true;
  phase = 2;
  while (done.load(std::memory_order_relaxed) < 10'000 + kCycles)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  g_counting = false;
  const std::uint64_t allocations = g_allocations.load();

  for (auto& t : threads)
    t.join();
  const rt::StopReport r = e.stop(rt::StopMode::Drain);
  EXPECT_EQ(allocations, 0u) << "the run path allocated";
  EXPECT_TRUE(r.balanced);
  EXPECT_EQ(r.stats.completed, 10'000 + kCycles);
  EXPECT_EQ(r.stats.ring_allocations_refused, 0u);
  ASSERT_EQ(r.stats.workers.size(), before.workers.size());
  for (std::size_t i = 0; i < r.stats.workers.size(); ++i) {
    const long a = before.workers[i].minor_faults;
    const long b = r.stats.workers[i].minor_faults;
    ASSERT_GE(a, 0) << "worker " << i << " never slept after the warm-up";
    EXPECT_EQ(b - a, 0) << "worker " << i << " page-faulted on the run path";
  }
}

}  // namespace
