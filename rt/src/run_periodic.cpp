// A worker's periodic releases (F9): commands applied between runs, the earliest due
// release, and one release in the same three parts as a one-shot task (release_begin and
// release_end checked, the user's code between). The release time is the grid point,
// whatever the wake-up's lateness, so lateness shows up as jitter and never as drift.
#include "engine_impl.hpp"

namespace rt {

using detail::PeriodicTask;
using detail::Worker;

namespace {

// RT: wait-free; no allocation, no syscall.
Event periodic_event(EventKind kind, Reason why, const PeriodicTask& p, ns_t at, ns_t value = 0,
                     std::uint32_t aux = 0) noexcept HAL_NONBLOCKING {
  return Event{.kind = kind,
               .subject = Subject::Periodic,
               .reason = why,
               .type = p.spec.type,
               .worker = static_cast<std::int16_t>(p.worker->index),
               .aux = aux,
               .id = static_cast<std::uint64_t>(p.index),
               .at = at,
               .value = value};
}

// Start - release, saturated into Event::aux (4.29 s: a run that late is a stall, and the
// DeadlineMiss says so with the full value). A hybrid wake-up is never early, but a
// negative difference must not wrap either. RT: wait-free; no allocation, no syscall.
std::uint32_t lateness(ns_t start, ns_t release) noexcept HAL_NONBLOCKING {
  const ns_t late = start - release;
  if (late <= 0) return 0;
  return late >= ns_t{UINT32_MAX} ? UINT32_MAX : static_cast<std::uint32_t>(late);
}

// After a release, off the way from the wake-up to the spin: the last wait's lateness
// moves the tracker, and an auto margin follows it from the next wait on (never within
// a wait: a smaller margin there would send the worker back to sleep for the rest).
// RT: wait-free; no allocation, no syscall.
void fold_wake(PeriodicTask& p) noexcept HAL_NONBLOCKING {
  if (p.wake_late < 0) return;
  p.wake.record(p.wake_late);
  p.wake_late = -1;
  if (p.spec.hybrid_margin == kAutoMargin) p.margin = p.wake.margin();
  p.margin_published.store(p.margin, std::memory_order_relaxed);
  p.wake_lateness.store(p.wake.lateness(), std::memory_order_relaxed);
}

}  // namespace

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
  w.watch.hint_lead.store(p != nullptr ? detail::look_ahead(p->deadline_rel) : 0, std::memory_order_relaxed);
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
                    r.deadline, r.index, w.index);
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
    watch_begin(w, detail::Subjected::Periodic, static_cast<std::uint64_t>(p.index), r.deadline, r.start);
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
    w.busy_ns.add(static_cast<std::uint64_t>(r.end - r.start));
    w.tasks_done.add();
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
    publish_event(me, periodic_event(EventKind::PeriodicRun, Reason::None, p, r.start, r.end - r.start,
                                     lateness(r.start, r.release)));
  }
  if (violation != Reason::None) {
    publish_event(me, periodic_event(violation == Reason::DeadlineMissed ? EventKind::Timeout : EventKind::Failed,
                                     violation, p, r.end, r.end - r.start, lateness(r.start, r.release)));
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
    publish_event(static_cast<std::size_t>(w.index), periodic_event(EventKind::RolledBack, violation, p, r.end,
                                                                    r.end - r.start, lateness(r.start, r.release)));
  }
  fold_wake(p);
  ++p.k;
  p.next = p.applied == PeriodicState::Running ? p.first + static_cast<ns_t>(p.k) * p.spec.period : kNever;
  p.next_release.store(p.applied == PeriodicState::Running ? p.next : 0, std::memory_order_relaxed);
  publish_hint(w);
}

}  // namespace rt
