// F13 and F14 on the run path: what the worker does with a failed attempt of a task that
// has a retry policy. A retry is a re-release through the monitor's delayed-start heap
// (RETRYING, then READY at the computed time): the worker hands the time over and goes
// on, it never sleeps for a retry. An exhausted task ends DEAD_LETTERED.
#include "engine_impl.hpp"

namespace rt {

using detail::TaskSlot;
using detail::Worker;

void Engine::Impl::reset_attempt(TaskSlot& s, ns_t now) noexcept HAL_NONBLOCKING {
  s.ready.store(now, std::memory_order_relaxed);
  s.deadline.store(s.budget != 0 ? now + s.budget : 0, std::memory_order_relaxed);
  s.stop.store(0, std::memory_order_relaxed);  // a stop asked of the last attempt is not this one's
  s.started.store(0, std::memory_order_relaxed);
  s.finished.store(0, std::memory_order_relaxed);
  s.worker.store(-1, std::memory_order_relaxed);
}

bool Engine::Impl::retry_or_dead_letter(Worker& w, std::uint32_t idx, std::uint32_t gen, State from, ns_t now,
                                        ns_t& notify) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const auto me = static_cast<std::size_t>(w.index);
  const TaskId id{idx, gen};
  const Reason why = s.reason.load(std::memory_order_relaxed);
  auto event = [&](EventKind k, ns_t value) { return task_event(k, why, s, id, w.index, now, value); };
  // Every move below is from the state seen (`from`, then RETRYING): a cancel() of an
  // attempt with a retry left may end it first (Moved), and then it is retired as it is.
  if (retry_left(s)) {
    // count_outcome left this attempt uncounted: what ends it here is counted here.
    // Stopping: no retry will run. Cancelled while it ran (cancel()): not retried.
    const bool asked = s.cancelled_gen.load(std::memory_order_seq_cst) == gen;
    if (!engine.accepting_.load(std::memory_order_acquire) || asked) {
      (void)finish_from(w.out, s, gen, from, State::Cancelled, asked ? Reason::CancelledRunning : Reason::EngineStopped,
                        now);
      return false;
    }
    const std::uint32_t n = s.retries_used.load(std::memory_order_relaxed) + 1U;
    const ns_t delay = jittered(retry_delay(s.retry, n), s.retry.jitter, w.rng);
    const ns_t at = now + delay;
    // The ring place first: once RETRYING, the task must reach the monitor. The ring holds
    // two entries per slot, and a slot has at most a deadline and this start in it, but
    // deadline entries of ended tasks stay until the monitor drains them: under a burst it
    // can be full. Then the task ends as exhausted (dead-lettered, counted, its record
    // saying why) rather than wait on an RT thread.
    std::int64_t seen = 0;
    if (scheduled_in.try_reserve(&seen)) {
      if (transition_from(s, gen, from, State::Retrying, now) != Tx::Ok) {
        scheduled_in.unreserve();
        return false;  // cancelled in that instant (counted by cancel())
      }
      s.retries_used.store(static_cast<std::uint16_t>(n), std::memory_order_relaxed);
      // Counted and published before the monitor can see it: whoever sees the next
      // attempt (or its end) sees this retry counted.
      retries.add();
      publish_event(me, event(EventKind::Retrying, delay));
      // From the monitor's pop on, the task is the monitor's (and a canceller's).
      if (scheduled_in.push_reserved(retry_token(w), detail::Scheduled{at, id, detail::Scheduled::Kind::Start})) {
        notify = monitor_ring_filling(seen) ? now : at;
        return true;
      }
      retries.v.fetch_sub(1, std::memory_order_relaxed);
      from = State::Retrying;  // moodycamel refused below its bound (ring.hpp): as full
    }
    w.error = {};
    note_error(w, "its retry could not be scheduled (the monitor's ring was full)");
    // Its outcome (count_outcome skipped it) counted before the state shows the end.
    std::atomic<std::uint64_t>& outcome = why == Reason::DeadlineMissed ? w.out.timed_out : w.out.failed;
    w.out.add(outcome);
    if (!dead_letter(w, s, id, from, why, now)) {  // cancelled meanwhile: counted by cancel()
      outcome.store(outcome.load(std::memory_order_relaxed) - 1, std::memory_order_release);
      return false;
    }
    return false;
  }
  (void)dead_letter(w, s, id, from, why, now);  // exhausted: no cancel() can end it first
  return false;
}

bool Engine::Impl::dead_letter(Worker& w, TaskSlot& s, TaskId id, State from, Reason why,
                               ns_t now) noexcept HAL_NONBLOCKING {
  // The record, the count and the event first, then the state: whoever sees
  // DEAD_LETTERED finds them. Only a task whose retry could not be scheduled can be
  // cancelled in between (an exhausted one is an outcome cancel() leaves alone): its
  // record and count are taken back; its event stands, followed by its cancellation's.
  const std::uint64_t seq = push_dead_letter(w, s, id, from, why, now);
  dead_lettered.add();
  publish_event(static_cast<std::size_t>(w.index), task_event(EventKind::DeadLettered, why, s, id, w.index, now,
                                                              s.retries_used.load(std::memory_order_relaxed)));
  if (transition_from(s, id.generation, from, State::DeadLettered, now) == Tx::Ok) return true;
  dead_lettered.v.fetch_sub(1, std::memory_order_relaxed);
  if (seq != 0) (void)dead_letters.take(seq, w.letter);
  return false;
}

std::uint64_t Engine::Impl::push_dead_letter(Worker& w, TaskSlot& s, TaskId id, State last, Reason why,
                                             ns_t now) noexcept HAL_NONBLOCKING {
  // The record is the worker's to fill: one per worker, reused (no allocation, and no
  // 450-byte object on an RT thread's stack).
  DeadLetter& d = w.letter;
  d.id = id;
  d.type = s.type.load(std::memory_order_relaxed);
  d.priority = s.priority.load(std::memory_order_relaxed);
  d.workflow = s.workflow.load(std::memory_order_relaxed);
  d.attempts = s.retries_used.load(std::memory_order_relaxed) + 1U;
  d.last_state = last;
  d.last_reason = why;
  d.at = now;
  switch (why) {
    case Reason::Exception:
      d.set_error(std::string_view(w.error.data()));
      break;
    case Reason::DeadlineMissed:
      d.set_error("deadline missed");
      break;
    case Reason::GateViolation:
      d.set_error("a required gate was closed");
      break;
    default:
      d.set_error("failed");
      break;
  }
  // What a re-drive submits again: the options as given, the deadline as its budget.
  SubmitOptions& o = d.options;
  o = SubmitOptions{};
  o.priority = d.priority;
  o.type = d.type;
  o.deadline_in = s.budget;
  o.gates = s.gates.load(std::memory_order_relaxed);
  o.pre = s.pre;
  o.post = s.post;
  o.workflow = d.workflow;
  o.state = s.state;
  o.retry = s.retry;
  o.context = s.context;
  d.fn.copy_from(s.fn);
  return dead_letters.push(d);
}

void Engine::Impl::breaker_changed(std::size_t token, BreakerChange c, TypeId type, std::uint64_t id,
                                   ns_t now) noexcept HAL_NONBLOCKING {
  EventKind k = EventKind::CircuitOpened;
  switch (c) {
    case BreakerChange::None:
      return;
    case BreakerChange::Opened:
      break;
    case BreakerChange::HalfOpened:
      k = EventKind::CircuitHalfOpen;
      break;
    case BreakerChange::Closed:
      k = EventKind::CircuitClosed;
      break;
  }
  publish_event(token, Event{.kind = k, .subject = Subject::Task, .type = type, .id = id, .at = now});
}

void Engine::Impl::feed_breaker(std::size_t token, const TaskSlot& s, TaskId id, State st, Reason why,
                                ns_t now) noexcept HAL_NONBLOCKING {
  const TypeId type = s.type.load(std::memory_order_relaxed);
  CircuitBreaker& b = *breakers[type];
  BreakerChange c = BreakerChange::None;
  if (st == State::Completed) {
    c = b.on_success(now);
  } else if (why == Reason::Exception || why == Reason::DeadlineMissed) {
    // A failure of the type's own work; a closed gate or a cancellation says nothing about it.
    c = b.on_failure(now);
  }
  breaker_changed(token, c, type, id.value(), now);
}

}  // namespace rt
