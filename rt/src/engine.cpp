// Setup: the arena and what is carved from it, start (PM QoS, memory lock, threads), stop
// (every task accounted for), producers and scaling. The configuration's checks and the
// arena's size are in engine_config.cpp.
#include "rt/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "engine_impl.hpp"
#include "hal/clock.hpp"
#include "hal/fence.hpp"
#include "hal/futex.hpp"
#include "hal/memory.hpp"
#include "hal/report.hpp"
#include "rt/state_machine.hpp"

namespace rt {

using detail::gen_of;
using detail::state_of;
using detail::TaskSlot;

namespace {

ClassMask covered(const EngineConfig& c, std::size_t n) {
  ClassMask m = 0;
  for (std::size_t i = 0; i < n; ++i)
    m = static_cast<ClassMask>(m | c.workers[i].classes);
  return m & kAllClasses;
}

}  // namespace

Engine::Impl::Impl(Engine& e, const EngineConfig& c)
    : engine(e),
      arena(c.arena_bytes != 0 ? c.arena_bytes : detail::estimate_arena(c), c.lock_memory),
      slots(arena.make_array<TaskSlot>(c.max_tasks, "task slots")),
      free_list(arena, c.max_tasks),
      producers(arena.make_array<detail::ProducerState>(c.max_producers, "producer states")),
      retired(arena, c.max_tasks, c.workers.size() + 2, c.workers.size() + 2),
      scheduled_in(arena, 2 * c.max_tasks + c.max_graphs, c.max_producers + c.workers.size(), 1),
      events(arena, c.event_capacity, c.workers.size() + 3 + c.max_producers, 1),
      dead_letters(arena, c.dead_letter_capacity),
      rollbacks_by_type(c.task_types.size()),
      failures_by_type(c.task_types.size()),
      timer(hal::make_timer(c.monitor.backend)),
      detection(arena) {
  for (std::size_t k = 0; k < kClassCount; ++k) {
    rings[k] = std::make_unique<detail::Ring>(arena, c.ring_capacity[k], c.max_producers + 1 + c.workers.size(),
                                              c.workers.size());
    if (c.post_capacity[k] != 0) {  // only producer handles post
      posts[k] = std::make_unique<detail::BasicRing<detail::PostItem>>(arena, c.post_capacity[k], c.max_producers,
                                                                       c.workers.size());
    }
  }
  for (std::size_t i = 0; i < c.workers.size(); ++i) {
    auto w = std::make_unique<detail::Worker>(arena);
    w->index = static_cast<int>(i);
    w->rng = 0x9E3779B97F4A7C15ULL * (i + 1);  // distinct per worker, never 0
    w->cfg = c.workers[i];
    w->periodic = std::make_unique<detail::PeriodicTask*[]>(std::max<std::size_t>(c.max_periodic, 1));
    w->feeders = std::make_unique<detail::Worker::Feeder[]>(std::max<std::size_t>(c.max_periodic, 1));
    for (std::size_t k = 0; k < kClassCount; ++k) {
      if ((w->cfg.classes & (1U << k)) != 0) serving[k].push_back(w.get());
    }
    workers.push_back(std::move(w));
  }
  // A small engine keeps few slots in producers' caches: at most a quarter of them in all.
  const std::size_t batch = std::clamp<std::size_t>(c.max_tasks / (4 * c.max_producers), 1, detail::kSlotCacheMax);
  for (std::size_t i = 0; i < c.max_producers; ++i)
    producers[i].slots.batch = static_cast<std::uint32_t>(batch);
  periodic.reserve(c.max_periodic);
  breakers.resize(c.task_types.size());
  for (const BreakerConfig& b : c.breakers)
    breakers[static_cast<std::size_t>(e.type_index(b.type))] = std::make_unique<CircuitBreaker>(b);
  any_breaker = !c.breakers.empty();
  // One delayed start and one deadline per slot at most, once the entries of finished
  // tasks are pruned (push_heap_entry).
  heap.reserve(2 * c.max_tasks + c.max_graphs + 1);  // and one whole-graph deadline per graph (F18)
}

// ---- setup ----

void Engine::Impl::start_worker(detail::Worker& w) {
  w.stop.store(false, std::memory_order_relaxed);
  w.active.store(true, std::memory_order_release);
  hal::ThreadSpec spec;
  spec.name = "rt-worker-" + std::to_string(w.index);
  spec.cpu = w.cfg.cpu;
  spec.priority = w.cfg.priority;
  w.tid.store(0, std::memory_order_relaxed);
  w.thread = hal::Thread(spec, [this, &w] { worker_loop(w); });
  w.applied = w.thread.applied();
  // Its first act: from here on a query can read its faults (stats()). A sleep, not a
  // yield: a caller of higher SCHED_FIFO priority on the worker's CPU would otherwise
  // never let it run (sched_yield only yields to equal priorities).
  while (w.tid.load(std::memory_order_acquire) == 0)
    (void)hal::sleep_until(hal::now_ns() + 20 * hal::kNsPerUs);
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
  for (std::size_t k = 0; k < kClassCount; ++k) {
    if (class_depth(k) != 0) return false;
  }
  for (const auto& w : workers) {
    if (w->running.load(std::memory_order_acquire)) return false;
  }
  return true;
}

void Engine::Impl::sum_outcomes(Outcomes& into) const noexcept {
  shared_out.add_to(into);
  monitor_out.add_to(into);
  for (const auto& w : workers)
    w->out.add_to(into);
}

std::uint64_t Engine::Impl::submitted() const noexcept HAL_NONBLOCKING {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < engine.cfg_.max_producers; ++i)
    n += producers[i].submitted.get() + producers[i].posted.get();
  return n;
}

namespace {
// The workers' threads as applied: which may wait for another's releases (add_periodic_graph).
template <class Workers>
void mark_feeds(Workers& workers) noexcept {
  for (auto& w : workers)
    for (std::size_t i = 0; i < w->feeder_count.load(std::memory_order_relaxed); ++i)
      detail::mark_feed_apart(*w, i);
}
}  // namespace

Engine::Engine(EngineConfig cfg) : cfg_(std::move(cfg)) {
  validate(cfg_);
  if (cfg_.initial_workers == 0) cfg_.initial_workers = cfg_.workers.size();
  if (covered(cfg_, cfg_.initial_workers) != kAllClasses) {
    throw std::invalid_argument("EngineConfig: the first initial_workers workers leave a priority class unserved");
  }
  impl_ = std::make_unique<Impl>(*this, cfg_);
  asymmetric_entry_ = hal::enable_asymmetric_fence().ok();
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
  mark_feeds(m.workers);
  m.cancelling.store(false, std::memory_order_relaxed);
  m.post_stop.store(0, std::memory_order_relaxed);
  accepting_.store(true, std::memory_order_seq_cst);
}

StopReport Engine::stop(StopMode mode) { return stop(mode, nullptr); }

StopReport Engine::stop(StopMode mode, std::vector<UnrunTask>* unrun) {
  Impl& m = *impl_;
  const std::size_t first_unrun = unrun != nullptr ? unrun->size() : 0;
  std::vector<detail::Scheduled> starts;
  accepting_.store(false, std::memory_order_seq_cst);
  // The heavy side of acquire()'s asymmetric entry: after it, a producer that saw the
  // engine accepting is seen inside.
  if (asymmetric_entry_) {
    if (const hal::Status st = hal::heavy_fence(); !st.ok()) {
      // The kernel promises it cannot fail once registered; without it the handshake is
      // unsound and a task could be accepted after this check: stop loudly.
      std::fprintf(stderr, "rtengine: %s after registration; aborting\n", st.message().c_str());
      std::abort();
    }
  }
  for (std::size_t i = 0; i < cfg_.max_producers; ++i) {  // Dekker with acquire(): none is left inside
    while (m.producers[i].inside.load(std::memory_order_seq_cst))
      (void)hal::sleep_until(hal::now_ns() + 20 * hal::kNsPerUs);  // not a yield: as in start_worker
  }
  if (unrun != nullptr) {
    // Reserved before anything is cancelled (recording one must not throw then), and as
    // much as can be recorded, not max_tasks' worth: nothing new comes in now, and only
    // a task that has not ended can be recorded, once.
    std::size_t open = 0;
    for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
      const State st = state_of(m.slots[i].word.load(std::memory_order_acquire));
      if (st != State::Free && !is_terminal(st)) ++open;
    }
    unrun->reserve(first_unrun + open);
    starts.reserve(open);
  }
  for (auto& p : m.periodic)
    (void)command_periodic(p->index, PeriodicState::Stopped);
  if (mode == StopMode::Cancel) {
    m.cancelling.store(true, std::memory_order_relaxed);  // queued graph nodes and posts: skipped
    m.post_stop.store(1, std::memory_order_relaxed);      // a running post: stop_requested()
  }
  // Tasks waiting for their start time (or for a retry) are cancelled in both modes:
  // running them early would break their start time, and a drain must not wait for a
  // start an hour away.
  // In Cancel mode, queued tasks too, before running ones are told to stop, so a stopped
  // task does not free its worker for the next queued one before that one is cancelled.
  const ns_t stopped_at = hal::now_ns();  // what an unrun task's remaining delay counts from
  for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
    TaskSlot& s = m.slots[i];
    for (;;) {  // from the state it was seen in: a worker or the monitor may move it meanwhile
      const std::uint64_t w = s.word.load(std::memory_order_acquire);
      const State st = state_of(w);
      const bool cancel = st == State::Scheduled || st == State::Retrying ||
                          (mode == StopMode::Cancel && st != State::Running && st != State::Free &&
                           st != State::Pending && !is_terminal(st));
      if (!cancel) break;
      UnrunTask t;
      const bool record = unrun != nullptr && m.unrun_of(s, w, stopped_at, t);  // before the end overwrites it
      const Impl::Tx r =
          m.finish_from(m.shared_out, s, gen_of(w), st, State::Cancelled, Reason::EngineStopped, hal::now_ns());
      if (r == Impl::Tx::Ok && record) unrun->push_back(t);
      if (r != Impl::Tx::Moved) break;
    }
  }
  if (mode == StopMode::Cancel) {
    for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
      TaskSlot& s = m.slots[i];
      const std::uint64_t w = s.word.load(std::memory_order_acquire);
      // The request names the generation seen running (TaskContext::stop_requested).
      if (state_of(w) == State::Running) s.stop.store(gen_of(w), std::memory_order_relaxed);
    }
    m.stop_graph_nodes();
  }
  // Workers keep draining the rings (running or discarding what was cancelled); the
  // monitor keeps watching their deadlines meanwhile.
  // Each look wakes the sleeping workers: a lost wake-up must not make stop() (and the
  // destructor) wait for ever. One woken for nothing looks at its rings and sleeps again.
  while (m.active > 0 && !m.quiet()) {
    for (std::size_t i = 0; i < m.active; ++i)
      m.wake_worker(*m.workers[i]);
    (void)hal::sleep_until(hal::now_ns() + 100 * hal::kNsPerUs);
  }
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
  m.abandon_graph_runs();
  m.stop_monitor();
  m.drain_scheduled_after_stop(unrun != nullptr ? &starts : nullptr, unrun, stopped_at);
  if (unrun != nullptr) Impl::time_unrun_starts(*unrun, first_unrun, starts, stopped_at);
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
  mark_feeds(m.workers);
  for (std::size_t i = m.active; i-- > n;)
    m.stop_worker(*m.workers[i]);
  m.active = n;
}

std::size_t Engine::active_workers() const noexcept { return impl_->active; }
const Arena& Engine::arena() const noexcept { return impl_->arena; }

}  // namespace rt
