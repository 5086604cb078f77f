// Names of the engine's enums, as logs, the CLI and the HTTP API print them.
#include <array>

#include "rt/engine.hpp"

namespace rt {

namespace {
constexpr std::array<std::string_view, kStateCount> kStateNames{
    "free",    "pending",   "scheduled", "ready",       "running",  "completed",     "failed",
    "timeout", "cancelled", "skipped",   "rolled_back", "retrying", "dead_lettered", "paused"};
}

std::string_view to_string(Priority p) noexcept {
  static constexpr std::array<std::string_view, kClassCount> kNames{"critical", "high", "normal", "low", "background"};
  const auto i = static_cast<std::size_t>(p);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::string_view to_string(State s) noexcept {
  const auto i = static_cast<std::size_t>(s);
  return i < kStateNames.size() ? kStateNames[i] : "unknown";
}

bool parse_state(std::string_view name, State& out) noexcept {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) {
      out = static_cast<State>(i);
      return true;
    }
  }
  return false;
}

std::string_view to_string(SubmitStatus s) noexcept {
  switch (s) {
    case SubmitStatus::Ok:
      return "ok";
    case SubmitStatus::QueueFull:
      return "queue_full";
    case SubmitStatus::NoFreeSlot:
      return "no_free_slot";
    case SubmitStatus::CircuitOpen:
      return "circuit_open";
    case SubmitStatus::Invalid:
      return "invalid";
    case SubmitStatus::Stopped:
      return "stopped";
  }
  return "unknown";
}

std::string_view to_string(Reason r) noexcept {
  switch (r) {
    case Reason::None:
      return "none";
    case Reason::Exception:
      return "exception";
    case Reason::GateViolation:
      return "gate_violation";
    case Reason::DeadlineMissed:
      return "deadline_missed";
    case Reason::CancelledQueued:
      return "cancelled_queued";
    case Reason::CancelledRunning:
      return "cancelled_running";
    case Reason::EngineStopped:
      return "engine_stopped";
      return "ring_fault";
  }
  return "unknown";
}

std::string_view to_string(CancelResult r) noexcept {
  switch (r) {
    case CancelResult::Removed:
      return "removed";
    case CancelResult::StopRequested:
      return "stop_requested";
    case CancelResult::AlreadyDone:
      return "already_done";
    case CancelResult::NotFound:
      return "not_found";
  }
  return "unknown";
}

std::string_view to_string(WorkerState s) noexcept {
  switch (s) {
    case WorkerState::Idle:
      return "idle";
    case WorkerState::Busy:
      return "busy";
    case WorkerState::Stalled:
      return "stalled";
    case WorkerState::Stopped:
      return "stopped";
  }
  return "unknown";
}

namespace {
template <class E, std::size_t N>
std::string_view name_in(const std::array<std::string_view, N>& names, E e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < N ? names[i] : "unknown";
}
}  // namespace

std::string_view to_string(EventKind k) noexcept {
  static constexpr std::array<std::string_view, 17> kNames{
      "submitted",      "started",        "completed",      "failed",           "timeout",       "rolled_back",
      "cancelled",      "skipped",        "retrying",       "dead_lettered",    "deadline_miss", "gate_changed",
      "circuit_opened", "circuit_closed", "worker_stalled", "worker_recovered", "overrun"};
  return name_in(kNames, k);
}

std::string_view to_string(Precision p) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"sleep", "hybrid", "spin"};
  return name_in(kNames, p);
}

std::string_view to_string(Overrun o) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"skip", "catch_up", "rollback_and_hold"};
  return name_in(kNames, o);
}

std::string_view to_string(PeriodicState s) noexcept {
  static constexpr std::array<std::string_view, 3> kNames{"stopped", "running", "paused"};
  return name_in(kNames, s);
}

}  // namespace rt
