#pragma once
// The engine's insides, shared by its sources: engine.cpp (setup, start, stop), slots.cpp
// (the state machine on task slots), submit.cpp (the producer's side), queries.cpp,
// periodic_control.cpp, run_task.cpp and run_periodic.cpp (a worker's runs),
// worker_loop.cpp (its loop and idle handshake) and monitor.cpp (deadlines, stalls,
// delayed starts). Everything here lives in the arena or is built at setup.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "counters.hpp"
#include "free_list.hpp"
#include "graph_runtime.hpp"
#include "hal/annotations.hpp"
#include "hal/cpu.hpp"
#include "hal/fence.hpp"
#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "ring.hpp"
#include "rt/engine.hpp"
#include "rt/histogram.hpp"
#include "worker_state.hpp"

namespace rt {

namespace detail {
// The arena an EngineConfig needs when its arena_bytes is 0 (engine_config.cpp): generous
// on purpose. Setup only.
[[nodiscard]] std::size_t estimate_arena(const EngineConfig& c);
}  // namespace detail

// Padded on purpose: the lines other threads write on the run path stand alone.
struct Engine::Impl {  // NOLINT(clang-analyzer-optin.performance.Padding)
  Impl(Engine& e, const EngineConfig& c);

  enum class Tx : std::uint8_t { Ok, Stale, Refused, Moved };
  using Outcomes = detail::Outcomes;

  // ---- task slots and the state machine (slots.cpp) ----
  // `out` is the calling thread's own counter block (a worker's, the monitor's) or the
  // shared one (any other thread). `at` is the caller's clock reading.
  // RT: lock-free; no allocation, no syscall.
  Tx transition(detail::TaskSlot& s, std::uint32_t gen, State to, ns_t at) noexcept HAL_NONBLOCKING;
  // As transition, but only from `from`: Moved when another thread moved it first.
  // RT: lock-free; no allocation, no syscall.
  Tx transition_from(detail::TaskSlot& s, std::uint32_t gen, State from, State to, ns_t at) noexcept HAL_NONBLOCKING;
  // RT: lock-free; no allocation, no syscall.
  Tx transition_impl(detail::TaskSlot& s, std::uint32_t gen, const State* from, State to,
                     ns_t at) noexcept HAL_NONBLOCKING;
  // The owner's transitions of a slot nobody else can reach yet (FREE -> PENDING, and
  // PENDING -> SCHEDULED/READY: no one else knows its generation). A store, no CAS.
  // RT: wait-free; no allocation, no syscall.
  void owner_transition(detail::TaskSlot& s, std::uint64_t word, State to, ns_t at) noexcept HAL_NONBLOCKING;
  // Ends a task with `to`, counting the outcome once. RT: lock-free; no allocation, no syscall.
  bool finish(Outcomes& out, detail::TaskSlot& s, std::uint32_t gen, State to, Reason why,
              ns_t at) noexcept HAL_NONBLOCKING;
  // As finish, but only from `from` (Moved when another thread moved it first).
  // RT: lock-free; no allocation, no syscall.
  Tx finish_from(Outcomes& out, detail::TaskSlot& s, std::uint32_t gen, State from, State to, Reason why,
                 ns_t at) noexcept HAL_NONBLOCKING;
  // RT: wait-free (owned block) or lock-free (shared); no allocation, no syscall.
  void count_outcome(Outcomes& out, detail::TaskSlot& s, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING;
  // After the bound state was restored (by the caller: the user's restore function runs
  // outside the checked path): FAILED/TIMEOUT -> ROLLED_BACK, counted, published with
  // `ran`, the attempt's execution time. RT: lock-free; no allocation, no syscall.
  void note_rollback(Outcomes& out, detail::TaskSlot& s, std::uint32_t gen, Reason why, std::size_t token, ns_t at,
                     ns_t ran) noexcept HAL_NONBLOCKING;
  // RUNNING -> TIMEOUT, counted once by whichever of the monitor and the worker gets
  // there first. RT: lock-free; no allocation, no syscall.
  bool mark_timeout(Outcomes& out, detail::TaskSlot& s, std::uint32_t gen, ns_t at) noexcept HAL_NONBLOCKING;
  // The slot goes back to the free list with a new generation. RT: lock-free; no syscall.
  void release(std::uint32_t idx) noexcept HAL_NONBLOCKING;
  // Keeps the task queryable among the most recent `retain_completed`. RT: lock-free; no syscall.
  void retire(std::size_t token, std::uint32_t idx) noexcept HAL_NONBLOCKING;
  // RT: lock-free (moodycamel's try_enqueue); no allocation, no syscall; a full ring drops
  // the event and counts it. A kind outside event_interest returns after one load.
  void publish_event(std::size_t token, const Event& ev) noexcept HAL_NONBLOCKING;

  // ---- the producer's side (submit.cpp) ----
  // RT: lock-free; loads only, and one futex wake when a worker serving `k` sleeps.
  void wake_one(std::size_t k) noexcept;
  // RT: wait-free; one futex wake when it sleeps.
  void wake_worker(detail::Worker& w) noexcept;
  // Tells the monitor about a time earlier than it is armed for. RT: one eventfd write
  // when needed, none otherwise.
  void poke_monitor(ns_t t) noexcept;
  // The monitor drains its ring only when it wakes: a ring half full (by the depth a push
  // saw) is worth waking it for now. RT: wait-free.
  [[nodiscard]] bool monitor_ring_filling(std::int64_t seen) const noexcept HAL_NONBLOCKING {
    return 2 * seen >= static_cast<std::int64_t>(scheduled_in.capacity());
  }
  // For a sleeper (a worker, the monitor) that saw a ring place reserved but no item: a
  // producer looks at the sleeper's flag after its enqueue, yet that load may pass the
  // enqueue's own stores. membarrier makes every thread pass a full barrier; true when
  // done: the item is now visible, or its producer's look comes later and sees the flag,
  // so the caller looks once more. False where membarrier is missing: the caller sleeps
  // no longer than kRecheck instead. Never a spin: that could starve a preempted producer.
  // RT: one syscall (membarrier), on the way to sleep only.
  [[nodiscard]] bool settle_invisible_item() const noexcept {
    return engine.asymmetric_entry_ && hal::heavy_fence().ok();
  }
  static constexpr ns_t kRecheck = 50 * hal::kNsPerUs;

  // ---- a worker's one-shot runs (run_task.cpp) ----
  // One dequeued task: the checked begin/end around the unchecked user code.
  // RT: no allocation; no syscall by the engine, but one eventfd write when the task's
  // announce_at_start is set and the monitor is armed later than its deadline (its ring was
  // full at submission, or it dropped the deadline as the task was being started).
  void execute(detail::Worker& w, std::uint32_t idx) noexcept;
  struct Begin {
    bool run = false;
    std::uint32_t gen = 0;
    ns_t start = 0;
    ns_t deadline = 0;
    ns_t ready = 0;
    Reason violation = Reason::None;  // why it was not started, if it ended at once
  };
  // Keeps what an exception said for a dead-letter record. RT: wait-free; a bounded copy.
  static void note_error(detail::Worker& w, const char* what) noexcept HAL_NONBLOCKING;
  // RT: lock-free; no allocation, no syscall.
  // `now`: the start, read by the caller.
  Begin begin_task(detail::Worker& w, std::uint32_t idx, ns_t now) noexcept HAL_NONBLOCKING;
  // Classifies the finished run; returns the violation to roll back (or None).
  // RT: lock-free; no allocation, no syscall.
  Reason end_task(detail::Worker& w, std::uint32_t idx, const Begin& b, bool threw, ns_t& end) noexcept HAL_NONBLOCKING;
  // After the run and any rollback: the worker is free again, the slot retired (or, for a
  // failed attempt with a retry left, RETRYING: returns the time the monitor must be told
  // of, else 0). RT: lock-free; no allocation, no syscall.
  ns_t after_task(detail::Worker& w, std::uint32_t idx, const Begin& b) noexcept HAL_NONBLOCKING;
  // Watch bookkeeping around a run with a deadline (`start`: when the run began, for the
  // monitor's look ahead); end returns true when the monitor classified the run as missed
  // first. RT: wait-free (stores; one exchange); no allocation, no syscall.
  void watch_begin(detail::Worker& w, detail::Subjected kind, std::uint64_t subject, ns_t deadline,
                   ns_t start) noexcept HAL_NONBLOCKING;
  bool watch_end(detail::Worker& w) noexcept HAL_NONBLOCKING;

  // ---- retries and dead letters (resilience.cpp) ----
  // F13/F14: an attempt of a task with a retry policy ended FAILED, TIMEOUT or ROLLED_BACK
  // (its outcome was not counted: count_outcome saw a retry left). Moves it to RETRYING and
  // hands the monitor its re-release time; exhausted (or unschedulable), DEAD_LETTERED.
  // Returns true when the task lives on: the caller must neither reset nor retire it, and
  // tells the monitor about `notify` (the re-release time). RT: lock-free; no allocation,
  // no syscall.
  bool retry_or_dead_letter(detail::Worker& w, std::uint32_t idx, std::uint32_t gen, State from, ns_t now,
                            ns_t& notify) noexcept HAL_NONBLOCKING;
  // F14: the exhausted task's record, then DEAD_LETTERED from `from`; false (and no
  // record) when a cancel() ended it first. RT: lock-free; no allocation, no syscall.
  bool dead_letter(detail::Worker& w, detail::TaskSlot& s, TaskId id, State from, Reason why,
                   ns_t now) noexcept HAL_NONBLOCKING;
  // The record, with what a re-drive needs (its callable, its options); its seq (0 when
  // the queue dropped it). RT: lock-free; no allocation, no syscall.
  std::uint64_t push_dead_letter(detail::Worker& w, detail::TaskSlot& s, TaskId id, State last, Reason why,
                                 ns_t now) noexcept HAL_NONBLOCKING;
  // F15: an attempt's result for its type's breaker (if any); a change is published.
  // RT: lock-free; no allocation, no syscall.
  void feed_breaker(std::size_t token, const detail::TaskSlot& s, TaskId id, State st, Reason why,
                    ns_t now) noexcept HAL_NONBLOCKING;
  // Publishes what a breaker call changed. RT: lock-free; no allocation, no syscall.
  void breaker_changed(std::size_t token, BreakerChange c, TypeId type, std::uint64_t id,
                       ns_t now) noexcept HAL_NONBLOCKING;
  // A retried attempt the outcome count skipped: true when `s` has a retry left.
  // RT: wait-free; loads only.
  [[nodiscard]] static bool retry_left(const detail::TaskSlot& s) noexcept HAL_NONBLOCKING {
    return s.retries.load(std::memory_order_relaxed) &&
           s.retries_used.load(std::memory_order_relaxed) < s.retry.max_retries;
  }
  // The monitor re-releases a RETRYING task: a fresh attempt's fields, then READY.
  // RT: wait-free; stores only.
  static void reset_attempt(detail::TaskSlot& s, ns_t now) noexcept HAL_NONBLOCKING;

  // What a ring item is: a task slot's index, or a graph node's reference (F18); or,
  // from pop_any, kPostItem: the post it left in the worker.
  // RT: as execute, run_graph_item and run_post.
  static constexpr std::uint32_t kPostItem = 0x7FFFFFFFU;  // beyond max_tasks, not a node reference
  void run_item(detail::Worker& w, std::uint32_t item) noexcept {
    if (item == kPostItem) {
      run_post(w);
      return;
    }
    end_posts(w);
    if (detail::is_node_ref(item)) {
      run_graph_item(w, item);
    } else {
      execute(w, item);
    }
  }

  // ---- posts (post.cpp) ----
  // Runs (or, during stop(Cancel), drops) the post pop_any left in `w`, counting it.
  // RT: no allocation by the engine; what the callable does.
  void run_post(detail::Worker& w) noexcept;
  // Ends the run of posts in progress, if any: its time counts as busy.
  // RT: wait-free; one clock read when a run ends.
  static void end_posts(detail::Worker& w) noexcept HAL_NONBLOCKING;
  // Items (tasks and posts) waiting in class k. RT: wait-free; loads only.
  [[nodiscard]] std::int64_t class_depth(std::size_t k) const noexcept HAL_NONBLOCKING {
    return rings[k]->depth() + (posts[k] != nullptr ? posts[k]->depth() : 0);
  }

  // ---- graph runs (graph_run.cpp) ----
  // Claims the graph's run and queues its start item with `ring_token`; the deadline entry
  // (if any) goes to the monitor with `sched_token`, and `notify` says when to tell it.
  // RT: lock-free; no allocation, no syscall.
  GraphRunStatus start_graph(detail::GraphRun& g, std::size_t ring_token, std::size_t sched_token, const Context* ctx,
                             ns_t& notify) noexcept HAL_NONBLOCKING;
  // A node reference or a run's start item taken from a ring: runs it, then every node it
  // makes ready itself (the first dependent; the ring's refusals), until none is left.
  // RT: no allocation by the engine; a futex wake when it queues nodes for a sleeping
  // worker, an eventfd write when a node's own deadline is earlier than the monitor's.
  void run_graph_item(detail::Worker& w, std::uint32_t ref) noexcept;
  // Returns the root this worker runs first. RT: lock-free; no allocation; a futex wake
  // when it queues roots for a sleeping worker.
  std::uint32_t start_roots(detail::Worker& w, detail::GraphRun& g) noexcept;
  // One node: skipped (a failed dependency, a late run, a cancelling stop) or run, with
  // its rollback. RT: as run_graph_item.
  // `clock`: hal::ticks() when it is taken; set to its end. RT: as run_graph_item.
  NodeState run_node(detail::Worker& w, detail::GraphRun& g, std::uint32_t idx, std::uint64_t& clock) noexcept;
  // Counts the node's end, makes its dependents ready; returns the one to run next (or
  // none), and ends the run after its last node. RT: lock-free; no allocation; a futex
  // wake when it queues dependents for a sleeping worker.
  // `quiet`: the caller's view of the rings above the graph's class (QuietRings).
  std::uint32_t end_node(detail::Worker& w, detail::GraphRun& g, std::uint32_t idx, NodeState how,
                         detail::QuietRings& quiet) noexcept;
  // RT: lock-free; no allocation, no syscall.
  void finish_graph_run(detail::Worker& w, detail::GraphRun& g) noexcept HAL_NONBLOCKING;
  // The monitor, at a run's whole-graph deadline. RT: wait-free per node; no allocation.
  void graph_deadline(const detail::Scheduled& e, ns_t now) noexcept HAL_NONBLOCKING;
  // Whether a ring of a class above k that w serves has work. RT: wait-free; loads only.
  [[nodiscard]] bool higher_work(const detail::Worker& w, std::size_t k,
                                 detail::QuietRings& quiet) const noexcept HAL_NONBLOCKING;
  // stop(Cancel): running nodes are asked to stop (TaskContext::stop_requested).
  void stop_graph_nodes() noexcept;
  // stop(), once the workers are joined: items nobody will take are dropped and a run
  // left unfinished is ended (counted abandoned).
  void abandon_graph_runs();
  // A periodic graph's release (Engine::add_periodic_graph): starts a run from the
  // periodic task's worker; wakes `feeder` (the worker that waits for its releases, its
  // entry `feed`) when it sleeps. RT: as try_run_graph, and a second futex wake at most.
  static void periodic_graph_release(void* impl, std::uint32_t graph, int worker, detail::Worker* feeder,
                                     const detail::Worker::Feeder* feed) noexcept;

  // ---- a worker's periodic releases (run_periodic.cpp) ----
  // Commands, the earliest due release, one release.
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
  // RT: lock-free; no allocation, no syscall.
  Release release_begin(detail::Worker& w, detail::PeriodicTask& p) noexcept HAL_NONBLOCKING;
  // Classifies the finished run (overrun policy included); returns the violation.
  // RT: lock-free; no allocation, no syscall.
  Reason release_end(detail::Worker& w, detail::PeriodicTask& p, Release& r, bool threw) noexcept HAL_NONBLOCKING;
  // After the rollback (if any): counts it, moves the grid on, announces the next deadline.
  // RT: lock-free; no allocation, no syscall.
  void release_finish(detail::Worker& w, detail::PeriodicTask& p, const Release& r, Reason violation,
                      bool rolled) noexcept HAL_NONBLOCKING;
  // RT: wait-free; one seq_cst store.
  void publish_hint(detail::Worker& w) noexcept HAL_NONBLOCKING;

  // ---- the worker loop (worker_loop.cpp) ----
  // RT: no allocation; the only syscall is the futex wait on the way to sleep (and, for a
  // periodic task's first release, one eventfd write: run_release).
  void worker_loop(detail::Worker& w) noexcept;
  // RT: lock-free; no allocation, no syscall. Classes below `below` only.
  bool pop_any(detail::Worker& w, std::uint32_t& idx, std::size_t below) noexcept HAL_NONBLOCKING;
  // One ring of class k (its posts, or its tasks). RT: lock-free; no allocation, no
  // syscall; at most kAwaitVisible pauses for an item counted but not yet visible.
  bool pop_from(detail::Worker& w, std::size_t k, bool post, std::uint32_t& idx) noexcept HAL_NONBLOCKING;
  static constexpr int kAwaitVisible = 64;  // pauses: ~2-4 us on x86 (a pause is 40-140 cycles)
  // RT: wait-free; loads only.
  bool has_work(const detail::Worker& w) const noexcept HAL_NONBLOCKING;

  // ---- monitor (monitor.cpp) ----
  // The monitor thread. RT: no allocation (the heap is reserved at setup); blocks only
  // in the timer's wait; syscalls besides it: the timer's arming, and a membarrier when
  // its ring holds an entry not yet visible (settle_invisible_item); writes to stderr
  // only for a stall (and a timer it cannot arm, reported once: those two failure paths
  // may allocate and block).
  void monitor_loop() noexcept;
  // RT: lock-free; no allocation, no syscall, but for the stall failure path above.
  ns_t scan_watches(ns_t now) noexcept;
  // RT: lock-free; no allocation; a futex wake when a worker sleeps.
  void release_scheduled(const detail::Scheduled& e, ns_t now) noexcept;
  // RT: no allocation; O(heap) when the heap is full: drops deadlines of finished tasks.
  void push_heap_entry(const detail::Scheduled& e) noexcept;
  // A waiting task's cancellation, as published when its entry comes due. RT: wait-free.
  static Event cancelled_event(const detail::TaskSlot& s, TaskId id, ns_t now) noexcept;
  // An event about one-shot task `id` in slot `s`. RT: wait-free; no allocation, no syscall.
  static Event task_event(EventKind kind, Reason why, const detail::TaskSlot& s, TaskId id, int worker, ns_t at,
                          ns_t value = 0) noexcept HAL_NONBLOCKING;
  // A deadline entry whose task has ended (or whose slot was reused). RT: wait-free; one load.
  [[nodiscard]] bool stale_deadline(const detail::Scheduled& h) const noexcept;
  void start_monitor();
  void stop_monitor();
  // `starts`, when not null, receives every delayed start and retry it drops (F30: the
  // times the unrun tasks were waiting for).
  // After the workers stopped: cancels what still waits for a start or a retry. With
  // `unrun`, also records a task that went RETRYING during the drain (after stop()'s scan).
  void drain_scheduled_after_stop(std::vector<detail::Scheduled>* starts = nullptr,
                                  std::vector<UnrunTask>* unrun = nullptr, ns_t stopped_at = 0);

  // ---- F30 (unrun.cpp): what stop() records of a task it cancels before any end ----
  // Fills `out` from slot `s`, seen in word `w` (READY, SCHEDULED or RETRYING), and says
  // whether it is recorded at all (not a saga run or a workflow's task). The slot's
  // fields are the submitter's or a finished attempt's, stable while it waits.
  bool unrun_of(const detail::TaskSlot& s, std::uint64_t w, ns_t now, UnrunTask& out) const noexcept;
  // The exact start (or retry) times, from the monitor's entries, for unrun[first..].
  static void time_unrun_starts(std::vector<UnrunTask>& unrun, std::size_t first,
                                const std::vector<detail::Scheduled>& starts, ns_t now);

  // ---- setup (engine.cpp) ----
  void start_worker(detail::Worker& w);
  void stop_worker(detail::Worker& w);
  // Holds the PM QoS request when configured and a started worker is SCHED_FIFO;
  // a refusal is reported once and the engine runs on without it.
  void hold_pm_qos();
  [[nodiscard]] bool quiet() const noexcept;
  // Every counter block added up (queries).
  void sum_outcomes(Outcomes& into) const noexcept;
  // RT: wait-free; one load per producer.
  [[nodiscard]] std::uint64_t submitted() const noexcept HAL_NONBLOCKING;

  // Token indices: rings take one producer token per submitting handle and one for the
  // monitor; the retired and event rings one per worker, one for the monitor, one for
  // the setup thread.
  [[nodiscard]] std::size_t monitor_token() const noexcept { return workers.size(); }
  [[nodiscard]] std::size_t setup_token() const noexcept { return workers.size() + 1; }
  // The event ring also takes one token per producer handle (a breaker that half-opens
  // on a submission is published by the submitter).
  [[nodiscard]] std::size_t producer_event_token(std::size_t producer) const noexcept {
    return workers.size() + 2 + producer;
  }
  // ...and the last one for set_gate (any thread: held by try-lock, gate_token_busy).
  [[nodiscard]] std::size_t gate_event_token() const noexcept { return workers.size() + 2 + engine.cfg_.max_producers; }
  // The class rings: one token per submitting handle, the monitor's, then one per worker
  // (graph nodes it makes ready).
  [[nodiscard]] std::size_t ring_token(const detail::Worker& w) const noexcept {
    return engine.cfg_.max_producers + 1 + static_cast<std::size_t>(w.index);
  }
  // scheduled_in: one producer token per submitting handle, then one per worker (retries).
  [[nodiscard]] std::size_t retry_token(const detail::Worker& w) const noexcept {
    return engine.cfg_.max_producers + static_cast<std::size_t>(w.index);
  }

  // Shared counters (one line each); `armed_for` (the monitor, read by producers that
  // submit a task with a deadline) on a line of its own.
  detail::Counters counters;
  alignas(hal::kCacheLine) std::atomic<ns_t> armed_for{kNever};
  char pad_armed_for_[hal::kCacheLine - sizeof(std::atomic<ns_t>)]{};
  Outcomes shared_out{true};               // cancel(), stop(): any thread
  Outcomes monitor_out;                    // the monitor's (and stop()'s once the monitor is joined)
  detail::Counter retries, dead_lettered;  // F13, F14: rare paths, shared lines
  // F15: by TypeId, nullptr for a type with no breaker; built at setup.
  std::vector<std::unique_ptr<CircuitBreaker>> breakers;
  bool any_breaker = false;  // an engine without breakers never reads a task's type for them
  std::atomic<bool> gate_token_busy{false};

  // Every publish_event reads it; set_event_interest writes it rarely. It starts a line of
  // its own, shared only with the fields below that setup writes and the run path reads
  // (the free list's head, written by everyone, is aligned onto the next line).
  alignas(hal::kCacheLine) std::atomic<EventMask> event_interest{kDefaultEventInterest};
  Engine& engine;
  Arena arena;
  detail::TaskSlot* slots;
  detail::FreeList free_list;
  detail::ProducerState* producers;  // max_producers of them, from the arena
  detail::Ring retired;
  std::array<std::unique_ptr<detail::Ring>, kClassCount> rings;
  // Producer::try_post's rings: nullptr for a class with post_capacity 0.
  std::array<std::unique_ptr<detail::BasicRing<detail::PostItem>>, kClassCount> posts;
  // What a running post's TaskContext::stop_requested() reads: 1 during stop(Cancel).
  std::atomic<std::uint64_t> post_stop{0};
  // Producers -> the monitor: delayed starts to release and deadlines to watch for.
  detail::BasicRing<detail::Scheduled> scheduled_in;
  detail::BasicRing<Event> events;
  DeadLetterQueue dead_letters;  // F14
  std::vector<std::unique_ptr<detail::Worker>> workers;
  std::array<std::vector<detail::Worker*>, kClassCount> serving;
  std::vector<std::unique_ptr<detail::PeriodicTask>> periodic;
  std::vector<std::unique_ptr<detail::GraphRun>> graphs;  // added before start(), never while running
  std::atomic<bool> cancelling{false};                    // stop(Cancel): queued graph nodes are skipped
  // F16: added before start(). The task of a saga's current run (its TaskId value; 0
  // kClaiming while a claim is being submitted; 0 free), so a claim whose task ended
  // without running (cancelled while queued) is found and taken over.
  std::vector<std::unique_ptr<SagaRun>> sagas;
  std::unique_ptr<std::atomic<std::uint64_t>[]> saga_task;
  std::unique_ptr<detail::Counter[]> saga_busy;
  static constexpr std::uint64_t kClaiming = ~std::uint64_t{0};  // no TaskId value (generation 2^32-1, index 2^32-1)
  // The body of a saga's task. RT: as SagaRun::run; a published event.
  static void run_saga(void* impl, std::uint32_t saga, TaskContext& ctx) noexcept;
  std::vector<detail::Counter> rollbacks_by_type;
  // Per TypeId: Reason::Exception, GateViolation, DeadlineMissed (Stats::failures_by_type).
  // Shared lines: failures are the rare path, and any worker or the monitor counts them.
  std::vector<std::array<detail::Counter, 3>> failures_by_type;
  std::size_t active = 0;
  std::size_t producers_handed = 0;
  ns_t epoch = hal::now_ns();
  ns_t started_at = 0;
  hal::DmaLatencyRequest pm_qos;  // held from start() to stop() (PmQosConfig)

  // The monitor.
  hal::TimerChoice timer;
  hal::Thread monitor_thread;
  std::atomic<bool> monitor_stop{false};
  std::atomic<ns_t> monitor_beat{0};    // the monitor's last time round its loop (Engine::health)
  std::vector<detail::Scheduled> heap;  // reserved at setup (2 per slot): never grows
  Histogram detection;                  // single writer: the monitor
};

}  // namespace rt
