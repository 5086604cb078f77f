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
// - The sampler, on side_cpu: stamps, submits one CRITICAL task that stamps its start,
//   spins until it has, then leaves a 20 us gap (P2's take_samples); `samples` of these
//   after 20 dropped. In the loaded contender the gap is spent submitting trivial LOW tasks
//   (a relaxed counter increment, try_submit) through a second producer handle, the ring
//   refusing whenever it holds its 1024: a 2-CPU machine has no third CPU for a separate
//   LOW producer, and the worker drains ~100 LOW tasks in a gap. "full_gaps" is the share
//   of samples whose gap saw the LOW ring refuse (full), "low_per_s" the LOW tasks run per
//   second.
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

struct alignas(hal::kCacheLine) Shared {
  std::atomic<ns_t> started{0};
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> low_done{0};
};

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
    bool refused = false;  // in the gap before this sample, the LOW ring refused a task: it was full
    Shared* shp = &sh;
    const ns_t began = hal::now_ns();
    for (int i = 0; i < kWarmup + n; ++i) {
      sh.started.store(0, std::memory_order_relaxed);
      const bool full = refused;
      refused = false;
      const ns_t t0 = hal::now_ns();
      const SubmitStatus st = critical.try_submit(
          [shp] { shp->started.store(hal::now_ns(), std::memory_order_release); }, {.priority = Priority::Critical});
      if (st != SubmitStatus::Ok) {
        b.error = "a CRITICAL submission was refused: " + std::string(to_string(st));
        return;
      }
      ns_t t1 = 0;
      std::uint32_t spins = 0;
      while ((t1 = sh.started.load(std::memory_order_acquire)) == 0) {
        if (++spins % 4096 == 0 && hal::now_ns() - t0 > kStuck) {
          b.error = "a CRITICAL task did not start within 1 s";
          return;
        }
      }
      if (i >= kWarmup) {
        lat.push_back(t1 - t0);
        full_gaps += full ? 1 : 0;
      }
      for (const ns_t until = hal::now_ns() + kGap; hal::now_ns() < until;) {
        if (!loaded) continue;
        if (low.try_submit([shp] { shp->low_done.fetch_add(1, std::memory_order_relaxed); },
                           {.priority = Priority::Low}) != SubmitStatus::Ok) {
          refused = true;
          ++refusals;
        }
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
  // Two blocks of (warm-up + samples) x (gap + a hand-off), plus an engine start and stop each.
  g.rep_time = [](const Settings& st) {
    return 2 * (static_cast<ns_t>(kWarmup + st.samples) * (kGap + 5 * hal::kNsPerUs) + 20 * hal::kNsPerMs);
  };
  g.notes = {
      "one worker on the measured CPU serving every class, kept spinning (idle_spin 1 s); CRITICAL tasks submitted "
      "one at a time from the side CPU, 20 us apart; loaded: the gaps fill the LOW ring with trivial tasks until "
      "it refuses, so it is full when a CRITICAL task comes (full_gaps: the share of samples it was)",
  };
  return g;
}

}  // namespace rt::bench
