#pragma once
// F19: what the engine tells the outside world. RT threads publish fixed-size events
// wait-free into a bounded ring; a non-RT thread takes them out (Engine::poll_events).
// A full ring drops the event and counts it: publishing never blocks.
#include <cstdint>
#include <string_view>

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
};
[[nodiscard]] std::string_view to_string(EventKind k) noexcept;

// What an event is about: a one-shot task (its TaskId) or a periodic task (its index).
enum class Subject : std::uint8_t { Task, Periodic, Worker };

struct Event {
  EventKind kind = EventKind::Submitted;
  Subject subject = Subject::Task;
  Reason reason = Reason::None;
  TypeId type = 0;
  std::int16_t worker = -1;
  std::uint64_t id = 0;  // TaskId::value(), the periodic index, or the worker index
  ns_t at = 0;           // CLOCK_MONOTONIC, when it happened
  ns_t value = 0;        // kind-specific: detection latency (DeadlineMiss), skipped releases (Overrun)
};
static_assert(std::is_trivially_copyable_v<Event>);

}  // namespace rt
