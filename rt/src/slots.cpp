// Task slots and the F3 state machine on them: transitions by CAS on the slot's word
// (which also claims the transition's history entry), outcomes counted once, rollback,
// retirement and reuse. Called from every thread that moves a task.
#include "engine_impl.hpp"
#include "rt/state_machine.hpp"

namespace rt {

using detail::count_of;
using detail::gen_of;
using detail::pack;
using detail::state_of;
using detail::TaskSlot;

namespace detail {

FreeList::FreeList(Arena& arena, std::size_t n) : next_(arena.make_array<std::atomic<std::uint32_t>>(n, "free list")) {
  for (std::size_t i = n; i-- > 0;)
    push(static_cast<std::uint32_t>(i));
}

bool FreeList::pop(std::uint32_t& idx) noexcept HAL_NONBLOCKING {
  std::uint64_t head = head_.load(std::memory_order_acquire);
  for (;;) {
    const auto top = static_cast<std::uint32_t>(head);
    if (top == 0) return false;
    const std::uint32_t next = next_[top - 1].load(std::memory_order_relaxed);
    const std::uint64_t want = ((head >> 32) + 1) << 32 | next;
    if (head_.compare_exchange_weak(head, want, std::memory_order_acq_rel, std::memory_order_acquire)) {
      idx = top - 1;
      return true;
    }
  }
}

void FreeList::push(std::uint32_t idx) noexcept HAL_NONBLOCKING {
  std::uint64_t head = head_.load(std::memory_order_relaxed);
  for (;;) {
    next_[idx].store(static_cast<std::uint32_t>(head), std::memory_order_relaxed);
    const std::uint64_t want = ((head >> 32) + 1) << 32 | (idx + 1);
    if (head_.compare_exchange_weak(head, want, std::memory_order_release, std::memory_order_relaxed)) return;
  }
}

}  // namespace detail

namespace {
std::uint64_t history_entry(ns_t at, ns_t epoch, State to) noexcept {
  return static_cast<std::uint64_t>(at - epoch) << 8 | static_cast<std::uint8_t>(to);
}
}  // namespace

Engine::Impl::Tx Engine::Impl::transition(TaskSlot& s, std::uint32_t gen, State to, ns_t at) noexcept HAL_NONBLOCKING {
  return transition_impl(s, gen, nullptr, to, at);
}

Engine::Impl::Tx Engine::Impl::transition_from(TaskSlot& s, std::uint32_t gen, State from, State to,
                                               ns_t at) noexcept HAL_NONBLOCKING {
  return transition_impl(s, gen, &from, to, at);
}

Engine::Impl::Tx Engine::Impl::transition_impl(TaskSlot& s, std::uint32_t gen, const State* from, State to,
                                               ns_t at) noexcept HAL_NONBLOCKING {
  std::uint64_t w = s.word.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of(w) != gen) return Tx::Stale;
    if (from != nullptr && state_of(w) != *from) return Tx::Moved;
    if (!transition_allowed(state_of(w), to)) {
      counters.refused_transitions.add();
      return Tx::Refused;
    }
    const std::uint32_t n = count_of(w);
    if (s.word.compare_exchange_weak(w, pack(gen, n + 1, to), std::memory_order_acq_rel, std::memory_order_acquire)) {
      // The SCHEDULED gauge follows the state machine, whoever moves the task.
      if (to == State::Scheduled) counters.scheduled.add();
      if (state_of(w) == State::Scheduled) counters.scheduled.v.fetch_sub(1, std::memory_order_relaxed);
      // Entry n is this transition's alone: the CAS that claimed it is the one that won.
      s.history[n % kHistoryDepth].store(history_entry(at, epoch, to), std::memory_order_relaxed);
      return Tx::Ok;
    }
  }
}

void Engine::Impl::owner_transition(TaskSlot& s, std::uint64_t w, State to, ns_t at) noexcept HAL_NONBLOCKING {
  const std::uint32_t n = count_of(w);
  if (to == State::Scheduled) counters.scheduled.add();
  s.history[n % kHistoryDepth].store(history_entry(at, epoch, to), std::memory_order_relaxed);
  // release: every field written before travels with the state (a worker or the monitor
  // acquires the word before it reads them).
  s.word.store(pack(gen_of(w), n + 1, to), std::memory_order_release);
}

bool Engine::Impl::finish(Outcomes& out, TaskSlot& s, std::uint32_t gen, State to, Reason why,
                          ns_t at) noexcept HAL_NONBLOCKING {
  if (transition(s, gen, to, at) != Tx::Ok) return false;
  count_outcome(out, s, to, why, at);
  return true;
}

Engine::Impl::Tx Engine::Impl::finish_from(Outcomes& out, TaskSlot& s, std::uint32_t gen, State from, State to,
                                           Reason why, ns_t at) noexcept HAL_NONBLOCKING {
  const Tx r = transition_from(s, gen, from, to, at);
  if (r == Tx::Ok) count_outcome(out, s, to, why, at);
  return r;
}

void Engine::Impl::count_outcome(Outcomes& out, TaskSlot& s, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING {
  // Written after the state (the CAS decided who ends it): `finished` last, with release,
  // so a query that sees it sees the reason too (Engine::status).
  s.reason.store(why, std::memory_order_relaxed);
  s.finished.store(at, std::memory_order_release);
  if (to == State::Failed || to == State::Timeout) {
    // Every attempt, as the totals (exceptions, gate_violations, deadline_misses) count them.
    const int k = why == Reason::Exception        ? 0
                  : why == Reason::GateViolation  ? 1
                  : why == Reason::DeadlineMissed ? 2
                                                  : -1;
    if (k >= 0) failures_by_type[s.type.load(std::memory_order_relaxed)][static_cast<std::size_t>(k)].add();
  }
  // F13: an attempt that will be retried is not the task's outcome (retry_or_dead_letter
  // counts it as a retry); a miss is still a miss.
  if ((to == State::Failed || to == State::Timeout) && retry_left(s)) {
    if (to == State::Timeout) out.add(out.deadline_misses);
    return;
  }
  switch (to) {
    case State::Completed:
      out.add(out.completed);
      break;
    case State::Failed:
      out.add(out.failed);
      break;
    case State::Timeout:
      out.add(out.timed_out);
      out.add(out.deadline_misses);
      break;
    case State::Cancelled:
      out.add(out.cancelled);
      break;
    case State::Skipped:
      out.add(out.skipped);
      break;
    default:
      break;
  }
}

void Engine::Impl::note_rollback(Outcomes& out, TaskSlot& s, std::uint32_t gen, Reason why, std::size_t token, ns_t at,
                                 ns_t ran) noexcept HAL_NONBLOCKING {
  // From the state the violation left, which a cancel() of an attempt with a retry left
  // may have ended meanwhile (then there is nothing to note).
  const State from = detail::state_of(s.word.load(std::memory_order_acquire));
  if ((from != State::Failed && from != State::Timeout) ||
      transition_from(s, gen, from, State::RolledBack, at) != Tx::Ok)
    return;
  out.add(out.rolled_back);
  const TypeId type = s.type.load(std::memory_order_relaxed);
  rollbacks_by_type[type].add();
  publish_event(token, Event{.kind = EventKind::RolledBack,
                             .subject = Subject::Task,
                             .reason = why,
                             .type = type,
                             .worker = s.worker.load(std::memory_order_relaxed),
                             .workflow = s.workflow.load(std::memory_order_relaxed),
                             .id = TaskId{static_cast<std::uint32_t>(&s - slots), gen}.value(),
                             .at = at,
                             .value = ran});
}

bool Engine::Impl::mark_timeout(Outcomes& out, TaskSlot& s, std::uint32_t gen, ns_t at) noexcept HAL_NONBLOCKING {
  return finish_from(out, s, gen, State::Running, State::Timeout, Reason::DeadlineMissed, at) == Tx::Ok;
}

void Engine::Impl::release(std::uint32_t idx) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const std::uint64_t w = s.word.load(std::memory_order_acquire);
  if (!transition_allowed(state_of(w), State::Free)) counters.refused_transitions.add();
  s.word.store(detail::free_word_after(w), std::memory_order_release);
  free_list.push(idx);
}

void Engine::Impl::retire(std::size_t token, std::uint32_t idx) noexcept HAL_NONBLOCKING {
  if (!retired.try_push(token, idx)) {
    release(idx);  // cannot happen (the ring holds every slot); never leak the slot
    return;
  }
  std::uint32_t old = 0;
  while (retired.depth() > static_cast<std::int64_t>(engine.cfg_.retain_completed) && retired.try_pop(token, old))
    release(old);
}

void Engine::Impl::publish_event(std::size_t token, const Event& ev) noexcept HAL_NONBLOCKING {
  // Relaxed: the mask orders nothing; a publisher that sees a change late publishes (or
  // skips) one event more, which is what a subscriber joining a moment later would see.
  if ((event_interest.load(std::memory_order_relaxed) & event_bit(ev.kind)) == 0) return;
  if (events.try_push(token, ev)) {
    counters.events_published.add();
  } else {
    counters.events_dropped.add();
  }
}

}  // namespace rt
