// F8: the deadline monitor. One top-priority thread, asleep on a hal::Timer armed for
// the earliest of: a look ahead of a running task's deadline and of the next periodic
// deadline a worker announced (look_at: the deadline itself once that look has passed
// with the run still going; a periodic run never has to wake it), a stall limit, the
// next delayed start,
// and the next one-shot deadline its submitter announced (so a worker starting a task
// never has to wake it); and, when MonitorConfig::beat is set, never later than a beat
// from now, so a watchdog can tell it is alive. Workers never wait for it; it never waits for them.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "engine_impl.hpp"
#include "hal/alloc_watch.hpp"
#include "hal/report.hpp"

namespace rt {

using detail::gen_of;
using detail::Phase;
using detail::phase_of;
using detail::run_word;
using detail::Scheduled;
using detail::state_of;
using detail::TaskSlot;
using detail::Worker;

namespace {
// A delayed start that meets a full ring tries again this much later: long enough for a
// worker to drain some of it, short next to any deadline a queued task could have.
constexpr ns_t kReleaseRetry = 100 * hal::kNsPerUs;

int auto_priority(const EngineConfig& c) {
  int top = 0;
  for (const auto& w : c.workers)
    top = std::max(top, w.priority);
  return top == 0 ? 0 : std::min(top + 1, 99);
}
}  // namespace

void Engine::Impl::start_monitor() {
  monitor_stop.store(false, std::memory_order_relaxed);
  monitor_beat.store(hal::now_ns(), std::memory_order_relaxed);  // alive from its start
  const MonitorConfig& c = engine.cfg_.monitor;
  hal::ThreadSpec spec;
  spec.name = "rt-monitor";
  spec.cpu = c.cpu;
  spec.priority = c.priority >= 0 ? c.priority : auto_priority(engine.cfg_);
  monitor_thread = hal::Thread(spec, [this] { monitor_loop(); });
}

void Engine::Impl::stop_monitor() {
  monitor_stop.store(true, std::memory_order_release);
  (void)timer.timer->notify();
  monitor_thread.join();
}

// Everything still waiting for a start time once the monitor has stopped: cancelled
// (stop() explains why) and retired, so every task is accounted for. Deadline entries
// need nothing: their tasks have ended.
void Engine::Impl::drain_scheduled_after_stop(std::vector<Scheduled>* starts, std::vector<UnrunTask>* unrun,
                                              ns_t stopped_at) {
  auto drop = [this, starts, unrun, stopped_at](const Scheduled& e) {
    if (e.kind != Scheduled::Kind::Start) return;  // deadlines: their tasks and runs have ended
    if (starts != nullptr) starts->push_back(e);
    TaskSlot& s = slots[e.id.index];
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    const State st = state_of(w);  // SCHEDULED or RETRYING; CANCELLED if stop()'s scan got it
    const ns_t now = hal::now_ns();
    if (st == State::Scheduled || st == State::Retrying) {
      // Failed during the drain, after the scan: the journal must have it too (F30).
      UnrunTask t;
      const bool record = unrun != nullptr && gen_of(w) == e.id.generation && unrun_of(s, w, stopped_at, t);
      if (finish_from(monitor_out, s, e.id.generation, st, State::Cancelled, Reason::EngineStopped, now) == Tx::Ok &&
          record)
        unrun->push_back(t);
    }
    if (state_of(s.word.load(std::memory_order_acquire)) == State::Cancelled)
      publish_event(setup_token(), cancelled_event(s, e.id, now));
    retire(setup_token(), e.id.index);
  };
  Scheduled e;
  while (scheduled_in.try_pop(0, e))
    drop(e);
  for (const Scheduled& h : heap)
    drop(h);
  heap.clear();
}

Event Engine::Impl::cancelled_event(const TaskSlot& s, TaskId id, ns_t now) noexcept {
  return Event{.kind = EventKind::Cancelled,
               .subject = Subject::Task,
               .reason = s.reason.load(std::memory_order_relaxed),
               .type = s.type.load(std::memory_order_relaxed),
               .workflow = s.workflow.load(std::memory_order_relaxed),
               .id = id.value(),
               .at = now};
}

bool Engine::Impl::stale_deadline(const Scheduled& h) const noexcept {
  if (h.kind == Scheduled::Kind::Graph)  // its run has ended (or a later one runs)
    return graphs[h.id.index]->run.load(std::memory_order_acquire) != (h.id.generation << 1 | 1U);
  if (h.kind != Scheduled::Kind::Deadline) return false;
  const TaskSlot& s = slots[h.id.index];
  const std::uint64_t w = s.word.load(std::memory_order_acquire);
  // A retried task's earlier attempts left deadlines before its current one (each attempt
  // is released later with the same budget). Not `!=`: the re-check of a deadline that
  // came while its task was starting (release_scheduled) is later than the deadline.
  return detail::gen_of(w) != h.id.generation || is_terminal(state_of(w)) || state_of(w) == State::Retrying ||
         h.at < s.deadline.load(std::memory_order_relaxed);
}

void Engine::Impl::push_heap_entry(const Scheduled& e) noexcept {
  if (heap.size() == heap.capacity()) {
    // Full only of deadlines whose tasks ended early (a live slot has at most one start
    // and one deadline entry): drop those, then rebuild. Rare and bounded: O(heap).
    heap.erase(std::remove_if(heap.begin(), heap.end(), [this](const Scheduled& h) { return stale_deadline(h); }),
               heap.end());
    std::make_heap(heap.begin(), heap.end(), std::greater<>());
    if (heap.size() == heap.capacity()) return;  // cannot happen; never grow on this thread
  }
  heap.push_back(e);
  std::push_heap(heap.begin(), heap.end(), std::greater<>());
}

void Engine::Impl::release_scheduled(const Scheduled& e, ns_t now) noexcept {
  if (e.kind == Scheduled::Kind::Graph) return graph_deadline(e, now);
  if (e.kind == Scheduled::Kind::Deadline) {
    // A wake-up only: scan_watches does the work. But its task may have started just
    // before this deadline and not yet shown its watch (a worker preempted between its
    // CAS and watch_begin): while it is RUNNING, look again shortly. Not started yet
    // (PENDING, READY), it is dropped, and the worker that starts it is asked to tell this
    // thread (announce_at_start, seq_cst): either that worker sees the flag and wakes it,
    // or it read the flag before this store, so its watch is seen by the re-scan after the
    // arming (monitor_loop). Without the flag, a task started in that instant overran
    // unwatched and was never asked to stop.
    TaskSlot& s = slots[e.id.index];
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    if (detail::gen_of(w) != e.id.generation) return;
    if (state_of(w) == State::Running) {
      push_heap_entry(Scheduled{now + kReleaseRetry, e.id, Scheduled::Kind::Deadline});
    } else if (state_of(w) == State::Pending || state_of(w) == State::Ready) {
      s.announce_at_start.store(true, std::memory_order_seq_cst);
    }
    return;
  }
  TaskSlot& s = slots[e.id.index];
  const std::uint32_t gen = e.id.generation;
  auto drop = [&] {  // cancelled while it waited: published and retired here
    if (state_of(s.word.load(std::memory_order_acquire)) == State::Cancelled)
      publish_event(monitor_token(), cancelled_event(s, e.id, now));
    retire(monitor_token(), e.id.index);
  };
  // A delayed start (SCHEDULED) or a retry (RETRYING, F13): the same release.
  const State waiting = state_of(s.word.load(std::memory_order_acquire));
  if (waiting != State::Scheduled && waiting != State::Retrying) return drop();
  if (!engine.accepting_.load(std::memory_order_acquire)) {
    // Stopping: no worker may be left to run it.
    (void)finish_from(monitor_out, s, gen, waiting, State::Cancelled, Reason::EngineStopped, now);
    return drop();
  }
  const auto k = static_cast<std::size_t>(s.priority.load(std::memory_order_relaxed));
  auto defer = [&] {
    counters.release_deferrals.add();
    push_heap_entry(Scheduled{now + kReleaseRetry, e.id, Scheduled::Kind::Start});
  };
  if (!rings[k]->try_reserve()) return defer();
  // A retry's attempt starts afresh: its own release time and deadline budget. Only this
  // thread writes them while it is RETRYING; the transition below publishes them.
  if (waiting == State::Retrying) reset_attempt(s, now);
  if (transition_from(s, gen, waiting, State::Ready, now) != Tx::Ok) {
    rings[k]->unreserve();
    return drop();
  }
  if (!rings[k]->push_reserved(engine.cfg_.max_producers, e.id.index)) {
    counters.ring_push_refusals.add();
    if (transition_from(s, gen, State::Ready, waiting, now) != Tx::Ok) return drop();
    return defer();
  }
  // Its deadline, if any, is this thread's to watch for from now on.
  if (const ns_t d = s.deadline.load(std::memory_order_relaxed); d != 0)
    push_heap_entry(Scheduled{d, e.id, Scheduled::Kind::Deadline});
  wake_one(k);
}

// Misses and stalls among the workers' runs; returns the next time worth waking for.
ns_t Engine::Impl::scan_watches(ns_t now) noexcept {
  ns_t next = kNever;
  const ns_t stall_after = engine.cfg_.monitor.stall_after;
  for (auto& wp : workers) {
    Worker& w = *wp;
    detail::Watch& watch = w.watch;
    // Looked at ahead of the deadline (look_at, kMonitorLookAhead): the run is usually over
    // by then, and the deadline, a periodic task's next release by default, goes by
    // without a wake-up on its worker's CPU.
    const ns_t hint = watch.hint.load(std::memory_order_seq_cst);
    if (hint > now) next = std::min(next, detail::look_at(hint, watch.hint_lead.load(std::memory_order_relaxed), now));
    const std::uint64_t run = watch.run.load(std::memory_order_seq_cst);
    const Phase phase = phase_of(run);
    if (phase == Phase::Idle || phase == Phase::Stalled) continue;
    // Read before the CAS: if it succeeds, the run had not ended, so these are its own.
    const ns_t deadline = watch.deadline.load(std::memory_order_relaxed);
    const std::uint64_t subject = watch.subject.load(std::memory_order_relaxed);
    const detail::Subjected kind = watch.kind.load(std::memory_order_relaxed);
    const bool periodic_run = kind == detail::Subjected::Periodic;
    const bool node_run = kind == detail::Subjected::Node;  // a graph node with its own budget
    if (phase == Phase::Running) {
      if (now < deadline) {
        next = std::min(next, detail::look_at(deadline, watch.lead.load(std::memory_order_relaxed), now));
        continue;
      }
      // One CAS decides: the worker finishing at this instant, or a miss.
      std::uint64_t expect = run;
      if (!watch.run.compare_exchange_strong(expect, run_word(run >> 2, Phase::Missed), std::memory_order_acq_rel,
                                             std::memory_order_acquire))
        continue;
      detection.record_local(now - deadline);
      counters.detected_by_monitor.add();
      // Only now: kind and subject are two words, a pair that matches only once the CAS
      // has shown the run is still theirs (read before it, they could be of two runs).
      TypeId type = 0;
      if (periodic_run) {
        type = periodic[static_cast<std::size_t>(subject)]->spec.type;
      } else if (!node_run) {
        type = slots[TaskId::from_value(subject).index].type.load(std::memory_order_relaxed);
      }
      Event ev{.kind = EventKind::DeadlineMiss,
               .subject = Subject::Task,
               .reason = Reason::DeadlineMissed,
               .type = type,
               .worker = static_cast<std::int16_t>(w.index),
               .id = subject,
               .at = now,
               .value = now - deadline};
      if (node_run) {
        const auto ref = static_cast<std::uint32_t>(subject);
        detail::GraphRun& g = *graphs[detail::graph_of(ref)];
        g.nodes[detail::node_of(ref)].stop.store(g.run.load(std::memory_order_relaxed) >> 1, std::memory_order_relaxed);
        ev.subject = Subject::Workflow;
        ev.id = ref;
        ev.workflow = detail::graph_of(ref) + 1;
        publish_event(monitor_token(), ev);
      } else if (periodic_run) {
        detail::PeriodicTask& p = *periodic[static_cast<std::size_t>(subject)];
        p.stop.store(run >> 2, std::memory_order_relaxed);
        ev.subject = Subject::Periodic;
        ev.id = subject;
        publish_event(monitor_token(), ev);
      } else {
        const TaskId id = TaskId::from_value(subject);
        TaskSlot& s = slots[id.index];
        s.stop.store(id.generation, std::memory_order_relaxed);
        ev.workflow = s.workflow.load(std::memory_order_relaxed);  // still its run's: the CAS won
        publish_event(monitor_token(), ev);
        if (mark_timeout(monitor_out, s, id.generation, now)) {
          ev.kind = EventKind::Timeout;
          ev.value = now - s.started.load(std::memory_order_relaxed);  // so far: it is still running
          publish_event(monitor_token(), ev);
        }
      }
    }
    // Missed and still running: stalled once it overruns by stall_after.
    const ns_t stall_at = deadline + stall_after;
    if (now < stall_at) {
      next = std::min(next, stall_at);
      continue;
    }
    // Missed -> Stalled only if the run is still the same and still going: a run that
    // returns at this instant is never reported, nor exited for.
    std::uint64_t missed = run_word(run >> 2, Phase::Missed);
    if (!watch.run.compare_exchange_strong(missed, run_word(run >> 2, Phase::Stalled), std::memory_order_acq_rel,
                                           std::memory_order_acquire))
      continue;
    counters.stalls.add();
    publish_event(monitor_token(), Event{.kind = EventKind::WorkerStalled,
                                         .subject = Subject::Worker,
                                         .reason = Reason::DeadlineMissed,
                                         .worker = static_cast<std::int16_t>(w.index),
                                         .id = static_cast<std::uint64_t>(w.index),
                                         .at = now,
                                         .value = now - deadline});
    // The escalation is the one place the monitor writes: a stall is already a failure.
    std::fprintf(stderr, "rtengine: worker %d stalled: its task is %lld us past its deadline and has not returned\n",
                 w.index, static_cast<long long>((now - deadline) / hal::kNsPerUs));
    if (engine.cfg_.monitor.escalation == Escalation::Exit) {
      std::fprintf(stderr, "rtengine: exiting with status %d so a watchdog can restart the process\n",
                   engine.cfg_.monitor.exit_code);
      std::fflush(stderr);
      std::_Exit(engine.cfg_.monitor.exit_code);
    }
  }
  return next;
}

void Engine::Impl::monitor_loop() noexcept {
  hal::mark_rt_thread();  // as the workers: it must not allocate either (alloc_watch.hpp)
  hal::Timer& t = *timer.timer;
  ns_t armed = kNever;  // what the timer is armed for now
  const ns_t beat = engine.cfg_.monitor.beat;
  auto take_new = [&] {
    bool any = false;
    for (Scheduled e; scheduled_in.try_pop(0, e); any = true)
      push_heap_entry(e);
    return any;
  };
  while (!monitor_stop.load(std::memory_order_acquire)) {
    // The clock and the running deadlines first: a miss is what the timer fires for most,
    // and taking new entries first (a walk over every producer's sub-queue of the ring)
    // would add that walk to every detection (P3). An entry taken after `now` and due before
    // the walk ended arms the timer in the past, which fires at once.
    ns_t now = hal::now_ns();
    monitor_beat.store(now, std::memory_order_relaxed);
    ns_t next = scan_watches(now);
    (void)take_new();
    while (!heap.empty() && heap.front().at <= now) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      const Scheduled e = heap.back();
      heap.pop_back();
      release_scheduled(e, now);
    }
    // Deadlines of tasks that already ended are not worth a wake-up.
    while (!heap.empty() && stale_deadline(heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<>());
      heap.pop_back();
    }
    if (!heap.empty()) next = std::min(next, heap.front().at);
    // With a beat: never asleep for longer, deadlines or none: a watchdog reads the beat to
    // tell a stuck monitor from an idle one (Engine::health). One wake-up and one timer
    // arming per beat at most; none without one.
    if (beat > 0) next = std::min(next, now + beat);
    // Dekker with poke_monitor, all seq_cst: a worker that stored an earlier deadline
    // before this store is seen by the re-scan below; one that stores after it sees the
    // new arming and notifies if it is earlier.
    armed_for.store(next, std::memory_order_seq_cst);
    now = hal::now_ns();
    // An entry pushed before the store above is taken now; one reserved but not visible
    // yet is settled as a worker's sleep is (settle_invisible_item).
    if (take_new() || scan_watches(now) < next) continue;
    if (scheduled_in.depth() > 0) {
      if (settle_invisible_item()) {
        if (take_new()) continue;
      } else {
        next = std::min(next, now + kRecheck);
      }
    }
    if (next != armed) {
      const hal::Status s = next == kNever ? t.disarm() : t.arm_at(next);
      if (!s.ok()) {
        hal::report_once("monitor-arm", "the deadline monitor cannot arm its timer: " + s.message());
        (void)hal::sleep_until(hal::now_ns() + hal::kNsPerMs);  // degrade to a 1 ms poll, never a spin
        continue;
      }
      armed = next;
    }
    std::uint64_t expirations = 0;
    if (!t.wait(expirations).ok()) continue;
    if (expirations > 0) armed = kNever;  // a one-shot expiry leaves the timer disarmed
  }
  (void)t.disarm();
  armed_for.store(kNever, std::memory_order_seq_cst);
}

}  // namespace rt
