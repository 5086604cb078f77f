#pragma once
// F16: a saga, a sequence of steps each with an action and a compensation, run as ONE task
// on one worker (the steps are sequential, so nothing is handed between threads). When a
// step fails, or the task is asked to stop before a step, the steps that took effect are
// compensated in reverse order; every compensation runs even when an earlier one fails,
// and each result is reported. Setup (SagaBuilder, validate, the SagaRun constructor)
// allocates and throws SagaError; a run reuses state built at setup and allocates nothing.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hal/annotations.hpp"
#include "rt/graph.hpp"
#include "rt/task.hpp"
#include "rt/types.hpp"

namespace rt {

// A saga holds one worker for all its steps, and each run publishes about 120 bytes a
// step when it ends (saga.cpp): 255 is far past a real saga and keeps that copy bounded.
inline constexpr std::size_t kMaxSagaSteps = 255;
// Bytes kept of an exception's what(), NUL included (longer texts are cut): the size the
// worker keeps for a task's last error (worker_state.hpp).
inline constexpr std::size_t kSagaErrorCapacity = 96;

struct SagaStep {
  std::string name;
  std::string action;        // handler type names (HandlerRegistry)
  std::string compensation;  // empty: the action leaves nothing to undo
  // Budget of the action, checked after it returns: a step over it has failed
  // (DeadlineMissed), and since its action did take effect it is compensated too.
  ns_t deadline_in = 0;  // 0 = none
};

struct SagaSpec {
  std::string name;
  std::vector<SagaStep> steps;
  ns_t deadline_in = 0;  // the whole saga: the engine's task deadline; 0 = none
  Priority priority = Priority::Normal;
};

// Fluent construction of a SagaSpec. Setup only: allocates.
class SagaBuilder {
 public:
  explicit SagaBuilder(std::string name);
  SagaBuilder& step(std::string name, std::string action, std::string compensation = {});
  // The last step's budget; throws SagaError (Invalid) before any step().
  SagaBuilder& step_deadline(ns_t d);
  SagaBuilder& deadline(ns_t d);
  SagaBuilder& priority(Priority p);
  // A copy of the spec so far; not validated (validate() and check() do that).
  [[nodiscard]] SagaSpec build() const;

 private:
  SagaSpec spec_;
};

class SagaError : public std::invalid_argument {
 public:
  enum class Kind : std::uint8_t { Empty, Invalid, DuplicateStep, NoHandler };
  SagaError(Kind k, const std::string& message);
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};
[[nodiscard]] std::string_view to_string(SagaError::Kind k) noexcept;  // "duplicate_step"

// Every problem, in this order: no steps; invalid (names, actions, sizes, deadlines,
// priority); duplicate step names (each once); missing handlers, step by step, an action
// before its compensation. Each message starts "saga 'S': ". Empty when valid. Setup only.
[[nodiscard]] std::vector<SagaError> check(const SagaSpec& s, const std::function<bool(std::string_view)>& has_handler);
// Throws the first problem check() finds. Setup only.
void validate(const SagaSpec& s, const std::function<bool(std::string_view)>& has_handler);

enum class StepOutcome : std::uint8_t {
  NotRun,
  Completed,
  Failed,  // its action threw (a step over budget is compensated, so it ends as one of the next three)
  Compensated,
  CompensationFailed,
  Skipped,  // to be compensated, but its compensation is empty: nothing to undo
};
// "not_run", "completed", "failed", "compensated", "compensation_failed", "skipped".
// RT: wait-free; no allocation.
[[nodiscard]] std::string_view to_string(StepOutcome o) noexcept HAL_NONBLOCKING;

enum class SagaOutcome : std::uint8_t {
  Completed,
  Compensated,         // a step failed; every compensation succeeded
  CompensationFailed,  // at least one compensation failed (after a failure or a stop): state is inconsistent
  Stopped,             // asked to stop before a step (ctx.stop_requested()); every compensation succeeded
};
// "completed", "compensated", "compensation_failed", "stopped". RT: wait-free; no allocation.
[[nodiscard]] std::string_view to_string(SagaOutcome o) noexcept HAL_NONBLOCKING;

struct SagaStepResult {
  std::string name;
  StepOutcome outcome = StepOutcome::NotRun;
  Reason reason = Reason::None;    // why its action failed: Exception or DeadlineMissed; else None
  std::string error;               // what() of the exception its action threw
  std::string compensation_error;  // what() of the exception its compensation threw
  ns_t duration = 0;               // of its action
  ns_t compensation_duration = 0;
};

struct SagaResult {
  SagaOutcome outcome = SagaOutcome::Completed;
  // The step that failed, or the step a stop came before (that one is NotRun); -1 when
  // every step completed.
  int failed_step = -1;
  std::string failed_step_name;
  // Exception or DeadlineMissed for a failed step; for a stop, DeadlineMissed when the
  // task's deadline had passed (the monitor stops a late task), else CancelledRunning.
  Reason reason = Reason::None;
  std::string error;                  // the failed step's error
  std::vector<SagaStepResult> steps;  // declaration order
  ns_t duration = 0;                  // the whole run, compensations included
};

struct SagaStats {
  std::string name;
  bool running = false;    // claimed: a run is queued or under way
  std::uint64_t busy = 0;  // try_claim calls refused
  std::uint64_t runs = 0;  // begun
  // Ended, by outcome.
  std::uint64_t completed = 0, compensated = 0, compensation_failed = 0, stopped = 0;
  // The latest run to end, one snapshot with runs..stopped (never half of one run). Before
  // any run has ended: every step NotRun, and outcome Completed, meaning nothing.
  SagaResult last;
};

// The run state of one saga: built at setup, one run at a time. A run claims it
// (try_claim), runs it on one thread (run), and run() gives the claim back.
class SagaRun {
 public:
  // Setup only: validate()s the spec against `handlers`, then copies the handler of each
  // action and compensation, so the registry need not outlive this. Throws SagaError.
  SagaRun(SagaSpec spec, const HandlerRegistry& handlers);
  ~SagaRun();
  SagaRun(const SagaRun&) = delete;  // owns preallocated run state that the engine points at
  SagaRun& operator=(const SagaRun&) = delete;

  // Claims the next run; false when one is claimed already (counted as busy).
  // RT: lock-free (one load, then an exchange); no allocation.
  [[nodiscard]] bool try_claim() noexcept HAL_NONBLOCKING;

  // pre: try_claim() returned true for this run (on any thread: the engine's queue orders
  // the claim before the run) and nothing has released it since. Runs the saga to its
  // end on the calling thread: the steps in order, each action in try/catch,
  // ctx.stop_requested() checked before each; after a failure or a stop, the
  // compensations of the steps that took effect, last first, each in try/catch and each
  // whatever stop_requested() says (undoing is not optional). Handlers get `ctx`.
  // Publishes the result for stats(), then releases the claim.
  // RT: no allocation, no lock, no syscall by the saga (the clock is read through the
  // vDSO); as bounded as the user's handlers, which it calls: not HAL_NONBLOCKING.
  SagaOutcome run(TaskContext& ctx) noexcept;

  // Gives back a claim that will not run (the engine refused the task). RT: wait-free.
  void release_claim() noexcept HAL_NONBLOCKING;

  // Not RT: allocates (strings); retries while a run is being published.
  [[nodiscard]] SagaStats stats() const;
  [[nodiscard]] const SagaSpec& spec() const noexcept { return spec_; }

 private:
  struct State;  // saga.cpp
  SagaSpec spec_;
  std::unique_ptr<State> state_;
};

}  // namespace rt
