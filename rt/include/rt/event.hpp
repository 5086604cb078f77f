#pragma once
// F19: what the engine tells the outside world. RT threads publish fixed-size events
// wait-free into a bounded ring; a non-RT thread takes them out (Engine::poll_events).
// A full ring drops the event and counts it: publishing never blocks. Which kinds are
// published at all is the engine's interest mask (Engine::set_event_interest): a kind
// nobody wants costs the publisher one load.
//
// A one-shot task that runs publishes Started, then one outcome: Completed, Failed, or
// Timeout (after a DeadlineMiss when the run overran; the monitor publishes those two when
// it catches the overrun first); RolledBack follows a violation of a bound task. A task
// that never starts (its deadline passed, a gate closed) publishes only its outcome.
// Submitted is published only when asked for (a producer's own event slot); a task
// cancelled while queued publishes Cancelled when a worker dequeues it, one cancelled while
// running publishes Cancelled when it returns.
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "rt/task.hpp"

namespace rt {

enum class EventKind : std::uint8_t {
  Submitted,
  Started,
  Completed,
  Failed,
  Timeout,
  RolledBack,
  Cancelled,
  Skipped,
  Retrying,
  DeadLettered,
  DeadlineMiss,
  GateChanged,
  CircuitOpened,
  CircuitClosed,
  WorkerStalled,
  WorkerRecovered,
  Overrun,
  // Published by the workflow units (graph, saga, breaker), not by the engine itself.
  WorkflowCompleted,
  WorkflowFailed,
  WorkflowDeadlineMiss,
  SagaCompleted,
  SagaCompensated,
  CircuitHalfOpen,
  // One per periodic run that ran its code, from its worker (F22/F23 timelines). Not in
  // kDefaultEventInterest: a loop at kHz would fill the ring for nobody.
  PeriodicRun,
};
inline constexpr EventKind kLastEventKind = EventKind::PeriodicRun;
[[nodiscard]] std::string_view to_string(EventKind k) noexcept;
// The kind named `name` (to_string's spelling); false, `out` untouched, if none.
[[nodiscard]] bool parse_event_kind(std::string_view name, EventKind& out) noexcept;

// A set of kinds: bit k is EventKind(k).
using EventMask = std::uint32_t;
static_assert(static_cast<unsigned>(kLastEventKind) < 32, "every EventKind needs a bit in EventMask");
constexpr EventMask event_bit(EventKind k) noexcept { return EventMask{1} << static_cast<unsigned>(k); }
inline constexpr EventMask kAllEvents = (event_bit(kLastEventKind) << 1) - 1;
// What an engine publishes until told otherwise (Engine::set_event_interest, an EventBus):
// everything but the three kinds every task produces and the one every periodic run does,
// so a task's way through the engine costs no event pushes unless someone listens for them.
inline constexpr EventMask kDefaultEventInterest =
    kAllEvents & ~(event_bit(EventKind::Submitted) | event_bit(EventKind::Started) | event_bit(EventKind::Completed) |
                   event_bit(EventKind::PeriodicRun));

// What `value` and `aux` carry, by kind (0 where not listed):
//   Completed, Failed, Timeout, RolledBack, Cancelled of a one-shot task or a periodic run,
//     from its worker: value = the run's execution time (end - start) when it ran; 0 when
//     it never started. Timeout from the monitor: value = now - start (it still runs).
//     The same kinds about a graph's node (Subject::Workflow) carry 0.
//   PeriodicRun: at = the run's start, value = end - start, aux = release lateness.
//   Failed, Timeout, RolledBack of a periodic run: aux = its release lateness.
//   DeadlineMiss, WorkflowDeadlineMiss, WorkerStalled: value = how far past the deadline
//     it was detected.
//   Overrun: value = how far past the next release the run ended.
//   Retrying: value = the delay before the next attempt.
//   WorkflowCompleted, WorkflowFailed: value = the graph run's duration (start to end).
//   GateChanged: value 1 open, 0 closed.
//   SagaCompleted, SagaCompensated: value = the SagaOutcome.
// Lateness is start - release in ns, saturated at UINT32_MAX (4.29 s).

// What an event is about: a one-shot task (its TaskId), a periodic task (its index), a
// worker (its index), a workflow or a saga (their ids).
enum class Subject : std::uint8_t {
  Task,
  Periodic,
  Worker,
  Workflow,
  Saga,
  Gate
};  // Gate: id = its index, value 1 open
// "task", "periodic", "worker", "workflow", "saga", "gate".
[[nodiscard]] std::string_view to_string(Subject s) noexcept;

struct Event {
  EventKind kind = EventKind::Submitted;
  Subject subject = Subject::Task;
  Reason reason = Reason::None;
  TypeId type = 0;
  std::int16_t worker = -1;
  WorkflowId workflow = 0;  // the task's workflow (0: none); for a Workflow subject, its own id
  std::uint32_t aux = 0;    // kind-specific (above); in what was padding
  std::uint64_t id = 0;     // TaskId::value(), the periodic index, the worker index, a workflow/saga id
  ns_t at = 0;              // CLOCK_MONOTONIC, when it happened
  ns_t value = 0;           // kind-specific (above)
};
static_assert(std::is_trivially_copyable_v<Event>, "events are byte-copied through the ring");
// 39 bytes of fields: the workflow id did not fit the one byte of padding there was, so an
// event grew from 32 to 40 bytes; `aux` took the 4 bytes of padding after `workflow`. The
// event ring is sized from sizeof(Event) at setup (engine.cpp).
static_assert(sizeof(Event) == 40, "a change of size changes the event ring's footprint: say so here");

}  // namespace rt
