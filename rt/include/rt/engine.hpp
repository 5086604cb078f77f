#pragma once
// The engine facade: configure -> start -> submit / cancel / query / gates -> stop.
//
// Setup (the constructor, start, make_producer, scale_workers, stop) may allocate,
// create threads and throw. The run path (Producer::try_submit, cancel, gates, status)
// is noexcept, allocation-free and lock-free, and says so at each declaration.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hal/annotations.hpp"
#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "rt/arena.hpp"
#include "rt/breaker.hpp"
#include "rt/dead_letter.hpp"
#include "rt/detail/post.hpp"
#include "rt/detail/slot.hpp"
#include "rt/engine_config.hpp"
#include "rt/event.hpp"
#include "rt/graph.hpp"
#include "rt/histogram.hpp"
#include "rt/periodic.hpp"
#include "rt/saga.hpp"
#include "rt/stats.hpp"
#include "rt/task.hpp"
#include "rt/types.hpp"
#include "rt/unrun.hpp"
#include "rt/workflow.hpp"

namespace rt {

enum class StopMode : std::uint8_t { Drain, Cancel };

struct ListQuery {
  bool any_state = true;
  State state = State::Completed;
  int type = -1;       // TypeId, or -1 for any
  long workflow = -1;  // WorkflowId, or -1 for any
  std::size_t limit = 100;
  std::size_t offset = 0;
};

class Engine;

namespace detail {
// Adapts a callable taken as f() to the engine's f(TaskContext&). A named aggregate, not a
// lambda: it is trivially copyable exactly when F is (InlineFn's rule).
template <class F>
struct IgnoreContext {
  F f;
  void operator()(TaskContext&) { f(); }
};

// What a submission holds between its two untemplated steps (Engine::acquire, publish).
struct Claim {
  TaskSlot* slot = nullptr;  // nullptr: refused, `status` says why
  TaskId id;
  ns_t now = 0;    // the submission's one clock reading
  ns_t start = 0;  // a delayed start; 0 when it is ready now
  SubmitStatus status = SubmitStatus::Ok;
};

// Stores a task callable, f(rt::TaskContext&) or f(), in its inline buffer.
// RT: wait-free; no allocation (InlineFn: trivially copyable callables only).
template <class F>
void emplace_task_fn(TaskFn& slot, F&& fn) noexcept {
  if constexpr (std::is_invocable_v<std::decay_t<F>&, TaskContext&>) {
    slot.emplace(std::forward<F>(fn));
  } else {
    static_assert(std::is_invocable_v<std::decay_t<F>&>, "a task is callable as f(rt::TaskContext&) or f()");
    slot.emplace(IgnoreContext<std::decay_t<F>>{std::forward<F>(fn)});
  }
}
}  // namespace detail

// A submission handle. Each thread that submits owns one (setup: Engine::make_producer);
// with it, try_submit never blocks, never allocates and never makes a syscall unless a
// worker sleeps (then one futex wake) or a delayed start or a deadline is earlier than
// anything the monitor waits for (then one eventfd write, after the task is enqueued).
// A handle keeps a few free slots of its own (at most 16; fewer when max_tasks is small),
// so NoFreeSlot means no slot is free outside the other handles' caches.
class Producer {
 public:
  Producer() = default;

  // F must be trivially copy-constructible and trivially destructible (InlineFn), and take
  // (rt::TaskContext&) or nothing. RT: lock-free; no allocation; a futex wake only if a
  // serving worker sleeps, an eventfd write only as said above.
  template <class F>
  [[nodiscard]] SubmitStatus try_submit(F&& fn, const SubmitOptions& opts = {}, TaskId* id = nullptr) noexcept;

  // F30 (and redrive): submits a copy of a callable already stored in a TaskFn (a
  // handler, a dead letter's), as try_submit does. RT: as try_submit.
  [[nodiscard]] SubmitStatus try_submit_stored(const TaskFn& fn, const SubmitOptions& opts = {},
                                               TaskId* id = nullptr) noexcept;

  // Submits fns in order until one is refused; returns how many were accepted.
  // RT: as try_submit, per task.
  template <class It>
  std::size_t try_submit_batch(It first, It last, const SubmitOptions& opts = {}, TaskId* ids = nullptr) noexcept {
    std::size_t n = 0;
    for (; first != last; ++first, ++n) {
      if (try_submit(*first, opts, ids != nullptr ? ids + n : nullptr) != SubmitStatus::Ok) break;
    }
    return n;
  }

  [[nodiscard]] bool valid() const noexcept { return engine_ != nullptr; }

  // Fire and forget, for work that needs no id: `fn` runs once on a worker serving `p`,
  // under the class rule (the highest class waiting first; within a class, tasks and
  // posts take turns). No task slot and no options: it cannot be queried, cancelled,
  // delayed or given a deadline, publishes no event, has no type and is not in the
  // latency histograms. It is counted (Stats::posted; in submitted, and completed, failed
  // or cancelled), an exception it throws is caught and counted, stop(Drain) runs it,
  // stop(Cancel) drops it (cancelled; not recorded as an UnrunTask) and a running one
  // sees stop_requested(). Its TaskContext: no id, an empty context, release() 0.
  // A worker streaming posts from a deep ring takes its share at once (up to 8): those
  // are in_flight() but no longer in Stats::queue_depth, and run on that worker.
  // Ok, QueueFull (post_capacity[p] places taken), Invalid (post_capacity[p] is 0) or
  // Stopped. What it saves over try_submit, per task: the slot, its state transitions and
  // history, three clock reads, the retire.
  // RT: lock-free; no allocation; a futex wake only if a serving worker sleeps.
  template <class F>
  [[nodiscard]] SubmitStatus try_post(F&& fn, Priority p = Priority::Normal) noexcept;

  // Posts fns in order until the ring refuses one; returns how many were accepted. Each
  // chunk of up to kPostChunk takes its places with one atomic add, enqueues in one step
  // and wakes a worker once: the way to submit many small tasks (P4).
  // RT: as try_post, per chunk; kPostChunk callables on the stack (2.5 KiB).
  static constexpr std::size_t kPostChunk = 32;
  template <class It>
  std::size_t try_post_batch(It first, It last, Priority p = Priority::Normal) noexcept;

 private:
  friend class Engine;
  Producer(Engine* e, std::size_t index) noexcept : engine_(e), index_(index) {}
  // The steps of a submission around `fill(slot's TaskFn&)`, which stores the callable.
  template <class Fill>
  SubmitStatus submit_with(Fill&& fill, const SubmitOptions& opts, TaskId* id) noexcept;
  Engine* engine_ = nullptr;
  std::size_t index_ = 0;
};

class Engine {
 public:
  // Setup only: validates `cfg` (throws std::invalid_argument naming the field), builds
  // the arena, slots and rings. No thread runs until start().
  explicit Engine(EngineConfig cfg);
  ~Engine();  // stop(Cancel) if still running
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Setup only: starts the workers (pinned, SCHED_FIFO when allowed), mlockall when
  // configured. Restartable after stop(). Throws if already running.
  void start();

  // Setup only: stops accepting, then runs (Drain) or cancels (Cancel) what is queued,
  // waits for running tasks, and stops the workers. Every task is accounted for.
  StopReport stop(StopMode mode);
  // F30: as stop(mode), and appends to `*unrun` (when not null) every task it cancels
  // before it ever ran to an end; rt/unrun.hpp says which. Setup only: allocates.
  StopReport stop(StopMode mode, std::vector<UnrunTask>* unrun);

  // Setup only: a submission handle; throws when max_producers are handed out.
  Producer make_producer();

  // Setup only: runs `n` workers (1..workers.size()), starting or stopping the last ones.
  // Throws when a priority class would be left with no worker serving it.
  void scale_workers(std::size_t n);

  // F7. RT: lock-free; no allocation, no syscall.
  CancelResult cancel(TaskId id) noexcept HAL_NONBLOCKING;

  // F6. A change publishes GateChanged (F19). RT: lock-free; no allocation, no syscall.
  void set_gate(std::size_t gate, bool open) noexcept HAL_NONBLOCKING;
  [[nodiscard]] bool gate_open(std::size_t gate) const noexcept;
  [[nodiscard]] GateMask open_gates() const noexcept { return gates_.load(std::memory_order_acquire); }
  // Setup only: the index of a gate name, or -1.
  [[nodiscard]] int gate_index(std::string_view name) const noexcept;
  [[nodiscard]] int type_index(std::string_view name) const noexcept;

  // F20. status: RT: lock-free, no allocation. The rest allocate: not for RT threads.
  [[nodiscard]] bool status(TaskId id, TaskInfo& out) const noexcept HAL_NONBLOCKING;
  [[nodiscard]] std::vector<TaskInfo> list(const ListQuery& q) const;
  // Accepted tasks without an outcome yet (scheduled, queued or running).
  // RT: wait-free; no allocation.
  [[nodiscard]] std::uint64_t in_flight() const noexcept HAL_NONBLOCKING;
  [[nodiscard]] Stats stats() const;
  // Frees finished tasks until at most `keep` (the most recent) remain; returns how many.
  // Setup only: one thread at a time, not while stop() runs (they share a ring token).
  std::size_t clear_completed(std::size_t keep);

  // F19: takes up to `max` events, oldest first. One consuming thread at a time.
  // RT: lock-free; no allocation, no syscall.
  std::size_t poll_events(Event* out, std::size_t max) noexcept HAL_NONBLOCKING;
  // The kinds published at all (default kDefaultEventInterest: not Submitted, Started,
  // Completed, which every task would produce; an EventBus asks for what its subscribers
  // want). Another kind is neither queued nor
  // counted as published or dropped: its publisher pays one relaxed load. A change
  // reaches publishers a moment late at worst. RT: wait-free; no allocation, no syscall.
  void set_event_interest(EventMask kinds) noexcept HAL_NONBLOCKING;
  [[nodiscard]] EventMask event_interest() const noexcept HAL_NONBLOCKING;
  // Stats::events_dropped without the rest of stats(). RT: wait-free; one load.
  [[nodiscard]] std::uint64_t events_dropped() const noexcept HAL_NONBLOCKING;

  // F9. Setup only: adds a periodic task (Stopped until start_periodic) and returns its
  // index. Throws std::invalid_argument naming the field, or std::length_error when
  // max_periodic are taken. The callable is f(TaskContext&) or f(), as for try_submit.
  template <class F>
  int add_periodic(const PeriodicSpec& spec, F&& fn) {
    const int id = prepare_periodic(spec);
    detail::emplace_task_fn(periodic_fn(id), std::forward<F>(fn));
    commit_periodic(id);
    return id;
  }
  // F9: control at runtime. start: the first release is now + phase, then every period
  // on that grid; stop: no more releases (start again begins a new grid); pause: releases
  // are not due while paused; resume: back on the original grid at the next point.
  // Return false for an unknown index. RT: wait-free; a futex wake if the worker sleeps.
  bool start_periodic(int id) noexcept;
  bool stop_periodic(int id) noexcept;
  bool pause_periodic(int id) noexcept;
  bool resume_periodic(int id) noexcept;
  // Not for RT threads: allocates.
  [[nodiscard]] PeriodicStats periodic_stats(int id) const;
  [[nodiscard]] HistogramSnapshot periodic_jitter(int id) const;
  [[nodiscard]] std::size_t periodic_count() const noexcept;
  [[nodiscard]] int periodic_index(std::string_view name) const noexcept;

  // F18. Setup only, before start(): validates and compiles `g` against `handlers`
  // (throws GraphError naming the problem), copies the handlers it uses and builds its run
  // state; returns its index. Its WorkflowId (events, queries) is index + 1.
  int add_graph(const GraphSpec& g, const HandlerRegistry& handlers);
  // Starts a run of graph `graph` (Started), or says why not. `ctx` is what every node
  // sees as TaskContext::context(). RT: lock-free; no allocation, no syscall but the
  // futex wake and eventfd write of try_submit.
  GraphRunStatus try_run_graph(Producer& p, int graph, const Context* ctx = nullptr) noexcept;
  // F18 + F9: a periodic task (as add_periodic, `spec`'s callable is the graph) that
  // starts a run of `graph` at each release, on the absolute grid; a release that finds
  // the previous run still going counts as `busy` in the graph's stats. Setup only.
  // One other worker serving the graph's class (the first pinned to a CPU other than the
  // releasing worker's with an idle spin that leaves a sleep between two windows; none
  // when that one is unpinned) wakes for each release by its own timer (and is woken by
  // a release that finds it asleep) and spins until the run's start comes or max(idle_spin, period / 8) after
  // the release: the run then starts as on a hot worker, not after a futex wake-up
  // behind the release's own timer. Its lead: the p99 of how late its own pre-wakes
  // returned + idle_spin, at most min(period / 4, 1 ms) or idle_spin (that until 64
  // pre-wakes): about (lead + the timers' jitter) / period of that worker's CPU (~9 % at
  // 1 kHz on a loaded VM). idle_spin here is that worker's own (WorkerConfig::idle_spin,
  // else the engine's); 0 on every candidate turns it off. WorkerStats::prewakes,
  // feeds_met and feed_lead say how it went.
  int add_periodic_graph(const PeriodicSpec& spec, int graph);
  [[nodiscard]] int graph_index(std::string_view name) const noexcept;
  [[nodiscard]] std::size_t graph_count() const noexcept;
  // Setup only (the spec and its compiled order and levels).
  [[nodiscard]] const GraphSpec& graph_spec(int graph) const;
  [[nodiscard]] const Topology& graph_topology(int graph) const;
  // Not for RT threads: allocates.
  [[nodiscard]] GraphStats graph_stats(int graph) const;

  // F16. Setup only, before start(): validates `s` against `handlers` (throws SagaError
  // naming the problem) and copies the handlers it uses; returns its index.
  int add_saga(const SagaSpec& s, const HandlerRegistry& handlers);
  // Starts a run of saga `saga`: one task (the saga's priority and deadline, type 0) whose
  // worker runs the steps in order and, after a failure, the compensations in reverse
  // (rt/saga.hpp). Busy while the previous run has not ended; QueueFull when the task
  // was refused for want of a ring place or a slot (or by type 0's breaker).
  // RT: lock-free; no allocation; the syscalls of try_submit.
  GraphRunStatus try_run_saga(Producer& p, int saga, const Context* ctx = nullptr, TaskId* id = nullptr) noexcept;
  [[nodiscard]] int saga_index(std::string_view name) const noexcept;
  [[nodiscard]] std::size_t saga_count() const noexcept;
  // Not for RT threads: allocates.
  [[nodiscard]] SagaStats saga_stats(int saga) const;

  // F14: the dead-letter queue. Not for RT threads: list and stats allocate or scan.
  [[nodiscard]] std::vector<DeadLetter> dead_letters(std::size_t limit = 100, std::size_t offset = 0) const;
  // Takes record `seq` out and submits it again through `p`, with its options and fresh
  // attempts (a new id). Refused, the record goes back (under a new seq) and the status
  // says why; NotFound-like: Invalid when no record has this seq. Not for RT threads.
  SubmitStatus redrive(Producer& p, std::uint64_t seq, TaskId* id = nullptr);
  std::size_t purge_dead_letters();
  [[nodiscard]] DeadLetterStats dead_letter_stats() const;
  // F15: the breaker guarding task type `type`; false when it has none. RT: wait-free.
  [[nodiscard]] bool breaker_stats(TypeId type, BreakerStats& out) const noexcept;

  // F10: the engine's distributions, merged over workers. Not for RT threads: allocates.
  [[nodiscard]] HistogramSnapshot dispatch_latency() const;
  [[nodiscard]] HistogramSnapshot execution_time() const;
  [[nodiscard]] HistogramSnapshot detection_latency() const;
  [[nodiscard]] hal::TimerBackend monitor_backend() const noexcept;
  // For a watchdog (rtengine run petting systemd): whether the engine runs, its STALLED
  // workers, and the monitor's last beat. With MonitorConfig::beat set the monitor goes
  // round its loop at least that often, deadlines or none, so a beat older than a few of
  // those means it is stuck (or starved). RT: wait-free; loads only.
  [[nodiscard]] Health health() const noexcept HAL_NONBLOCKING;
  static constexpr ns_t kMonitorBeat = 100 * hal::kNsPerMs;

  [[nodiscard]] bool running() const noexcept { return accepting_.load(std::memory_order_acquire); }
  [[nodiscard]] const EngineConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] std::size_t active_workers() const noexcept;
  [[nodiscard]] const Arena& arena() const noexcept;

 private:
  friend class Producer;
  struct Impl;

  // The untemplated parts of try_submit. acquire: checks the options, takes the ring
  // place (for a task ready now) and a slot from the producer's cache; refused, it says
  // why and takes nothing. RT: lock-free; no allocation, no syscall.
  detail::Claim acquire(std::size_t producer, const SubmitOptions& opts) noexcept HAL_NONBLOCKING;
  // try_post's untemplated part: enqueues up to `n` items of class `p` in one step and
  // wakes a worker; returns how many, `status` saying why not all.
  // RT: lock-free; no allocation; a futex wake if a serving worker sleeps.
  std::size_t post(std::size_t producer, Priority p, const detail::PostItem* items, std::size_t n,
                   SubmitStatus& status) noexcept;
  // Fills the slot, makes it READY (enqueued) or SCHEDULED (to the monitor); refused, the
  // slot goes back. `notify`: a time the monitor must know of (a delayed start, a
  // deadline), else 0. RT: lock-free; no allocation, no syscall.
  SubmitStatus publish(std::size_t producer, detail::Claim& c, const SubmitOptions& opts,
                       ns_t& notify) noexcept HAL_NONBLOCKING;
  // Wakes a sleeping worker that serves `p` (a task ready now), and tells the monitor
  // about `notify` when it is armed for later. RT: lock-free; a futex wake and an eventfd
  // write at most.
  void wake(Priority p, const detail::Claim& c, ns_t notify) noexcept;
  int prepare_periodic(const PeriodicSpec& spec);
  TaskFn& periodic_fn(int id) noexcept;
  void commit_periodic(int id);
  bool command_periodic(int id, PeriodicState want) noexcept;

  EngineConfig cfg_;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> accepting_{false};
  // membarrier is usable: a submission enters with a compiler barrier only, and stop()
  // makes every thread pass a full barrier instead (hal/fence.hpp).
  bool asymmetric_entry_ = false;
  std::atomic<GateMask> gates_{~GateMask{0}};
};

template <class F>
SubmitStatus Producer::try_submit(F&& fn, const SubmitOptions& opts, TaskId* id) noexcept {
  // A byte copy (InlineFn).
  return submit_with([&fn](TaskFn& slot) { detail::emplace_task_fn(slot, std::forward<F>(fn)); }, opts, id);
}

template <class F>
SubmitStatus Producer::try_post(F&& fn, Priority p) noexcept {
  if (engine_ == nullptr) return SubmitStatus::Invalid;
  // Left unset: emplace writes all that is read (the callable's bytes and the invoker).
  detail::PostItem item;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  item.emplace(std::forward<F>(fn));
  SubmitStatus status = SubmitStatus::Ok;
  (void)engine_->post(index_, p, &item, 1, status);
  return status;
}

template <class It>
std::size_t Producer::try_post_batch(It first, It last, Priority p) noexcept {
  if (engine_ == nullptr) return 0;
  std::size_t total = 0;
  while (first != last) {
    // Left unset: emplace writes all that is read, and only the n filled go on.
    detail::PostItem items[kPostChunk];  // NOLINT(cppcoreguidelines-pro-type-member-init)
    std::size_t n = 0;
    for (; n < kPostChunk && first != last; ++first, ++n)
      items[n].emplace(*first);
    SubmitStatus status = SubmitStatus::Ok;
    const std::size_t got = engine_->post(index_, p, items, n, status);
    total += got;
    if (got < n) break;
  }
  return total;
}

template <class Fill>
SubmitStatus Producer::submit_with(Fill&& fill, const SubmitOptions& opts, TaskId* id) noexcept {
  if (engine_ == nullptr) return SubmitStatus::Invalid;
  detail::Claim c = engine_->acquire(index_, opts);
  if (c.slot == nullptr) return c.status;
  fill(c.slot->fn);
  ns_t notify = 0;
  const SubmitStatus status = engine_->publish(index_, c, opts, notify);
  if (status != SubmitStatus::Ok) return status;
  if (id != nullptr) *id = c.id;
  engine_->wake(opts.priority, c, notify);
  return status;
}

}  // namespace rt
