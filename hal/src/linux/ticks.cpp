#include "hal/ticks.hpp"

#include <fstream>
#include <mutex>
#include <string>

namespace hal {

namespace {

#if defined(__x86_64__)
// The kernel keeps CLOCK_MONOTONIC with the TSC only when it found it invariant (constant
// rate through P- and C-states) and synchronised across CPUs: then a duration read on one
// CPU and ended on another (an unpinned worker migrating) is still right.
bool kernel_clock_is_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string name;
  return static_cast<bool>(f >> name) && name == "tsc";
}

struct Pair {
  double ns;          // CLOCK_MONOTONIC at the TSC read (the middle of the two reads around it)
  std::uint64_t tsc;  // the TSC
};

// The tightest of a few tries: the TSC read between the two clock reads least apart, so
// the pair is right within half that gap (~15 ns), not a preemption's worth.
Pair pair() {
  Pair best{0, 0};
  ns_t best_gap = -1;
  for (int i = 0; i < 16; ++i) {
    const ns_t a = now_ns();
    const std::uint64_t t = __rdtsc();
    const ns_t b = now_ns();
    if (best_gap < 0 || b - a < best_gap) {
      best_gap = b - a;
      best = {static_cast<double>(a) + static_cast<double>(b - a) / 2, t};
    }
  }
  return best;
}
#endif

}  // namespace

void init_ticks() {
  static std::once_flag once;
  std::call_once(once, [] {
#if defined(__x86_64__)
    if (!kernel_clock_is_tsc()) return;
    // 2 ms between the pairs: each end right within ~15 ns, so the rate within ~1e-5.
    const Pair a = pair();
    (void)sleep_until(now_ns() + 2 * kNsPerMs);
    const Pair b = pair();
    if (b.tsc <= a.tsc || b.ns <= a.ns) return;  // a TSC that did not advance: not usable
    detail::g_ns_per_tick.store((b.ns - a.ns) / static_cast<double>(b.tsc - a.tsc), std::memory_order_relaxed);
    detail::g_tsc_ticks.store(true, std::memory_order_release);
#endif
  });
}

}  // namespace hal
