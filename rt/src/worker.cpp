// The worker thread: one-shot tasks from the rings, periodic releases on its own grid,
// and the bookkeeping the deadline monitor reads.
#include "engine_impl.hpp"
#include "hal/futex.hpp"
#include "hal/memory.hpp"

namespace rt {

using detail::PeriodicTask;
using detail::Phase;
using detail::run_word;
using detail::state_of;
using detail::TaskSlot;
using detail::Worker;

namespace {

ns_t margin_of(const PeriodicTask& p) noexcept {
  switch (p.spec.precision) {
    case Precision::Hybrid:
      return p.spec.hybrid_margin;
    case Precision::Spin:
      return p.spec.period;
    case Precision::Sleep:
      break;
  }
  return 0;
}

Event task_event(EventKind kind, Reason why, const TaskSlot& s, TaskId id, int worker, ns_t at,
                 ns_t value = 0) noexcept {
  return Event{.kind = kind,
               .subject = Subject::Task,
               .reason = why,
               .type = s.type.load(std::memory_order_relaxed),
               .worker = static_cast<std::int16_t>(worker),
               .id = id.value(),
               .at = at,
               .value = value};
}

Event periodic_event(EventKind kind, Reason why, const PeriodicTask& p, ns_t at, ns_t value = 0) noexcept {
  return Event{.kind = kind,
               .subject = Subject::Periodic,
               .reason = why,
               .type = p.spec.type,
               .worker = static_cast<std::int16_t>(p.worker->index),
               .id = static_cast<std::uint64_t>(p.index),
               .at = at,
               .value = value};
}

}  // namespace

bool Engine::Impl::pop_any(const Worker& w, std::uint32_t& idx, std::size_t below) noexcept HAL_NONBLOCKING {
  const auto me = static_cast<std::size_t>(w.index);
  for (std::size_t k = 0; k < below; ++k) {
    if ((w.cfg.classes & (1U << k)) != 0 && rings[k]->try_pop(me, idx)) return true;
  }
  return false;
}

bool Engine::Impl::has_work(const Worker& w) const noexcept HAL_NONBLOCKING {
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if ((w.cfg.classes & (1U << k)) != 0 && rings[k]->depth() > 0) return true;
  }
  return false;
}

void Engine::Impl::watch_begin(Worker& w, std::uint64_t subject, ns_t deadline) noexcept HAL_NONBLOCKING {
  ++w.ticket;
  w.watch.subject.store(subject, std::memory_order_relaxed);
  w.watch.deadline.store(deadline, std::memory_order_relaxed);
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

// ---- one-shot tasks ----

// One dequeued task, in three parts: the engine's checks and bookkeeping before and
// after are HAL_NONBLOCKING (RealtimeSanitizer checks them in the rtsan preset); the
// task's own code, its hooks and its destructor run between them, unchecked (mark your
// task function HAL_NONBLOCKING to have it checked too), and so does the one eventfd
// write that tells the monitor about a deadline earlier than any it is armed for.
// The user's snapshot and restore functions (F11) run there too.
void Engine::Impl::execute(Worker& w, std::uint32_t idx) noexcept {
  TaskSlot& s = slots[idx];
  const auto me = static_cast<std::size_t>(w.index);
  const bool bound = s.state.bound();
  // Before the checks, so that a violation found at the start restores exactly this.
  if (bound && state_of(s.word.load(std::memory_order_acquire)) == State::Ready) s.state.take();
  const Begin b = begin_task(w, idx);
  Reason violation = b.violation;
  ns_t end = b.start;
  if (b.run) {
    if (b.deadline != 0) poke_monitor(b.deadline);
    TaskContext ctx(TaskId{idx, b.gen}, s.stop, b.gen, s.context, b.ready, b.deadline);
    bool threw = false;
    if (s.pre != nullptr) s.pre(ctx);
    try {
      s.fn(ctx);
    } catch (...) {  // F12: an exception is a violation of this task, never of the engine
      threw = true;
    }
    if (s.post != nullptr) s.post(ctx);
    violation = end_task(w, idx, b, threw, end);
  }
  s.fn.reset();  // its captures are destroyed here, off the checked path
  if (violation != Reason::None && bound) {
    s.state.roll_back(violation);
    note_rollback(s, b.gen, violation, me, end);
  }
  if (b.run) {  // only now: whoever waits for `running` to drop sees the rollback done
    counters.running.v.fetch_sub(1, std::memory_order_relaxed);
    w.state.store(WorkerState::Idle, std::memory_order_relaxed);
  }
  retire(me, idx);
}

Engine::Impl::Begin Engine::Impl::begin_task(Worker& w, std::uint32_t idx) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const auto me = static_cast<std::size_t>(w.index);
  Begin b;
  const std::uint64_t word = s.word.load(std::memory_order_acquire);
  b.gen = detail::gen_of(word);
  if (state_of(word) != State::Ready) return b;  // cancelled while queued: already counted
  const TaskId id{idx, b.gen};
  b.start = hal::now_ns();
  b.deadline = s.deadline.load(std::memory_order_relaxed);
  b.ready = std::max(s.created.load(std::memory_order_relaxed), s.start_at.load(std::memory_order_relaxed));
  if (b.deadline != 0 && b.start > b.deadline) {
    if (finish(s, b.gen, State::Timeout, Reason::DeadlineMissed, b.start)) {
      publish_event(me, task_event(EventKind::Timeout, Reason::DeadlineMissed, s, id, w.index, b.start));
      b.violation = Reason::DeadlineMissed;
    }
  } else if ((s.gates.load(std::memory_order_relaxed) & ~engine.open_gates()) != 0) {
    counters.gate_violations.add();
    if (finish(s, b.gen, State::Failed, Reason::GateViolation, b.start)) {
      publish_event(me, task_event(EventKind::Failed, Reason::GateViolation, s, id, w.index, b.start));
      b.violation = Reason::GateViolation;
    }
  } else if (transition_from(s, b.gen, State::Ready, State::Running, b.start) == Tx::Ok) {  // cancel() may win
    b.run = true;
    counters.running.add();
    w.state.store(WorkerState::Busy, std::memory_order_relaxed);
    s.started.store(b.start, std::memory_order_relaxed);
    s.worker.store(static_cast<std::int16_t>(w.index), std::memory_order_relaxed);
    w.dispatch.record_local(b.start - b.ready);
    if (b.deadline != 0) watch_begin(w, id.value(), b.deadline);
  }
  return b;
}

Reason Engine::Impl::end_task(Worker& w, std::uint32_t idx, const Begin& b, bool threw,
                              ns_t& end) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const auto me = static_cast<std::size_t>(w.index);
  const TaskId id{idx, b.gen};
  end = hal::now_ns();
  w.busy_ns.fetch_add(end - b.start, std::memory_order_relaxed);
  w.tasks_done.fetch_add(1, std::memory_order_relaxed);
  w.execution.record_local(end - b.start);
  // The monitor may have declared it TIMEOUT while it ran: then it already counted and
  // published the miss, and what is left is the rollback.
  const bool missed = b.deadline != 0 && watch_end(w);
  const bool gate_closed = (s.gates.load(std::memory_order_relaxed) & ~engine.open_gates()) != 0;
  Reason violation = Reason::None;
  if (missed) {
    // The monitor may still be between its CAS and its own TIMEOUT transition.
    violation = Reason::DeadlineMissed;
    if (mark_timeout(s, b.gen, end))
      publish_event(me, task_event(EventKind::Timeout, Reason::DeadlineMissed, s, id, w.index, end));
  } else if (threw) {
    counters.exceptions.add();
    violation = Reason::Exception;
    if (finish(s, b.gen, State::Failed, Reason::Exception, end))
      publish_event(me, task_event(EventKind::Failed, Reason::Exception, s, id, w.index, end));
  } else if (gate_closed) {
    // F6: a required gate closed while it ran; its output must not stand.
    counters.gate_violations.add();
    violation = Reason::GateViolation;
    if (finish(s, b.gen, State::Failed, Reason::GateViolation, end))
      publish_event(me, task_event(EventKind::Failed, Reason::GateViolation, s, id, w.index, end));
  } else if (s.stop.load(std::memory_order_relaxed) == b.gen) {
    finish(s, b.gen, State::Cancelled, Reason::CancelledRunning, end);
  } else if (b.deadline != 0 && end > b.deadline) {
    violation = Reason::DeadlineMissed;
    if (mark_timeout(s, b.gen, end)) {
      publish_event(me,
                    task_event(EventKind::DeadlineMiss, Reason::DeadlineMissed, s, id, w.index, end, end - b.deadline));
      publish_event(me, task_event(EventKind::Timeout, Reason::DeadlineMissed, s, id, w.index, end));
    }
  } else {
    finish(s, b.gen, State::Completed, Reason::None, end);
  }
  return violation;
}

// ---- periodic tasks ----

void Engine::Impl::apply_periodic_commands(Worker& w, ns_t now) noexcept HAL_NONBLOCKING {
  w.periodic_seen = w.periodic_commands.load(std::memory_order_acquire);
  const std::size_t n = w.periodic_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    PeriodicTask& p = *w.periodic[i];
    const PeriodicState want = p.want.load(std::memory_order_acquire);
    const std::uint32_t starts = p.starts.load(std::memory_order_acquire);
    if (starts != p.applied_starts) {
      // A start (perhaps followed by stop and start again, or pause, before this worker
      // looked): a new grid from when it was asked, or from now if the engine was not
      // running then -- never in the past, or the first run would be a backlog.
      p.applied_starts = starts;
      p.first = std::max(p.start_base.load(std::memory_order_relaxed), now) + p.spec.phase;
      p.k = 0;
      if (p.applied == PeriodicState::Stopped) p.applied = PeriodicState::Paused;  // a grid, not yet running
    }
    if (want == PeriodicState::Running) {
      if (p.applied == PeriodicState::Paused && p.first + static_cast<ns_t>(p.k) * p.spec.period < now) {
        // Resume: back on the original grid at its next point; the time paused is not
        // counted as releases.
        p.k = static_cast<std::uint64_t>((now - p.first + p.spec.period - 1) / p.spec.period);
      }
      p.next = p.first + static_cast<ns_t>(p.k) * p.spec.period;
    } else {
      p.next = kNever;
    }
    p.applied = want;
    p.state.store(want, std::memory_order_release);
    p.next_release.store(want == PeriodicState::Running ? p.next : 0, std::memory_order_relaxed);
  }
  publish_hint(w);
}

PeriodicTask* Engine::Impl::earliest_release(const Worker& w) const noexcept HAL_NONBLOCKING {
  PeriodicTask* best = nullptr;
  const std::size_t n = w.periodic_count.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    PeriodicTask* p = w.periodic[i];
    if (p->applied == PeriodicState::Running && (best == nullptr || p->next < best->next)) best = p;
  }
  return best;
}

void Engine::Impl::publish_hint(Worker& w) noexcept HAL_NONBLOCKING {
  const PeriodicTask* p = earliest_release(w);
  w.watch.hint.store(p != nullptr ? p->next + p->deadline_rel : 0, std::memory_order_seq_cst);
}

// One release, on the worker that owns the task, in the same three parts as a one-shot
// task: release_begin and release_end are HAL_NONBLOCKING (checked by RealtimeSanitizer);
// the task, its hooks, the user's snapshot and restore, and the monitor poke run between.
// The release time is the grid point, whatever the wake-up's lateness, so lateness shows
// up as jitter and never as drift.
void Engine::Impl::run_release(Worker& w, PeriodicTask& p) noexcept {
  const StateBinding& st = p.spec.state;
  if (st.bound()) st.take();
  Release r = release_begin(w, p);
  bool threw = false;
  if (r.run) {
    poke_monitor(r.deadline);
    TaskContext ctx(TaskId{static_cast<std::uint32_t>(p.index), 0}, p.stop, w.ticket, p.spec.context, r.release,
                    r.deadline, r.index);
    if (p.spec.pre != nullptr) p.spec.pre(ctx);
    try {
      p.fn(ctx);
    } catch (...) {
      threw = true;
    }
    if (p.spec.post != nullptr) p.spec.post(ctx);
  }
  const Reason violation = release_end(w, p, r, threw);
  const bool rolled = violation != Reason::None && st.bound();
  if (rolled) st.roll_back(violation);
  release_finish(w, p, r, violation, rolled);
}

Engine::Impl::Release Engine::Impl::release_begin(Worker& w, PeriodicTask& p) noexcept HAL_NONBLOCKING {
  const auto me = static_cast<std::size_t>(w.index);
  const ns_t period = p.spec.period;
  Release r;
  r.start = hal::now_ns();
  // More than one release due (a long task on this worker, a stall, an overrun): Skip
  // keeps only the latest, CatchUp runs them all, one after another.
  if (r.start >= p.next + period && p.spec.overrun != Overrun::CatchUp) {
    const auto passed = static_cast<std::uint64_t>((r.start - p.next) / period);
    p.skipped.add(passed);
    p.releases.add(passed);
    p.k += passed;
    p.next = p.first + static_cast<ns_t>(p.k) * period;
  }
  r.release = p.next;
  r.deadline = r.release + p.deadline_rel;
  // CatchUp runs releases that are already past their deadline: each gets its full
  // relative deadline from its actual start, or catching up would only mean rollbacks.
  if (p.spec.overrun == Overrun::CatchUp && r.start > r.deadline) r.deadline = r.start + p.deadline_rel;
  r.index = p.k;
  r.end = r.start;
  p.releases.add();
  if (r.start > r.deadline) {
    // F8: its deadline passed before it could start: not started, a miss, and skipped.
    p.misses.add();
    p.skipped.add();
    publish_event(me,
                  periodic_event(EventKind::DeadlineMiss, Reason::DeadlineMissed, p, r.start, r.start - r.deadline));
  } else if ((p.spec.gates & ~engine.open_gates()) != 0) {
    p.runs.add();
    p.gate_violations.add();
    r.violation = Reason::GateViolation;
  } else {
    r.run = true;
    p.runs.add();
    p.jitter.record_local(r.start - r.release);
    w.state.store(WorkerState::Busy, std::memory_order_relaxed);
    watch_begin(w, detail::kPeriodicSubject | static_cast<std::uint64_t>(p.index), r.deadline);
  }
  return r;
}

Reason Engine::Impl::release_end(Worker& w, PeriodicTask& p, Release& r, bool threw) noexcept HAL_NONBLOCKING {
  const auto me = static_cast<std::size_t>(w.index);
  const ns_t period = p.spec.period;
  Reason violation = r.violation;
  bool overran = false;
  if (r.run) {
    r.end = hal::now_ns();
    const bool missed = watch_end(w) || r.end > r.deadline;
    w.busy_ns.fetch_add(r.end - r.start, std::memory_order_relaxed);
    w.tasks_done.fetch_add(1, std::memory_order_relaxed);
    w.state.store(WorkerState::Idle, std::memory_order_relaxed);
    p.response.record_local(r.end - r.release);
    p.execution.record_local(r.end - r.start);
    if (missed) p.misses.add();
    if (threw) {
      p.exceptions.add();
      violation = Reason::Exception;
    } else if (missed) {
      violation = Reason::DeadlineMissed;
    } else if ((p.spec.gates & ~engine.open_gates()) != 0) {
      p.gate_violations.add();
      violation = Reason::GateViolation;
    }
    overran = r.end > r.release + period;
  }
  if (violation != Reason::None) {
    publish_event(me, periodic_event(violation == Reason::DeadlineMissed ? EventKind::Timeout : EventKind::Failed,
                                     violation, p, r.end));
  }
  if (overran) {
    p.overruns.add();
    publish_event(me, periodic_event(EventKind::Overrun, Reason::DeadlineMissed, p, r.end, r.end - r.release - period));
    if (p.spec.overrun == Overrun::RollbackAndHold) {
      if (violation == Reason::None) violation = Reason::DeadlineMissed;
      // Held: paused until resume(); the state stays at its last safe value. Only from
      // Running: a stop asked for meanwhile wins.
      PeriodicState running = PeriodicState::Running;
      if (p.want.compare_exchange_strong(running, PeriodicState::Paused, std::memory_order_acq_rel)) {
        p.applied = PeriodicState::Paused;
        p.state.store(PeriodicState::Paused, std::memory_order_release);
      }
    }
  }
  return violation;
}

void Engine::Impl::release_finish(Worker& w, PeriodicTask& p, const Release& r, Reason violation,
                                  bool rolled) noexcept HAL_NONBLOCKING {
  if (rolled) {
    p.rollbacks.add();
    rollbacks_by_type[p.spec.type].add();
    publish_event(static_cast<std::size_t>(w.index), periodic_event(EventKind::RolledBack, violation, p, r.end));
  }
  ++p.k;
  p.next = p.applied == PeriodicState::Running ? p.first + static_cast<ns_t>(p.k) * p.spec.period : kNever;
  p.next_release.store(p.applied == PeriodicState::Running ? p.next : 0, std::memory_order_relaxed);
  publish_hint(w);
}

// ---- the loop ----

// Highest class first; a due periodic release before queued tasks of lower classes;
// between both, spin briefly, then sleep on the futex until new work, a command, or the
// next release (minus its spin margin). RT: no allocation; syscalls on the way to sleep
// (getrusage for the fault sample, then the futex wait) and one eventfd write when a run
// has a deadline earlier than anything the monitor is armed for (never for a periodic
// run: the worker announces those ahead, publish_hint).
void Engine::Impl::worker_loop(Worker& w) noexcept {
  w.started_at.store(hal::now_ns(), std::memory_order_relaxed);
  w.state.store(WorkerState::Idle, std::memory_order_relaxed);
  const ns_t spin = engine.cfg_.idle_spin;
  std::uint32_t idx = 0;
  for (;;) {
    ns_t wake_at = kNever;
    if (w.periodic_count.load(std::memory_order_relaxed) != 0) {
      if (w.periodic_commands.load(std::memory_order_acquire) != w.periodic_seen)
        apply_periodic_commands(w, hal::now_ns());
      if (PeriodicTask* p = earliest_release(w); p != nullptr) {
        const ns_t at = p->next - margin_of(*p);
        if (hal::now_ns() >= at) {
          if (pop_any(w, idx, static_cast<std::size_t>(p->spec.priority))) {
            execute(w, idx);
            continue;
          }
          // The spin up to the release; a command (stop, pause) or the engine's stop ends it.
          bool interrupted = false;
          while (hal::now_ns() < p->next && !interrupted) {
            detail::cpu_relax();
            interrupted = w.stop.load(std::memory_order_relaxed) ||
                          w.periodic_commands.load(std::memory_order_relaxed) != w.periodic_seen;
          }
          if (w.stop.load(std::memory_order_acquire)) break;
          if (interrupted) continue;
          run_release(w, *p);
          continue;
        }
        wake_at = at;
      }
    }
    if (pop_any(w, idx, kClassCount)) {
      execute(w, idx);
      continue;
    }
    if (w.stop.load(std::memory_order_acquire)) break;
    bool got = false;
    // The clock is read once per 32 polls: a poll is a few loads, a clock read is not.
    for (const ns_t until = std::min(hal::now_ns() + spin, wake_at); !got && hal::now_ns() < until;) {
      for (int i = 0; i < 32; ++i) {
        if ((got = pop_any(w, idx, kClassCount))) break;
        detail::cpu_relax();
      }
    }
    if (got) {
      execute(w, idx);
      continue;
    }
    if (wake_at != kNever && hal::now_ns() >= wake_at) continue;
    const std::uint32_t s = w.seq.load(std::memory_order_acquire);
    // Dekker handshake with wake_one and command_periodic, all seq_cst: either the waker
    // sees `sleeping` or this worker sees the new depth or command. (No fences: TSan
    // cannot model them.)
    w.sleeping.store(true, std::memory_order_seq_cst);
    if (w.stop.load(std::memory_order_seq_cst) ||
        w.periodic_commands.load(std::memory_order_seq_cst) != w.periodic_seen) {
      w.sleeping.store(false, std::memory_order_relaxed);
      continue;
    }
    if (has_work(w)) {
      if (pop_any(w, idx, kClassCount)) {
        w.sleeping.store(false, std::memory_order_relaxed);
        execute(w, idx);
        continue;
      }
      // A place is reserved but its item not enqueued yet: its producer wakes this worker
      // after the enqueue (it sees `sleeping`). Spinning for it could starve a preempted
      // producer on this CPU at this worker's priority.
    }
    w.minor_faults.store(hal::minor_faults_this_thread(), std::memory_order_relaxed);
    if (wake_at == kNever) {
      (void)hal::futex_wait(w.seq, s);
    } else {
      (void)hal::futex_wait_until(w.seq, s, wake_at);
    }
    w.sleeping.store(false, std::memory_order_relaxed);
  }
  w.minor_faults.store(hal::minor_faults_this_thread(), std::memory_order_relaxed);
  w.stopped_at.store(hal::now_ns(), std::memory_order_relaxed);
  w.state.store(WorkerState::Stopped, std::memory_order_relaxed);
}

}  // namespace rt
