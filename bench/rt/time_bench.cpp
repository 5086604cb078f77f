// P1/P3: the engine's timing next to bare baselines at the same period, CPU and priority,
// PAIRED (support/paired.hpp, issue 14): each comparison measures its contender and its
// baseline in adjacent short blocks, many times, and reports the median over pairs of the
// per-pair ratios of p50, p99 and p99.9, then the targets met or not.
//
// - Release latency (start minus the grid point) of a periodic task in each precision
//   mode, next to a bare clock_nanosleep(TIMER_ABSTIME) loop, and the sleep mode next to
//   cyclictest itself (when installed) at the same period, priority and CPU.
// - Deadline-miss detection latency (detection minus deadline) of the monitor, next to a
//   bare wake-up of the same timer backend armed for the same absolute time.
// Every contender runs with the engine's defaults (support/conditions.hpp): memory locked,
// /dev/cpu_dma_latency held when a SCHED_FIFO thread runs.
//
//   build/release/bench/rt_time_bench                              both, then the tables
//   build/release/bench/rt_time_bench --benchmark_filter=Release   release latency only
// Environment: RT_BENCH_PAIRS (default 30; RT_BENCH_REPS is its older name, CI's smoke run
// sets 1), RT_BENCH_RELEASES (releases per block, default 500), RT_BENCH_DETECTIONS
// (detections per block, default 500), RT_BENCH_PERIOD_US (default 1000),
// RT_BENCH_MARGIN_US (hybrid margin, default 150), RT_BENCH_PRIO (default 80; 0 keeps
// SCHED_OTHER), RT_BENCH_CPU_WORKER (default 1: the periodic task, the bare loop,
// cyclictest's thread), RT_BENCH_CPU_PRODUCER (default 0: the monitor, the bare timer
// waiter, the bench's own thread, cyclictest's main thread), RT_BENCH_CYCLICTEST (the
// program, default "cyclictest"; "none" skips it).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "hal/clock.hpp"
#include "hal/futex.hpp"
#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "rt/engine.hpp"
#include "rt/histogram.hpp"
#include "rtbench/tools.hpp"
#include "support/conditions.hpp"
#include "support/env.hpp"
#include "support/paired.hpp"

namespace {

using bench_support::BlockResult;
using bench_support::Contender;
using bench_support::env_int;
using bench_support::PmQosHold;
using bench_support::prio;
using bench_support::Stat;
using bench_support::worker_cpu;
int side_cpu() { return bench_support::producer_cpu(); }
hal::ns_t period() { return env_int("RT_BENCH_PERIOD_US", 1000) * hal::kNsPerUs; }
int releases() { return std::max(10, env_int("RT_BENCH_RELEASES", 500)); }
int detections() { return std::max(10, env_int("RT_BENCH_DETECTIONS", 500)); }
hal::ns_t margin() { return env_int("RT_BENCH_MARGIN_US", 150) * hal::kNsPerUs; }
std::string cyclictest_program() {
  const char* v = std::getenv("RT_BENCH_CYCLICTEST");
  return v != nullptr ? v : "cyclictest";
}
constexpr hal::ns_t kDeadline = 300 * hal::kNsPerUs;
// The engine's default PM QoS target, which the baselines hold too.
const std::int32_t kPmQosUs = rt::PmQosConfig{}.latency_us;
bool baseline_pm_qos() { return bench_support::engine_would_hold_pm_qos(prio()); }
// The monitor's own priority (MonitorConfig::priority -1), given to the bare timer waiter.
int monitor_prio() { return prio() > 0 ? std::min(prio() + 1, 99) : 0; }

BlockResult from(const rt::HistogramSnapshot& h, const char* what) {
  if (h.count() == 0) return {{}, std::string("no ") + what + " recorded"};
  auto us = [](hal::ns_t v) { return static_cast<double>(v) / 1000.0; };
  return {{us(h.percentile(50)), us(h.percentile(99)), us(h.percentile(99.9))}, {}};
}

// ---- P1: release latency ----

// Its own thread per block, set up exactly like an engine worker (hal::Thread: pinned,
// FIFO, timer slack 1 ns, stack prefaulted); the first wake-up a period after the start,
// as the engine's (phase = period) and cyclictest's.
BlockResult bare_release_block(const std::string& name) {
  PmQosHold qos(name, baseline_pm_qos(), kPmQosUs);
  rt::Histogram h;
  const hal::ns_t p = period();
  const int n = releases();
  hal::Thread t({.name = "bench-bare", .cpu = worker_cpu(), .priority = prio()}, [&h, p, n] {
    hal::ns_t next = hal::now_ns() + p;
    for (int i = 0; i < n; ++i) {
      (void)hal::sleep_until(next);
      h.record_local(hal::now_ns() - next);
      next += p;
    }
  });
  t.join();
  return from(h.snapshot(), "release");
}

// hybrid_margin = kAutoMargin: the margin each block's loop ended with, and its waits
// that returned after the release (the margin did not cover them), for the summary.
struct AutoMargins {
  std::vector<hal::ns_t> margin;
  std::uint64_t late = 0, releases = 0;
};
AutoMargins& auto_margins() {
  static AutoMargins a;
  return a;
}
void print_auto_margins() {
  AutoMargins& a = auto_margins();
  if (a.margin.empty()) return;
  std::sort(a.margin.begin(), a.margin.end());
  const hal::ns_t med = a.margin[a.margin.size() / 2];
  std::printf(
      "  hybrid auto: margin at the end of a block median %.0f us (spin CPU share %.1f %%), %.0f..%.0f us;"
      " %llu of %llu wake-ups after the release\n",
      static_cast<double>(med) / 1e3, 100.0 * static_cast<double>(med) / static_cast<double>(period()),
      static_cast<double>(a.margin.front()) / 1e3, static_cast<double>(a.margin.back()) / 1e3,
      static_cast<unsigned long long>(a.late), static_cast<unsigned long long>(a.releases));
}

// A fresh engine per block (set up and torn down outside the releases), with the
// defaults cyclictest also has: memory locked (-m), PM QoS held.
BlockResult engine_release_block(const std::string& name, rt::Precision mode, hal::ns_t hybrid_margin = margin()) {
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = 0},
               rt::WorkerConfig{.cpu = side_cpu(), .priority = 0, .classes = rt::kAllClasses}};
  c.monitor.cpu = side_cpu();
  c.max_tasks = 64;
  c.ring_capacity = {16, 16, 16, 16, 16};
  rt::Engine e(c);
  std::atomic<int> runs{0};
  const int id = e.add_periodic({.name = "bench",
                                 .period = period(),
                                 .phase = period(),
                                 .worker = 0,
                                 .precision = mode,
                                 .hybrid_margin = hybrid_margin},
                                [&runs] { runs.fetch_add(1, std::memory_order_relaxed); });
  const int n = releases();
  const hal::ns_t give_up = hal::now_ns() + 3 * hal::ns_t{n} * period() + 10 * hal::kNsPerSec;
  e.start();
  (void)e.start_periodic(id);
  // The bench's thread sleeps on its own CPU (RT_BENCH_CPU_PRODUCER) meanwhile.
  while (runs.load(std::memory_order_relaxed) < n && hal::now_ns() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  (void)e.stop_periodic(id);
  if (hybrid_margin == rt::kAutoMargin) {
    const rt::PeriodicStats st = e.periodic_stats(id);
    auto_margins().margin.push_back(st.hybrid_margin);
    auto_margins().late += st.late_wakes;
    auto_margins().releases += st.releases;
  }
  bench_support::note_pm_qos(name, e.stats().pm_qos_held);
  const rt::HistogramSnapshot jitter = e.periodic_jitter(id);
  (void)e.stop(rt::StopMode::Cancel);
  if (runs.load(std::memory_order_relaxed) < n)
    return {{}, "only " + std::to_string(runs.load()) + " of " + std::to_string(n) + " releases ran"};
  return from(jitter, "release");
}

// One cyclictest run per block: the same period, priority and CPU; its main thread on
// the bench's side CPU; PM QoS as the engine's (--laptop when the engine holds none).
BlockResult cyclictest_block(const std::string& name) {
  rt::bench::CyclictestSpec spec;
  spec.program = cyclictest_program();
  spec.priority = prio();
  spec.cpu = worker_cpu();
  spec.main_cpu = side_cpu();
  spec.interval_us = static_cast<int>(period() / hal::kNsPerUs);
  spec.loops = releases();
  spec.pm_qos = baseline_pm_qos();
  const rt::bench::CyclictestResult r = rt::bench::run_cyclictest(spec);
  if (!r.error.empty()) return {{}, r.error};
  bench_support::note_pm_qos(name, r.pm_qos_held);
  return from(r.latency, "cyclictest latency");
}

bench_support::PairedRun& release_run() {
  static bench_support::PairedRun run("", "");
  return run;
}

void BM_ReleasePaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  const Contender bare{"bare clock_nanosleep", [] { return bare_release_block("bare clock_nanosleep"); }, {}};
  const Contender cyclictest{"cyclictest", [] { return cyclictest_block("cyclictest"); },
                             [] {
                               std::string why = rt::bench::program_unavailable(cyclictest_program(), "rt-tests");
                               return why == "turned off" ? why + " (RT_BENCH_CYCLICTEST)" : why;
                             }};
  const Contender sleep{"engine sleep", [] { return engine_release_block("engine sleep", rt::Precision::Sleep); }, {}};
  const Contender hybrid{
      "engine hybrid", [] { return engine_release_block("engine hybrid", rt::Precision::Hybrid); }, {}};
  const Contender hybrid_auto{
      "engine hybrid auto",
      [] { return engine_release_block("engine hybrid auto", rt::Precision::Hybrid, rt::kAutoMargin); },
      {}};
  const Contender spin{"engine spin", [] { return engine_release_block("engine spin", rt::Precision::Spin); }, {}};

  bench_support::PairedRun& run = release_run();
  run = bench_support::PairedRun("Release latency (start - release) of a periodic task: period " +
                                     std::to_string(period() / hal::kNsPerUs) + " us, CPU " +
                                     std::to_string(worker_cpu()) + ", " + bench_support::policy(prio()),
                                 std::to_string(releases()) + " releases");
  run.compare(sleep, cyclictest, "sleep/cyclictest",
              {{"issue 14", Stat::P50, 1.1}, {"issue 14", Stat::P99, 1.1}, {"SPEC P1", Stat::P999, 1.5}});
  run.compare(sleep, bare, "sleep/bare");
  run.compare(hybrid, bare, "hybrid/bare");
  run.compare(hybrid_auto, cyclictest, "hybrid auto/cyclictest",
              {{"SPEC P1", Stat::P99, 0.1}, {"SPEC P1", Stat::P999, 1.0}});
  run.compare(spin, bare, "spin/bare");
  for (auto _ : state)
    run.run(bench_support::pairs(30));
  run.set_counters(state);
}
BENCHMARK(BM_ReleasePaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

// ---- P3: deadline-miss detection ----

// Its own thread per block at the monitor's priority on the monitor's CPU.
BlockResult bare_detect_block(const std::string& name, hal::TimerBackend backend) {
  PmQosHold qos(name, baseline_pm_qos(), kPmQosUs);
  rt::Histogram h;
  std::string error;
  const int n = detections();
  hal::Thread t({.name = "bench-timer", .cpu = side_cpu(), .priority = monitor_prio()}, [&] {
    hal::TimerChoice choice = hal::make_timer(backend);
    if (choice.active != backend) {
      error = "the backend is not usable here: " + choice.fallback_reason;
      return;
    }
    for (int i = 0; i < n; ++i) {
      const hal::ns_t at = hal::now_ns() + kDeadline;
      std::uint64_t expiries = 0;
      (void)choice.timer->arm_at(at);
      while (expiries == 0)
        (void)choice.timer->wait(expiries);
      h.record_local(hal::now_ns() - at);
    }
  });
  t.join();
  if (!error.empty()) return {{}, error};
  return from(h.snapshot(), "detection");
}

// A fresh engine per block; each sample is a task that overruns its deadline until the
// monitor stops it.
BlockResult engine_detect_block(const std::string& name, hal::TimerBackend backend) {
  rt::EngineConfig c;
  c.workers = {rt::WorkerConfig{.cpu = worker_cpu(), .priority = prio(), .classes = rt::kAllClasses}};
  c.monitor.backend = backend;
  c.monitor.cpu = side_cpu();
  rt::Engine e(c);
  if (e.monitor_backend() != backend) return {{}, "the monitor fell back to timerfd"};
  e.start();
  rt::Producer producer = e.make_producer();
  std::atomic<std::uint32_t> stopped{0};
  std::atomic<std::uint32_t>* stopped_ptr = &stopped;
  const int n = detections();
  for (int i = 0; i < n; ++i) {
    stopped.store(0, std::memory_order_relaxed);
    auto overrun = [stopped_ptr](rt::TaskContext& ctx) {
      while (!ctx.stop_requested()) {
      }
      stopped_ptr->store(1, std::memory_order_release);
      (void)hal::futex_wake(*stopped_ptr, 1);
    };
    while (producer.try_submit(overrun, {.deadline_in = kDeadline}) != rt::SubmitStatus::Ok)
      std::this_thread::yield();
    // Asleep until the task is stopped, so the monitor's CPU (ours) is as idle as in the
    // bare block; the timeout because a task started after its deadline never runs.
    const hal::ns_t until = hal::now_ns() + kDeadline + 50 * hal::kNsPerMs;
    while (stopped.load(std::memory_order_acquire) == 0 && hal::now_ns() < until)
      (void)hal::futex_wait_until(stopped, 0, until);
    while (e.in_flight() != 0)
      std::this_thread::yield();
  }
  bench_support::note_pm_qos(name, e.stats().pm_qos_held);
  const rt::HistogramSnapshot detection = e.detection_latency();
  (void)e.stop(rt::StopMode::Cancel);
  return from(detection, "detection");
}

std::string uring_unavailable() {
  const hal::UringSupport u = hal::probe_io_uring();
  return u.usable ? std::string() : "io_uring not usable: " + u.reason;
}

bench_support::PairedRun& detect_run() {
  static bench_support::PairedRun run("", "");
  return run;
}

void BM_DetectPaired(benchmark::State& state) {
  (void)bench_support::lock_process_memory();
  using hal::TimerBackend;
  const Contender bare_fd{
      "bare timerfd wake", [] { return bare_detect_block("bare timerfd wake", TimerBackend::TimerFd); }, {}};
  const Contender engine_fd{"engine monitor timerfd",
                            [] { return engine_detect_block("engine monitor timerfd", TimerBackend::TimerFd); },
                            {}};
  const Contender bare_uring{"bare io_uring wake",
                             [] { return bare_detect_block("bare io_uring wake", TimerBackend::IoUring); },
                             uring_unavailable};
  const Contender engine_uring{"engine monitor io_uring",
                               [] { return engine_detect_block("engine monitor io_uring", TimerBackend::IoUring); },
                               uring_unavailable};

  bench_support::PairedRun& run = detect_run();
  run = bench_support::PairedRun("Deadline-miss detection latency (detection - deadline): deadline " +
                                     std::to_string(kDeadline / hal::kNsPerUs) + " us, monitor CPU " +
                                     std::to_string(side_cpu()) + ", " + bench_support::policy(monitor_prio()),
                                 std::to_string(detections()) + " detections");
  run.compare(engine_fd, bare_fd, "timerfd", {{"SPEC P3", Stat::P99, 1.1}});
  run.compare(engine_uring, bare_uring, "io_uring", {{"SPEC P3", Stat::P99, 1.1}});
  for (auto _ : state)
    run.run(bench_support::pairs(30));
  run.set_counters(state);
}
BENCHMARK(BM_DetectPaired)->Iterations(1)->UseRealTime()->Unit(benchmark::kSecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The bench's own thread (it waits, polls and spawns) stays off the measured CPU.
  (void)hal::apply_to_current_thread({.name = "bench-main", .cpu = side_cpu()});
  benchmark::RunSpecifiedBenchmarks();
  const bench_support::PairedRun& release = release_run();
  const bench_support::PairedRun& detect = detect_run();
  if (release.ran() || detect.ran()) bench_support::print_conditions(stdout);
  if (release.ran()) {
    release.print(stdout);
    if (rt::bench::program_unavailable(cyclictest_program(), "rt-tests").empty())
      std::printf(
          "  cyclictest truncates to 1 us buckets: each is recorded at its midpoint (+-0.5 us) in the\n"
          "  engine's histogram, whose percentiles report their bucket's top (<= 0.8 %% above).\n");
    std::printf("  hybrid spin CPU share: margin / period = %.1f %%\n",
                100.0 * static_cast<double>(margin()) / static_cast<double>(period()));
    print_auto_margins();
  }
  if (detect.ran()) detect.print(stdout);
  if (release.ran() || detect.ran()) bench_support::PairedRun::print_targets_header(stdout);
  if (release.ran()) release.print_targets(stdout);
  if (detect.ran()) detect.print_targets(stdout);
  benchmark::Shutdown();
  return 0;
}
