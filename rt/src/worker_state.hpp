#pragma once
// What the engine keeps per worker, per producer, per periodic task and per delayed
// event, laid out by who writes each line. All of it is built at setup.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "counters.hpp"
#include "free_list.hpp"
#include "hal/annotations.hpp"
#include "hal/thread.hpp"
#include "margin_tracker.hpp"
#include "rt/engine.hpp"
#include "rt/histogram.hpp"

namespace rt {

inline constexpr ns_t kNever = std::numeric_limits<ns_t>::max();

namespace detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

// A line fetched for writing (exclusive), so the store or CAS that follows takes no second
// transfer. GCC turns __builtin_prefetch(p, 1) into a read prefetch (prefetcht0) unless the
// build targets a CPU with PREFETCHW (-mprfchw), and we build for generic x86-64; every
// x86-64 CPU either has PREFETCHW or executes its opcode (0F 0D) as a NOP.
// RT: wait-free; one instruction, no syscall, no allocation.
inline void prefetch_for_write(const void* p) noexcept {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1);
#endif
}

// Asks for the lines of a slot that the next step will touch, so their transfers from
// the other core overlap instead of coming one after another (the start's CAS is a full
// barrier on x86: nothing after it is fetched early). Line 0 for writing: the CAS would
// otherwise fetch it shared and then again exclusive.
inline void prefetch_slot(const TaskSlot& s) noexcept {
  const auto* p = reinterpret_cast<const char*>(&s);
  prefetch_for_write(p);
  __builtin_prefetch(p + hal::kCacheLine, 0);
  __builtin_prefetch(p + 2 * hal::kCacheLine, 0);
}

// The producer's side: every line it is about to write, fetched for writing ahead of use.
inline void prefetch_slot_for_write(const TaskSlot& s) noexcept {
  const auto* p = reinterpret_cast<const char*>(&s);
  for (std::size_t i = 0; i < sizeof(TaskSlot); i += hal::kCacheLine)
    prefetch_for_write(p + i);
}

// What a worker is running, for the deadline monitor. The worker owns it; the monitor
// may move a run Running -> Missed (its deadline passed) -> Stalled (stall_after later),
// each by CAS on the whole word, so it can never act on a run that has ended; the worker
// ends a run by exchanging the word for Idle and learns in the same step what the
// monitor decided.
enum class Phase : std::uint64_t { Idle = 0, Running = 1, Missed = 2, Stalled = 3 };
constexpr std::uint64_t run_word(std::uint64_t ticket, Phase p) noexcept {
  return ticket << 2 | static_cast<std::uint64_t>(p);
}
constexpr Phase phase_of(std::uint64_t w) noexcept { return static_cast<Phase>(w & 3U); }
// What a watched run is: its subject is a TaskId value, a periodic index or a node
// reference. A kind of its own, not a tag bit: a TaskId value uses all 64 bits.
enum class Subjected : std::uint8_t { Task, Periodic, Node };

struct alignas(hal::kCacheLine) Watch {
  std::atomic<std::uint64_t> run{0};      // run_word(ticket, phase)
  std::atomic<ns_t> deadline{0};          // of the current run
  std::atomic<ns_t> lead{0};              // of the current run: look_ahead(its relative deadline)
  std::atomic<std::uint64_t> subject{0};  // TaskId::value(), a periodic index or a node reference
  std::atomic<Subjected> kind{Subjected::Task};
  std::atomic<ns_t> hint{0};       // the deadline of this worker's next periodic release; 0 none
  std::atomic<ns_t> hint_lead{0};  // look_ahead(that release's relative deadline)
  [[nodiscard]] bool stalled() const noexcept {
    return phase_of(run.load(std::memory_order_acquire)) == Phase::Stalled;
  }
};

// The monitor looks at a run this long before its deadline, and sleeps on to the deadline
// only if the run is still going then. A periodic run's deadline is by default its next
// release, on its own worker: a monitor woken at that instant took the CPU from the
// release when it shared it with the releasing worker (P7's frame loop: release p50 42 us
// against 0.7 us with the deadline moved off the release), or from the run it starts
// when it shared the nodes' worker's. Looking earlier, the monitor finds the run over
// and sleeps until the next one's look. 100 us covers this VM's timer-wake lateness
// (p99 60-80 us); half the relative deadline at most, so a short deadline is not looked
// at before its run starts.
inline constexpr ns_t kMonitorLookAhead = 100'000;
// RT: wait-free, no allocation (arithmetic).
[[nodiscard]] constexpr ns_t look_ahead(ns_t relative_deadline) noexcept {
  return std::clamp<ns_t>(relative_deadline / 2, 0, kMonitorLookAhead);
}
// When the monitor wakes for a deadline it watches: `lead` before it, or at it when that
// time has passed. Never after the deadline. RT: wait-free, no allocation.
[[nodiscard]] constexpr ns_t look_at(ns_t deadline, ns_t lead, ns_t now) noexcept {
  return deadline - lead > now ? deadline - lead : deadline;
}

struct PeriodicTask;

// Padded on purpose: the producer-read, worker-written and setup lines stand apart.
struct Worker {  // NOLINT(clang-analyzer-optin.performance.Padding)
  explicit Worker(Arena& arena) : dispatch(arena), execution(arena) {}

  // -- read by every producer (wake_one) and by commands: written only when the worker
  // goes to sleep or wakes, or at start and stop. Apart from the lines the worker writes
  // per task, or each submit would miss in its cache.
  alignas(hal::kCacheLine) std::atomic<bool> active{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> sleeping{false};
  std::atomic<std::uint32_t> seq{0};                // futex word
  std::atomic<std::uint32_t> periodic_commands{0};  // bumped when any of its periodic tasks has a command

  // -- written by the worker per task; read by queries --
  alignas(hal::kCacheLine) std::atomic<WorkerState> state{WorkerState::Stopped};
  std::atomic<bool> running{false};  // inside a one-shot task (stop() waits for none)
  Tally tasks_done, busy_ns;
  // For the feeds of periodic graphs (worker_loop.cpp, next_feed): sleeps ended by its own
  // timer ahead of one, and windows in which work came while it waited.
  Tally prewakes, feeds_met;
  Tally sleeps;                    // futex waits it began (WorkerStats::sleeps)
  std::atomic<ns_t> feed_lead{0};  // the lead of its latest pre-wake (0: none yet)
  Outcomes out;                    // owned: plain tallies
  std::uint64_t ticket = 0;        // the worker thread's own run counter
  std::uint64_t rng = 0;           // retry jitter (xorshift state), the worker thread's own
  // The worker thread's own pop state: the class ring it took from last (its emptiness is
  // not checked first, see pop_from), and per class whether a post goes before a task next.
  std::uint32_t hot = ~0U;
  std::uint32_t post_turn = 0;
  ns_t posts_since = 0;  // start of the run of posts in progress (busy time); 0 when none
  // Posts taken from the ring of class `held_k` at once (pop_from), run in order; the one
  // running is held[held_i - 1]. `post_streak`: the last look at a post ring found one.
  static constexpr std::uint32_t kHold = 8;
  std::array<PostItem, kHold> held{};
  std::uint32_t held_n = 0, held_i = 0;
  std::size_t held_k = 0;
  bool post_streak = false;
  // What the last exception a task threw on this worker said (std::exception::what()),
  // for the dead-letter record; the worker thread's own.
  std::array<char, 96> error{};
  DeadLetter letter;  // filled and pushed by this worker only (push_dead_letter)
  // Ready graph nodes its ring refused (F18): run by this worker. Reserved at setup for
  // every node of every graph, so it never grows.
  std::vector<std::uint32_t> backlog;

  // -- set up once per start --
  alignas(hal::kCacheLine) int index = 0;
  WorkerConfig cfg;
  // Its idle spin: cfg.idle_spin, or the engine's when that is -1 (set up with cfg).
  [[nodiscard]] ns_t idle_spin(ns_t engine_spin) const noexcept {
    return cfg.idle_spin >= 0 ? cfg.idle_spin : engine_spin;
  }
  std::atomic<ns_t> started_at{0}, stopped_at{0};
  std::atomic<int> tid{0};             // for fault counts read from /proc at query time
  std::atomic<long> minor_faults{-1};  // sampled at exit
  hal::ThreadApplied applied;
  hal::Thread thread;
  // Periodic tasks this worker releases; entries are published by `periodic_count`.
  std::unique_ptr<PeriodicTask*[]> periodic;
  std::atomic<std::size_t> periodic_count{0};
  std::uint32_t periodic_seen = 0;  // worker thread only
  // Periodic graphs another worker releases whose nodes this worker runs: it wakes for
  // their releases as well, so a run's start does not wait for a futex wake-up (P7).
  // Entries are published by `feeder_count` (add_periodic_graph).
  struct Feeder {
    PeriodicTask* loop = nullptr;
    std::uint32_t graph = 0;
    // Both workers' threads pinned to different CPUs, as the OS applied it (set by
    // start()): on one CPU, this worker's spin would hold the release back.
    std::atomic<bool> apart{false};
    ns_t fed = 0;  // the worker thread's: the last release of it whose start it met
    // The worker thread's: how late its pre-wakes for this loop returned; the lead is
    // their p99 plus idle_spin (next_feed). Set up by add_periodic_graph.
    std::unique_ptr<MarginTracker> lag;
  };
  std::unique_ptr<Feeder[]> feeders;
  std::atomic<std::size_t> feeder_count{0};

  Watch watch;                    // its own line: the monitor CASes it
  Histogram dispatch, execution;  // single writer: this worker
};

// One per Producer handle, on its own lines: only the thread that owns the handle writes
// it (stop() and queries read it).
struct alignas(hal::kCacheLine) ProducerState {
  std::atomic<bool> inside{false};  // in try_submit: stop() waits until it is out
  Tally submitted;                  // accepted tasks
  Tally posted;                     // accepted posts (try_post)
  SlotCache slots;
};

// The auto margin's cap in ns (PeriodicSpec::hybrid_margin_cap x period).
inline ns_t auto_margin_cap(const PeriodicSpec& s) noexcept {
  return static_cast<ns_t>(s.hybrid_margin_cap * static_cast<double>(s.period));
}

struct PeriodicTask {
  // Setup only.
  PeriodicTask(Arena& arena, const PeriodicSpec& s) : spec(s), jitter(arena), response(arena), execution(arena) {
    if (s.precision == Precision::Hybrid) {
      wake.configure(s.hybrid_margin == kAutoMargin ? auto_margin_cap(s) : s.hybrid_margin, s.hybrid_margin_guard);
      margin = s.hybrid_margin == kAutoMargin ? wake.margin() : s.hybrid_margin;
    }
    margin_published.store(margin, std::memory_order_relaxed);
  }
  TaskFn fn;
  PeriodicSpec spec;
  Worker* worker = nullptr;
  ns_t deadline_rel = 0;
  // The worker thread's own bookkeeping.
  ns_t first = 0;
  std::uint64_t k = 0;  // index of the next release
  ns_t next = kNever;   // first + k * period while running
  // Hybrid: the spin margin in effect, the lateness of the blocking waits for its spin
  // start (which sets the margin when it is kAutoMargin), and the last such wait's
  // lateness, folded in after the release (-1: none) so the way from the wake-up to the
  // spin stays one clock read.
  ns_t margin = 0;
  MarginTracker wake;
  ns_t wake_late = -1;
  // Commands from any thread, applied by the worker between runs. Every start bumps
  // `starts`, so start-stop-start before the worker looks still begins a new grid.
  std::atomic<ns_t> start_base{0};
  std::atomic<std::uint32_t> starts{0};
  std::uint32_t applied_starts = 0;  // the worker's
  // Published for queries.
  std::atomic<ns_t> next_release{0};
  std::atomic<ns_t> margin_published{0}, wake_lateness{0};
  std::atomic<std::uint64_t> stop{0};  // the run ticket the monitor asked to stop (on a miss)
  Tally releases, runs, skipped, overruns, misses, rollbacks, exceptions, gate_violations, late_wakes;
  Histogram jitter, response, execution;
  int index = 0;
  std::atomic<PeriodicState> want{PeriodicState::Stopped};
  PeriodicState applied = PeriodicState::Stopped;
  std::atomic<PeriodicState> state{PeriodicState::Stopped};
};

// Whether worker `w` may wait for its feeder `i`'s releases: both threads pinned, to
// different CPUs, as the OS applied it (Worker::Feeder::apart). Setup: start() and
// add_periodic_graph, on the thread that started the workers.
inline void mark_feed_apart(Worker& w, std::size_t i) noexcept {
  const int mine = w.applied.cpu;
  const int theirs = w.feeders[i].loop->worker->applied.cpu;
  w.feeders[i].apart.store(mine != hal::kNoCpu && theirs != hal::kNoCpu && mine != theirs, std::memory_order_release);
}

// A feed's window (worker_loop.cpp, next_feed): it waits for the run's start up to
// max(idle_spin, period / 8) after the release; the lead before it leaves a sleep of as
// long per period (`room`: no feed when that is <= 0) and is at most a quarter of the
// period (the auto hybrid margin's default cap) and 1 ms, or idle_spin if that is longer.
// The cap is also the lead until 64 pre-wakes are seen: 1 ms bounds what that costs a
// slow loop (a quarter of a 1 s period, for 64 s, would buy nothing: a late pre-wake
// costs the run's start one futex wake-up, not a release).
inline constexpr ns_t kFeedWaitShare = 8;
inline constexpr ns_t kFeedLeadCeiling = 1'000'000;
// RT (these three and feed_lead): wait-free; arithmetic and one load.
inline ns_t feed_wait(ns_t period, ns_t spin) noexcept HAL_NONBLOCKING {
  return std::max(spin, period / kFeedWaitShare);
}
inline ns_t feed_room(ns_t period, ns_t spin) noexcept HAL_NONBLOCKING { return period - 2 * feed_wait(period, spin); }
inline ns_t feed_lead_cap(ns_t period, ns_t spin) noexcept HAL_NONBLOCKING {
  return std::min(feed_room(period, spin), std::max(spin, std::min(period / 4, kFeedLeadCeiling)));
}
// A feeder's tracker: the cap above, idle_spin as the guard, and the p99, not the hybrid
// margin's p99.9: a pre-wake that comes late costs the run's start one futex wake-up, not
// a late release. Setup only.
inline constexpr std::uint32_t kFeedTailOneIn = 100;
inline void configure_feed_lag(MarginTracker& lag, ns_t period, ns_t spin) noexcept {
  lag.configure(feed_lead_cap(period, spin), spin, kFeedTailOneIn);
}
// The lead in effect: the tracker's margin (its cap during the warm-up, then the p99 of
// the pre-wakes' lateness plus idle_spin), never below idle_spin nor above `room`.
// pre: room > 0.
inline ns_t feed_lead(const MarginTracker& lag, ns_t room, ns_t spin) noexcept HAL_NONBLOCKING {
  return std::clamp(lag.margin(), std::min(spin, room), room);
}

// How long before a release its worker stops sleeping and spins.
inline ns_t periodic_margin(const PeriodicTask& p) noexcept {
  switch (p.spec.precision) {
    case Precision::Hybrid:
      return p.margin;
    case Precision::Spin:
      return p.spec.period;
    case Precision::Sleep:
      break;
  }
  return 0;
}

// A time the monitor must act at: a delayed start to release, or a one-shot deadline
// to watch for (so no worker has to tell the monitor when it starts a task).
struct Scheduled {
  enum class Kind : std::uint8_t { Start, Deadline, Graph };  // Graph: id = {graph, run generation}
  ns_t at = 0;
  TaskId id;
  Kind kind = Kind::Start;
  friend bool operator>(const Scheduled& a, const Scheduled& b) noexcept { return a.at > b.at; }
};

}  // namespace detail
}  // namespace rt
