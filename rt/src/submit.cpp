// The producer's side of the handoff (F1, F2, F5, F7): try_submit's untemplated parts,
// cancel and the gates. One clock read per submission; the producer's own slot cache and
// counters; the ring place taken before any slot line is written, so a refusal touches
// no slot and the stores that follow never wait behind a locked instruction.
#include <algorithm>

#include "engine_impl.hpp"
#include "hal/fence.hpp"
#include "hal/futex.hpp"
#include "rt/state_machine.hpp"

namespace rt {

using detail::gen_of;
using detail::pack;
using detail::state_of;
using detail::TaskSlot;

namespace {
bool options_valid(const SubmitOptions& o, const EngineConfig& c) noexcept {
  const bool gates_ok = c.gates.size() >= 64 || (o.gates >> c.gates.size()) == 0;
  const bool state_ok = !o.state.bound() || (o.state.saved != nullptr && o.state.size > 0) ||
                        (o.state.snapshot != nullptr && o.state.restore != nullptr);
  const ns_t start = o.start_at;  // a deadline before the start can never be met
  const bool times_ok = o.deadline_in >= 0 && o.deadline_at >= 0 && o.start_in >= 0 && o.start_at >= 0 &&
                        (start == 0 || o.deadline_at == 0 || o.deadline_at > start);
  const bool retry_ok = o.retry.strategy == RetryStrategy::None || retry_policy_error(o.retry).empty();
  return static_cast<std::size_t>(o.priority) < kClassCount && o.type < c.task_types.size() && gates_ok && state_ok &&
         times_ok && retry_ok;
}

static_assert(transition_allowed(State::Free, State::Pending) && transition_allowed(State::Pending, State::Ready) &&
                  transition_allowed(State::Pending, State::Scheduled),
              "the owner's store-only transitions are ones the table allows");
}  // namespace

detail::Claim Engine::acquire(std::size_t producer, const SubmitOptions& opts) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  detail::ProducerState& p = m.producers[producer];
  detail::Claim c;
  // Dekker with stop(): either stop() sees this producer inside, or this producer sees the
  // engine no longer accepting. With membarrier, stop() pays for the full barrier and this
  // side orders only the compiler; without it, both sides are seq_cst.
  if (asymmetric_entry_) {
    p.inside.store(true, std::memory_order_relaxed);
    hal::light_fence();
  } else {
    p.inside.store(true, std::memory_order_seq_cst);
  }
  auto refuse = [&](SubmitStatus why) {
    p.inside.store(false, std::memory_order_release);
    c.status = why;
    return c;
  };
  if (!accepting_.load(std::memory_order_seq_cst)) return refuse(SubmitStatus::Stopped);
  if (!options_valid(opts, cfg_)) {
    m.counters.invalid.add();
    return refuse(SubmitStatus::Invalid);
  }
  c.now = hal::now_ns();
  // F15: an open circuit refuses at once, before any place or slot is taken.
  if (CircuitBreaker* b = m.breakers[opts.type].get(); b != nullptr) {
    BreakerChange change = BreakerChange::None;
    const bool admitted = b->try_admit(c.now, &change);
    if (change != BreakerChange::None) m.breaker_changed(m.producer_event_token(producer), change, opts.type, 0, c.now);
    if (!admitted) {
      m.counters.circuit_open.add();
      return refuse(SubmitStatus::CircuitOpen);
    }
  }
  const ns_t start = opts.start_at != 0 ? opts.start_at : (opts.start_in != 0 ? c.now + opts.start_in : 0);
  c.start = start > c.now ? start : 0;
  const auto k = static_cast<std::size_t>(opts.priority);
  // The place in the ring is taken before the slot: once READY, cancel() may act on the
  // task, so it must be certain to be enqueued.
  if (c.start == 0 && !m.rings[k]->try_reserve()) {
    m.counters.queue_full[k].add();
    return refuse(SubmitStatus::QueueFull);
  }
  std::uint32_t idx = 0;
  if (!p.slots.take(m.free_list, idx)) {
    if (c.start == 0) m.rings[k]->unreserve();
    m.counters.no_free_slot.add();
    return refuse(SubmitStatus::NoFreeSlot);
  }
  TaskSlot& s = m.slots[idx];
  // The next submission's slot, fetched for writing now: its lines were last written by a
  // worker, and the stores of the next publish then wait for none of them.
  if (p.slots.n > 0) detail::prefetch_slot_for_write(m.slots[p.slots.idx[p.slots.n - 1]]);
  const std::uint64_t w = s.word.load(std::memory_order_relaxed);  // FREE: this producer's alone
  m.owner_transition(s, w, State::Pending, c.now);
  c.id = TaskId{idx, gen_of(w)};
  c.slot = &s;
  return c;
}

SubmitStatus Engine::publish(std::size_t producer, detail::Claim& c, const SubmitOptions& o,
                             ns_t& notify) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  detail::ProducerState& p = m.producers[producer];
  TaskSlot& s = *c.slot;
  const ns_t ready = c.start != 0 ? c.start : c.now;
  const ns_t deadline = o.deadline_at != 0 ? o.deadline_at : (o.deadline_in != 0 ? ready + o.deadline_in : 0);
  // Line 0, what a worker reads to start it.
  s.deadline.store(deadline, std::memory_order_relaxed);
  s.ready.store(ready, std::memory_order_relaxed);
  s.gates.store(o.gates, std::memory_order_relaxed);
  s.stop.store(0, std::memory_order_relaxed);
  s.started.store(0, std::memory_order_relaxed);
  s.finished.store(0, std::memory_order_relaxed);
  s.worker.store(-1, std::memory_order_relaxed);
  s.reason.store(Reason::None, std::memory_order_relaxed);
  const bool retries = o.retry.enabled();
  s.retries.store(retries, std::memory_order_relaxed);
  s.retries_used.store(0, std::memory_order_relaxed);
  if (retries) {  // F13: only then are the policy's lines written
    s.retry = o.retry;
    s.budget = deadline != 0 ? std::max<ns_t>(deadline - ready, 1) : 0;  // a deadline already past stays past
  }
  s.pre = o.pre;
  s.post = o.post;
  s.state = o.state;
  // For queries.
  s.priority.store(o.priority, std::memory_order_relaxed);
  s.type.store(o.type, std::memory_order_relaxed);
  s.workflow.store(o.workflow, std::memory_order_relaxed);
  s.created.store(c.now, std::memory_order_relaxed);
  s.start_at.store(c.start, std::memory_order_relaxed);
  s.context = o.context;
  const std::uint64_t pending = s.word.load(std::memory_order_relaxed);
  auto give_back = [&] {
    // Never seen by anyone with this generation: a new one, back to this producer's cache.
    s.word.store(detail::free_word_after(pending), std::memory_order_release);
    p.slots.give_back(c.id.index);
    p.inside.store(false, std::memory_order_release);
  };
  auto accepted = [&] {
    p.submitted.add();
    m.publish_event(m.producer_event_token(producer), Event{.kind = EventKind::Submitted,
                                                            .subject = Subject::Task,
                                                            .type = o.type,
                                                            .workflow = o.workflow,
                                                            .id = c.id.value(),
                                                            .at = c.now});
    p.inside.store(false, std::memory_order_release);
    return SubmitStatus::Ok;
  };
  const auto k = static_cast<std::size_t>(o.priority);
  if (c.start != 0) {
    // F2/F3: delayed start. The monitor keeps it (SCHEDULED) and releases it to its ring
    // at `start`. Its ring is woken before it fills (above); still full, it is QueueFull.
    s.announce_at_start.store(false, std::memory_order_relaxed);  // the monitor releases it: it knows
    m.owner_transition(s, pending, State::Scheduled, c.now);
    std::int64_t seen = 0;
    if (!m.scheduled_in.try_push(producer, detail::Scheduled{c.start, c.id, detail::Scheduled::Kind::Start}, &seen)) {
      if (m.transition_from(s, c.id.generation, State::Scheduled, State::Pending, c.now) == Impl::Tx::Ok) {
        m.counters.queue_full[k].add();
        give_back();
        return SubmitStatus::QueueFull;
      }
      return accepted();  // stop() cancelled it in that instant: submitted and cancelled
    }
    notify = m.monitor_ring_filling(seen)
                 ? c.now
                 : c.start;  // the caller tells the monitor, off this checked path, if armed later
    return accepted();
  }
  if (deadline != 0) {
    // The monitor learns every one-shot deadline from the submitter, not from the worker
    // that starts the task: the start then needs no syscall. The monitor drains its ring
    // only when it wakes, so a ring half full of deadlines (far ones, of tasks that ended
    // early) wakes it now; a full one leaves the telling to the worker (announce_at_start).
    // Cleared before the push: once the entry is in, the monitor may set it (release_scheduled).
    s.announce_at_start.store(false, std::memory_order_relaxed);
    std::int64_t seen = 0;
    const bool told =
        m.scheduled_in.try_push(producer, detail::Scheduled{deadline, c.id, detail::Scheduled::Kind::Deadline}, &seen);
    if (!told) s.announce_at_start.store(true, std::memory_order_relaxed);
    notify = !told || m.monitor_ring_filling(seen) ? c.now : deadline;
  } else {
    s.announce_at_start.store(false, std::memory_order_relaxed);
  }
  m.owner_transition(s, pending, State::Ready, c.now);
  if (!m.rings[k]->push_reserved(producer, c.id.index)) {
    // moodycamel refused although the count allowed it (ring.hpp, kSlackPerProducer).
    // Take the task back to PENDING -- unless stop() got to it first -- and refuse it as
    // a full ring, so the submitter sees QueueFull and nothing is lost. (Its deadline
    // entry, if any, is only a wake-up for the monitor.)
    m.counters.ring_push_refusals.add();
    if (m.transition_from(s, c.id.generation, State::Ready, State::Pending, c.now) == Impl::Tx::Ok) {
      m.counters.queue_full[k].add();
      give_back();
      notify = 0;
      return SubmitStatus::QueueFull;
    }
    // Cancelled in that instant: it counts as submitted and cancelled; its slot stays
    // CANCELLED (queryable) until the engine is destroyed.
    return accepted();
  }
  return accepted();
}

void Engine::wake(Priority p, const detail::Claim& c, ns_t notify) noexcept {
  if (c.start == 0) impl_->wake_one(static_cast<std::size_t>(p));
  if (notify != 0) impl_->poke_monitor(notify);
}

void Engine::Impl::wake_worker(detail::Worker& w) noexcept {
  if (w.sleeping.load(std::memory_order_seq_cst) && w.sleeping.exchange(false, std::memory_order_acq_rel)) {
    w.seq.fetch_add(1, std::memory_order_release);
    (void)hal::futex_wake(w.seq, 1);
  }
}

void Engine::Impl::wake_one(std::size_t k) noexcept {
  for (detail::Worker* w : serving[k]) {
    // A stalled worker is stuck in a task: it is not fed (F8).
    if (w->active.load(std::memory_order_relaxed) && w->sleeping.load(std::memory_order_seq_cst) &&
        !w->watch.stalled() && w->sleeping.exchange(false, std::memory_order_acq_rel)) {
      w->seq.fetch_add(1, std::memory_order_release);
      (void)hal::futex_wake(w->seq, 1);
      return;
    }
  }
}

void Engine::Impl::poke_monitor(ns_t t) noexcept {
  // seq_cst against the monitor's store of armed_for and its re-scan (monitor.cpp): either
  // it sees what the caller pushed before calling, or the caller sees the new arming.
  if (t < armed_for.load(std::memory_order_seq_cst)) (void)timer.timer->notify();
}

CancelResult Engine::cancel(TaskId id) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  if (id.index >= cfg_.max_tasks || !id.valid()) return CancelResult::NotFound;
  TaskSlot& s = m.slots[id.index];
  for (;;) {
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    if (gen_of(w) != id.generation || state_of(w) == State::Free) return CancelResult::NotFound;
    const State st = state_of(w);
    // F13: a failed attempt with a retry left is not an outcome yet (its worker is about to
    // retry it): cancelling it now ends it instead.
    const bool retry_pending =
        (st == State::Failed || st == State::Timeout || st == State::RolledBack) && Impl::retry_left(s);
    if (is_terminal(st) && !retry_pending) return CancelResult::AlreadyDone;
    if (st == State::Running) {
      s.stop.store(id.generation, std::memory_order_relaxed);
      // It may have finished meanwhile: the request names this generation, so a task
      // that reuses the slot never sees it. A task with retries is not retried after it.
      if (!s.retries.load(std::memory_order_relaxed)) return CancelResult::StopRequested;
      s.cancelled_gen.store(id.generation, std::memory_order_seq_cst);
      // Its attempt may have ended in that instant, its worker past its look at the
      // request: then the state says so and the loop cancels what it finds.
      if (s.word.load(std::memory_order_seq_cst) == w) return CancelResult::StopRequested;
      continue;
    }
    // Being published right now: its submitter has not been told the id yet.
    if (st == State::Pending) return CancelResult::NotFound;
    const Impl::Tx r =
        m.finish_from(m.shared_out, s, id.generation, st, State::Cancelled, Reason::CancelledQueued, hal::now_ns());
    if (r == Impl::Tx::Refused) return CancelResult::NotFound;  // a state the table keeps (counted)
    if (r == Impl::Tx::Ok) return CancelResult::Removed;
  }
}

void Engine::set_gate(std::size_t gate, bool open) noexcept HAL_NONBLOCKING {
  if (gate >= 64) return;
  const GateMask bit = GateMask{1} << gate;
  const GateMask was =
      open ? gates_.fetch_or(bit, std::memory_order_acq_rel) : gates_.fetch_and(~bit, std::memory_order_acq_rel);
  if (((was & bit) != 0) == open) return;  // no change, no event
  // Any thread may call this, and an event-ring token is one thread's at a time: the gate
  // token is taken by try-lock, never waited for. Two changes at the same instant: the
  // second one's event is dropped and counted as a drop.
  Impl& m = *impl_;
  if (m.gate_token_busy.exchange(true, std::memory_order_acquire)) {
    m.counters.events_dropped.add();
    return;
  }
  m.publish_event(m.gate_event_token(), Event{.kind = EventKind::GateChanged,
                                              .subject = Subject::Gate,
                                              .id = gate,
                                              .at = hal::now_ns(),
                                              .value = open ? 1 : 0});
  m.gate_token_busy.store(false, std::memory_order_release);
}

bool Engine::gate_open(std::size_t gate) const noexcept { return gate < 64 && (open_gates() >> gate & 1U) != 0; }

}  // namespace rt
