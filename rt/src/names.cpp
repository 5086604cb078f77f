// Names of the engine's enums, as logs, the CLI and the HTTP API print them. One table
// per enum; names_for checks at compile time that it has a name for every enumerator
// (what a switch's -Wswitch would otherwise check), given the last one.
#include <array>

#include "rt/engine.hpp"

namespace rt {

namespace {

template <auto Last, std::size_t N>
constexpr std::array<std::string_view, N> names_for(const std::array<std::string_view, N>& names) {
  static_assert(N == static_cast<std::size_t>(Last) + 1, "one name per enumerator, in order");
  return names;
}

template <class E, std::size_t N>
std::string_view name_in(const std::array<std::string_view, N>& names, E e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < N ? names[i] : "unknown";
}

using Names = std::string_view;

constexpr auto kStateNames = names_for<State::Paused>(
    std::to_array<Names>({"free", "pending", "scheduled", "ready", "running", "completed", "failed", "timeout",
                          "cancelled", "skipped", "rolled_back", "retrying", "dead_lettered", "paused"}));

constexpr auto kEventKindNames = names_for<kLastEventKind>(
    std::to_array<Names>({"submitted", "started", "completed", "failed", "timeout", "rolled_back", "cancelled",
                          "skipped", "retrying", "dead_lettered", "deadline_miss", "gate_changed", "circuit_opened",
                          "circuit_closed", "worker_stalled", "worker_recovered", "overrun",
                          // published by the workflow units, not the engine
                          "workflow_completed", "workflow_failed", "workflow_deadline_miss", "saga_completed",
                          "saga_compensated", "circuit_half_open", "periodic_run"}));

}  // namespace

std::string_view to_string(Priority p) noexcept {
  static constexpr auto kNames =
      names_for<Priority::Background>(std::to_array<Names>({"critical", "high", "normal", "low", "background"}));
  return name_in(kNames, p);
}

std::string_view to_string(State s) noexcept { return name_in(kStateNames, s); }

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
  static constexpr auto kNames = names_for<SubmitStatus::Stopped>(
      std::to_array<Names>({"ok", "queue_full", "no_free_slot", "circuit_open", "invalid", "stopped"}));
  return name_in(kNames, s);
}

std::string_view to_string(Reason r) noexcept {
  static constexpr auto kNames = names_for<Reason::EngineStopped>(
      std::to_array<Names>({"none", "exception", "gate_violation", "deadline_missed", "cancelled_queued",
                            "cancelled_running", "engine_stopped"}));
  return name_in(kNames, r);
}

std::string_view to_string(CancelResult r) noexcept {
  static constexpr auto kNames = names_for<CancelResult::NotFound>(
      std::to_array<Names>({"removed", "stop_requested", "already_done", "not_found"}));
  return name_in(kNames, r);
}

std::string_view to_string(WorkerState s) noexcept {
  static constexpr auto kNames =
      names_for<WorkerState::Stopped>(std::to_array<Names>({"idle", "busy", "stalled", "stopped"}));
  return name_in(kNames, s);
}

std::string_view to_string(EventKind k) noexcept { return name_in(kEventKindNames, k); }

bool parse_event_kind(std::string_view name, EventKind& out) noexcept {
  for (std::size_t i = 0; i < kEventKindNames.size(); ++i) {
    if (kEventKindNames[i] == name) {
      out = static_cast<EventKind>(i);
      return true;
    }
  }
  return false;
}

std::string_view to_string(Subject s) noexcept {
  static constexpr auto kNames =
      names_for<Subject::Gate>(std::to_array<Names>({"task", "periodic", "worker", "workflow", "saga", "gate"}));
  return name_in(kNames, s);
}

std::string_view to_string(Precision p) noexcept {
  static constexpr auto kNames = names_for<Precision::Spin>(std::to_array<Names>({"sleep", "hybrid", "spin"}));
  return name_in(kNames, p);
}

std::string_view to_string(Overrun o) noexcept {
  static constexpr auto kNames =
      names_for<Overrun::RollbackAndHold>(std::to_array<Names>({"skip", "catch_up", "rollback_and_hold"}));
  return name_in(kNames, o);
}

std::string_view to_string(PeriodicState s) noexcept {
  static constexpr auto kNames =
      names_for<PeriodicState::Paused>(std::to_array<Names>({"stopped", "running", "paused"}));
  return name_in(kNames, s);
}

}  // namespace rt
