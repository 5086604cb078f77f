#include "rt/engine.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include "hal/clock.hpp"
#include "hal/futex.hpp"
#include "hal/memory.hpp"
#include "hal/report.hpp"
#include "ring.hpp"
#include "rt/state_machine.hpp"

namespace rt {

using detail::gen_of;
using detail::pack;
using detail::state_of;
using detail::TaskSlot;

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#endif
}

// Lock-free stack of free slot indices. The head carries a tag that changes on every
// push and pop, so a pop that read a stale `next` fails its CAS (no ABA).
class FreeList {
 public:
  FreeList(Arena& arena, std::size_t n) : next_(arena.make_array<std::atomic<std::uint32_t>>(n, "free list")) {
    for (std::size_t i = n; i-- > 0;)
      push(static_cast<std::uint32_t>(i));
  }
  // RT: lock-free; no allocation.
  bool pop(std::uint32_t& idx) noexcept HAL_NONBLOCKING {
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
  // RT: lock-free; no allocation.
  void push(std::uint32_t idx) noexcept HAL_NONBLOCKING {
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    for (;;) {
      next_[idx].store(static_cast<std::uint32_t>(head), std::memory_order_relaxed);
      const std::uint64_t want = ((head >> 32) + 1) << 32 | (idx + 1);
      if (head_.compare_exchange_weak(head, want, std::memory_order_release, std::memory_order_relaxed)) return;
    }
  }

 private:
  alignas(hal::kCacheLine) std::atomic<std::uint64_t> head_{0};  // tag << 32 | (index + 1); 0 empty
  std::atomic<std::uint32_t>* next_;
};

// One cache line per counter: producers bump `submitted` while workers bump the
// outcomes, and sharing a line would bounce it between cores on every task.
struct alignas(hal::kCacheLine) Counter {
  std::atomic<std::uint64_t> v{0};
};

struct Counters {
  Counter submitted, completed, failed, timed_out, cancelled, skipped;
  Counter gate_violations, exceptions, running;
  Counter no_free_slot, invalid, refused_transitions, ring_push_refusals;
  std::array<Counter, kClassCount> queue_full{};
};

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
  auto ring = [](std::size_t cap, std::size_t producers) {
    const std::size_t blocks = ((cap + 31) / 32) * (producers + 1) + 2 * producers;
    return blocks * 512 + producers * (pow2_at_least(blocks) * 48 + 4096) + std::size_t{64} * 1024;
  };
  std::size_t bytes = c.max_tasks * (sizeof(TaskSlot) + sizeof(std::uint32_t)) + std::size_t{64} * 1024;
  for (std::size_t cap : c.ring_capacity)
    bytes += ring(cap, c.max_producers);
  bytes += ring(c.max_tasks, workers);
  return bytes + bytes / 4 + (1U << 20);
}

}  // namespace

struct alignas(hal::kCacheLine) Worker {
  int index = 0;
  WorkerConfig cfg;
  std::atomic<bool> active{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> sleeping{false};
  std::atomic<std::uint32_t> seq{0};  // futex word
  std::atomic<WorkerState> state{WorkerState::Stopped};
  std::atomic<std::uint64_t> tasks_done{0};
  std::atomic<ns_t> busy_ns{0}, started_at{0}, stopped_at{0};
  std::atomic<long> minor_faults{-1};
  hal::ThreadApplied applied;
  hal::Thread thread;
};

struct Engine::Impl {
  Impl(Engine& e, const EngineConfig& c)
      : engine(e),
        arena(c.arena_bytes != 0 ? c.arena_bytes : estimate_arena(c), c.lock_memory),
        slots(arena.make_array<TaskSlot>(c.max_tasks, "task slots")),
        free_list(arena, c.max_tasks),
        retired(arena, c.max_tasks, c.workers.size(), c.workers.size() + 1) {
    for (std::size_t k = 0; k < kClassCount; ++k) {
      rings[k] = std::make_unique<detail::Ring>(arena, c.ring_capacity[k], c.max_producers, c.workers.size());
    }
    for (std::size_t i = 0; i < c.workers.size(); ++i) {
      auto w = std::make_unique<Worker>();
      w->index = static_cast<int>(i);
      w->cfg = c.workers[i];
      for (std::size_t k = 0; k < kClassCount; ++k) {
        if ((w->cfg.classes & (1U << k)) != 0) serving[k].push_back(w.get());
      }
      workers.push_back(std::move(w));
    }
  }

  // ---- run path ----

  enum class Tx : std::uint8_t { Ok, Stale, Refused, Moved };

  // RT: lock-free; no allocation.
  // `at` is the caller's clock reading: one vDSO read per step, not one per transition.
  Tx transition(TaskSlot& s, std::uint32_t gen, State to, ns_t at) noexcept HAL_NONBLOCKING {
    return transition_impl(s, gen, nullptr, to, at);
  }

  // As transition, but only from `from`: if another thread moved the task first, Moved
  // (not a refusal: the table was never asked). RT: lock-free; no allocation.
  Tx transition_from(TaskSlot& s, std::uint32_t gen, State from, State to, ns_t at) noexcept HAL_NONBLOCKING {
    return transition_impl(s, gen, &from, to, at);
  }

  Tx transition_impl(TaskSlot& s, std::uint32_t gen, const State* from, State to, ns_t at) noexcept HAL_NONBLOCKING {
    std::uint64_t w = s.word.load(std::memory_order_acquire);
    for (;;) {
      if (gen_of(w) != gen) return Tx::Stale;
      if (from != nullptr && state_of(w) != *from) return Tx::Moved;
      if (!transition_allowed(state_of(w), to)) {
        counters.refused_transitions.v.fetch_add(1, std::memory_order_relaxed);
        return Tx::Refused;
      }
      if (s.word.compare_exchange_weak(w, pack(gen, to), std::memory_order_acq_rel, std::memory_order_acquire)) {
        const std::uint32_t n = s.history_count.fetch_add(1, std::memory_order_relaxed);
        const auto t = static_cast<std::uint64_t>(at - epoch);
        s.history[n % kHistoryDepth].store(t << 8 | static_cast<std::uint8_t>(to), std::memory_order_relaxed);
        return Tx::Ok;
      }
    }
  }

  // RT: lock-free; no allocation. Ends a task with `to`, counting the outcome once.
  void finish(TaskSlot& s, std::uint32_t gen, State to, Reason why, ns_t at) noexcept HAL_NONBLOCKING {
    if (transition(s, gen, to, at) != Tx::Ok) return;
    s.reason.store(why, std::memory_order_relaxed);
    s.finished.store(at, std::memory_order_relaxed);
    switch (to) {
      case State::Completed:
        counters.completed.v.fetch_add(1, std::memory_order_relaxed);
        break;
      case State::Failed:
        counters.failed.v.fetch_add(1, std::memory_order_relaxed);
        break;
      case State::Timeout:
        counters.timed_out.v.fetch_add(1, std::memory_order_relaxed);
        break;
      case State::Cancelled:
        counters.cancelled.v.fetch_add(1, std::memory_order_relaxed);
        break;
      case State::Skipped:
        counters.skipped.v.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        break;
    }
  }

  // RT: lock-free; no allocation. The slot goes back to the free list with a new
  // generation. Its callable has already been destroyed by whoever held it.
  void release(std::uint32_t idx) noexcept HAL_NONBLOCKING {
    TaskSlot& s = slots[idx];
    const std::uint64_t w = s.word.load(std::memory_order_acquire);
    if (!transition_allowed(state_of(w), State::Free))
      counters.refused_transitions.v.fetch_add(1, std::memory_order_relaxed);
    std::uint32_t next = gen_of(w) + 1;
    if (next == 0) next = 1;  // generation 0 never names a task
    s.word.store(pack(next, State::Free), std::memory_order_release);
    free_list.push(idx);
  }

  // RT: lock-free; no allocation. Keeps the task queryable among the most recent
  // `retain_completed`, releasing the oldest beyond that.
  void retire(Worker& w, std::uint32_t idx) noexcept HAL_NONBLOCKING {
    const auto me = static_cast<std::size_t>(w.index);
    if (!retired.try_push(me, idx)) {
      release(idx);  // cannot happen (the ring holds every slot); never leak the slot
      return;
    }
    std::uint32_t old = 0;
    while (retired.depth() > static_cast<std::int64_t>(engine.cfg_.retain_completed) && retired.try_pop(me, old))
      release(old);
  }

  // RT: lock-free; no allocation, no syscall.
  bool pop_any(const Worker& w, std::uint32_t& idx) noexcept HAL_NONBLOCKING {
    const auto me = static_cast<std::size_t>(w.index);
    for (std::size_t k = 0; k < kClassCount; ++k) {
      if ((w.cfg.classes & (1U << k)) != 0 && rings[k]->try_pop(me, idx)) return true;
    }
    return false;
  }

  bool has_work(const Worker& w) const noexcept HAL_NONBLOCKING {
    for (std::size_t k = 0; k < kClassCount; ++k) {
      if ((w.cfg.classes & (1U << k)) != 0 && rings[k]->depth() > 0) return true;
    }
    return false;
  }

  // One dequeued task, in three parts: the engine's checks and bookkeeping before and
  // after are HAL_NONBLOCKING (RealtimeSanitizer checks them in the rtsan preset); the
  // task's own code, its hooks and its destructor run between them, unchecked (mark your
  // task function HAL_NONBLOCKING to have it checked too).
  void execute(Worker& w, std::uint32_t idx) noexcept {
    TaskSlot& s = slots[idx];
    const Begin b = begin_task(w, idx);
    if (b.run) {
      TaskContext ctx(s, TaskId{idx, b.gen});
      bool threw = false;
      if (s.pre != nullptr) s.pre(ctx);
      try {
        s.fn(ctx);
      } catch (...) {  // F12: an exception is a violation of this task, never of the engine
        threw = true;
      }
      if (s.post != nullptr) s.post(ctx);
      s.fn.reset();
      end_task(w, idx, b, threw);
    } else {
      s.fn.reset();  // it will never run; its captures are destroyed here, off the checked path
      retire(w, idx);
    }
  }

  struct Begin {
    bool run = false;
    std::uint32_t gen = 0;
    ns_t start = 0;
    ns_t deadline = 0;
  };

  // RT: lock-free; no allocation, no syscall.
  Begin begin_task(Worker& w, std::uint32_t idx) noexcept HAL_NONBLOCKING {
    TaskSlot& s = slots[idx];
    Begin b;
    const std::uint64_t word = s.word.load(std::memory_order_acquire);
    b.gen = gen_of(word);
    if (state_of(word) != State::Ready) return b;  // cancelled while queued: already counted
    b.start = hal::now_ns();
    b.deadline = s.deadline.load(std::memory_order_relaxed);
    if (b.deadline != 0 && b.start > b.deadline) {
      finish(s, b.gen, State::Timeout, Reason::DeadlineMissed, b.start);
    } else if ((s.gates.load(std::memory_order_relaxed) & ~engine.open_gates()) != 0) {
      counters.gate_violations.v.fetch_add(1, std::memory_order_relaxed);
      finish(s, b.gen, State::Failed, Reason::GateViolation, b.start);
    } else if (transition(s, b.gen, State::Running, b.start) == Tx::Ok) {
      b.run = true;
      counters.running.v.fetch_add(1, std::memory_order_relaxed);
      w.state.store(WorkerState::Busy, std::memory_order_relaxed);
      s.started.store(b.start, std::memory_order_relaxed);
      s.worker.store(static_cast<std::int16_t>(w.index), std::memory_order_relaxed);
    }
    return b;
  }

  // RT: lock-free; no allocation, no syscall.
  void end_task(Worker& w, std::uint32_t idx, const Begin& b, bool threw) noexcept HAL_NONBLOCKING {
    TaskSlot& s = slots[idx];
    const ns_t end = hal::now_ns();
    w.busy_ns.fetch_add(end - b.start, std::memory_order_relaxed);
    w.tasks_done.fetch_add(1, std::memory_order_relaxed);
    if (threw) {
      counters.exceptions.v.fetch_add(1, std::memory_order_relaxed);
      finish(s, b.gen, State::Failed, Reason::Exception, end);
    } else if (s.stop.load(std::memory_order_relaxed)) {
      finish(s, b.gen, State::Cancelled, Reason::CancelledRunning, end);
    } else if (b.deadline != 0 && end > b.deadline) {
      finish(s, b.gen, State::Timeout, Reason::DeadlineMissed, end);
    } else {
      finish(s, b.gen, State::Completed, Reason::None, end);
    }
    counters.running.v.fetch_sub(1, std::memory_order_relaxed);
    w.state.store(WorkerState::Idle, std::memory_order_relaxed);
    retire(w, idx);
  }

  // The worker thread's loop: highest class first, spin briefly when idle, then sleep on
  // the futex until a submitter wakes it. RT: no allocation; syscalls only on the way to
  // sleep (getrusage for the fault sample, then futex wait), never between tasks.
  void worker_loop(Worker& w) noexcept {
    w.started_at.store(hal::now_ns(), std::memory_order_relaxed);
    w.state.store(WorkerState::Idle, std::memory_order_relaxed);
    const ns_t spin = engine.cfg_.idle_spin;
    std::uint32_t idx = 0;
    for (;;) {
      if (pop_any(w, idx)) {
        execute(w, idx);
        continue;
      }
      if (w.stop.load(std::memory_order_acquire)) break;
      bool got = false;
      // The clock is read once per 32 polls: a poll is a few loads, a clock read is not.
      for (const ns_t until = hal::now_ns() + spin; !got && hal::now_ns() < until;) {
        for (int i = 0; i < 32; ++i) {
          if ((got = pop_any(w, idx))) break;
          cpu_relax();
        }
      }
      if (got) {
        execute(w, idx);
        continue;
      }
      const std::uint32_t s = w.seq.load(std::memory_order_acquire);
      // Dekker handshake with wake_one, all seq_cst: either the submitter sees `sleeping`
      // or this worker sees the ring's new depth. (No fences: TSan cannot model them.)
      w.sleeping.store(true, std::memory_order_seq_cst);
      if (has_work(w) || w.stop.load(std::memory_order_acquire)) {
        w.sleeping.store(false, std::memory_order_relaxed);
        continue;
      }
      w.minor_faults.store(hal::minor_faults_this_thread(), std::memory_order_relaxed);
      (void)hal::futex_wait(w.seq, s);
      w.sleeping.store(false, std::memory_order_relaxed);
    }
    w.minor_faults.store(hal::minor_faults_this_thread(), std::memory_order_relaxed);
    w.stopped_at.store(hal::now_ns(), std::memory_order_relaxed);
    w.state.store(WorkerState::Stopped, std::memory_order_relaxed);
  }

  // RT: lock-free; one futex wake only when a worker serving `k` sleeps.
  void wake_one(std::size_t k) noexcept {
    for (Worker* w : serving[k]) {
      if (w->active.load(std::memory_order_relaxed) && w->sleeping.load(std::memory_order_seq_cst) &&
          w->sleeping.exchange(false, std::memory_order_acq_rel)) {
        w->seq.fetch_add(1, std::memory_order_release);
        (void)hal::futex_wake(w->seq, 1);
        return;
      }
    }
  }

  // ---- setup ----

  void start_worker(Worker& w) {
    w.stop.store(false, std::memory_order_relaxed);
    w.active.store(true, std::memory_order_release);
    hal::ThreadSpec spec;
    spec.name = "rt-worker-" + std::to_string(w.index);
    spec.cpu = w.cfg.cpu;
    spec.priority = w.cfg.priority;
    w.thread = hal::Thread(spec, [this, &w] { worker_loop(w); });
    w.applied = w.thread.applied();
  }

  void stop_worker(Worker& w) {
    w.stop.store(true, std::memory_order_release);
    w.seq.fetch_add(1, std::memory_order_release);
    (void)hal::futex_wake(w.seq, 1);
    w.thread.join();
    w.active.store(false, std::memory_order_release);
  }

  bool quiet() const noexcept {
    for (const auto& r : rings) {
      if (r->depth() != 0) return false;
    }
    return counters.running.v.load(std::memory_order_acquire) == 0;
  }

  Engine& engine;
  Arena arena;
  TaskSlot* slots;
  FreeList free_list;
  detail::Ring retired;
  std::array<std::unique_ptr<detail::Ring>, kClassCount> rings;
  std::vector<std::unique_ptr<Worker>> workers;
  std::array<std::vector<Worker*>, kClassCount> serving;
  Counters counters;
  alignas(hal::kCacheLine) std::atomic<std::int64_t> submitting{0};
  std::size_t active = 0;
  std::size_t producers_handed = 0;
  ns_t epoch = hal::now_ns();
  ns_t started_at = 0;
};

// ---------------------------------------------------------------------------

namespace {

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
    if ((w.classes & kAllClasses) == 0) bad("workers[" + std::to_string(i) + "].classes serves no class");
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
}

ClassMask covered(const EngineConfig& c, std::size_t n) {
  ClassMask m = 0;
  for (std::size_t i = 0; i < n; ++i)
    m = static_cast<ClassMask>(m | c.workers[i].classes);
  return m & kAllClasses;
}

}  // namespace

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
  if (impl_->active > 0) throw std::logic_error("Engine::start: already running");
  if (cfg_.lock_memory) (void)hal::lock_memory_or_report();
  impl_->started_at = hal::now_ns();
  for (std::size_t i = 0; i < cfg_.initial_workers; ++i)
    impl_->start_worker(*impl_->workers[i]);
  impl_->active = cfg_.initial_workers;
  accepting_.store(true, std::memory_order_seq_cst);
}

StopReport Engine::stop(StopMode mode) {
  Impl& m = *impl_;
  accepting_.store(false, std::memory_order_seq_cst);
  while (m.submitting.load(std::memory_order_seq_cst) != 0)
    std::this_thread::yield();
  if (mode == StopMode::Cancel) {
    // Queued tasks first, so a running task told to stop does not free its worker for
    // the next queued one before that one is cancelled.
    for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
      TaskSlot& s = m.slots[i];
      const std::uint64_t w = s.word.load(std::memory_order_acquire);
      const State st = state_of(w);
      if (st != State::Running && st != State::Free && !is_terminal(st)) {
        m.finish(s, gen_of(w), State::Cancelled, Reason::EngineStopped, hal::now_ns());
      }
    }
    for (std::size_t i = 0; i < cfg_.max_tasks; ++i) {
      TaskSlot& s = m.slots[i];
      if (state_of(s.word.load(std::memory_order_acquire)) == State::Running)
        s.stop.store(true, std::memory_order_relaxed);
    }
  }
  // Workers keep draining the rings (running or discarding what was cancelled).
  while (m.active > 0 && !m.quiet())
    (void)hal::sleep_until(hal::now_ns() + 100 * hal::kNsPerUs);
  for (std::size_t i = m.active; i-- > 0;)
    m.stop_worker(*m.workers[i]);
  m.active = 0;
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
  if (static_cast<std::size_t>(opts.priority) >= kClassCount || opts.type >= cfg_.task_types.size() || !gates_ok ||
      opts.deadline_in < 0 || opts.deadline_at < 0) {
    m.counters.invalid.v.fetch_add(1, std::memory_order_relaxed);
    m.submitting.fetch_sub(1, std::memory_order_release);
    status = SubmitStatus::Invalid;
    return nullptr;
  }
  std::uint32_t idx = 0;
  if (!m.free_list.pop(idx)) {
    m.counters.no_free_slot.v.fetch_add(1, std::memory_order_relaxed);
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

void Engine::wake(Priority p) noexcept { impl_->wake_one(static_cast<std::size_t>(p)); }

SubmitStatus Engine::publish(std::size_t producer, detail::TaskSlot& s, TaskId id,
                             const SubmitOptions& o) noexcept HAL_NONBLOCKING {
  Impl& m = *impl_;
  const ns_t now = hal::now_ns();
  const auto k = static_cast<std::size_t>(o.priority);
  s.stop.store(false, std::memory_order_relaxed);
  s.reason.store(Reason::None, std::memory_order_relaxed);
  s.priority.store(o.priority, std::memory_order_relaxed);
  s.type.store(o.type, std::memory_order_relaxed);
  s.workflow.store(o.workflow, std::memory_order_relaxed);
  s.worker.store(-1, std::memory_order_relaxed);
  s.gates.store(o.gates, std::memory_order_relaxed);
  s.deadline.store(o.deadline_at != 0 ? o.deadline_at : (o.deadline_in != 0 ? now + o.deadline_in : 0),
                   std::memory_order_relaxed);
  s.created.store(now, std::memory_order_relaxed);
  s.started.store(0, std::memory_order_relaxed);
  s.finished.store(0, std::memory_order_relaxed);
  s.pre = o.pre;
  s.post = o.post;
  s.context = o.context;
  // The place in the ring is taken before the task becomes READY: once it is READY,
  // cancel() may act on it, so it must be certain to be submitted.
  if (!m.rings[k]->try_reserve()) {
    m.counters.queue_full[k].v.fetch_add(1, std::memory_order_relaxed);
    return SubmitStatus::QueueFull;  // the producer destroys the callable, then abandon()
  }
  (void)m.transition(s, id.generation, State::Ready, now);  // release: the fields above travel with it
  if (!m.rings[k]->push_reserved(producer, id.index)) {
    // moodycamel refused although the depth allowed it (ring.hpp, kSlackPerProducer).
    // Take the task back to PENDING -- unless cancel() got to it first -- and refuse it
    // as a full ring, so the submitter sees QueueFull and nothing is lost.
    m.counters.ring_push_refusals.v.fetch_add(1, std::memory_order_relaxed);
    if (m.transition_from(s, id.generation, State::Ready, State::Pending, now) == Impl::Tx::Ok) {
      m.counters.queue_full[k].v.fetch_add(1, std::memory_order_relaxed);
      return SubmitStatus::QueueFull;  // the producer destroys the callable, then abandon()
    }
    // Cancelled in that instant: it counts as submitted and cancelled; its slot stays
    // CANCELLED (queryable) until the engine is destroyed.
    m.counters.submitted.v.fetch_add(1, std::memory_order_relaxed);
    m.submitting.fetch_sub(1, std::memory_order_release);
    return SubmitStatus::Ok;
  }
  m.counters.submitted.v.fetch_add(1, std::memory_order_relaxed);
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
      s.stop.store(true, std::memory_order_relaxed);
      // It may have finished meanwhile; then the flag is harmless (reset on reuse).
      return CancelResult::StopRequested;
    }
    // Being published right now: its submitter has not been told the id yet.
    if (st == State::Pending) return CancelResult::NotFound;
    if (m.transition(s, id.generation, State::Cancelled, hal::now_ns()) == Impl::Tx::Ok) {
      m.counters.cancelled.v.fetch_add(1, std::memory_order_relaxed);
      s.reason.store(Reason::CancelledQueued, std::memory_order_relaxed);
      s.finished.store(hal::now_ns(), std::memory_order_relaxed);
      return CancelResult::Removed;
    }
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
  const Counters& c = m.counters;
  Stats s;
  auto ld = [](const Counter& a) { return a.v.load(std::memory_order_acquire); };
  s.submitted = ld(c.submitted);
  s.completed = ld(c.completed);
  s.failed = ld(c.failed);
  s.timed_out = ld(c.timed_out);
  s.cancelled = ld(c.cancelled);
  s.skipped = ld(c.skipped);
  s.gate_violations = ld(c.gate_violations);
  s.exceptions = ld(c.exceptions);
  s.running = ld(c.running);
  s.no_free_slot = ld(c.no_free_slot);
  s.invalid = ld(c.invalid);
  s.refused_transitions = ld(c.refused_transitions);
  s.ring_push_refusals = ld(c.ring_push_refusals);
  s.ring_allocations_refused = detail::RingMemory::refused.load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < kClassCount; ++k) {
    s.queue_full[k] = ld(c.queue_full[k]);
    s.queue_depth[k] = m.rings[k]->depth();
  }
  s.retained = static_cast<std::size_t>(std::max<std::int64_t>(0, m.retired.depth()));
  const ns_t now = hal::now_ns();
  s.uptime_ns = m.started_at != 0 ? now - m.started_at : 0;
  for (const auto& w : m.workers) {
    WorkerStats ws;
    ws.index = w->index;
    ws.state = w->state.load(std::memory_order_relaxed);
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
  return s;
}

std::size_t Engine::clear_completed(std::size_t keep) {
  Impl& m = *impl_;
  const std::size_t me = cfg_.workers.size();  // the extra consumer token
  std::size_t n = 0;
  std::uint32_t idx = 0;
  while (m.retired.depth() > static_cast<std::int64_t>(keep) && m.retired.try_pop(me, idx)) {
    m.release(idx);
    ++n;
  }
  return n;
}

}  // namespace rt
