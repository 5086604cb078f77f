#pragma once
// F30: what Engine::stop(mode, &unrun) records of each task it cancels before the task
// ever ran to an end, so that a restarted engine can submit it again (rt/journal.hpp
// writes it down and resubmits it).
//
// Recorded: queued tasks (StopMode::Cancel; a drain runs them), and in both modes tasks
// waiting for a delayed start or for a retry. Left out: running tasks; saga runs and
// tasks submitted with a WorkflowId (a workflow restarts as a whole, not task by task;
// graph nodes are not tasks at all); and a task whose attempt fails while stop() runs
// (it ends Cancelled, EngineStopped, unrecorded). Recorded tasks still end Cancelled
// (EngineStopped): the StopReport balances exactly as without a record.
#include <cstdint>

#include "rt/retry.hpp"
#include "rt/task.hpp"
#include "rt/types.hpp"

namespace rt {

// One such task, with what it takes to submit it again. Its callable is not kept: a
// restarted process finds it again by type (resubmit's handler_for).
struct UnrunTask {
  TaskId id;  // in the engine that stopped: for its queries, not for a resubmission
  TypeId type = 0;
  Priority priority = Priority::Normal;
  State was = State::Ready;  // Ready (queued), Scheduled (delayed start) or Retrying
  Context context{};
  RetryPolicy retry{};         // as submitted; strategy None when it had none
  std::uint32_t attempts = 0;  // attempts already made and failed (Retrying, or Ready after a retry)
  ns_t start_in = 0;           // its start (or retry) time minus stop()'s clock reading, >= 0
  ns_t deadline_in = 0;        // the deadline budget from its start; 0 when none
  GateMask gates = 0;
};

}  // namespace rt
