// F20 queries: a task's status and history, lists, stats (counters added up from where
// they are kept), the engine's histograms, events, and freeing finished tasks.
#include <algorithm>

#include "engine_impl.hpp"
#include "hal/memory.hpp"
#include "rt/engine.hpp"

namespace rt {

using detail::gen_of;
using detail::state_of;
using detail::TaskSlot;

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
  // The thread that ends a task writes its reason and end time just after the state: a
  // query between the two sees an end without them. Wait for them, briefly and boundedly
  // (the writer is a few stores away unless preempted; then the query reports what it has).
  out.finished = s.finished.load(std::memory_order_acquire);
  for (int i = 0; i < 256 && out.finished == 0 && is_terminal(out.state); ++i) {
    detail::cpu_relax();
    out.finished = s.finished.load(std::memory_order_acquire);
  }
  out.reason = s.reason.load(std::memory_order_relaxed);
  out.priority = s.priority.load(std::memory_order_relaxed);
  out.type = s.type.load(std::memory_order_relaxed);
  out.workflow = s.workflow.load(std::memory_order_relaxed);
  out.deadline = s.deadline.load(std::memory_order_relaxed);
  out.start_at = s.start_at.load(std::memory_order_relaxed);
  out.created = s.created.load(std::memory_order_relaxed);
  out.started = s.started.load(std::memory_order_relaxed);
  out.worker = s.worker.load(std::memory_order_relaxed);
  // Every retry follows an attempt that ended; the current one counts once it ran or ended.
  const bool this_one = out.state == State::Running ||
                        (is_terminal(out.state) && out.state != State::Cancelled && out.state != State::Skipped) ||
                        out.reason == Reason::CancelledRunning;
  out.attempts = s.retries_used.load(std::memory_order_relaxed) + (this_one ? 1U : 0U);
  const std::uint32_t n = detail::count_of(before);
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
  detail::Outcomes o;
  m.sum_outcomes(o);
  Stats s;
  s.submitted = m.submitted();
  for (std::size_t i = 0; i < cfg_.max_producers; ++i)
    s.posted += m.producers[i].posted.get();
  s.completed = o.completed.load(std::memory_order_relaxed);
  s.failed = o.failed.load(std::memory_order_relaxed);
  s.timed_out = o.timed_out.load(std::memory_order_relaxed);
  s.cancelled = o.cancelled.load(std::memory_order_relaxed);
  s.skipped = o.skipped.load(std::memory_order_relaxed);
  s.gate_violations = o.gate_violations.load(std::memory_order_relaxed);
  s.exceptions = o.exceptions.load(std::memory_order_relaxed);
  s.rolled_back = o.rolled_back.load(std::memory_order_relaxed);
  for (const auto& r : m.rollbacks_by_type)
    s.rollbacks_by_type.push_back(r.get());
  for (const auto& f : m.failures_by_type)
    s.failures_by_type.push_back(TypeFailures{f[0].get(), f[1].get(), f[2].get()});
  s.deadline_misses = o.deadline_misses.load(std::memory_order_relaxed);
  s.detected_by_monitor = c.detected_by_monitor.get();
  s.stalls = c.stalls.get();
  s.retries = m.retries.get();
  s.dead_lettered = m.dead_lettered.get();
  // A gauge: a task can leave SCHEDULED on one thread a moment before the thread that put
  // it there has counted it, so a read may catch it one below zero.
  s.scheduled = static_cast<std::int64_t>(c.scheduled.get()) < 0 ? 0 : c.scheduled.get();
  s.release_deferrals = c.release_deferrals.get();
  s.events_published = c.events_published.get();
  s.events_dropped = c.events_dropped.get();
  s.running = 0;
  for (const auto& w : m.workers)
    s.running += w->running.load(std::memory_order_acquire) ? 1 : 0;
  s.no_free_slot = c.no_free_slot.get();
  s.circuit_open = c.circuit_open.get();
  s.invalid = c.invalid.get();
  s.refused_transitions = c.refused_transitions.get();
  s.ring_push_refusals = c.ring_push_refusals.get();
  s.ring_allocations_refused = detail::RingMemory::refused.load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < kClassCount; ++k) {
    s.queue_full[k] = c.queue_full[k].get();
    s.queue_depth[k] = m.class_depth(k);
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
    ws.tasks_done = w->tasks_done.get();
    ws.prewakes = w->prewakes.get();
    ws.sleeps = w->sleeps.get();
    ws.feeds_met = w->feeds_met.get();
    ws.feed_lead = w->feed_lead.load(std::memory_order_relaxed);
    ws.busy_ns = static_cast<ns_t>(w->busy_ns.get());
    const ns_t from = w->started_at.load(std::memory_order_relaxed);
    const ns_t to = ws.state == WorkerState::Stopped ? w->stopped_at.load(std::memory_order_relaxed) : now;
    ws.uptime_ns = from != 0 && to > from ? to - from : 0;
    ws.utilization = ws.uptime_ns > 0 ? static_cast<double>(ws.busy_ns) / static_cast<double>(ws.uptime_ns) : 0.0;
    // Read from /proc by this (query) thread: the worker never makes a syscall for it.
    const int tid = w->tid.load(std::memory_order_acquire);
    ws.minor_faults = ws.state != WorkerState::Stopped && tid > 0 ? hal::minor_faults_of_thread(tid)
                                                                  : w->minor_faults.load(std::memory_order_relaxed);
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
  const Impl& m = *impl_;
  // A task can end before its submitter counts it as submitted (the count follows the
  // enqueue), so the difference is clamped rather than trusted to be non-negative.
  std::uint64_t done = m.shared_out.ended() + m.monitor_out.ended();
  for (const auto& w : m.workers)
    done += w->out.ended();
  const std::uint64_t submitted = m.submitted();
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

Health Engine::health() const noexcept HAL_NONBLOCKING {
  const Impl& m = *impl_;
  Health h;
  h.running = running();
  for (const auto& w : m.workers) {
    if (!w->watch.stalled()) continue;
    if (h.stalled_workers++ == 0) h.first_stalled = w->index;
  }
  h.monitor_beat = m.monitor_beat.load(std::memory_order_relaxed);
  h.monitor_beat_every = cfg_.monitor.beat;
  return h;
}

std::size_t Engine::poll_events(Event* out, std::size_t max) noexcept HAL_NONBLOCKING {
  std::size_t n = 0;
  while (n < max && impl_->events.try_pop(0, out[n]))
    ++n;
  return n;
}

void Engine::set_event_interest(EventMask kinds) noexcept HAL_NONBLOCKING {
  impl_->event_interest.store(kinds, std::memory_order_relaxed);
}

EventMask Engine::event_interest() const noexcept HAL_NONBLOCKING {
  return impl_->event_interest.load(std::memory_order_relaxed);
}

std::uint64_t Engine::events_dropped() const noexcept HAL_NONBLOCKING { return impl_->counters.events_dropped.get(); }

std::size_t Engine::clear_completed(std::size_t keep) {
  Impl& m = *impl_;
  const std::size_t me = m.setup_token();
  // The ring keeps each worker's retirements in their order, not all of them in one (a
  // pop rotates over the workers' sub-queues): the most recent are found by their end.
  if (m.retired.depth() <= static_cast<std::int64_t>(keep)) return 0;
  std::vector<std::uint32_t> held;
  held.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, m.retired.depth())));
  for (std::uint32_t idx = 0; m.retired.try_pop(me, idx);)
    held.push_back(idx);
  const std::size_t n = held.size() > keep ? held.size() - keep : 0;
  // std::sort, not stable_sort: libstdc++ 12's stable_sort uses get_temporary_buffer, which
  // clang 22 calls deprecated (the fuzz and rtsan presets). Ties go by slot, which is stable enough.
  std::sort(held.begin(), held.end(), [&m](std::uint32_t a, std::uint32_t b) {
    const ns_t fa = m.slots[a].finished.load(std::memory_order_relaxed);
    const ns_t fb = m.slots[b].finished.load(std::memory_order_relaxed);
    return fa != fb ? fa < fb : a < b;
  });
  for (std::size_t i = 0; i < held.size(); ++i) {
    // The ring holds every slot, so a push back cannot fail; if it did, the slot is freed
    // rather than lost.
    if (i < n || !m.retired.try_push(me, held[i])) m.release(held[i]);
  }
  return n;
}

}  // namespace rt
