// F30: what stop() records of the tasks it cancels before they ever ran to an end, and
// the submission of a stored callable (a resubmitted journal entry, a re-driven dead
// letter).
#include <algorithm>

#include "engine_impl.hpp"

namespace rt {

using detail::gen_of;
using detail::state_of;
using detail::TaskSlot;

bool Engine::Impl::unrun_of(const TaskSlot& s, std::uint64_t w, ns_t now, UnrunTask& out) const noexcept {
  // A workflow restarts as a whole: one of its tasks alone would run out of its context.
  if (s.workflow.load(std::memory_order_relaxed) != 0) return false;
  const TaskId id{static_cast<std::uint32_t>(&s - slots), gen_of(w)};
  if (saga_task) {
    for (std::size_t i = 0; i < sagas.size(); ++i) {
      if (saga_task[i].load(std::memory_order_acquire) == id.value()) return false;
    }
  }
  out.id = id;
  out.was = state_of(w);
  out.type = s.type.load(std::memory_order_relaxed);
  out.priority = s.priority.load(std::memory_order_relaxed);
  out.context = s.context;
  out.gates = s.gates.load(std::memory_order_relaxed);
  // `retry` and `budget` are written only for a task with a policy (publish): another
  // task's leftovers otherwise.
  const bool has_policy = s.retries.load(std::memory_order_relaxed);
  out.retry = has_policy ? s.retry : RetryPolicy{};
  // A worker counts a retry just after the task shows RETRYING: a stop() that meets it in
  // that instant reads one attempt fewer, and the task gets one attempt more next time.
  out.attempts = s.retries_used.load(std::memory_order_relaxed);
  const ns_t ready = s.ready.load(std::memory_order_relaxed);
  const ns_t deadline = s.deadline.load(std::memory_order_relaxed);
  if (has_policy) {
    out.deadline_in = s.budget;
  } else {
    out.deadline_in = deadline != 0 ? std::max<ns_t>(deadline - ready, 1) : 0;  // a deadline past stays past
  }
  // A delayed start waits for `ready`; a retry's time is only in the monitor's entry
  // (time_unrun_starts): until then, at once.
  out.start_in = out.was == State::Scheduled ? std::max<ns_t>(ready - now, 0) : 0;
  return true;
}

void Engine::Impl::time_unrun_starts(std::vector<UnrunTask>& unrun, std::size_t first,
                                     const std::vector<detail::Scheduled>& starts, ns_t now) {
  if (first >= unrun.size() || starts.empty()) return;
  std::vector<detail::Scheduled> by_id(starts);
  auto key = [](const detail::Scheduled& e) { return e.id.value(); };
  std::sort(by_id.begin(), by_id.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
  for (std::size_t i = first; i < unrun.size(); ++i) {
    UnrunTask& t = unrun[i];
    if (t.was == State::Ready) continue;
    const auto it = std::lower_bound(by_id.begin(), by_id.end(), t.id.value(),
                                     [&](const detail::Scheduled& e, std::uint64_t v) { return key(e) < v; });
    if (it != by_id.end() && it->id == t.id) t.start_in = std::max<ns_t>(it->at - now, 0);
  }
}

SubmitStatus Producer::try_submit_stored(const TaskFn& fn, const SubmitOptions& opts, TaskId* id) noexcept {
  if (!fn) return SubmitStatus::Invalid;
  return submit_with([&fn](TaskFn& slot) { slot.copy_from(fn); }, opts, id);
}

}  // namespace rt
