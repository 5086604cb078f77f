#pragma once
// F20: what the engine's queries and stop() report (Engine::stats, Engine::stop).
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "rt/histogram.hpp"
#include "rt/types.hpp"

namespace rt {

enum class WorkerState : std::uint8_t { Idle, Busy, Stalled, Stopped };
[[nodiscard]] std::string_view to_string(WorkerState s) noexcept;

struct WorkerStats {
  int index = 0;
  WorkerState state = WorkerState::Stopped;
  hal::ThreadApplied applied;  // what the OS really gave the thread
  std::uint64_t tasks_done = 0;
  ns_t busy_ns = 0;
  ns_t uptime_ns = 0;
  double utilization = 0;  // busy / uptime
  long minor_faults = -1;  // of the worker thread: read from /proc at query time, sampled by it at exit
  // For periodic graphs another worker releases (add_periodic_graph): the sleeps it ended
  // by its own timer ahead of a release, and the releases whose start it took while it
  // waited for it awake (met; a futex wake-up would have come after the release).
  std::uint64_t prewakes = 0, feeds_met = 0;
  // Times it went to sleep on its futex: idle_spin (its own or the engine's) decides how
  // often; a worker kept hot between tasks shows none.
  std::uint64_t sleeps = 0;
  // The lead it asked its timer for at its last pre-wake: the p99 of its pre-wakes'
  // lateness plus its idle spin, the most it spins per period for a release (with several
  // such graphs, the last one's); 0 before its first pre-wake.
  ns_t feed_lead = 0;
};

// Attempts of one-shot tasks of one type that ended badly, by why: each attempt, retried or
// not (a task retried twice that then succeeds counts two). The same events as the totals
// Stats::exceptions, gate_violations and deadline_misses, split by type.
struct TypeFailures {
  std::uint64_t exceptions = 0, gate_violations = 0, deadline_misses = 0;
};

struct Stats {
  std::uint64_t submitted = 0;  // accepted by try_submit and try_post
  std::uint64_t posted = 0;     // of those, by try_post (no slot: not in retained, the histograms or events)
  std::uint64_t completed = 0, failed = 0, timed_out = 0, cancelled = 0, skipped = 0;  // outcomes
  std::uint64_t gate_violations = 0, exceptions = 0;
  std::uint64_t rolled_back = 0;                 // F11: one-shot tasks restored after a violation
  std::vector<std::uint64_t> rollbacks_by_type;  // one-shot and periodic, indexed by TypeId
  std::vector<TypeFailures> failures_by_type;    // one-shot tasks, indexed by TypeId
  std::uint64_t deadline_misses = 0;             // one-shot tasks; the monitor or the worker saw it
  std::uint64_t detected_by_monitor = 0;         // of those (and of periodic runs), caught while running
  std::uint64_t stalls = 0;                      // workers marked STALLED
  std::uint64_t retries = 0;                     // F13: failed attempts re-released (not outcomes)
  std::uint64_t dead_lettered = 0;      // F14: tasks that exhausted their retries (their outcome: failed/timed out)
  std::uint64_t scheduled = 0;          // waiting for their start time
  std::uint64_t release_deferrals = 0;  // a delayed start met a full ring and was retried
  std::uint64_t events_published = 0, events_dropped = 0;
  std::uint64_t running = 0;
  std::array<std::uint64_t, kClassCount> queue_full{};  // refused: ring at capacity
  std::uint64_t no_free_slot = 0;                       // refused: every slot taken
  std::uint64_t circuit_open = 0;                       // refused: the type's circuit breaker is open (F15)
  std::uint64_t invalid = 0;                            // refused: bad options
  std::uint64_t refused_transitions = 0;                // F3 table said no
  std::uint64_t ring_allocations_refused = 0;           // a ring asked for memory after setup (expected 0)
  std::uint64_t ring_push_refusals = 0;  // moodycamel refused below capacity (rare); counted in queue_full too
  std::array<std::int64_t, kClassCount> queue_depth{};
  std::size_t retained = 0;  // finished tasks still queryable
  std::vector<WorkerStats> workers;
  ns_t uptime_ns = 0;
  hal::TimerBackend monitor_backend = hal::TimerBackend::TimerFd;  // the one really in use
  bool pm_qos_held = false;                                        // a /dev/cpu_dma_latency request is held now
  std::int32_t pm_qos_latency_us = -1;                             // its target; -1 when none is held
  HistogramSummary dispatch;                                       // ready -> started, one-shot tasks (F10)
  HistogramSummary execution;                                      // started -> finished, one-shot tasks
  HistogramSummary detection;                                      // deadline -> the monitor's detection, all tasks

  // Every accepted task has exactly one outcome or is still in flight.
  [[nodiscard]] std::uint64_t outcomes() const noexcept { return completed + failed + timed_out + cancelled + skipped; }
};

// What a watchdog asks of a running engine (Engine::health): cheap enough to ask often.
struct Health {
  bool running = false;         // started and not stopped
  int stalled_workers = 0;      // workers whose run is STALLED (WorkerState::Stalled)
  int first_stalled = -1;       // the lowest index among them; -1 none
  ns_t monitor_beat = 0;        // when the deadline monitor last went round its loop; 0 never
  ns_t monitor_beat_every = 0;  // MonitorConfig::beat; 0: no beat, so the beat's age says nothing
};

struct StopReport {
  Stats stats;
  bool balanced = false;  // submitted == outcomes and nothing in flight
};

}  // namespace rt
