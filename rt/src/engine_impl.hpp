#pragma once
// The engine's insides, shared by engine.cpp (setup, submit, queries), worker.cpp (the
// worker loop: one-shot and periodic runs) and monitor.cpp (deadlines, stalls, delayed
// starts). Everything here lives in the arena or is built at setup.
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "hal/annotations.hpp"
#include "hal/cpu.hpp"
#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "ring.hpp"
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

// Lock-free stack of free slot indices. The head carries a tag that changes on every
// push and pop, so a pop that read a stale `next` fails its CAS (no ABA).
class FreeList {
 public:
  FreeList(Arena& arena, std::size_t n);
  // RT: lock-free; no allocation.
  bool pop(std::uint32_t& idx) noexcept HAL_NONBLOCKING;
  // RT: lock-free; no allocation.
  void push(std::uint32_t idx) noexcept HAL_NONBLOCKING;

 private:
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> head_{0};  // tag << 32 | (index + 1); 0 empty
  std::atomic<std::uint32_t>* next_;
};

// One cache line per counter: producers bump `submitted` while workers bump the
// outcomes, and sharing a line would bounce it between cores on every task.
struct alignas(hal::kCacheLine) Counter {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v.load(std::memory_order_acquire); }
};

// A counter with one writer thread and no neighbour to bounce with: no padding.
struct Tally {
  std::atomic<std::uint64_t> v{0};
  void add(std::uint64_t n = 1) noexcept { v.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const noexcept { return v.load(std::memory_order_acquire); }
};

struct Counters {
  Counter submitted, completed, failed, timed_out, cancelled, skipped;
  Counter gate_violations, exceptions, running, rolled_back;
  Counter deadline_misses, detected_by_monitor, stalls, scheduled, release_deferrals;
  Counter events_published, events_dropped;
  Counter no_free_slot, invalid, refused_transitions, ring_push_refusals;
  std::array<Counter, kClassCount> queue_full{};
};

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
inline constexpr std::uint64_t kPeriodicSubject = std::uint64_t{1} << 63;  // | periodic index

struct alignas(hal::kCacheLine) Watch {
  std::atomic<std::uint64_t> run{0};      // run_word(ticket, phase)
  std::atomic<ns_t> deadline{0};          // of the current run
  std::atomic<std::uint64_t> subject{0};  // TaskId::value() or kPeriodicSubject | index
  std::atomic<ns_t> hint{0};              // the deadline of this worker's next periodic release; 0 none
  [[nodiscard]] bool stalled() const noexcept {
    return phase_of(run.load(std::memory_order_acquire)) == Phase::Stalled;
  }
};

struct PeriodicTask;

struct alignas(hal::kCacheLine) Worker {
  explicit Worker(Arena& arena) : dispatch(arena), execution(arena) {}
  int index = 0;
  WorkerConfig cfg;
  std::atomic<bool> active{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> sleeping{false};
  std::atomic<std::uint32_t> seq{0};  // futex word
  std::atomic<WorkerState> state{WorkerState::Stopped};
  std::atomic<std::uint64_t> tasks_done{0};
  std::atomic<ns_t> busy_ns{0}, started_at{0}, stopped_at{0};
  std::atomic<long> minor_faults{-1};
  hal::ThreadApplied applied;
  hal::Thread thread;
  Watch watch;
  std::uint64_t ticket = 0;  // the worker thread's own run counter
  // Periodic tasks this worker releases; entries are published by `periodic_count`.
  std::unique_ptr<PeriodicTask*[]> periodic;
  std::atomic<std::size_t> periodic_count{0};
  std::atomic<std::uint32_t> periodic_commands{0};  // bumped when any of them has a command
  std::uint32_t periodic_seen = 0;                  // worker thread only
  Histogram dispatch, execution;                    // single writer: this worker
};

struct PeriodicTask {
  PeriodicTask(Arena& arena, const PeriodicSpec& s) : spec(s), jitter(arena), response(arena), execution(arena) {}
  TaskFn fn;
  PeriodicSpec spec;
  Worker* worker = nullptr;
  ns_t deadline_rel = 0;
  // The worker thread's own bookkeeping.
  ns_t first = 0;
  std::uint64_t k = 0;  // index of the next release
  ns_t next = kNever;   // first + k * period while running
  // Commands from any thread, applied by the worker between runs. Every start bumps
  // `starts`, so start-stop-start before the worker looks still begins a new grid.
  std::atomic<ns_t> start_base{0};
  std::atomic<std::uint32_t> starts{0};
  std::uint32_t applied_starts = 0;  // the worker's
  // Published for queries.
  std::atomic<ns_t> next_release{0};
  std::atomic<std::uint64_t> stop{0};  // the run ticket the monitor asked to stop (on a miss)
  Tally releases, runs, skipped, overruns, misses, rollbacks, exceptions, gate_violations;
  Histogram jitter, response, execution;
  int index = 0;
  std::atomic<PeriodicState> want{PeriodicState::Stopped};
  PeriodicState applied = PeriodicState::Stopped;
  std::atomic<PeriodicState> state{PeriodicState::Stopped};
};

// A delayed start waiting in the monitor's heap.
struct Scheduled {
  ns_t at = 0;
  TaskId id;
  friend bool operator>(const Scheduled& a, const Scheduled& b) noexcept { return a.at > b.at; }
};

}  // namespace detail

struct Engine::Impl {
  Impl(Engine& e, const EngineConfig& c);

  enum class Tx : std::uint8_t { Ok, Stale, Refused, Moved };

  // ---- run path (engine.cpp) ----
  // RT: lock-free; no allocation. `at` is the caller's clock reading.
  Tx transition(detail::TaskSlot& s, std::uint32_t gen, State to, ns_t at) noexcept HAL_NONBLOCKING;
  // As transition, but only from `from`: Moved when another thread moved it first.
  Tx transition_from(detail::TaskSlot& s, std::uint32_t gen, State from, State to, ns_t at) noexcept HAL_NONBLOCKING;
  Tx transition_impl(detail::TaskSlot& s, std::uint32_t gen, const State* from, State to,
                     ns_t at) noexcept HAL_NONBLOCKING;
  // Ends a task with `to`, counting the outcome once. RT: lock-free; no allocation.
  bool finish(detail::TaskSlot& s, std::uint32_t gen, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING;
  // As finish, but only from `from` (Moved when another thread moved it first).
  Tx finish_from(detail::TaskSlot& s, std::uint32_t gen, State from, State to, Reason why,
                 ns_t at) noexcept HAL_NONBLOCKING;
  void count_outcome(detail::TaskSlot& s, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING;
  // After the bound state was restored (by the caller: the user's restore function runs
  // outside the checked path): FAILED/TIMEOUT -> ROLLED_BACK, counted, published.
  // RT: lock-free; no allocation.
  void note_rollback(detail::TaskSlot& s, std::uint32_t gen, Reason why, std::size_t token,
                     ns_t at) noexcept HAL_NONBLOCKING;
  // The slot goes back to the free list with a new generation. RT: lock-free.
  void release(std::uint32_t idx) noexcept HAL_NONBLOCKING;
  // Keeps the task queryable among the most recent `retain_completed`. RT: lock-free.
  void retire(std::size_t token, std::uint32_t idx) noexcept HAL_NONBLOCKING;
  // RUNNING -> TIMEOUT, counted once by whichever of the monitor and the worker gets
  // there first. RT: lock-free; no allocation.
  bool mark_timeout(detail::TaskSlot& s, std::uint32_t gen, ns_t at) noexcept HAL_NONBLOCKING;
  // RT: lock-free (moodycamel's try_enqueue); no allocation; a full ring drops the event
  // and counts it.
  void publish_event(std::size_t token, const Event& ev) noexcept HAL_NONBLOCKING;
  // RT: lock-free; one futex wake only when a worker serving `k` sleeps.
  void wake_one(std::size_t k) noexcept;
  void wake_worker(detail::Worker& w) noexcept;
  // Tells the monitor about a time earlier than it is armed for. RT: one eventfd write
  // when needed, none otherwise.
  void poke_monitor(ns_t t) noexcept;

  // ---- workers (worker.cpp) ----
  // RT: no allocation; syscalls only on the way to sleep and one eventfd write per
  // one-shot deadline earlier than the monitor's arming (worker.cpp says which).
  void worker_loop(detail::Worker& w) noexcept;
  // RT: lock-free; no allocation, no syscall. Classes below `below` only.
  bool pop_any(const detail::Worker& w, std::uint32_t& idx, std::size_t below) noexcept HAL_NONBLOCKING;
  // RT: wait-free; loads only.
  bool has_work(const detail::Worker& w) const noexcept HAL_NONBLOCKING;
  // One dequeued task: the checked begin/end around the unchecked user code.
  // RT: no allocation by the engine; the eventfd write of poke_monitor at most.
  void execute(detail::Worker& w, std::uint32_t idx) noexcept;
  struct Begin {
    bool run = false;
    std::uint32_t gen = 0;
    ns_t start = 0;
    ns_t deadline = 0;
    ns_t ready = 0;
    Reason violation = Reason::None;  // why it was not started, if it ended at once
  };
  // RT: lock-free; no allocation, no syscall.
  Begin begin_task(detail::Worker& w, std::uint32_t idx) noexcept HAL_NONBLOCKING;
  // Classifies the finished run; returns the violation to roll back (or None).
  // RT: lock-free; no allocation, no syscall.
  Reason end_task(detail::Worker& w, std::uint32_t idx, const Begin& b, bool threw, ns_t& end) noexcept HAL_NONBLOCKING;
  // Watch bookkeeping around a run with a deadline; end returns true when the monitor
  // classified the run as missed first. RT: wait-free (one store; one exchange); no
  // allocation, no syscall.
  void watch_begin(detail::Worker& w, std::uint64_t subject, ns_t deadline) noexcept HAL_NONBLOCKING;
  bool watch_end(detail::Worker& w) noexcept HAL_NONBLOCKING;
  // Periodic: commands, the earliest due release, one release.
  // RT (all three): no allocation, no syscall; loops over this worker's periodic tasks.
  void apply_periodic_commands(detail::Worker& w, ns_t now) noexcept HAL_NONBLOCKING;
  detail::PeriodicTask* earliest_release(const detail::Worker& w) const noexcept HAL_NONBLOCKING;
  // RT: as execute: no allocation by the engine; the eventfd write of poke_monitor at most
  // (never in steady state: publish_hint has armed the monitor already).
  void run_release(detail::Worker& w, detail::PeriodicTask& p) noexcept;
  struct Release {
    ns_t start = 0, release = 0, deadline = 0, end = 0;
    std::uint64_t index = 0;
    bool run = false;
    Reason violation = Reason::None;  // found before the run (a closed gate)
  };
  Release release_begin(detail::Worker& w, detail::PeriodicTask& p) noexcept HAL_NONBLOCKING;
  // Classifies the finished run (overrun policy included); returns the violation.
  Reason release_end(detail::Worker& w, detail::PeriodicTask& p, Release& r, bool threw) noexcept HAL_NONBLOCKING;
  // After the rollback (if any): counts it, moves the grid on, announces the next deadline.
  // RT (the three parts): lock-free; no allocation, no syscall.
  void release_finish(detail::Worker& w, detail::PeriodicTask& p, const Release& r, Reason violation,
                      bool rolled) noexcept HAL_NONBLOCKING;
  // RT: wait-free; one seq_cst store.
  void publish_hint(detail::Worker& w) noexcept HAL_NONBLOCKING;

  // ---- monitor (monitor.cpp) ----
  // The monitor thread. RT: no allocation (the heap is reserved for max_tasks); blocks
  // only in the timer's wait; writes to stderr only for a stall (and a timer it cannot
  // arm, reported once: those two failure paths may allocate and block).
  void monitor_loop() noexcept;
  // RT: lock-free; no allocation, no syscall, but for the stall failure path above.
  ns_t scan_watches(ns_t now) noexcept;
  // RT: lock-free; no allocation; a futex wake when a worker sleeps. The callable of a
  // cancelled task is destroyed here (user code).
  void release_scheduled(const detail::Scheduled& e, ns_t now) noexcept;
  void start_monitor();
  void stop_monitor();
  void drain_scheduled_after_stop();

  // ---- setup ----
  void start_worker(detail::Worker& w);
  // Holds the PM QoS request when configured and a started worker is SCHED_FIFO;
  // a refusal is reported once and the engine runs on without it.
  void hold_pm_qos();
  void stop_worker(detail::Worker& w);
  [[nodiscard]] bool quiet() const noexcept;

  // Token indices: rings take one producer token per submitting handle and one for the
  // monitor; the retired and event rings one per worker, one for the monitor, one for
  // the setup thread.
  [[nodiscard]] std::size_t monitor_token() const noexcept { return workers.size(); }
  [[nodiscard]] std::size_t setup_token() const noexcept { return workers.size() + 1; }

  // Lines written on the run path by other threads come first, one line each: the
  // counters; `submitting` (every submit, producers); `armed_for` (the monitor, read by
  // workers that start a task with a deadline).
  detail::Counters counters;
  alignas(hal::kCacheLine) std::atomic<std::int64_t> submitting{0};
  char pad_submitting_[hal::kCacheLine - sizeof(std::atomic<std::int64_t>)]{};
  std::atomic<ns_t> armed_for{kNever};
  char pad_armed_for_[hal::kCacheLine - sizeof(std::atomic<ns_t>)]{};

  Engine& engine;
  Arena arena;
  detail::TaskSlot* slots;
  detail::FreeList free_list;
  detail::Ring retired;
  std::array<std::unique_ptr<detail::Ring>, kClassCount> rings;
  detail::Ring scheduled_in;  // producers -> the monitor: slots waiting for their start
  detail::BasicRing<Event> events;
  std::vector<std::unique_ptr<detail::Worker>> workers;
  std::array<std::vector<detail::Worker*>, kClassCount> serving;
  std::vector<std::unique_ptr<detail::PeriodicTask>> periodic;
  std::vector<detail::Counter> rollbacks_by_type;
  std::size_t active = 0;
  std::size_t producers_handed = 0;
  ns_t epoch = hal::now_ns();
  ns_t started_at = 0;
  hal::DmaLatencyRequest pm_qos;  // held from start() to stop() (PmQosConfig)

  // The monitor.
  hal::TimerChoice timer;
  hal::Thread monitor_thread;
  std::atomic<bool> monitor_stop{false};
  std::vector<detail::Scheduled> heap;  // reserved for max_tasks at setup: never grows
  Histogram detection;                  // single writer: the monitor
};

}  // namespace rt
