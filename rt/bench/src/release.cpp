#include "release.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "hal/alloc_watch.hpp"
#include "hal/clock.hpp"

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

EngineConfig EngineLoop::config(const Settings& s) {
  // The loop's worker alone on the measured CPU; queued work, the monitor and this thread
  // on the other, as a control application would place them.
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = 0},
               WorkerConfig{.cpu = s.side_cpu, .priority = 0, .classes = kAllClasses}};
  c.monitor.cpu = s.side_cpu;
  c.max_tasks = 64;
  c.ring_capacity = {16, 16, 16, 16, 16};
  c.pm_qos.enabled = s.pm_qos;
  return c;
}

EngineLoop::EngineLoop(const Settings& s, const LoopSpec& loop)
    : settings_(s), loop_(loop), engine_(config(s)), n_(releases_per_block(s)) {
  // The first release a period after the start, as cyclictest's first wake-up.
  id_ = engine_.add_periodic({.name = "bench",
                              .period = s.period,
                              .phase = s.period,
                              .worker = 0,
                              .precision = loop.precision,
                              .hybrid_margin = loop.hybrid_margin},
                             [this](TaskContext& ctx) {
                               if (runs_.fetch_add(1, std::memory_order_relaxed) == 0)
                                 first_.store(ctx.release(), std::memory_order_release);
                             });
  engine_.start();
}

void EngineLoop::start_loop() {
  give_up_ = hal::now_ns() + 3 * ns_t{n_} * settings_.period + 10 * hal::kNsPerSec;
  (void)engine_.start_periodic(id_);
}

ns_t EngineLoop::await_first_release() {
  while (first_.load(std::memory_order_acquire) == 0 && hal::now_ns() < give_up_)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  return first_.load(std::memory_order_acquire);
}

Block EngineLoop::finish() {
  // Counted from the first run on: start() itself may fault and allocate.
  (void)await_first_release();
  const std::uint64_t alloc0 = hal::rt_thread_allocations();
  const long faults0 = worker_faults(engine_);
  while (runs_.load(std::memory_order_relaxed) < n_ && hal::now_ns() < give_up_)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::uint64_t alloc1 = hal::rt_thread_allocations();
  const long faults1 = worker_faults(engine_);
  (void)engine_.stop_periodic(id_);
  Block b;
  b.latency = engine_.periodic_jitter(id_);
  const PeriodicStats ps = engine_.periodic_stats(id_);
  (void)engine_.stop(StopMode::Cancel);
  const int ran = runs_.load(std::memory_order_relaxed);
  if (ran < n_) {
    b.latency.reset();
    b.error = "only " + std::to_string(ran) + " of " + std::to_string(n_) + " releases ran";
    return b;
  }
  // The margin in effect at the end of the block: the auto margin's last choice.
  const ns_t margin = loop_.precision != Precision::Hybrid ? 0
                      : loop_.hybrid_margin == kAutoMargin ? ps.hybrid_margin
                                                           : loop_.hybrid_margin;
  const double share =
      loop_.precision == Precision::Spin ? 1.0 : static_cast<double>(margin) / static_cast<double>(settings_.period);
  b.extra.emplace_back("spin_share", share);
  if (loop_.precision == Precision::Hybrid) {
    b.extra.emplace_back("margin_us", static_cast<double>(margin) / 1000.0);
    b.extra.emplace_back("late_wakes", static_cast<double>(ps.late_wakes));
  }
  b.extra.emplace_back("skipped_releases", static_cast<double>(ps.skipped));
  if (loop_.count_rt_costs) {
    if (hal::allocation_counting()) b.extra.emplace_back("rt_allocations", static_cast<double>(alloc1 - alloc0));
    if (faults0 >= 0 && faults1 >= 0) b.extra.emplace_back("rt_page_faults", static_cast<double>(faults1 - faults0));
  }
  return b;
}

Block engine_release_block(const Settings& s, const LoopSpec& loop) {
  EngineLoop l(s, loop);
  l.start_loop();
  return l.finish();
}

}  // namespace rt::bench
