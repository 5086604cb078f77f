// F18 on the run path: starting a graph run, running its nodes on the workers, and
// ending the run. Dependency counters are atomics in the preallocated GraphRun; a node
// that ends makes its dependents ready by decrementing theirs, keeps the first one it made
// ready to run next itself (a chain stays on one worker, hot in its cache, with no
// handoff), and queues the others for any worker. A failed, timed-out or rolled-back
// node poisons its dependents, which end SKIPPED in turn, while independent branches go on.
#include "engine_impl.hpp"
#include "hal/ticks.hpp"

namespace rt {

using detail::GraphNode;
using detail::GraphRun;
using detail::Worker;

namespace {
constexpr std::uint32_t kNone = ~std::uint32_t{0};
constexpr std::uint32_t running_word(std::uint32_t gen) noexcept { return gen << 1 | 1U; }
constexpr std::uint32_t gen_of_run(std::uint32_t w) noexcept { return w >> 1; }
}  // namespace

GraphRunStatus Engine::Impl::start_graph(GraphRun& g, std::size_t ring_token, std::size_t sched_token,
                                         const Context* ctx, ns_t& notify) noexcept HAL_NONBLOCKING {
  std::uint32_t w = g.run.load(std::memory_order_acquire);
  if ((w & 1U) != 0) {
    g.busy.add();
    return GraphRunStatus::Busy;
  }
  // One item starts the run: the worker that takes it queues the roots and runs the first
  // (start_roots). So a refusal can only come before the run is visible to anyone.
  detail::Ring& ring = *rings[g.ring];
  if (!ring.try_reserve()) {
    counters.queue_full[g.ring].add();
    return GraphRunStatus::QueueFull;
  }
  // 31 bits, never 0: 0 is no run's (node.stop and late start at 0).
  std::uint32_t gen = (gen_of_run(w) + 1) & 0x7FFFFFFFU;
  if (gen == 0) gen = 1;
  if (!g.run.compare_exchange_strong(w, running_word(gen), std::memory_order_acq_rel, std::memory_order_acquire)) {
    ring.unreserve();
    g.busy.add();
    return GraphRunStatus::Busy;  // another thread started it in that instant
  }
  // The run is this thread's until its start item is queued: nobody else reads these yet.
  // The nodes need no reset here: each was re-armed by the worker that took it in the
  // last run (run_node), so a run's start costs the same for 7 nodes as for 1,000, and a
  // node's counters stay in the cache of the worker that runs it.
  const ns_t now = hal::now_ns();
  // A run is over when its last sink ends: every node ends before its dependents, and
  // every node leads to a sink. So only sinks count down, not every node.
  g.left.store(static_cast<std::uint32_t>(g.topo.sinks.size()), std::memory_order_relaxed);
  g.n_failed.store(0, std::memory_order_relaxed);
  g.n_skipped.store(0, std::memory_order_relaxed);
  g.started = now;
  g.deadline = g.spec.deadline_in != 0 ? now + g.spec.deadline_in : 0;
  g.context = ctx != nullptr ? *ctx : Context{};
  // Counted while the run is this thread's alone: once its start item is queued the run
  // may end, and the next one start, before this thread looks again.
  const std::uint64_t runs = g.runs.get();
  g.runs.add();
  const ns_t deadline = g.deadline;
  // release (the ring's): the worker that takes the start item sees everything above.
  if (!ring.push_reserved(ring_token, detail::node_ref(g.index, detail::kStartNode))) {
    counters.ring_push_refusals.add();  // moodycamel refused below its bound (ring.hpp)
    counters.queue_full[g.ring].add();
    g.runs.v.store(runs, std::memory_order_release);
    g.run.store(w, std::memory_order_release);  // as if never started: the generation is not used
    return GraphRunStatus::QueueFull;
  }
  // The monitor ends a late run (F8). Its ring has a place per graph beyond the tasks' two
  // per slot; the entry of an earlier run is stale by then (stale_deadline).
  std::int64_t seen = 0;
  if (deadline != 0 &&
      scheduled_in.try_push(sched_token,
                            detail::Scheduled{deadline, TaskId{g.index, gen}, detail::Scheduled::Kind::Graph}, &seen))
    notify = monitor_ring_filling(seen) ? now : deadline;
  return GraphRunStatus::Started;
}

std::uint32_t Engine::Impl::start_roots(Worker& w, GraphRun& g) noexcept {
  std::uint32_t keep = kNone;
  bool queued = false;
  for (std::uint32_t r : g.topo.roots) {
    if (keep == kNone) {
      keep = r;
    } else if (rings[g.ring]->try_push(ring_token(w), detail::node_ref(g.index, r))) {
      queued = true;
    } else {
      w.backlog.push_back(detail::node_ref(g.index, r));  // reserved at setup: never grows
    }
  }
  if (queued) wake_one(g.ring);
  return keep;
}

// run_node and end_node are inlined into run_graph_item's loop: two calls per node, with
// their register saves, were 1.4 of a chain node's 15 ns (P7).
[[gnu::always_inline]] inline NodeState Engine::Impl::run_node(Worker& w, GraphRun& g, std::uint32_t idx,
                                                               std::uint64_t& clock) noexcept {
  GraphNode& node = g.nodes[idx];
  const std::uint32_t gen = gen_of_run(g.run.load(std::memory_order_relaxed));
  // Taken: no other thread touches its counters again in this run, so it is re-armed for
  // the next one now (start_graph resets none; the next run's decrements come after the
  // next start, which follows this run's end).
  const bool poisoned = node.poisoned.load(std::memory_order_acquire);
  node.poisoned.store(false, std::memory_order_relaxed);
  node.remaining.store(node.indegree, std::memory_order_relaxed);
  // A late run (or a stop(Cancel)) also asks every node of it to stop: one that starts
  // after the check below sees stop_requested() at once.
  if (poisoned || g.late.load(std::memory_order_relaxed) == gen || cancelling.load(std::memory_order_relaxed)) {
    node.state.store(NodeState::Skipped, std::memory_order_relaxed);
    return NodeState::Skipped;
  }
  // One tick read per node (hal::ticks: the TSC, where the kernel keeps time with it): its
  // duration starts at the end of the node this worker ran just before (or the moment it
  // took the item), so the engine's own step counts in it. A clock read per node was 20 of
  // a chain node's 34 ns (P7); a tick read is ~3. Only a node with a budget of its own needs
  // instants: its start and end are also read on CLOCK_MONOTONIC, as its deadline is one.
  const bool budget = node.deadline_in != 0;
  const ns_t start = budget ? hal::now_ns() : 0;
  const ns_t deadline = budget ? start + node.deadline_in : g.deadline;
  node.state.store(NodeState::Running, std::memory_order_relaxed);
  const bool bound = node.binding.bound();
  if (bound) node.binding.take();
  // Watched like a task only when the node has a budget of its own; a whole-graph
  // deadline is the monitor's through its own entry.
  if (budget) {
    watch_begin(w, detail::Subjected::Node, detail::node_ref(g.index, idx), deadline, start);
    poke_monitor(deadline);
  }
  TaskContext ctx(TaskId{detail::node_ref(g.index, idx), gen}, node.stop, gen, g.context, g.started, deadline, 0,
                  w.index);
  bool threw = false;
  try {
    node.fn(ctx);
  } catch (...) {  // F12: the node's violation, never the engine's
    threw = true;
  }
  std::uint64_t took = 0;
  if (g.timing) {
    const std::uint64_t end = hal::ticks();
    took = end > clock ? end - clock : 0;  // unfenced reads: never "negative"
    clock = end;
  }
  const bool missed = budget ? watch_end(w) || hal::now_ns() > deadline : false;
  const bool late = g.late.load(std::memory_order_acquire) == gen;  // stopped by the whole-graph deadline
  NodeState result = NodeState::Completed;
  if (missed || (late && node.stop.load(std::memory_order_relaxed) == gen)) {
    result = NodeState::Timeout;
    node.timed_out.add();
  } else if (threw) {
    result = NodeState::Failed;
    node.failed.add();
  }
  // Every node that ran is counted here once: completed ones are the rest (graph_stats).
  if (g.timing) {
    node.duration.record(static_cast<ns_t>(took));
  } else {
    node.duration.count.add();
  }
  if (result != NodeState::Completed && bound) {
    node.binding.roll_back(threw ? Reason::Exception : Reason::DeadlineMissed);
    node.rolled_back.add();
    result = NodeState::RolledBack;
  }
  node.state.store(result, std::memory_order_relaxed);
  return result;
}

// Asked at the end of every node that has dependents. Reading each ring's depth (its
// reservations and every consumer's count) each time was 0.9 of a chain node's 14 ns
// (P7); a reservation count unchanged since the ring was found empty is one load. A
// class's post ring (Producer::try_post), when it has one, is higher work too.
bool Engine::Impl::higher_work(const Worker& w, std::size_t k,
                               detail::QuietRings& quiet) const noexcept HAL_NONBLOCKING {
  for (unsigned above = w.cfg.classes & ((1U << k) - 1U); above != 0; above &= above - 1) {
    const auto j = static_cast<std::size_t>(__builtin_ctz(above));
    if (posts[j] != nullptr && posts[j]->depth() > 0) return true;
    if (rings[j]->reservations() == quiet[j]) continue;
    std::int64_t reserved = 0;
    if (rings[j]->depth(reserved) > 0) return true;
    quiet[j] = reserved;
  }
  return false;
}

[[gnu::always_inline]] inline std::uint32_t Engine::Impl::end_node(Worker& w, GraphRun& g, std::uint32_t idx,
                                                                   NodeState how, detail::QuietRings& quiet) noexcept {
  GraphNode& node = g.nodes[idx];
  const bool ok = how == NodeState::Completed;
  if (how == NodeState::Skipped) {
    node.skipped.add();
    g.n_skipped.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (!ok) g.n_failed.fetch_add(1, std::memory_order_relaxed);  // completed: the rest, at the end
  }
  if (!ok) {
    EventKind k = EventKind::Failed;
    if (how == NodeState::Skipped) k = EventKind::Skipped;
    if (how == NodeState::Timeout) k = EventKind::Timeout;
    if (how == NodeState::RolledBack) k = EventKind::RolledBack;
    publish_event(static_cast<std::size_t>(w.index), Event{.kind = k,
                                                           .subject = Subject::Workflow,
                                                           .worker = static_cast<std::int16_t>(w.index),
                                                           .workflow = g.index + 1,
                                                           .id = detail::node_ref(g.index, idx),
                                                           .at = hal::now_ns()});
  }
  // Asked before the decrements, not after the first that makes a dependent ready: a
  // locked decrement lets no later load start before it ends, so the loads asked after it
  // added their latency to every node's (0.5 of a chain node's 16 ns, P7); before it, they
  // overlap with the node's end.
  const bool yield = node.deps_begin != node.deps_end && higher_work(w, g.ring, quiet);
  std::uint32_t keep = kNone;
  bool queued = false;
  for (std::uint32_t i = node.deps_begin; i < node.deps_end; ++i) {
    const std::uint32_t d = g.dependents[i];
    GraphNode& dep = g.nodes[d];
    if (!ok) dep.poisoned.store(true, std::memory_order_relaxed);
    // acq_rel: the last decrement sees every poisoning store made before the others.
    if (dep.remaining.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
    // A ready dependent: the first one is run next by this worker, unless a higher class
    // waits (then it goes to the ring like the others).
    if (keep == kNone && !yield) {
      keep = d;
    } else if (rings[g.ring]->try_push(ring_token(w), detail::node_ref(g.index, d))) {
      queued = true;
    } else {
      w.backlog.push_back(detail::node_ref(g.index, d));  // reserved at setup: never grows
    }
  }
  if (queued) wake_one(g.ring);
  // acq_rel: the last sink's end sees every count of the run (each node's end came before
  // its dependents' starts, by their counters).
  if (node.deps_begin == node.deps_end && g.left.fetch_sub(1, std::memory_order_acq_rel) == 1) finish_graph_run(w, g);
  return keep;
}

void Engine::Impl::finish_graph_run(Worker& w, GraphRun& g) noexcept HAL_NONBLOCKING {
  const ns_t end = hal::now_ns();
  const std::uint32_t run = g.run.load(std::memory_order_relaxed);
  const std::uint32_t failed = g.n_failed.load(std::memory_order_relaxed);
  const std::uint32_t skipped = g.n_skipped.load(std::memory_order_relaxed);
  const bool ok = failed == 0 && skipped == 0;
  g.last_completed.store(g.topo.size - failed - skipped, std::memory_order_relaxed);
  g.last_failed.store(failed, std::memory_order_relaxed);
  g.last_skipped.store(skipped, std::memory_order_relaxed);
  (ok ? g.completed_runs : g.failed_runs).add();
  const bool late = g.late.load(std::memory_order_relaxed) == gen_of_run(run);
  if (late) g.deadline_misses.add();
  g.duration.record(end - g.started);
  publish_event(static_cast<std::size_t>(w.index),
                Event{.kind = ok ? EventKind::WorkflowCompleted : EventKind::WorkflowFailed,
                      .subject = Subject::Workflow,
                      .reason = late ? Reason::DeadlineMissed : Reason::None,
                      .worker = static_cast<std::int16_t>(w.index),
                      .workflow = g.index + 1,
                      .id = g.index,
                      .at = end,
                      .value = end - g.started});
  // release: the next starter sees this run's results and counts complete.
  g.run.store(run & ~1U, std::memory_order_release);
}

void Engine::Impl::run_graph_item(Worker& w, std::uint32_t ref) noexcept {
  std::uint32_t item = ref;
  for (;;) {
    GraphRun& g = *graphs[detail::graph_of(item)];
    std::uint32_t node = detail::node_of(item);
    if (node == detail::kStartNode) node = start_roots(w, g);
    w.running.store(true, std::memory_order_relaxed);
    w.state.store(WorkerState::Busy, std::memory_order_relaxed);
    std::uint64_t clock = g.timing ? hal::ticks() : 0;
    detail::QuietRings quiet;
    quiet.fill(-1);
    do {
      node = end_node(w, g, node, run_node(w, g, node, clock), quiet);
    } while (node != kNone);
    if (w.backlog.empty()) break;
    item = w.backlog.back();
    w.backlog.pop_back();
  }
  w.running.store(false, std::memory_order_release);
  w.state.store(WorkerState::Idle, std::memory_order_relaxed);
}

void Engine::Impl::graph_deadline(const detail::Scheduled& e, ns_t now) noexcept HAL_NONBLOCKING {
  GraphRun& g = *graphs[e.id.index];
  const std::uint32_t gen = e.id.generation;
  if (g.run.load(std::memory_order_acquire) != running_word(gen)) return;  // it ended in time
  // Marks run `gen` only: if it ends and the next starts meanwhile, neither this nor the
  // stop requests below (tokens of `gen`) reach the next one.
  g.late.store(gen, std::memory_order_release);
  // Every node is asked to stop (TaskContext::stop_requested): the running ones now, the
  // ones about to start at once; the ones not started are skipped.
  for (std::uint32_t i = 0; i < g.topo.size; ++i)
    g.nodes[i].stop.store(gen, std::memory_order_relaxed);
  publish_event(monitor_token(), Event{.kind = EventKind::WorkflowDeadlineMiss,
                                       .subject = Subject::Workflow,
                                       .reason = Reason::DeadlineMissed,
                                       .workflow = g.index + 1,
                                       .id = g.index,
                                       .at = now,
                                       .value = now - e.at});
}

}  // namespace rt
