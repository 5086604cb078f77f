#include "hal/alloc_watch.hpp"

#include <atomic>

namespace hal {

namespace {
// constinit: a thread_local with a constant initializer needs no TLS init call, so reading
// it from inside operator new (any thread, any time, also during static init) is safe.
// initial-exec: hal is linked into the executable, so the flag sits at a fixed offset from
// the thread pointer: reading it is one load, with no __tls_get_addr (which may allocate).
[[gnu::tls_model("initial-exec")]] constinit thread_local bool t_rt_thread = false;
constinit std::atomic<std::uint64_t> g_rt_allocations{0};
constinit std::atomic<bool> g_counting{false};
}  // namespace

// clang's effect analysis refuses every thread_local in a nonblocking function, because a
// dynamic-TLS access may allocate; this one is initial-exec (above), so it cannot.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"  // clang-tidy's older clang has no such group
#pragma clang diagnostic ignored "-Wfunction-effects"
#endif

void mark_rt_thread() noexcept HAL_NONBLOCKING { t_rt_thread = true; }

bool is_rt_thread() noexcept HAL_NONBLOCKING { return t_rt_thread; }

void note_allocation() noexcept HAL_NONBLOCKING {
  if (t_rt_thread) g_rt_allocations.fetch_add(1, std::memory_order_relaxed);
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

std::uint64_t rt_thread_allocations() noexcept HAL_NONBLOCKING {
  return g_rt_allocations.load(std::memory_order_relaxed);
}

void set_allocation_counting() noexcept { g_counting.store(true, std::memory_order_relaxed); }

bool allocation_counting() noexcept { return g_counting.load(std::memory_order_relaxed); }

}  // namespace hal
