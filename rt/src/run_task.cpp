// A worker's one-shot task: the engine's checked steps before and after (begin_task,
// end_task, after_task: HAL_NONBLOCKING, checked by RealtimeSanitizer in the rtsan
// preset) around the task's own code, its hooks and the user's snapshot and restore,
// which run unchecked between them (mark your task function HAL_NONBLOCKING to have it
// checked too). Starting a task makes no syscall in steady state: the monitor learned its
// deadline from the submitter, and the start only loads a flag (announce_at_start); it
// writes the monitor's eventfd when the flag is set and the monitor is armed later than the
// deadline: the monitor's ring was full at submission, or the monitor dropped the deadline
// in the instant the task was taken but not yet shown as running.
#include <exception>

#include "engine_impl.hpp"

namespace rt {

using detail::Phase;
using detail::run_word;
using detail::state_of;
using detail::TaskSlot;
using detail::Worker;

Event Engine::Impl::task_event(EventKind kind, Reason why, const TaskSlot& s, TaskId id, int worker, ns_t at,
                               ns_t value) noexcept HAL_NONBLOCKING {
  return Event{.kind = kind,
               .subject = Subject::Task,
               .reason = why,
               .type = s.type.load(std::memory_order_relaxed),
               .worker = static_cast<std::int16_t>(worker),
               .workflow = s.workflow.load(std::memory_order_relaxed),
               .id = id.value(),
               .at = at,
               .value = value};
}

void Engine::Impl::watch_begin(Worker& w, detail::Subjected kind, std::uint64_t subject, ns_t deadline,
                               ns_t start) noexcept HAL_NONBLOCKING {
  ++w.ticket;
  w.watch.subject.store(subject, std::memory_order_relaxed);
  w.watch.kind.store(kind, std::memory_order_relaxed);
  w.watch.deadline.store(deadline, std::memory_order_relaxed);
  // Read with another run's deadline, a lead only moves that one look earlier or later:
  // look_at never returns a time after the deadline, whatever the lead.
  w.watch.lead.store(detail::look_ahead(deadline - start), std::memory_order_relaxed);
  // seq_cst: half of the handshake with the monitor's arming (poke_monitor, monitor.cpp).
  w.watch.run.store(run_word(w.ticket, Phase::Running), std::memory_order_seq_cst);
}

bool Engine::Impl::watch_end(Worker& w) noexcept HAL_NONBLOCKING {
  const Phase was = detail::phase_of(w.watch.run.exchange(run_word(w.ticket, Phase::Idle), std::memory_order_acq_rel));
  if (was == Phase::Stalled) {
    publish_event(static_cast<std::size_t>(w.index), Event{.kind = EventKind::WorkerRecovered,
                                                           .subject = Subject::Worker,
                                                           .worker = static_cast<std::int16_t>(w.index),
                                                           .id = static_cast<std::uint64_t>(w.index),
                                                           .at = hal::now_ns()});
  }
  return was != Phase::Running;  // Missed or Stalled: the monitor called it first
}

void Engine::Impl::execute(Worker& w, std::uint32_t idx) noexcept {
  TaskSlot& s = slots[idx];
  detail::prefetch_slot(s);
  // The start is read while the slot's lines are on their way from the producer's core: the
  // clock (~30 ns through the vDSO on a VM) overlaps their transfer instead of following it.
  ns_t now = hal::now_ns();
  const bool bound = s.state.bound();
  // Before the checks, so that a violation found at the start restores exactly this. The
  // snapshot is the user's code: the start (and the too-late check) comes after it.
  if (bound && state_of(s.word.load(std::memory_order_acquire)) == State::Ready) {
    s.state.take();
    now = hal::now_ns();
  }
  const Begin b = begin_task(w, idx, now);
  Reason violation = b.violation;
  ns_t end = b.start;
  if (b.run) {
    // The worker's half of the handshake with the monitor's arming: watch_begin stored the
    // watch (seq_cst); the flag is loaded after it (seq_cst). Set when the monitor's ring
    // was full at submission, or when the monitor met the deadline while the task was not
    // yet RUNNING and dropped it (release_scheduled): then this worker wakes it, unless it
    // is armed for this deadline or earlier. Usually clear: one load, no syscall (the
    // monitor learned the deadline from the submitter).
    if (b.deadline != 0 && s.announce_at_start.load(std::memory_order_seq_cst)) poke_monitor(b.deadline);
    TaskContext ctx(TaskId{idx, b.gen}, s.stop, b.gen, s.context, b.ready, b.deadline, 0, w.index);
    bool threw = false;
    if (s.pre != nullptr) s.pre(ctx);
    try {
      s.fn(ctx);
    } catch (const std::exception& ex) {  // F12: an exception is a violation of this task, never of the engine
      threw = true;
      note_error(w, ex.what());
    } catch (...) {
      threw = true;
      note_error(w, "an exception not derived from std::exception");
    }
    if (s.post != nullptr) s.post(ctx);
    violation = end_task(w, idx, b, threw, end);
  }
  if (violation != Reason::None && bound) {
    s.state.roll_back(violation);
    note_rollback(w.out, s, b.gen, violation, static_cast<std::size_t>(w.index), end, end - b.start);
  }
  // A retry due earlier than the monitor is armed for: tell it, off the checked path.
  if (const ns_t retry_at = after_task(w, idx, b); retry_at != 0) poke_monitor(retry_at);
}

Engine::Impl::Begin Engine::Impl::begin_task(Worker& w, std::uint32_t idx, ns_t now) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const auto me = static_cast<std::size_t>(w.index);
  Begin b;
  const std::uint64_t word = s.word.load(std::memory_order_acquire);
  b.gen = detail::gen_of(word);
  if (state_of(word) != State::Ready) {  // cancelled while queued: counted by cancel(), published here
    if (state_of(word) == State::Cancelled)
      publish_event(me, task_event(EventKind::Cancelled, Reason::CancelledQueued, s, TaskId{idx, b.gen}, w.index, now));
    return b;
  }
  const TaskId id{idx, b.gen};
  b.start = now;
  b.deadline = s.deadline.load(std::memory_order_relaxed);
  b.ready = s.ready.load(std::memory_order_relaxed);
  if (b.deadline != 0 && b.start > b.deadline) {
    if (finish(w.out, s, b.gen, State::Timeout, Reason::DeadlineMissed, b.start)) {
      publish_event(me, task_event(EventKind::Timeout, Reason::DeadlineMissed, s, id, w.index, b.start));
      b.violation = Reason::DeadlineMissed;
    }
  } else if ((s.gates.load(std::memory_order_relaxed) & ~engine.open_gates()) != 0) {
    w.out.add(w.out.gate_violations);
    if (finish(w.out, s, b.gen, State::Failed, Reason::GateViolation, b.start)) {
      publish_event(me, task_event(EventKind::Failed, Reason::GateViolation, s, id, w.index, b.start));
      b.violation = Reason::GateViolation;
    }
  } else if (transition_from(s, b.gen, State::Ready, State::Running, b.start) == Tx::Ok) {  // cancel() may win
    b.run = true;
    w.running.store(true, std::memory_order_relaxed);
    w.state.store(WorkerState::Busy, std::memory_order_relaxed);
    s.started.store(b.start, std::memory_order_relaxed);
    s.worker.store(static_cast<std::int16_t>(w.index), std::memory_order_relaxed);
    w.dispatch.record_local(b.start - b.ready);
    if (b.deadline != 0) watch_begin(w, detail::Subjected::Task, id.value(), b.deadline, b.start);
    publish_event(me, task_event(EventKind::Started, Reason::None, s, id, w.index, b.start));
  }
  return b;
}

Reason Engine::Impl::end_task(Worker& w, std::uint32_t idx, const Begin& b, bool threw,
                              ns_t& end) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const auto me = static_cast<std::size_t>(w.index);
  const TaskId id{idx, b.gen};
  end = hal::now_ns();
  const ns_t ran = end - b.start;  // every outcome event below carries it (event.hpp)
  w.busy_ns.add(static_cast<std::uint64_t>(ran));
  w.tasks_done.add();
  w.execution.record_local(ran);
  // The monitor may have declared it TIMEOUT while it ran: then it already counted and
  // published the miss, and what is left is the rollback.
  const bool missed = b.deadline != 0 && watch_end(w);
  const bool gate_closed = (s.gates.load(std::memory_order_relaxed) & ~engine.open_gates()) != 0;
  Reason violation = Reason::None;
  if (missed) {
    // The monitor may still be between its CAS and its own TIMEOUT transition.
    violation = Reason::DeadlineMissed;
    if (mark_timeout(w.out, s, b.gen, end))
      publish_event(me, task_event(EventKind::Timeout, Reason::DeadlineMissed, s, id, w.index, end, ran));
  } else if (threw) {
    w.out.add(w.out.exceptions);
    violation = Reason::Exception;
    if (finish(w.out, s, b.gen, State::Failed, Reason::Exception, end))
      publish_event(me, task_event(EventKind::Failed, Reason::Exception, s, id, w.index, end, ran));
  } else if (gate_closed) {
    // F6: a required gate closed while it ran; its output must not stand.
    w.out.add(w.out.gate_violations);
    violation = Reason::GateViolation;
    if (finish(w.out, s, b.gen, State::Failed, Reason::GateViolation, end))
      publish_event(me, task_event(EventKind::Failed, Reason::GateViolation, s, id, w.index, end, ran));
  } else if (s.stop.load(std::memory_order_relaxed) == b.gen) {
    if (finish(w.out, s, b.gen, State::Cancelled, Reason::CancelledRunning, end))
      publish_event(me, task_event(EventKind::Cancelled, Reason::CancelledRunning, s, id, w.index, end, ran));
  } else if (b.deadline != 0 && end > b.deadline) {
    violation = Reason::DeadlineMissed;
    if (mark_timeout(w.out, s, b.gen, end)) {
      publish_event(me,
                    task_event(EventKind::DeadlineMiss, Reason::DeadlineMissed, s, id, w.index, end, end - b.deadline));
      publish_event(me, task_event(EventKind::Timeout, Reason::DeadlineMissed, s, id, w.index, end, ran));
    }
  } else if (finish(w.out, s, b.gen, State::Completed, Reason::None, end)) {
    publish_event(me, task_event(EventKind::Completed, Reason::None, s, id, w.index, end, ran));
  }
  return violation;
}

void Engine::Impl::note_error(Worker& w, const char* what) noexcept HAL_NONBLOCKING {
  // Only a task with a retry policy can be dead-lettered with it; the copy is short and
  // bounded, and the exception's own allocation was the thrower's.
  std::size_t n = 0;
  for (; what != nullptr && what[n] != '\0' && n + 1 < w.error.size(); ++n)
    w.error[n] = what[n];
  w.error[n] = '\0';
}

ns_t Engine::Impl::after_task(Worker& w, std::uint32_t idx, const Begin& b) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  ns_t notify = 0;
  if (any_breaker && breakers[s.type.load(std::memory_order_relaxed)] != nullptr) {
    const std::uint64_t word = s.word.load(std::memory_order_acquire);
    if (detail::gen_of(word) == b.gen)
      feed_breaker(static_cast<std::size_t>(w.index), s, TaskId{idx, b.gen}, state_of(word),
                   s.reason.load(std::memory_order_relaxed), hal::now_ns());
  }
  // F13/F14: a failed attempt of a task with a retry policy is retried or dead-lettered
  // (the callable is kept for the next attempt, or copied into the dead-letter record).
  bool lives_on = false;
  if (s.retries.load(std::memory_order_relaxed)) {
    const std::uint64_t word = s.word.load(std::memory_order_acquire);
    const State st = state_of(word);
    if (detail::gen_of(word) == b.gen && (st == State::Failed || st == State::Timeout || st == State::RolledBack))
      lives_on = retry_or_dead_letter(w, idx, b.gen, st, hal::now_ns(), notify);
  }
  if (!lives_on) s.fn.reset();  // trivially destructible (InlineFn): nothing of the user's runs here
  if (b.run) {                  // only now: whoever waits for the worker to be free sees the rollback done
    w.running.store(false, std::memory_order_release);
    w.state.store(WorkerState::Idle, std::memory_order_relaxed);
  }
  if (!lives_on) retire(static_cast<std::size_t>(w.index), idx);
  return notify;
}

}  // namespace rt
