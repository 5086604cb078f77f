#include "release.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "hal/alloc_watch.hpp"
#include "hal/clock.hpp"
#include "rt/engine.hpp"

namespace rt::bench {

int releases_per_block(const Settings& s) noexcept {
  return static_cast<int>(std::max<ns_t>(20, s.block / std::max<ns_t>(1, s.period)));
}

namespace {

// -1 when no worker's count can be read (no /proc).
long worker_faults(const Engine& e) {
  long sum = -1;
  for (const WorkerStats& w : e.stats().workers)
    if (w.minor_faults >= 0) sum = std::max(sum, 0L) + w.minor_faults;
  return sum;
}

}  // namespace

Block engine_release_block(const Settings& s, const LoopSpec& loop) {
  // The loop's worker alone on the measured CPU; queued work, the monitor and this thread
  // on the other, as a control application would place them.
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = 0},
               WorkerConfig{.cpu = s.side_cpu, .priority = 0, .classes = kAllClasses}};
  c.monitor.cpu = s.side_cpu;
  c.max_tasks = 64;
  c.ring_capacity = {16, 16, 16, 16, 16};
  c.pm_qos.enabled = s.pm_qos;
  Engine e(c);
  std::atomic<int> runs{0};
  // The first release a period after the start, as cyclictest's first wake-up.
  const int id = e.add_periodic({.name = "bench",
                                 .period = s.period,
                                 .phase = s.period,
                                 .worker = 0,
                                 .precision = loop.precision,
                                 .hybrid_margin = loop.hybrid_margin},
                                [&runs] { runs.fetch_add(1, std::memory_order_relaxed); });
  const int n = releases_per_block(s);
  const ns_t give_up = hal::now_ns() + 3 * ns_t{n} * s.period + 10 * hal::kNsPerSec;
  e.start();
  (void)e.start_periodic(id);
  // Counted from the first run on: start() itself may fault and allocate.
  while (runs.load(std::memory_order_relaxed) < 1 && hal::now_ns() < give_up)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  const std::uint64_t alloc0 = hal::rt_thread_allocations();
  const long faults0 = worker_faults(e);
  while (runs.load(std::memory_order_relaxed) < n && hal::now_ns() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::uint64_t alloc1 = hal::rt_thread_allocations();
  const long faults1 = worker_faults(e);
  (void)e.stop_periodic(id);
  Block b;
  b.latency = e.periodic_jitter(id);
  const PeriodicStats ps = e.periodic_stats(id);
  (void)e.stop(StopMode::Cancel);
  const int ran = runs.load(std::memory_order_relaxed);
  if (ran < n) {
    b.latency.reset();
    b.error = "only " + std::to_string(ran) + " of " + std::to_string(n) + " releases ran";
    return b;
  }
  // The margin in effect at the end of the block: the auto margin's last choice.
  const ns_t margin = loop.precision != Precision::Hybrid ? 0
                      : loop.hybrid_margin == kAutoMargin ? ps.hybrid_margin
                                                          : loop.hybrid_margin;
  const double share =
      loop.precision == Precision::Spin ? 1.0 : static_cast<double>(margin) / static_cast<double>(s.period);
  b.extra.emplace_back("spin_share", share);
  if (loop.precision == Precision::Hybrid) {
    b.extra.emplace_back("margin_us", static_cast<double>(margin) / 1000.0);
    b.extra.emplace_back("late_wakes", static_cast<double>(ps.late_wakes));
  }
  b.extra.emplace_back("skipped_releases", static_cast<double>(ps.skipped));
  if (loop.count_rt_costs) {
    if (hal::allocation_counting()) b.extra.emplace_back("rt_allocations", static_cast<double>(alloc1 - alloc0));
    if (faults0 >= 0 && faults1 >= 0) b.extra.emplace_back("rt_page_faults", static_cast<double>(faults1 - faults0));
  }
  return b;
}

}  // namespace rt::bench
