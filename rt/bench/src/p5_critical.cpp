// P5 (SPEC): CRITICAL-class submit -> start latency while LOW work saturates its ring,
// next to the same engine idle. What one block measures:
//
// - The engine: one worker on cpu serving every class (WorkerConfig's default classes),
//   what a user with one RT CPU configures; a worker dedicated to CRITICAL would need a
//   CPU of its own, which a 2-CPU machine does not have beside the sampler. The worker is
//   kept hot (idle_spin 1 s) in both contenders: with the default 20 us spin the idle
//   worker sleeps between samples and its p99 is a futex wake-up (30-60 us on a VM), which
//   any loaded latency (the LOW flood keeps the worker awake) would beat. So the figure
//   is the class rule's cost: a CRITICAL task waits for the LOW task running, never for
//   the LOW ring.
// - The sampler, on side_cpu, per sample: holds the worker with a CRITICAL task and, in
//   the loaded contender, fills the LOW ring with trivial tasks (a relaxed counter
//   increment, try_submit, through a second producer handle) until it refuses: full,
//   whatever the machine's speed (a producer alone on a 2-CPU VM cannot outpace the worker
//   in its slow periods). It releases the worker and leaves a 20 us gap, topping the ring
//   up meanwhile (the worker drains 35-100 LOW tasks in it); then it stamps, submits one
//   CRITICAL task that stamps its start, and spins until it has (P2's hand-off). `samples`
//   of these after 20 dropped; the idle contender holds and releases the worker alike.
//   "full_gaps" is the share of gaps in which the ring refused a top-up (it was full),
//   "low_per_s" the LOW tasks run per second.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "rt/engine.hpp"
#include "rtbench/measure.hpp"

namespace rt::bench {
namespace {

constexpr int kWarmup = 20;                // the first hand-offs of a block meet cold caches: dropped
constexpr ns_t kGap = 20 * hal::kNsPerUs;  // between samples, as P2's
constexpr ns_t kStuck = hal::kNsPerSec;    // a CRITICAL task not started after this: broken
constexpr ns_t kHot = hal::kNsPerSec;      // idle_spin of the measured worker

// Padded on purpose: the line the sampler waits on, the hold flags and the LOW count stand
// apart, so a LOW task's count never delays a CRITICAL start stamp.
struct alignas(hal::kCacheLine) Shared {  // NOLINT(clang-analyzer-optin.performance.Padding)
  std::atomic<ns_t> started{0};
  alignas(hal::kCacheLine) std::atomic<bool> hold{false};
  std::atomic<bool> held{false};
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> low_done{0};
};

// Spins until `done()`; false when kStuck passed first.
template <class Done>
bool await(Done&& done) {
  const ns_t t0 = hal::now_ns();
  for (std::uint32_t spins = 1; !done(); ++spins) {
    if (spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) return false;
  }
  return true;
}

Block sample(const Settings& s, bool loaded) {
  EngineConfig c;
  c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses}};
  c.idle_spin = kHot;
  c.max_producers = 2;
  c.monitor.cpu = s.side_cpu;
  c.pm_qos.enabled = s.pm_qos;
  Engine engine(c);
  engine.start();
  Producer critical = engine.make_producer();
  Producer low = engine.make_producer();
  Shared sh;
  Block b;
  hal::Thread sampler({.name = "bench-p5", .cpu = s.side_cpu, .priority = s.priority}, [&] {
    const int n = std::max(s.samples, 1);
    std::vector<ns_t> lat;
    lat.reserve(static_cast<std::size_t>(n));
    std::uint64_t refusals = 0, full_gaps = 0;
    Shared* shp = &sh;
    auto submit_low = [&] {
      return low.try_submit([shp] { shp->low_done.fetch_add(1, std::memory_order_relaxed); },
                            {.priority = Priority::Low}) == SubmitStatus::Ok;
    };
    auto submit_critical = [&](auto fn) {
      const SubmitStatus st = critical.try_submit(fn, {.priority = Priority::Critical});
      if (st != SubmitStatus::Ok) b.error = "a CRITICAL submission was refused: " + std::string(to_string(st));
      return st == SubmitStatus::Ok;
    };
    const ns_t began = hal::now_ns();
    for (int i = 0; i < kWarmup + n; ++i) {
      // 1. Hold the worker with a CRITICAL task and, loaded, fill the LOW ring until it
      //    refuses: full, however fast this machine's cores hand lines to each other.
      sh.held.store(false, std::memory_order_relaxed);
      sh.hold.store(true, std::memory_order_relaxed);
      if (!submit_critical([shp] {
            shp->held.store(true, std::memory_order_release);
            while (shp->hold.load(std::memory_order_acquire)) {
            }
          }))
        return;
      if (!await([&] { return sh.held.load(std::memory_order_acquire); })) {
        b.error = "a CRITICAL task did not start within 1 s";
        return;
      }
      while (loaded && submit_low()) {
      }
      sh.hold.store(false, std::memory_order_release);
      // 2. The gap: the worker back on LOW tasks, the sampler topping the ring up.
      bool full = false;
      for (const ns_t until = hal::now_ns() + kGap; hal::now_ns() < until;) {
        if (loaded && !submit_low()) {
          full = true;
          ++refusals;
        }
      }
      // 3. The sample.
      sh.started.store(0, std::memory_order_relaxed);
      const ns_t t0 = hal::now_ns();
      if (!submit_critical([shp] { shp->started.store(hal::now_ns(), std::memory_order_release); })) return;
      if (!await([&] { return sh.started.load(std::memory_order_acquire) != 0; })) {
        b.error = "a CRITICAL task did not start within 1 s";
        return;
      }
      if (i >= kWarmup) {
        lat.push_back(sh.started.load(std::memory_order_relaxed) - t0);
        full_gaps += full ? 1 : 0;
      }
    }
    const double secs = static_cast<double>(hal::now_ns() - began) / 1e9;
    b.latency = snapshot_of(lat);
    if (loaded) {
      b.extra = {{"low_refusals", static_cast<double>(refusals)},
                 {"full_gaps", static_cast<double>(full_gaps) / n},
                 {"low_per_s", static_cast<double>(sh.low_done.load(std::memory_order_relaxed)) / secs}};
    }
  });
  sampler.join();
  (void)engine.stop(StopMode::Cancel);  // the LOW tasks left are of no interest
  return b;
}

}  // namespace

Group p5_critical(const Settings& /*s*/) {
  Group g;
  g.id = "P5";
  g.title = "CRITICAL latency while LOW saturates its ring";
  g.contenders = {
      {.id = "critical_idle",
       .label = "CRITICAL, idle",
       .kind = Kind::Latency,
       .block = [](const Settings& st) { return sample(st, false); },
       .unavailable = {}},
      {.id = "critical_low_full",
       .label = "CRITICAL, LOW ring full",
       .kind = Kind::Latency,
       .block = [](const Settings& st) { return sample(st, true); },
       .unavailable = {}},
  };
  g.ratios = {
      {.contender = "critical_low_full",
       .baseline = "critical_idle",
       .stat = Stat::P99,
       .limit = 1.2,
       .source = "SPEC P5"},
      {.contender = "critical_low_full",
       .baseline = "critical_idle",
       .stat = Stat::P50,
       .limit = 0,  // reported
       .source = ""},
  };
  // Two blocks of (warm-up + samples) x (the hold, the refill, the gap, a hand-off), plus
  // an engine start and stop each.
  g.rep_time = [](const Settings& st) {
    return 2 * (static_cast<ns_t>(kWarmup + st.samples) * (kGap + 60 * hal::kNsPerUs) + 20 * hal::kNsPerMs);
  };
  g.notes = {
      "one worker on the measured CPU serving every class, kept spinning (idle_spin 1 s); CRITICAL tasks submitted "
      "one at a time from the side CPU; loaded: before each, the LOW ring is filled with trivial tasks until it "
      "refuses, then topped up for 20 us while the worker runs them (full_gaps: the share of gaps it refused in)",
  };
  return g;
}

}  // namespace rt::bench
