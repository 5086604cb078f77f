#include "rt/engine.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include "engine_impl.hpp"
#include "hal/clock.hpp"
#include "hal/futex.hpp"
#include "hal/memory.hpp"
#include "hal/report.hpp"
#include "rt/state_machine.hpp"

namespace rt {

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

std::size_t pow2_at_least(std::size_t v) {
  std::size_t p = 1;
  while (p < v)
    p <<= 1;
  return p;
}

// Generous on purpose: a short estimate is a clear setup error, a long one costs only
// address space and prefault time.
std::size_t estimate_arena(const EngineConfig& c) {
  const std::size_t workers = c.workers.size();
  auto ring = [](std::size_t cap, std::size_t producers, std::size_t item) {
    const std::size_t blocks = ((cap + 31) / 32) * (producers + 1) + 2 * producers;
    return blocks * (32 * item + 384) + producers * (pow2_at_least(blocks) * 48 + 4096) + std::size_t{64} * 1024;
  };
  std::size_t bytes = c.max_tasks * (sizeof(TaskSlot) + sizeof(std::uint32_t)) + std::size_t{64} * 1024;
  for (std::size_t cap : c.ring_capacity)
    bytes += ring(cap, c.max_producers + 1, sizeof(std::uint32_t));
  bytes += ring(c.max_tasks, workers + 2, sizeof(std::uint32_t));      // retired
  bytes += ring(c.max_tasks, c.max_producers, sizeof(std::uint32_t));  // scheduled
  bytes += ring(c.event_capacity, workers + 2, sizeof(Event));
  const std::size_t histograms = 2 * workers + 1 + 3 * c.max_periodic;
  bytes += histograms * (Histogram::bytes() + 2 * hal::kCacheLine);
  return bytes + bytes / 4 + (1U << 20);
}

void validate(const EngineConfig& c) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("EngineConfig: " + what); };
  if (c.workers.empty()) bad("workers: at least one worker is needed");
  if (c.workers.size() > 256) bad("workers: at most 256");
  if (c.initial_workers > c.workers.size())
    bad("initial_workers (" + std::to_string(c.initial_workers) + ") exceeds workers (" +
        std::to_string(c.workers.size()) + ")");
  for (std::size_t i = 0; i < c.workers.size(); ++i) {
    const WorkerConfig& w = c.workers[i];
    if (w.priority < 0 || w.priority > 99) bad("workers[" + std::to_string(i) + "].priority must be 0..99");
    if ((w.classes & ~kAllClasses) != 0)
      bad("workers[" + std::to_string(i) + "].classes has bits beyond the 5 classes");
  }
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if (c.ring_capacity[k] == 0 || c.ring_capacity[k] > (1U << 20))
      bad("ring_capacity[" + std::string(to_string(static_cast<Priority>(k))) + "] must be 1..1048576");
  }
  if (c.max_tasks == 0 || c.max_tasks > (1U << 24)) bad("max_tasks must be 1..16777216");
  if (c.max_producers == 0 || c.max_producers > 1024) bad("max_producers must be 1..1024");
  if (c.gates.size() > 64) bad("gates: at most 64");
  if (c.task_types.empty() || c.task_types.size() > 65535) bad("task_types: 1..65535 names");
  if (c.idle_spin < 0) bad("idle_spin must not be negative");
  if (c.event_capacity == 0 || c.event_capacity > (1U << 20)) bad("event_capacity must be 1..1048576");
  if (c.max_periodic > 4096) bad("max_periodic must be 0..4096");
  if (c.monitor.priority < -1 || c.monitor.priority > 99) bad("monitor.priority must be -1 (auto) or 0..99");
  if (c.monitor.stall_after <= 0) bad("monitor.stall_after must be positive");
  if (c.pm_qos.latency_us < 0) bad("pm_qos.latency_us must not be negative");
}

ClassMask covered(const EngineConfig& c, std::size_t n) {
  ClassMask m = 0;
  for (std::size_t i = 0; i < n; ++i)
    m = static_cast<ClassMask>(m | c.workers[i].classes);
  return m & kAllClasses;
}

}  // namespace

Engine::Impl::Impl(Engine& e, const EngineConfig& c)
    : engine(e),
      arena(c.arena_bytes != 0 ? c.arena_bytes : estimate_arena(c), c.lock_memory),
      slots(arena.make_array<TaskSlot>(c.max_tasks, "task slots")),
      free_list(arena, c.max_tasks),
      retired(arena, c.max_tasks, c.workers.size() + 2, c.workers.size() + 2),
      scheduled_in(arena, c.max_tasks, c.max_producers, 1),
      events(arena, c.event_capacity, c.workers.size() + 2, 1),
      rollbacks_by_type(c.task_types.size()),
      timer(hal::make_timer(c.monitor.backend)),
      detection(arena) {
  for (std::size_t k = 0; k < kClassCount; ++k) {
    rings[k] = std::make_unique<detail::Ring>(arena, c.ring_capacity[k], c.max_producers + 1, c.workers.size());
  }
  for (std::size_t i = 0; i < c.workers.size(); ++i) {
    auto w = std::make_unique<detail::Worker>(arena);
    w->index = static_cast<int>(i);
    w->cfg = c.workers[i];
    w->periodic = std::make_unique<detail::PeriodicTask*[]>(std::max<std::size_t>(c.max_periodic, 1));
    for (std::size_t k = 0; k < kClassCount; ++k) {
      if ((w->cfg.classes & (1U << k)) != 0) serving[k].push_back(w.get());
    }
    workers.push_back(std::move(w));
  }
  periodic.reserve(c.max_periodic);
  heap.reserve(c.max_tasks);
}

// ---- run path ----

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
    if (s.word.compare_exchange_weak(w, pack(gen, to), std::memory_order_acq_rel, std::memory_order_acquire)) {
      // The SCHEDULED gauge follows the state machine, whoever moves the task.
      if (to == State::Scheduled) counters.scheduled.add();
      if (state_of(w) == State::Scheduled) counters.scheduled.v.fetch_sub(1, std::memory_order_relaxed);
      const std::uint32_t n = s.history_count.fetch_add(1, std::memory_order_relaxed);
      const auto t = static_cast<std::uint64_t>(at - epoch);
      s.history[n % kHistoryDepth].store(t << 8 | static_cast<std::uint8_t>(to), std::memory_order_relaxed);
      return Tx::Ok;
    }
  }
}

bool Engine::Impl::finish(TaskSlot& s, std::uint32_t gen, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING {
  if (transition(s, gen, to, at) != Tx::Ok) return false;
  count_outcome(s, to, why, at);
  return true;
}

Engine::Impl::Tx Engine::Impl::finish_from(TaskSlot& s, std::uint32_t gen, State from, State to, Reason why,
                                           ns_t at) noexcept HAL_NONBLOCKING {
  const Tx r = transition_from(s, gen, from, to, at);
  if (r == Tx::Ok) count_outcome(s, to, why, at);
  return r;
}

void Engine::Impl::count_outcome(TaskSlot& s, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING {
  s.reason.store(why, std::memory_order_relaxed);
  s.finished.store(at, std::memory_order_relaxed);
  switch (to) {
    case State::Completed:
      counters.completed.add();
      break;
    case State::Failed:
      counters.failed.add();
      break;
    case State::Timeout:
      counters.timed_out.add();
      counters.deadline_misses.add();
      break;
    case State::Cancelled:
      counters.cancelled.add();
      break;
    case State::Skipped:
      counters.skipped.add();
      break;
    default:
      break;
  }
}

void Engine::Impl::note_rollback(TaskSlot& s, std::uint32_t gen, Reason why, std::size_t token,
                                 ns_t at) noexcept HAL_NONBLOCKING {
  if (transition(s, gen, State::RolledBack, at) != Tx::Ok) return;
  counters.rolled_back.add();
  const TypeId type = s.type.load(std::memory_order_relaxed);
  rollbacks_by_type[type].add();
  publish_event(token, Event{.kind = EventKind::RolledBack,
                             .subject = Subject::Task,
                             .reason = why,
                             .type = type,
                             .worker = s.worker.load(std::memory_order_relaxed),
                             .id = TaskId{static_cast<std::uint32_t>(&s - slots), gen}.value(),
                             .at = at});
}

bool Engine::Impl::mark_timeout(TaskSlot& s, std::uint32_t gen, ns_t at) noexcept HAL_NONBLOCKING {
  return finish_from(s, gen, State::Running, State::Timeout, Reason::DeadlineMissed, at) == Tx::Ok;
}

void Engine::Impl::release(std::uint32_t idx) noexcept HAL_NONBLOCKING {
  TaskSlot& s = slots[idx];
  const std::uint64_t w = s.word.load(std::memory_order_acquire);
  if (!transition_allowed(state_of(w), State::Free)) counters.refused_transitions.add();
  std::uint32_t next = gen_of(w) + 1;
  if (next == 0) next = 1;  // generation 0 never names a task
  s.word.store(pack(next, State::Free), std::memory_order_release);
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
  if (events.try_push(token, ev)) {
    counters.events_published.add();
  } else {
    counters.events_dropped.add();
  }
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
    if (w->active.load(std::memory_order_relaxed) && !w->watch.stalled() &&
        w->sleeping.load(std::memory_order_seq_cst) && w->sleeping.exchange(false, std::memory_order_acq_rel)) {
      w->seq.fetch_add(1, std::memory_order_release);
      (void)hal::futex_wake(w->seq, 1);
      return;
    }
  }
}

void Engine::Impl::poke_monitor(ns_t t) noexcept {
  // seq_cst against the monitor's store of armed_for and its re-scan (monitor.cpp): either
  // it sees what the caller stored before calling, or the caller sees the new arming.
  if (t < armed_for.load(std::memory_order_seq_cst)) (void)timer.timer->notify();
}

// ---- setup ----

void Engine::Impl::start_worker(detail::Worker& w) {
  w.stop.store(false, std::memory_order_relaxed);
  w.active.store(true, std::memory_order_release);
  hal::ThreadSpec spec;
  spec.name = "rt-worker-" + std::to_string(w.index);
  spec.cpu = w.cfg.cpu;
  spec.priority = w.cfg.priority;
  w.thread = hal::Thread(spec, [this, &w] { worker_loop(w); });
  w.applied = w.thread.applied();
}

void Engine::Impl::stop_worker(detail::Worker& w) {
  w.stop.store(true, std::memory_order_release);
  w.seq.fetch_add(1, std::memory_order_release);
  (void)hal::futex_wake(w.seq, 1);
  w.thread.join();
  w.active.store(false, std::memory_order_release);
}

void Engine::Impl::hold_pm_qos() {
  const PmQosConfig& q = engine.cfg_.pm_qos;
  bool rt_worker = false;
  for (std::size_t i = 0; i < engine.cfg_.initial_workers; ++i)
    rt_worker = rt_worker || engine.cfg_.workers[i].priority > 0;
  if (!q.enabled || !rt_worker) return;
  if (const hal::Status st = pm_qos.request(q.latency_us); !st.ok()) {
    hal::report_once("pm_qos:" + st.message(),
                     "cannot hold /dev/cpu_dma_latency at " + std::to_string(q.latency_us) + " us (" + st.message() +
                         "): idle CPUs may enter deep C-states and wake-ups may come twice as late. Run as root or "
                         "give write access to /dev/cpu_dma_latency; set pm_qos.enabled = false to run without it.");
  }
}

bool Engine::Impl::quiet() const noexcept {
  for (const auto& r : rings) {
    if (r->depth() != 0) return false;
  }
  return counters.running.get() == 0;
}

Engine::Engine(EngineConfig cfg) : cfg_(std::move(cfg)) {
  validate(cfg_);
  if (cfg_.initial_workers == 0) cfg_.initial_workers = cfg_.workers.size();
  if (covered(cfg_, cfg_.initial_workers) != kAllClasses) {
    throw std::invalid_argument("EngineConfig: the first initial_workers workers leave a priority class unserved");
  }
  impl_ = std::make_unique<Impl>(*this, cfg_);
}

Engine::~Engine() {
  if (impl_ != nullptr && impl_->active > 0) (void)stop(StopMode::Cancel);
}

void Engine::start() {
  Impl& m = *impl_;
  if (m.active > 0) throw std::logic_error("Engine::start: already running");
  // As cyclictest: memory locked and C-states held before any RT thread starts.
  if (cfg_.lock_memory) (void)hal::lock_memory_or_report();
  m.hold_pm_qos();
  m.started_at = hal::now_ns();
  m.start_monitor();
  for (std::size_t i = 0; i < cfg_.initial_workers; ++i)
    m.start_worker(*m.workers[i]);
  m.active = cfg_.initial_workers;
  accepting_.store(true, std::memory_order_seq_cst);
}

StopReport Engine::stop(StopMode mode) {
  Impl& m = *impl_;
  accepting_.store(false, std::memory_order_seq_cst);
  while (m.submitting.load(std::memory_order_seq_cst) != 0)
    std::this_thread::yield();
  for (auto& p : m.periodic)
    (void)command_periodic(p->index, PeriodicState::Stopped);
  // Tasks waiting for their start time are cancelled in both modes: running them early
  // would break their start time, and a drain must not wait for a start an hour away.
  // In Cancel mode, queued tasks too, before running ones are told to stop, so a stopped
  // task does not free its worker for the next queued one before that one is cancelled.
  for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
    TaskSlot& s = m.slots[i];
    for (;;) {  // from the state it was seen in: a worker or the monitor may move it meanwhile
      const std::uint64_t w = s.word.load(std::memory_order_acquire);
      const State st = state_of(w);
      const bool cancel = st == State::Scheduled || (mode == StopMode::Cancel && st != State::Running &&
                                                     st != State::Free && st != State::Pending && !is_terminal(st));
      if (!cancel) break;
      if (m.finish_from(s, gen_of(w), st, State::Cancelled, Reason::EngineStopped, hal::now_ns()) != Impl::Tx::Moved)
        break;
    }
  }
  if (mode == StopMode::Cancel) {
    for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
      TaskSlot& s = m.slots[i];
      const std::uint64_t w = s.word.load(std::memory_order_acquire);
      // The request names the generation seen running (TaskContext::stop_requested).
      if (state_of(w) == State::Running) s.stop.store(gen_of(w), std::memory_order_relaxed);
    }
  }
  // Workers keep draining the rings (running or discarding what was cancelled); the
  // monitor keeps watching their deadlines meanwhile.
  while (m.active > 0 && !m.quiet())
    (void)hal::sleep_until(hal::now_ns() + 100 * hal::kNsPerUs);
  for (std::size_t i = m.active; i-- > 0;)
    m.stop_worker(*m.workers[i]);
  m.active = 0;
  for (auto& p : m.periodic) {  // the workers are gone: their bookkeeping is ours now
    p->applied = PeriodicState::Stopped;
    p->next = kNever;
    p->state.store(PeriodicState::Stopped, std::memory_order_release);
    p->next_release.store(0, std::memory_order_relaxed);
  }
  for (auto& w : m.workers)
    w->watch.hint.store(0, std::memory_order_relaxed);
  m.stop_monitor();
  m.drain_scheduled_after_stop();
  m.pm_qos = hal::DmaLatencyRequest{};  // the kernel drops the request with the fd
  StopReport r;
  r.stats = stats();
  std::int64_t depth = 0;
  for (auto d : r.stats.queue_depth)
    depth += d;
  r.balanced = r.stats.submitted == r.stats.outcomes() && r.stats.running == 0 && depth == 0;
  return r;
}

Producer Engine::make_producer() {
  if (impl_->producers_handed >= cfg_.max_producers) {
    throw std::length_error("Engine::make_producer: all " + std::to_string(cfg_.max_producers) +
                            " producers handed out; raise EngineConfig::max_producers");
  }
  return Producer(this, impl_->producers_handed++);
}

void Engine::scale_workers(std::size_t n) {
  Impl& m = *impl_;
  if (n == 0 || n > cfg_.workers.size())
    throw std::invalid_argument("scale_workers: n must be 1.." + std::to_string(cfg_.workers.size()));
  if (covered(cfg_, n) != kAllClasses)
    throw std::invalid_argument("scale_workers: " + std::to_string(n) + " workers leave a priority class unserved");
  for (std::size_t i = n; i < cfg_.workers.size(); ++i) {
    if (m.workers[i]->periodic_count.load(std::memory_order_acquire) != 0)
      throw std::invalid_argument("scale_workers: worker " + std::to_string(i) + " hosts periodic tasks");
  }
  if (m.active == 0) {  // not running: only what start() will start
    cfg_.initial_workers = n;
    return;
  }
  for (std::size_t i = m.active; i < n; ++i)
    m.start_worker(*m.workers[i]);
  for (std::size_t i = m.active; i-- > n;)
    m.stop_worker(*m.workers[i]);
  m.active = n;
}

std::size_t Engine::active_workers() const noexcept { return impl_->active; }
const Arena& Engine::arena() const noexcept { return impl_->arena; }

detail::TaskSlot* Engine::acquire(const SubmitOptions& opts, SubmitStatus& status,
                                  TaskId& id) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  m.submitting.fetch_add(1, std::memory_order_seq_cst);
  if (!accepting_.load(std::memory_order_seq_cst)) {
    m.submitting.fetch_sub(1, std::memory_order_release);
    status = SubmitStatus::Stopped;
    return nullptr;
  }
  const bool gates_ok = cfg_.gates.size() >= 64 || (opts.gates >> cfg_.gates.size()) == 0;
  const bool state_ok = !opts.state.bound() || (opts.state.saved != nullptr && opts.state.size > 0) ||
                        (opts.state.snapshot != nullptr && opts.state.restore != nullptr);
  const ns_t start = opts.start_at;  // a deadline before the start can never be met
  const bool times_ok = opts.deadline_in >= 0 && opts.deadline_at >= 0 && opts.start_in >= 0 && opts.start_at >= 0 &&
                        (start == 0 || opts.deadline_at == 0 || opts.deadline_at > start);
  if (static_cast<std::size_t>(opts.priority) >= kClassCount || opts.type >= cfg_.task_types.size() || !gates_ok ||
      !state_ok || !times_ok) {
    m.counters.invalid.add();
    m.submitting.fetch_sub(1, std::memory_order_release);
    status = SubmitStatus::Invalid;
    return nullptr;
  }
  std::uint32_t idx = 0;
  if (!m.free_list.pop(idx)) {
    m.counters.no_free_slot.add();
    m.submitting.fetch_sub(1, std::memory_order_release);
    status = SubmitStatus::NoFreeSlot;
    return nullptr;
  }
  TaskSlot& s = m.slots[idx];
  const std::uint32_t gen = gen_of(s.word.load(std::memory_order_acquire));
  s.history_count.store(0, std::memory_order_relaxed);
  (void)m.transition(s, gen, State::Pending, hal::now_ns());
  id = TaskId{idx, gen};
  return &s;
}

void Engine::abandon(TaskId id) noexcept HAL_NONBLOCKING {
  impl_->release(id.index);  // PENDING -> free: it was never visible as a task
  impl_->submitting.fetch_sub(1, std::memory_order_release);
}

void Engine::wake(Priority p, ns_t scheduled_at) noexcept {
  if (scheduled_at != 0) {
    impl_->poke_monitor(scheduled_at);
  } else {
    impl_->wake_one(static_cast<std::size_t>(p));
  }
}

SubmitStatus Engine::publish(std::size_t producer, detail::TaskSlot& s, TaskId id, const SubmitOptions& o,
                             ns_t& scheduled_at) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  const ns_t now = hal::now_ns();
  const auto k = static_cast<std::size_t>(o.priority);
  const ns_t start = o.start_at != 0 ? o.start_at : (o.start_in != 0 ? now + o.start_in : 0);
  const ns_t ready = start > now ? start : now;
  s.stop.store(0, std::memory_order_relaxed);
  s.reason.store(Reason::None, std::memory_order_relaxed);
  s.priority.store(o.priority, std::memory_order_relaxed);
  s.type.store(o.type, std::memory_order_relaxed);
  s.workflow.store(o.workflow, std::memory_order_relaxed);
  s.worker.store(-1, std::memory_order_relaxed);
  s.gates.store(o.gates, std::memory_order_relaxed);
  s.deadline.store(o.deadline_at != 0 ? o.deadline_at : (o.deadline_in != 0 ? ready + o.deadline_in : 0),
                   std::memory_order_relaxed);
  s.start_at.store(start, std::memory_order_relaxed);
  s.created.store(now, std::memory_order_relaxed);
  s.started.store(0, std::memory_order_relaxed);
  s.finished.store(0, std::memory_order_relaxed);
  s.pre = o.pre;
  s.post = o.post;
  s.state = o.state;
  s.context = o.context;
  if (start > now) {
    // F2/F3: delayed start. The monitor keeps it (SCHEDULED) and releases it to its ring
    // at `start`; the ring holds a slot index per task, so it cannot be full.
    (void)m.transition(s, id.generation, State::Scheduled, now);
    if (!m.scheduled_in.try_push(producer, id.index)) {
      if (m.transition_from(s, id.generation, State::Scheduled, State::Pending, now) == Impl::Tx::Ok) {
        m.counters.queue_full[k].add();
        return SubmitStatus::QueueFull;
      }
      m.counters.submitted.add();  // cancelled in that instant (see below)
      m.submitting.fetch_sub(1, std::memory_order_release);
      return SubmitStatus::Ok;
    }
    m.counters.submitted.add();
    m.submitting.fetch_sub(1, std::memory_order_release);
    scheduled_at = start;  // the producer tells the monitor (Engine::wake), off this checked path
    return SubmitStatus::Ok;
  }
  // The place in the ring is taken before the task becomes READY: once it is READY,
  // cancel() may act on it, so it must be certain to be submitted.
  if (!m.rings[k]->try_reserve()) {
    m.counters.queue_full[k].add();
    return SubmitStatus::QueueFull;  // the producer destroys the callable, then abandon()
  }
  (void)m.transition(s, id.generation, State::Ready, now);  // release: the fields above travel with it
  if (!m.rings[k]->push_reserved(producer, id.index)) {
    // moodycamel refused although the depth allowed it (ring.hpp, kSlackPerProducer).
    // Take the task back to PENDING -- unless cancel() got to it first -- and refuse it
    // as a full ring, so the submitter sees QueueFull and nothing is lost.
    m.counters.ring_push_refusals.add();
    if (m.transition_from(s, id.generation, State::Ready, State::Pending, now) == Impl::Tx::Ok) {
      m.counters.queue_full[k].add();
      return SubmitStatus::QueueFull;  // the producer destroys the callable, then abandon()
    }
    // Cancelled in that instant: it counts as submitted and cancelled; its slot stays
    // CANCELLED (queryable) until the engine is destroyed.
    m.counters.submitted.add();
    m.submitting.fetch_sub(1, std::memory_order_release);
    return SubmitStatus::Ok;
  }
  m.counters.submitted.add();
  m.submitting.fetch_sub(1, std::memory_order_release);
  return SubmitStatus::Ok;
}

CancelResult Engine::cancel(TaskId id) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  if (id.index >= cfg_.max_tasks || !id.valid()) return CancelResult::NotFound;
  TaskSlot& s = m.slots[id.index];
  for (;;) {
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    if (gen_of(w) != id.generation || state_of(w) == State::Free) return CancelResult::NotFound;
    const State st = state_of(w);
    if (is_terminal(st)) return CancelResult::AlreadyDone;
    if (st == State::Running) {
      s.stop.store(id.generation, std::memory_order_relaxed);
      // It may have finished meanwhile: the request names this generation, so a task
      // that reuses the slot never sees it.
      return CancelResult::StopRequested;
    }
    // Being published right now: its submitter has not been told the id yet.
    if (st == State::Pending) return CancelResult::NotFound;
    const Impl::Tx r = m.finish_from(s, id.generation, st, State::Cancelled, Reason::CancelledQueued, hal::now_ns());
    if (r == Impl::Tx::Refused) return CancelResult::NotFound;  // a state the table keeps (counted)
    if (r == Impl::Tx::Ok) return CancelResult::Removed;
  }
}

void Engine::set_gate(std::size_t gate, bool open) noexcept HAL_NONBLOCKING {
  if (gate >= 64) return;
  const GateMask bit = GateMask{1} << gate;
  if (open) {
    gates_.fetch_or(bit, std::memory_order_acq_rel);
  } else {
    gates_.fetch_and(~bit, std::memory_order_acq_rel);
  }
}

bool Engine::gate_open(std::size_t gate) const noexcept { return gate < 64 && (open_gates() >> gate & 1U) != 0; }

int Engine::gate_index(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < cfg_.gates.size(); ++i) {
    if (cfg_.gates[i] == name) return static_cast<int>(i);
  }
  return -1;
}

int Engine::type_index(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < cfg_.task_types.size(); ++i) {
    if (cfg_.task_types[i] == name) return static_cast<int>(i);
  }
  return -1;
}

bool Engine::status(TaskId id, TaskInfo& out) const noexcept HAL_NONBLOCKING {
  if (id.index >= cfg_.max_tasks || !id.valid()) return false;
  const TaskSlot& s = impl_->slots[id.index];
  const std::uint64_t before = s.word.load(std::memory_order_acquire);
  if (gen_of(before) != id.generation || state_of(before) == State::Free) return false;
  out.id = id;
  out.state = state_of(before);
  out.reason = s.reason.load(std::memory_order_relaxed);
  out.priority = s.priority.load(std::memory_order_relaxed);
  out.type = s.type.load(std::memory_order_relaxed);
  out.workflow = s.workflow.load(std::memory_order_relaxed);
  out.deadline = s.deadline.load(std::memory_order_relaxed);
  out.start_at = s.start_at.load(std::memory_order_relaxed);
  out.created = s.created.load(std::memory_order_relaxed);
  out.started = s.started.load(std::memory_order_relaxed);
  out.finished = s.finished.load(std::memory_order_relaxed);
  out.worker = s.worker.load(std::memory_order_relaxed);
  const std::uint32_t n = s.history_count.load(std::memory_order_acquire);
  out.history_size = std::min<std::size_t>(n, kHistoryDepth);
  for (std::size_t i = 0; i < out.history_size; ++i) {
    const std::uint64_t h = s.history[(n - out.history_size + i) % kHistoryDepth].load(std::memory_order_relaxed);
    out.history[i] = Transition{static_cast<State>(h & 0xFF), impl_->epoch + static_cast<ns_t>(h >> 8)};
  }
  // The slot was reused while we read: the id is stale after all.
  return gen_of(s.word.load(std::memory_order_acquire)) == id.generation;
}

std::vector<TaskInfo> Engine::list(const ListQuery& q) const {
  std::vector<TaskInfo> all;
  for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
    const std::uint64_t w = impl_->slots[i].word.load(std::memory_order_acquire);
    TaskInfo info;
    if (state_of(w) == State::Free || !status(TaskId{static_cast<std::uint32_t>(i), gen_of(w)}, info)) continue;
    if (!q.any_state && info.state != q.state) continue;
    if (q.type >= 0 && info.type != q.type) continue;
    if (q.workflow >= 0 && info.workflow != static_cast<WorkflowId>(q.workflow)) continue;
    all.push_back(info);
  }
  std::sort(all.begin(), all.end(), [](const TaskInfo& a, const TaskInfo& b) { return a.created > b.created; });
  if (q.offset >= all.size()) return {};
  const std::size_t end = std::min(all.size(), q.offset + q.limit);
  return {all.begin() + static_cast<std::ptrdiff_t>(q.offset), all.begin() + static_cast<std::ptrdiff_t>(end)};
}

Stats Engine::stats() const {
  const Impl& m = *impl_;
  const detail::Counters& c = m.counters;
  Stats s;
  s.submitted = c.submitted.get();
  s.completed = c.completed.get();
  s.failed = c.failed.get();
  s.timed_out = c.timed_out.get();
  s.cancelled = c.cancelled.get();
  s.skipped = c.skipped.get();
  s.gate_violations = c.gate_violations.get();
  s.exceptions = c.exceptions.get();
  s.rolled_back = c.rolled_back.get();
  for (const auto& r : m.rollbacks_by_type)
    s.rollbacks_by_type.push_back(r.get());
  s.deadline_misses = c.deadline_misses.get();
  s.detected_by_monitor = c.detected_by_monitor.get();
  s.stalls = c.stalls.get();
  // A gauge: a task can leave SCHEDULED on one thread a moment before the thread that put
  // it there has counted it, so a read may catch it one below zero.
  s.scheduled = static_cast<std::int64_t>(c.scheduled.get()) < 0 ? 0 : c.scheduled.get();
  s.release_deferrals = c.release_deferrals.get();
  s.events_published = c.events_published.get();
  s.events_dropped = c.events_dropped.get();
  s.running = c.running.get();
  s.no_free_slot = c.no_free_slot.get();
  s.invalid = c.invalid.get();
  s.refused_transitions = c.refused_transitions.get();
  s.ring_push_refusals = c.ring_push_refusals.get();
  s.ring_allocations_refused = detail::RingMemory::refused.load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < kClassCount; ++k) {
    s.queue_full[k] = c.queue_full[k].get();
    s.queue_depth[k] = m.rings[k]->depth();
  }
  s.retained = static_cast<std::size_t>(std::max<std::int64_t>(0, m.retired.depth()));
  const ns_t now = hal::now_ns();
  s.uptime_ns = m.started_at != 0 ? now - m.started_at : 0;
  for (const auto& w : m.workers) {
    WorkerStats ws;
    ws.index = w->index;
    // STALLED lives in the watch word, where the monitor and the worker agree on it.
    ws.state = w->watch.stalled() ? WorkerState::Stalled : w->state.load(std::memory_order_relaxed);
    ws.applied = w->applied;
    ws.tasks_done = w->tasks_done.load(std::memory_order_relaxed);
    ws.busy_ns = w->busy_ns.load(std::memory_order_relaxed);
    const ns_t from = w->started_at.load(std::memory_order_relaxed);
    const ns_t to = ws.state == WorkerState::Stopped ? w->stopped_at.load(std::memory_order_relaxed) : now;
    ws.uptime_ns = from != 0 && to > from ? to - from : 0;
    ws.utilization = ws.uptime_ns > 0 ? static_cast<double>(ws.busy_ns) / static_cast<double>(ws.uptime_ns) : 0.0;
    ws.minor_faults = w->minor_faults.load(std::memory_order_relaxed);
    s.workers.push_back(ws);
  }
  s.monitor_backend = m.timer.active;
  s.pm_qos_held = m.pm_qos.active();
  s.pm_qos_latency_us = s.pm_qos_held ? cfg_.pm_qos.latency_us : -1;
  s.dispatch = dispatch_latency().summary();
  s.execution = execution_time().summary();
  s.detection = detection_latency().summary();
  return s;
}

std::uint64_t Engine::in_flight() const noexcept HAL_NONBLOCKING {
  const detail::Counters& c = impl_->counters;
  // A task can end before its submitter counts it as submitted (the count follows the
  // enqueue), so the difference is clamped rather than trusted to be non-negative.
  const std::uint64_t done =
      c.completed.get() + c.failed.get() + c.timed_out.get() + c.cancelled.get() + c.skipped.get();
  const std::uint64_t submitted = c.submitted.get();
  return submitted > done ? submitted - done : 0;
}

namespace {
// One distribution from the per-worker histograms (one writer each, no shared line).
HistogramSnapshot merged(const std::vector<std::unique_ptr<detail::Worker>>& workers,
                         Histogram detail::Worker::*which) {
  HistogramSnapshot all;
  for (const auto& w : workers)
    all.merge(((*w).*which).snapshot());
  return all;
}
}  // namespace

HistogramSnapshot Engine::dispatch_latency() const { return merged(impl_->workers, &detail::Worker::dispatch); }
HistogramSnapshot Engine::execution_time() const { return merged(impl_->workers, &detail::Worker::execution); }

HistogramSnapshot Engine::detection_latency() const { return impl_->detection.snapshot(); }
hal::TimerBackend Engine::monitor_backend() const noexcept { return impl_->timer.active; }

std::size_t Engine::poll_events(Event* out, std::size_t max) noexcept HAL_NONBLOCKING {
  std::size_t n = 0;
  while (n < max && impl_->events.try_pop(0, out[n]))
    ++n;
  return n;
}

// ---- periodic tasks: setup and control (the runs are in worker.cpp) ----

int Engine::prepare_periodic(const PeriodicSpec& spec) {
  Impl& m = *impl_;
  auto bad = [&](const std::string& what) { throw std::invalid_argument("PeriodicSpec '" + spec.name + "': " + what); };
  if (m.periodic.size() >= cfg_.max_periodic)
    throw std::length_error("add_periodic: all " + std::to_string(cfg_.max_periodic) +
                            " periodic tasks taken; raise EngineConfig::max_periodic");
  if (spec.name.empty()) bad("name must not be empty");
  if (periodic_index(spec.name) >= 0) bad("name already used");
  if (spec.period <= 0) bad("period must be positive");
  if (spec.phase < 0) bad("phase must not be negative");
  if (spec.deadline < 0 || spec.deadline > spec.period) bad("deadline must be 0 (the period) .. period");
  if (static_cast<std::size_t>(spec.priority) >= kClassCount) bad("priority is not a class");
  if (spec.precision == Precision::Hybrid && (spec.hybrid_margin < 0 || spec.hybrid_margin >= spec.period))
    bad("hybrid_margin must be 0 .. period");
  if (spec.type >= cfg_.task_types.size()) bad("type is not one of task_types");
  if (cfg_.gates.size() < 64 && (spec.gates >> cfg_.gates.size()) != 0) bad("gates names an unknown gate");
  if (spec.state.bound() && spec.state.saved == nullptr && spec.state.snapshot == nullptr)
    bad("state: a snapshot buffer or snapshot/restore functions are needed");
  int worker = spec.worker;
  if (worker < 0) {
    const auto& serving = m.serving[static_cast<std::size_t>(spec.priority)];
    if (serving.empty()) bad("no worker serves its priority class; name a worker");
    worker = serving.front()->index;
  }
  if (static_cast<std::size_t>(worker) >= m.workers.size()) bad("worker " + std::to_string(worker) + " does not exist");
  if (static_cast<std::size_t>(worker) >= cfg_.initial_workers)
    bad("worker " + std::to_string(worker) + " is not started by start() (initial_workers is " +
        std::to_string(cfg_.initial_workers) + ")");
  auto p = std::make_unique<detail::PeriodicTask>(m.arena, spec);
  p->index = static_cast<int>(m.periodic.size());
  p->deadline_rel = spec.deadline != 0 ? spec.deadline : spec.period;
  p->worker = m.workers[static_cast<std::size_t>(worker)].get();
  m.periodic.push_back(std::move(p));
  return m.periodic.back()->index;
}

TaskFn& Engine::periodic_fn(int id) noexcept { return impl_->periodic[static_cast<std::size_t>(id)]->fn; }

void Engine::commit_periodic(int id) {
  detail::PeriodicTask& p = *impl_->periodic[static_cast<std::size_t>(id)];
  detail::Worker& w = *p.worker;
  const std::size_t n = w.periodic_count.load(std::memory_order_relaxed);
  w.periodic[n] = &p;
  w.periodic_count.store(n + 1, std::memory_order_release);  // the worker may look from now on
}

bool Engine::command_periodic(int id, PeriodicState want) noexcept {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->periodic.size()) return false;
  detail::PeriodicTask& p = *impl_->periodic[static_cast<std::size_t>(id)];
  const PeriodicState was = p.want.load(std::memory_order_acquire);
  if (want == PeriodicState::Paused && was == PeriodicState::Stopped) return false;  // nothing to pause
  if (want == PeriodicState::Running && was == PeriodicState::Stopped) {
    p.start_base.store(hal::now_ns(), std::memory_order_relaxed);
    p.starts.fetch_add(1, std::memory_order_release);
  }
  p.want.store(want, std::memory_order_release);
  p.worker->periodic_commands.fetch_add(1, std::memory_order_seq_cst);
  impl_->wake_worker(*p.worker);
  return true;
}

bool Engine::start_periodic(int id) noexcept { return command_periodic(id, PeriodicState::Running); }
bool Engine::stop_periodic(int id) noexcept { return command_periodic(id, PeriodicState::Stopped); }
bool Engine::pause_periodic(int id) noexcept { return command_periodic(id, PeriodicState::Paused); }
bool Engine::resume_periodic(int id) noexcept {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->periodic.size()) return false;
  // Resume continues a paused grid; a stopped task stays stopped (start it instead).
  if (impl_->periodic[static_cast<std::size_t>(id)]->want.load(std::memory_order_relaxed) != PeriodicState::Paused)
    return false;
  return command_periodic(id, PeriodicState::Running);
}

std::size_t Engine::periodic_count() const noexcept { return impl_->periodic.size(); }

int Engine::periodic_index(std::string_view name) const noexcept {
  for (const auto& p : impl_->periodic) {
    if (p->spec.name == name) return p->index;
  }
  return -1;
}

namespace {
const detail::PeriodicTask& periodic_at(const std::vector<std::unique_ptr<detail::PeriodicTask>>& all, int id) {
  if (id < 0 || static_cast<std::size_t>(id) >= all.size())
    throw std::out_of_range("no periodic task " + std::to_string(id));
  return *all[static_cast<std::size_t>(id)];
}
}  // namespace

PeriodicStats Engine::periodic_stats(int id) const {
  const detail::PeriodicTask& p = periodic_at(impl_->periodic, id);
  PeriodicStats s;
  s.name = p.spec.name;
  s.state = p.state.load(std::memory_order_acquire);
  s.worker = p.worker->index;
  s.period = p.spec.period;
  s.releases = p.releases.get();
  s.runs = p.runs.get();
  s.skipped = p.skipped.get();
  s.overruns = p.overruns.get();
  s.deadline_misses = p.misses.get();
  s.rollbacks = p.rollbacks.get();
  s.exceptions = p.exceptions.get();
  s.gate_violations = p.gate_violations.get();
  s.jitter = p.jitter.snapshot().summary();
  s.response = p.response.snapshot().summary();
  s.execution = p.execution.snapshot().summary();
  s.next_release = p.next_release.load(std::memory_order_relaxed);
  return s;
}

HistogramSnapshot Engine::periodic_jitter(int id) const { return periodic_at(impl_->periodic, id).jitter.snapshot(); }

std::size_t Engine::clear_completed(std::size_t keep) {
  Impl& m = *impl_;
  const std::size_t me = m.setup_token();
  std::size_t n = 0;
  std::uint32_t idx = 0;
  while (m.retired.depth() > static_cast<std::int64_t>(keep) && m.retired.try_pop(me, idx)) {
    m.release(idx);
    ++n;
  }
  return n;
}

}  // namespace rt
