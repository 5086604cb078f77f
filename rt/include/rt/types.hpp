#pragma once
// The engine's vocabulary: priority classes, task ids, task states, submit outcomes.
#include <array>
#include <cstdint>
#include <string_view>

#include "hal/clock.hpp"

namespace rt {

using hal::ns_t;

// F1: one ring per class; workers always take the highest non-empty class first.
enum class Priority : std::uint8_t { Critical = 0, High, Normal, Low, Background };
inline constexpr std::size_t kClassCount = 5;
using ClassMask = std::uint8_t;  // bit i: Priority(i)
inline constexpr ClassMask kAllClasses = (1U << kClassCount) - 1;
constexpr ClassMask class_bit(Priority p) noexcept { return static_cast<ClassMask>(1U << static_cast<unsigned>(p)); }

// Seed 001's numeric 0-10 priority: 9-10 CRITICAL, 7-8 HIGH, 4-6 NORMAL, 2-3 LOW, 0-1 BACKGROUND.
constexpr Priority priority_from_level(int level) noexcept {
  if (level >= 9) return Priority::Critical;
  if (level >= 7) return Priority::High;
  if (level >= 4) return Priority::Normal;
  if (level >= 2) return Priority::Low;
  return Priority::Background;
}
[[nodiscard]] std::string_view to_string(Priority p) noexcept;

// A task slot index and the slot's generation when the task was submitted: a stale id
// (the slot has been reused since) never addresses the new task.
struct TaskId {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;  // 0 is never a live generation: TaskId{} is "no task"

  constexpr std::uint64_t value() const noexcept { return (std::uint64_t{generation} << 32) | index; }
  static constexpr TaskId from_value(std::uint64_t v) noexcept {
    return {static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)};
  }
  constexpr bool valid() const noexcept { return generation != 0; }
  friend constexpr bool operator==(TaskId, TaskId) noexcept = default;
};

// F3. Free is the engine's own: a slot with no task in it.
enum class State : std::uint8_t {
  Free,
  Pending,
  Scheduled,
  Ready,
  Running,
  Completed,
  Failed,
  Timeout,
  Cancelled,
  Skipped,
  RolledBack,
  Retrying,
  DeadLettered,
  Paused,
};
inline constexpr std::size_t kStateCount = 14;
[[nodiscard]] std::string_view to_string(State s) noexcept;
// Parses a state name as to_string prints it ("completed"); false when unknown.
bool parse_state(std::string_view name, State& out) noexcept;

constexpr bool is_terminal(State s) noexcept {
  switch (s) {
    case State::Completed:
    case State::Failed:
    case State::Timeout:
    case State::Cancelled:
    case State::Skipped:
    case State::RolledBack:
    case State::DeadLettered:
      return true;
    default:
      return false;
  }
}

// F5: what a submission can come to; nothing else happens to it.
enum class SubmitStatus : std::uint8_t {
  Ok,
  QueueFull,    // the class's ring holds its capacity; counted per class
  NoFreeSlot,   // every task slot is in use (raise max_tasks or clear completed)
  CircuitOpen,  // the task type's circuit breaker is open (F15)
  Invalid,      // bad options: unknown type or gate, deadline before start...
  Stopped,      // the engine is not running
};
[[nodiscard]] std::string_view to_string(SubmitStatus s) noexcept;

// Why a task ended as it did, beside its state.
enum class Reason : std::uint8_t {
  None,
  Exception,
  GateViolation,
  DeadlineMissed,
  CancelledQueued,
  CancelledRunning,
  EngineStopped,
};
[[nodiscard]] std::string_view to_string(Reason r) noexcept;

enum class CancelResult : std::uint8_t {
  Removed,        // it was waiting; it will never run
  StopRequested,  // it is running; its stop flag is set
  AlreadyDone,    // it has finished
  NotFound,       // unknown or stale id
};
[[nodiscard]] std::string_view to_string(CancelResult r) noexcept;

}  // namespace rt
