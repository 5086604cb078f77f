#pragma once
// What an Engine is built from (EngineConfig and its parts) and the check the constructor
// makes first. Plain data, all setup: config loaders build it without the engine.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hal/clock.hpp"
#include "hal/thread.hpp"
#include "hal/timer.hpp"
#include "rt/breaker.hpp"
#include "rt/types.hpp"

namespace rt {

struct WorkerConfig {
  int cpu = hal::kNoCpu;            // pin here; kNoCpu: not pinned
  int priority = 0;                 // SCHED_FIFO 1..99; 0: SCHED_OTHER
  ClassMask classes = kAllClasses;  // the classes this worker serves, highest first; 0: periodic tasks only
  // This worker's own EngineConfig::idle_spin; -1 takes the engine's. One worker kept hot
  // for a control loop's tasks (a spin longer than their period: it never sleeps) need
  // not keep a CPU busy where others sleep between releases.
  ns_t idle_spin = -1;
};

// F8: what happens when a task overruns its deadline by `stall_after` and still does
// not return: its worker is STALLED (the engine stops feeding it), and then...
enum class Escalation : std::uint8_t {
  Report,  // ...a report line and a WorkerStalled event; the worker recovers if the task returns
  Exit,    // ...a report line, then _exit(exit_code), so an external watchdog restarts the process
};

struct MonitorConfig {
  hal::TimerBackend backend = hal::TimerBackend::TimerFd;  // io_uring falls back to timerfd when unusable
  int priority = -1;                       // SCHED_FIFO; -1: one above the highest worker priority (0 if none is RT)
  int cpu = hal::kNoCpu;                   // pin the monitor here
  ns_t stall_after = 100 * hal::kNsPerMs;  // past the deadline, a run that has not returned stalls its worker
  Escalation escalation = Escalation::Report;
  int exit_code = 70;  // Escalation::Exit's status (EX_SOFTWARE)
  // > 0: the monitor goes round its loop at least this often, deadlines or none, so that a
  // watchdog can tell a stuck monitor from an idle one (Engine::health). 0: it sleeps until
  // its next deadline -- no wake-up at the top RT priority that nobody asked for (rtengine
  // run sets Engine::kMonitorBeat when a watchdog is in use).
  ns_t beat = 0;
};

// cyclictest holds /dev/cpu_dma_latency for its whole run (unless --laptop): CPUs then stay
// out of deep idle states, and a sleeping loop wakes about twice as early. The engine does
// the same from start() to stop() whenever it runs an RT (SCHED_FIFO) worker.
struct PmQosConfig {
  bool enabled = true;          // false: no request, as cyclictest --laptop (battery-powered devices)
  std::int32_t latency_us = 0;  // the exit latency CPUs may take; 0 keeps them in C0/poll
};

struct EngineConfig {
  std::vector<WorkerConfig> workers{WorkerConfig{}};  // the most workers scale_workers may run
  std::size_t initial_workers = 0;                    // started by start(); 0: all of them
  std::array<std::size_t, kClassCount> ring_capacity{1024, 1024, 1024, 1024, 1024};
  // Producer::try_post: places per class for posted callables (80 bytes each, from the
  // arena); 0: no post ring for that class, and try_post refuses it (Invalid).
  std::array<std::size_t, kClassCount> post_capacity{0, 0, 0, 0, 0};
  std::size_t max_tasks = 4096;                 // task slots: queued + running + retained
  std::size_t retain_completed = 1024;          // finished tasks kept for queries, most recent first
  std::size_t max_producers = 8;                // make_producer() handles
  std::size_t arena_bytes = 0;                  // 0: computed from the above
  bool lock_memory = true;                      // mlock the arena, mlockall at start
  ns_t idle_spin = 20 * hal::kNsPerUs;          // a worker spins this long before it sleeps (or its own)
  std::vector<std::string> task_types{"task"};  // TypeId i names task_types[i]
  std::vector<std::string> gates;               // at most 64; all open at start
  MonitorConfig monitor;
  std::size_t event_capacity = 1024;       // events waiting for poll_events; more are dropped and counted
  std::size_t max_periodic = 16;           // add_periodic() records
  std::size_t max_graphs = 16;             // add_graph() workflows (F18)
  std::size_t max_sagas = 16;              // add_saga() sagas (F16)
  std::vector<BreakerConfig> breakers;     // F15: at most one per task type (BreakerConfig::type)
  std::size_t dead_letter_capacity = 256;  // F14: records kept; a full queue drops its oldest
  PmQosConfig pm_qos;
};

// What the Engine constructor checks first: throws std::invalid_argument naming the field
// (for config loaders that check a file before building anything). Setup only.
void validate(const EngineConfig& c);

}  // namespace rt
