// Wake-up lateness (wake time minus the absolute instant asked for) of the two timer
// backends against a bare clock_nanosleep(TIMER_ABSTIME), in the same run, at the same
// period. Run pinned and with SCHED_FIFO for meaningful tails, e.g.
//   chrt -f 80 taskset -c 1 build/release/bench/hal_bench --benchmark_filter=Wake
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "support/latency.hpp"

namespace {

constexpr hal::ns_t kPeriod = 500 * hal::kNsPerUs;

// Every contender on the same footing: timer slack 1 ns (a SCHED_OTHER thread otherwise
// sleeps up to 50 us late with clock_nanosleep but not with timerfd), and SCHED_FIFO
// when the process may (RT_BENCH_PRIO, default 80; 0 keeps SCHED_OTHER).
void prepare_thread() {
  const char* env = std::getenv("RT_BENCH_PRIO");
  (void)hal::apply_to_current_thread({.name = "bench", .priority = env != nullptr ? std::atoi(env) : 80});
}

void BM_WakeClockNanosleepBaseline(benchmark::State& state) {
  prepare_thread();
  bench_support::Samples lateness(static_cast<std::size_t>(state.max_iterations));
  hal::ns_t next = hal::now_ns() + kPeriod;
  for (auto _ : state) {
    (void)hal::sleep_until(next);
    lateness.add(hal::now_ns() - next);
    next += kPeriod;
  }
  lateness.report(state);
}

void wake_bench(benchmark::State& state, hal::TimerBackend backend) {
  prepare_thread();
  hal::TimerChoice choice = hal::make_timer(backend);
  if (choice.active != backend) {
    state.SkipWithError(("backend unavailable: " + choice.fallback_reason).c_str());
    return;
  }
  bench_support::Samples lateness(static_cast<std::size_t>(state.max_iterations));
  hal::ns_t next = hal::now_ns() + kPeriod;
  for (auto _ : state) {
    (void)choice.timer->arm_at(next);
    std::uint64_t n = 0;
    (void)choice.timer->wait(n);
    lateness.add(hal::now_ns() - next);
    next += kPeriod;
  }
  lateness.report(state);
}

void BM_WakeTimerFd(benchmark::State& state) { wake_bench(state, hal::TimerBackend::TimerFd); }
void BM_WakeIoUring(benchmark::State& state) { wake_bench(state, hal::TimerBackend::IoUring); }

// Interleaved and repeated so a noisy moment hits every contender alike.
BENCHMARK(BM_WakeClockNanosleepBaseline)->Iterations(2000)->Repetitions(3)->UseRealTime();
BENCHMARK(BM_WakeTimerFd)->Iterations(2000)->Repetitions(3)->UseRealTime();
BENCHMARK(BM_WakeIoUring)->Iterations(2000)->Repetitions(3)->UseRealTime();

}  // namespace
