// hal::now_ns (vDSO clock_gettime) against the raw clock_gettime syscall, the cost an
// engine pays for every timestamp when the clock source cannot be read in user space.
#include <benchmark/benchmark.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

#include "hal/clock.hpp"

namespace {

void BM_ClockNowVdso(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(hal::now_ns());
}
BENCHMARK(BM_ClockNowVdso);

void BM_ClockNowSyscallBaseline(benchmark::State& state) {
  timespec ts{};
  for (auto _ : state) {
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(BM_ClockNowSyscallBaseline);

}  // namespace
