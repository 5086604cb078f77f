// P1/P3: the engine's timing next to bare baselines, same period, CPU and priority, in
// the same run, interleaved, 5 repetitions (RT_BENCH_REPS); the table at the end gives the ratios of the
// medians of the per-run percentiles.
//
// - Release jitter (release latency: start minus the grid point) of a periodic task in
//   each precision mode, next to a bare clock_nanosleep(TIMER_ABSTIME) loop (what
//   cyclictest measures).
// - Deadline-miss detection latency (detection minus deadline) of the monitor, next to a
//   bare wake-up of the same timer backend armed for the same absolute time.
//
//   build/release/bench/rt_time_bench
// Environment: RT_BENCH_PRIO (default 80; 0 keeps SCHED_OTHER), RT_BENCH_CPU_WORKER
// (default 1), RT_BENCH_CPU_PRODUCER (default 0: the monitor and the bare timer waiter),
// RT_BENCH_PERIOD_US (default 1000), RT_BENCH_RELEASES (default 2000),
// RT_BENCH_MARGIN_US (hybrid margin, default 150), RT_BENCH_REPS (default 5; CI's smoke
// run uses 1).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "rt/engine.hpp"
#include "rt/histogram.hpp"
#include "support/latency.hpp"

namespace {

using bench_support::env_int;
using bench_support::prio;
using bench_support::worker_cpu;
int side_cpu() { return bench_support::producer_cpu(); }
hal::ns_t period() { return env_int("RT_BENCH_PERIOD_US", 1000) * hal::kNsPerUs; }
int releases() { return env_int("RT_BENCH_RELEASES", 2000); }
hal::ns_t margin() { return env_int("RT_BENCH_MARGIN_US", 150) * hal::kNsPerUs; }
int reps() { return env_int("RT_BENCH_REPS", 5); }
constexpr hal::ns_t kDeadline = 300 * hal::kNsPerUs;
constexpr int kDetections = 500;

void report(benchmark::State& state, const rt::HistogramSnapshot& h) {
  auto us = [](hal::ns_t v) { return static_cast<double>(v) / 1000.0; };
  state.counters["p50_us"] = us(h.percentile(50));
  state.counters["p99_us"] = us(h.percentile(99));
  state.counters["p999_us"] = us(h.percentile(99.9));
  state.counters["max_us"] = us(h.max());
  state.counters["samples"] = static_cast<double>(h.count());
}

// ---- P1: release jitter ----

void BM_ReleaseClockNanosleepBaseline(benchmark::State& state) {
  rt::Histogram h;
  for (auto _ : state) {
    // Its own thread, set up exactly like an engine worker (hal::Thread: pinned, FIFO,
    // timer slack 1 ns, stack prefaulted).
    hal::Thread t({.name = "bench-bare", .cpu = worker_cpu(), .priority = prio()}, [&h] {
      const hal::ns_t p = period();
      hal::ns_t next = hal::now_ns() + p;
      for (int i = 0; i < releases(); ++i) {
        (void)hal::sleep_until(next);
        h.record_local(hal::now_ns() - next);
        next += p;
      }
    });
    t.join();
  }
  report(state, h.snapshot());
}

void BM_ReleaseEngine(benchmark::State& state, rt::Precision mode) {
  rt::HistogramSnapshot jitter;
  for (auto _ : state) {
    rt::EngineConfig c;
    c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = 0},
                 rt::WorkerConfig{.cpu = side_cpu(), .priority = 0, .classes = rt::kAllClasses}};
    c.monitor.cpu = side_cpu();
    c.lock_memory = false;
    c.max_tasks = 64;
    c.ring_capacity = {16, 16, 16, 16, 16};
    rt::Engine e(c);
    std::atomic<int> runs{0};
    const int id =
        e.add_periodic({.name = "bench", .period = period(), .worker = 0, .precision = mode, .hybrid_margin = margin()},
                       [&runs] { runs.fetch_add(1, std::memory_order_relaxed); });
    e.start();
    (void)e.start_periodic(id);
    while (runs.load(std::memory_order_relaxed) < releases())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    (void)e.stop_periodic(id);
    jitter = e.periodic_jitter(id);
    (void)e.stop(rt::StopMode::Cancel);
  }
  report(state, jitter);
}

// ---- P3: deadline-miss detection ----

void BM_DetectBareTimerWake(benchmark::State& state, hal::TimerBackend backend) {
  rt::Histogram h;
  bool ok = true;
  for (auto _ : state) {
    const int p = prio() > 0 ? std::min(prio() + 1, 99) : 0;  // the monitor's own priority
    hal::Thread t({.name = "bench-timer", .cpu = side_cpu(), .priority = p}, [&] {
      hal::TimerChoice choice = hal::make_timer(backend);
      if (choice.active != backend) {
        ok = false;
        return;
      }
      for (int i = 0; i < kDetections; ++i) {
        const hal::ns_t at = hal::now_ns() + kDeadline;
        std::uint64_t n = 0;
        (void)choice.timer->arm_at(at);
        while (n == 0)
          (void)choice.timer->wait(n);
        h.record_local(hal::now_ns() - at);
      }
    });
    t.join();
  }
  if (!ok) state.SkipWithError("timer backend not usable here");
  report(state, h.snapshot());
}

void BM_DetectEngine(benchmark::State& state, hal::TimerBackend backend) {
  rt::HistogramSnapshot detection;
  bool ok = true;
  for (auto _ : state) {
    rt::EngineConfig c;
    c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
    c.monitor.backend = backend;
    c.monitor.cpu = side_cpu();
    c.lock_memory = false;
    rt::Engine e(c);
    ok = e.monitor_backend() == backend;
    e.start();
    rt::Producer producer = e.make_producer();
    for (int i = 0; i < kDetections && ok; ++i) {
      auto overrun = [](rt::TaskContext& ctx) {
        while (!ctx.stop_requested()) {
        }
      };
      while (producer.try_submit(overrun, {.deadline_in = kDeadline}) != rt::SubmitStatus::Ok)
        std::this_thread::yield();
      // in_flight, not a flag set by the task: a task started after its deadline never runs.
      while (e.in_flight() != 0)
        std::this_thread::yield();
    }
    detection = e.detection_latency();
    (void)e.stop(rt::StopMode::Cancel);
  }
  if (!ok) state.SkipWithError("timer backend not usable here");
  report(state, detection);
}

BENCHMARK(BM_ReleaseClockNanosleepBaseline)->Iterations(1)->Repetitions(reps())->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseEngine, sleep, rt::Precision::Sleep)->Iterations(1)->Repetitions(reps())->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseEngine, hybrid, rt::Precision::Hybrid)->Iterations(1)->Repetitions(reps())->UseRealTime();
BENCHMARK_CAPTURE(BM_ReleaseEngine, spin, rt::Precision::Spin)->Iterations(1)->Repetitions(reps())->UseRealTime();
BENCHMARK_CAPTURE(BM_DetectBareTimerWake, timerfd, hal::TimerBackend::TimerFd)
    ->Iterations(1)
    ->Repetitions(reps())
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_DetectEngine, timerfd, hal::TimerBackend::TimerFd)
    ->Iterations(1)
    ->Repetitions(reps())
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_DetectBareTimerWake, io_uring, hal::TimerBackend::IoUring)
    ->Iterations(1)
    ->Repetitions(reps())
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_DetectEngine, io_uring, hal::TimerBackend::IoUring)
    ->Iterations(1)
    ->Repetitions(reps())
    ->UseRealTime();

// Keeps the medians of every contender's counters, then prints each engine contender
// over its baseline.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      // The median over repetitions; with a single repetition, the run itself.
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (median || (r.run_type == Run::RT_Iteration && r.repetitions == 1)) {
        for (const auto& [name, counter] : r.counters)
          medians_[r.run_name.function_name][name] = counter.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void print_ratios() const {
    std::printf("\nRatios of medians (engine / baseline; lower is better)\n");
    std::printf("%-34s %-40s %8s %8s %8s\n", "contender", "baseline", "p50", "p99", "p99.9");
    const std::string bare = "BM_ReleaseClockNanosleepBaseline";
    for (const char* mode : {"sleep", "hybrid", "spin"})
      line(std::string("BM_ReleaseEngine/") + mode, bare);
    line("BM_DetectEngine/timerfd", "BM_DetectBareTimerWake/timerfd");
    line("BM_DetectEngine/io_uring", "BM_DetectBareTimerWake/io_uring");
    std::printf("hybrid spin CPU share: margin / period = %.1f %%\n",
                100.0 * static_cast<double>(margin()) / static_cast<double>(period()));
  }

 private:
  void line(const std::string& a, const std::string& b) const {
    const auto ia = medians_.find(a);
    const auto ib = medians_.find(b);
    if (ia == medians_.end() || ib == medians_.end()) return;
    auto ratio = [&](const char* k) {
      const double base = ib->second.count(k) != 0 ? ib->second.at(k) : 0;
      return base > 0 && ia->second.count(k) != 0 ? ia->second.at(k) / base : 0.0;
    };
    std::printf("%-34s %-40s %8.2f %8.2f %8.2f\n", a.c_str(), b.c_str(), ratio("p50_us"), ratio("p99_us"),
                ratio("p999_us"));
  }
  std::map<std::string, std::map<std::string, double>> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  // Contenders interleaved in random order unless the command line says otherwise, so a
  // noisy minute of the machine does not land on one contender alone.
  std::vector<char*> args(argv, argv + argc);
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  args.insert(args.begin() + 1, interleave.data());
  argc = static_cast<int>(args.size());
  argv = args.data();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
