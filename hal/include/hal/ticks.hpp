#pragma once
// Elapsed time on one thread, cheaper than now_ns(): for durations recorded on the run
// path many times a millisecond (a graph node's duration, F18), where the clock read is
// most of the engine's cost. clock_gettime(CLOCK_MONOTONIC) orders its TSC read after
// every earlier instruction (rdtscp, or lfence; rdtsc), then takes the vDSO's seqlock and
// scales: 23.6 ns a read on our VMs, 20 of a chain node's 34 ns (P7, rtengine bench). A
// bare rdtsc overlaps the work around it: ~3 ns a node.
//
// ticks() is the TSC on x86_64 when the kernel itself keeps time with it (clocksource
// "tsc": it found the TSC invariant and synchronised across CPUs), else now_ns(). A tick
// count is no instant: only differences of it mean anything, scaled by ns_per_tick().
// Not fenced: a read may move a few dozen cycles across the work around it, which a
// duration of a thousand cycles does not notice.
#include <atomic>
#include <cstdint>

#include "hal/annotations.hpp"
#include "hal/clock.hpp"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace hal {

namespace detail {
// Written once by init_ticks(), before any thread that reads them exists (an engine calls
// it at setup, before it starts its workers), never changed after: relaxed loads suffice.
inline std::atomic<bool> g_tsc_ticks{false};
inline std::atomic<double> g_ns_per_tick{1.0};
}  // namespace detail

// Setup only: decides once per process whether ticks() reads the TSC and, if so,
// measures its rate against CLOCK_MONOTONIC (~2 ms asleep); later calls return at once.
// Call it before the threads that use ticks() start.
void init_ticks();

// After init_ticks(): whether ticks() reads the TSC, and ns per tick (1 when it does not).
[[nodiscard]] inline bool ticks_are_tsc() noexcept { return detail::g_tsc_ticks.load(std::memory_order_relaxed); }
[[nodiscard]] inline double ns_per_tick() noexcept { return detail::g_ns_per_tick.load(std::memory_order_relaxed); }

// RT: wait-free; no allocation, no syscall (one instruction, or now_ns()).
[[nodiscard]] inline std::uint64_t ticks() noexcept HAL_NONBLOCKING {
#if defined(__x86_64__)
  if (detail::g_tsc_ticks.load(std::memory_order_relaxed)) return __rdtsc();
#endif
  return static_cast<std::uint64_t>(now_ns());
}

}  // namespace hal
