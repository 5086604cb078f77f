// P5 (SPEC): CRITICAL-class submit -> start latency while LOW work saturates its ring,
// next to the same engine idle. What one block measures:
//
// - The engine, judged: one worker on cpu serving every class (WorkerConfig's default
//   classes), what a user with one RT CPU configures. It is kept hot (idle_spin 1 s) in
//   both contenders: with the default 20 us spin the idle worker sleeps between samples
//   and its p99 is a futex wake-up (30-60 us on a VM), which any loaded latency (the LOW
//   flood keeps the worker awake) would beat. So the figure is the class rule's cost: a
//   CRITICAL task waits for the LOW task running, never for the LOW ring.
// - The engine, reported: a CRITICAL-only worker one priority above a worker for the
//   other classes on the same CPU, both blocking when idle. A CRITICAL task then waits for
//   the kernel to preempt the LOW worker: a reschedule IPI to a busy CPU, which on this VM
//   made the submitter's futex_wake alone take 16-20 us at p99 (5-10 us to a polling idle
//   CPU), ~4x the idle p50. Not the engine's rule, so not judged; shown so that a user
//   choosing between the two shapes sees the cost.
// - The sampler, on side_cpu, per sample: holds the worker with a CRITICAL task and, in
//   the loaded contender, fills the LOW ring with trivial tasks (a relaxed counter
//   increment, try_submit, through a second producer handle) until it refuses: full,
//   whatever the machine's speed (a producer alone on a 2-CPU VM cannot outpace the worker
//   in its slow periods). It releases the worker and leaves a 20 us gap, topping the ring
//   up meanwhile (the worker drains 35-100 LOW tasks in it); then it stamps, submits one
//   CRITICAL task that stamps its start, and spins until it has (P2's hand-off). 4 x
//   `samples` of these after 20 dropped; the idle contender holds and releases the worker
//   alike, once the LOW ring has drained. "full_gaps" is the share of gaps in which the
//   ring refused a top-up (it was full), "low_per_s" the LOW tasks run per second of the
//   loaded samples (ring full to CRITICAL start), "submit p99 ns" the CRITICAL
//   try_submit's own time, "holds_expired" the holds (both contenders') that ended
//   themselves after 10 ms (kHoldMax; 0 in a sound run). Pairs meet back to back (L I,
//   I L, L I...), so two loaded or two idle samples follow each other where they do.
// - Both contenders of a shape in one block (Group::joints), their samples alternating:
//   p99s of separate blocks a few hundred ms apart differed by up to 2x when one fell in a
//   slow period of the VM and the other in a fast one.
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
constexpr std::size_t kFillBound = 4096;   // LOW submissions per fill at most (4 x the ring)
// A hold ends itself after this (a fill takes 0.1-0.5 ms): in the dedicated shape it spins
// one priority above the LOW worker on its CPU, and should that worker be preempted
// holding something the sampler then waits for, nothing else would end it, and a
// SCHED_FIFO spin would keep the CPU for ever. The engine's ring holds nothing of the kind,
// but ThreadSanitizer guards each atomic with a lock: a LOW worker preempted inside a pop
// held the lock that the sampler's next LOW push took, and the block hung (CI, stop 27).
constexpr ns_t kHoldMax = 10 * hal::kNsPerMs;

// Samples of each contender in a block: 4 x --samples. P5 judges a p99, which over 500
// samples is the 5th highest and swung 0.6-1.4x between repetitions; the joint block
// makes more samples cheap (no extra engine start).
int samples_of(const Settings& s) noexcept { return 4 * std::max(s.samples, 1); }

// Padded on purpose: the line the sampler waits on, the hold flags and the LOW count stand
// apart, so a LOW task's count never delays a CRITICAL start stamp.
struct alignas(hal::kCacheLine) Shared {  // NOLINT(clang-analyzer-optin.performance.Padding)
  std::atomic<ns_t> started{0};
  alignas(hal::kCacheLine) std::atomic<bool> hold{false};
  std::atomic<bool> held{false};
  std::atomic<std::uint32_t> expired{0};  // holds ended by kHoldMax, not by the sampler
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

// Shared: one worker serving every class, kept hot. Dedicated: a worker for CRITICAL one
// SCHED_FIFO priority above a worker for the other classes, both on the measured CPU, both
// blocking when idle (idle_spin 0): the kernel preempts the LOW worker for a CRITICAL task.
enum class Shape : std::uint8_t { Shared, Dedicated };

// One engine, the idle and the loaded samples alternating (loaded first in even pairs,
// idle first in odd ones); an idle sample waits for the LOW ring to drain first.
// `shape`: which engine (Shape).
std::vector<Block> samples(const Settings& s, Shape shape, bool with_idle, bool with_loaded) {
  EngineConfig c;
  if (shape == Shape::Shared) {
    c.workers = {WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses}};
    c.idle_spin = kHot;
  } else {
    const int above = std::min(s.priority + 1, 99);  // 1..98 (unavailable() says why not otherwise)
    c.workers = {
        WorkerConfig{.cpu = s.cpu, .priority = above, .classes = class_bit(Priority::Critical)},
        WorkerConfig{.cpu = s.cpu, .priority = s.priority, .classes = kAllClasses & ~class_bit(Priority::Critical)}};
    c.idle_spin = 0;  // a CRITICAL worker spinning above the LOW one would starve it
  }
  c.max_producers = 2;
  c.monitor.cpu = s.side_cpu;
  c.pm_qos.enabled = s.pm_qos;
  Engine engine(c);
  engine.start();
  Producer critical = engine.make_producer();
  Producer low = engine.make_producer();
  Shared sh;
  Block idle, loaded;
  std::string error;
  hal::Thread sampler({.name = "bench-p5", .cpu = s.side_cpu, .priority = s.priority}, [&] {
    const int n = samples_of(s);
    std::vector<ns_t> lat[2], submit[2];  // [loaded]: submit -> start, and the submission's own time
    for (auto& l : lat)
      l.reserve(static_cast<std::size_t>(n));
    for (auto& l : submit)
      l.reserve(static_cast<std::size_t>(n));
    std::uint64_t refusals = 0, full_gaps = 0, low_sent = 0, low_run = 0;
    ns_t loaded_ns = 0;  // time in loaded samples, from the ring full to the start
    Shared* shp = &sh;
    auto submit_low = [&] {
      if (low.try_submit([shp] { shp->low_done.fetch_add(1, std::memory_order_relaxed); },
                         {.priority = Priority::Low}) != SubmitStatus::Ok)
        return false;
      ++low_sent;
      return true;
    };
    auto submit_critical = [&](auto fn) {
      const SubmitStatus st = critical.try_submit(fn, {.priority = Priority::Critical});
      if (st != SubmitStatus::Ok) error = "a CRITICAL submission was refused: " + std::string(to_string(st));
      return st == SubmitStatus::Ok;
    };
    // One sample; false (error set) when the engine misbehaved.
    auto one = [&](bool load, bool keep) {
      if (!load && !await([&] { return sh.low_done.load(std::memory_order_acquire) == low_sent; })) {
        error = "the LOW ring did not drain within 1 s";
        return false;
      }
      // 1. Hold the worker with a CRITICAL task and, loaded, fill the LOW ring until it
      //    refuses: full, however fast this machine's cores hand lines to each other.
      sh.held.store(false, std::memory_order_relaxed);
      sh.hold.store(true, std::memory_order_relaxed);
      if (!submit_critical([shp] {
            shp->held.store(true, std::memory_order_release);
            const ns_t t0 = hal::now_ns();
            for (std::uint32_t spins = 1; shp->hold.load(std::memory_order_acquire); ++spins) {
              if (spins % 1024 == 0 && hal::now_ns() - t0 > kHoldMax) {
                shp->expired.fetch_add(1, std::memory_order_relaxed);
                break;
              }
            }
          }))
        return false;
      if (!await([&] { return sh.held.load(std::memory_order_acquire); })) {
        sh.hold.store(false, std::memory_order_release);  // should it start later: stop() must not wait forever
        error = "a CRITICAL task did not start within 1 s";
        return false;
      }
      const ns_t from = hal::now_ns();
      const std::uint64_t low_from = sh.low_done.load(std::memory_order_relaxed);
      // Bounded: should the hold not keep the LOW worker off the CPU (no SCHED_FIFO), the
      // ring drains while it fills.
      for (std::size_t k = 0; load && k < kFillBound && submit_low(); ++k) {
      }
      sh.hold.store(false, std::memory_order_release);
      // 2. The gap: the worker back on LOW tasks, the sampler topping the ring up.
      bool full = false;
      for (const ns_t until = hal::now_ns() + kGap; hal::now_ns() < until;) {
        if (load && !submit_low()) {
          full = true;
          ++refusals;
        }
      }
      // 3. The sample.
      sh.started.store(0, std::memory_order_relaxed);
      const ns_t t0 = hal::now_ns();
      if (!submit_critical([shp] { shp->started.store(hal::now_ns(), std::memory_order_release); })) return false;
      const ns_t submitted = hal::now_ns();
      if (!await([&] { return sh.started.load(std::memory_order_acquire) != 0; })) {
        error = "a CRITICAL task did not start within 1 s";
        return false;
      }
      if (load) {
        loaded_ns += hal::now_ns() - from;
        low_run += sh.low_done.load(std::memory_order_relaxed) - low_from;
      }
      if (keep) {
        lat[load ? 1 : 0].push_back(sh.started.load(std::memory_order_relaxed) - t0);
        submit[load ? 1 : 0].push_back(submitted - t0);
        full_gaps += load && full ? 1 : 0;
      }
      return true;
    };
    for (int i = 0; i < kWarmup + n; ++i) {
      const bool keep = i >= kWarmup;
      const bool loaded_first = i % 2 == 0;
      for (const bool load : {loaded_first, !loaded_first}) {
        if ((load ? with_loaded : with_idle) && !one(load, keep)) return;
      }
    }
    auto submit_p99 = [&submit](int k) {
      return std::pair<std::string, double>{"submit p99 ns",
                                            static_cast<double>(snapshot_of(submit[k]).percentile(99))};
    };
    if (with_idle) {
      idle.latency = snapshot_of(lat[0]);
      idle.extra = {submit_p99(0)};
    }
    if (with_loaded) {
      loaded.latency = snapshot_of(lat[1]);
      loaded.extra = {
          submit_p99(1),
          {"low_refusals", static_cast<double>(refusals)},
          {"full_gaps", static_cast<double>(full_gaps) / n},
          {"low_per_s", static_cast<double>(low_run) * 1e9 / static_cast<double>(std::max<ns_t>(loaded_ns, 1))},
          {"holds_expired", static_cast<double>(sh.expired.load(std::memory_order_relaxed))}};
    }
  });
  sampler.join();
  (void)engine.stop(StopMode::Cancel);  // the LOW tasks left are of no interest
  if (!error.empty()) {
    idle = Block{};
    loaded = Block{};
    idle.error = loaded.error = error;
  }
  return {idle, loaded};
}

// The dedicated shape needs a SCHED_FIFO priority with one above it: at 0 both workers
// share the CPU by time slices (the hold would not keep the LOW worker off it), at 99
// neither preempts the other.
std::string unavailable(const Settings& s, Shape shape) {
  if (shape == Shape::Dedicated && (s.priority < 1 || s.priority > 98))
    return "needs a SCHED_FIFO priority of 1..98 (the CRITICAL worker runs one above the LOW one)";
  return {};
}

}  // namespace

Group p5_critical(const Settings& /*s*/) {
  Group g;
  g.id = "P5";
  g.title = "CRITICAL latency while LOW saturates its ring";
  // `judged`: the target applies (SPEC P5); else the ratio is reported, with `why`.
  auto pair = [&g](Shape shape, const char* idle_id, const char* loaded_id, const char* idle_label,
                   const char* loaded_label, bool judged, const char* why) {
    g.contenders.push_back({.id = idle_id,
                            .label = idle_label,
                            .kind = Kind::Latency,
                            .block = [shape](const Settings& st) { return samples(st, shape, true, false)[0]; },
                            .unavailable = [shape](const Settings& st) { return unavailable(st, shape); }});
    g.contenders.push_back({.id = loaded_id,
                            .label = loaded_label,
                            .kind = Kind::Latency,
                            .block = [shape](const Settings& st) { return samples(st, shape, false, true)[1]; },
                            .unavailable = [shape](const Settings& st) { return unavailable(st, shape); }});
    g.joints.push_back(
        {.ids = {idle_id, loaded_id}, .block = [shape](const Settings& st) { return samples(st, shape, true, true); }});
    g.ratios.push_back({.contender = loaded_id,
                        .baseline = idle_id,
                        .stat = Stat::P99,
                        .limit = judged ? 1.2 : 0,
                        .source = judged ? "SPEC P5" : why});
    g.ratios.push_back({.contender = loaded_id, .baseline = idle_id, .stat = Stat::P50, .limit = 0, .source = ""});
  };
  pair(Shape::Shared, "critical_idle", "critical_low_full", "CRITICAL, idle", "CRITICAL, LOW ring full", true, "");
  // Reported, not judged: its loaded latency is the kernel's preemption of a running
  // thread (a reschedule IPI: the submitter's futex_wake alone took 16-20 us at p99 here
  // against 5-10 us to a polling idle CPU), not the engine's class rule.
  pair(Shape::Dedicated, "dedicated_idle", "dedicated_low_full", "CRITICAL worker above LOW's, idle",
       "CRITICAL worker above LOW's, LOW ring full", false, "kernel preemption (note)");
  // A sample whose hold ended itself was taken without the worker held while the ring
  // filled: the judged shape's run is sound only with none (summed over repetitions: the
  // per-repetition median would hide a few).
  g.checks.push_back({.contender = "critical_low_full",
                      .extra = "holds_expired",
                      .sum = true,
                      .limit = 0,
                      .what = "holds that ended themselves after 10 ms (samples taken without the worker held)",
                      .source = "SPEC P5"});
  // Fifteen: the judged ratio compares two p99s of 2000 samples (the 20th-highest), and
  // with five repetitions its median was 1.2 in one run and 1.73 in another.
  g.min_reps = 15;
  // Two blocks (one per shape) of (warm-up + samples) x 2 x (the hold, the refill, the
  // gap, a hand-off), the idle samples' wait for a full LOW ring to drain, an engine start
  // and stop.
  g.rep_time = [](const Settings& st) {
    return 2 * (static_cast<ns_t>(kWarmup + samples_of(st)) * (2 * (kGap + 60 * hal::kNsPerUs) + 300 * hal::kNsPerUs) +
                20 * hal::kNsPerMs);
  };
  g.notes = {
      "CRITICAL: one worker on the measured CPU serving every class, kept spinning (idle_spin 1 s); CRITICAL worker "
      "above LOW's: a CRITICAL-only worker at priority + 1 and a worker for the other classes, both on the measured "
      "CPU, both blocking when idle (idle_spin 0); CRITICAL tasks submitted one at a time from the side CPU; loaded: "
      "before each, the LOW ring is filled with trivial tasks until it "
      "refuses, then topped up for 20 us while the worker runs them (full_gaps: the share of gaps it refused in)",
      "CRITICAL worker above LOW's is reported, not judged: a CRITICAL task then waits for the kernel to preempt "
      "the LOW worker, and the reschedule IPI to a busy CPU is slow on a VM (the submitter's futex_wake: 'submit "
      "p99 ns'); the shared worker's class rule needs no kernel at all",
      "each shape's two contenders in one engine, their samples alternating (idle ones once the LOW ring drained): a "
      "drift of "
      "the machine between blocks cannot favour either",
  };
  return g;
}

}  // namespace rt::bench
