// F18 setup and queries: adding a graph (validated, compiled, its run state built), the
// producer's entry point that starts a run, a periodic task that starts one per release,
// stop()'s cleanup of runs left unfinished, and the results.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "engine_impl.hpp"
#include "hal/fence.hpp"
#include "hal/ticks.hpp"

namespace rt {

using detail::GraphNode;
using detail::GraphRun;

std::string_view to_string(GraphRunStatus s) noexcept {
  switch (s) {
    case GraphRunStatus::Started:
      return "started";
    case GraphRunStatus::Busy:
      return "busy";
    case GraphRunStatus::QueueFull:
      return "queue_full";
    case GraphRunStatus::Stopped:
      return "stopped";
    case GraphRunStatus::Unknown:
      return "unknown";
  }
  return "?";
}

std::string_view to_string(NodeState s) noexcept {
  switch (s) {
    case NodeState::Idle:
      return "idle";
    case NodeState::Pending:
      return "pending";
    case NodeState::Running:
      return "running";
    case NodeState::Completed:
      return "completed";
    case NodeState::Failed:
      return "failed";
    case NodeState::Timeout:
      return "timeout";
    case NodeState::RolledBack:
      return "rolled_back";
    case NodeState::Skipped:
      return "skipped";
  }
  return "?";
}

DurationStats detail::Durations::summary(double ns_per_unit) const noexcept {
  DurationStats d;
  d.count = count.get();
  if (d.count == 0) return d;
  auto ns = [ns_per_unit](ns_t v) { return static_cast<ns_t>(std::llround(static_cast<double>(v) * ns_per_unit)); };
  d.last = ns(last.load(std::memory_order_relaxed));
  // Counted but never timed (GraphSpec::node_timing off): min is still its start value.
  const ns_t lo = min.load(std::memory_order_relaxed);
  d.min = lo == std::numeric_limits<ns_t>::max() ? 0 : ns(lo);
  d.max = ns(max.load(std::memory_order_relaxed));
  d.mean = static_cast<double>(sum.get()) / static_cast<double>(d.count) * ns_per_unit;
  return d;
}

int Engine::add_graph(const GraphSpec& spec, const HandlerRegistry& handlers) {
  Impl& m = *impl_;
  if (running()) throw std::logic_error("add_graph: graphs are added before start()");
  if (m.graphs.size() >= cfg_.max_graphs)
    throw std::length_error("add_graph: all " + std::to_string(cfg_.max_graphs) +
                            " graphs taken; raise EngineConfig::max_graphs");
  if (graph_index(spec.name) >= 0) throw std::invalid_argument("add_graph: graph '" + spec.name + "' already added");
  if (static_cast<std::size_t>(spec.priority) >= kClassCount ||
      m.serving[static_cast<std::size_t>(spec.priority)].empty())
    throw std::invalid_argument("add_graph: graph '" + spec.name + "': no worker serves its priority class");
  Topology topo = compile(spec, handlers);  // throws GraphError naming the problem
  hal::init_ticks();                        // node durations are timed in ticks: before any worker runs
  auto g = std::make_unique<GraphRun>(spec, std::move(topo));
  const std::uint32_t n = g->topo.size;
  g->index = static_cast<std::uint32_t>(m.graphs.size());
  g->ring = static_cast<std::size_t>(spec.priority);
  g->nodes = std::make_unique<GraphNode[]>(n);
  g->dependents = g->topo.dependents.data();
  for (std::uint32_t i = 0; i < n; ++i) {
    const NodeSpec& ns = g->spec.nodes[i];
    GraphNode& node = g->nodes[i];
    node.fn.copy_from(*handlers.find(ns.type));  // compile() checked it is there
    node.binding = ns.state;
    node.deadline_in = ns.deadline_in;
    node.deps_begin = g->topo.dependents_begin[i];
    node.deps_end = g->topo.dependents_begin[i + 1];
    node.indegree = g->topo.indegree[i];
    node.remaining.store(node.indegree, std::memory_order_relaxed);  // armed for the first run
  }
  std::size_t all = n;
  for (const auto& other : m.graphs)
    all += other->topo.size;
  for (auto& w : m.workers)  // every node of every graph could be refused by its ring at once
    w->backlog.reserve(all);
  m.graphs.push_back(std::move(g));
  return static_cast<int>(m.graphs.size() - 1);
}

GraphRunStatus Engine::try_run_graph(Producer& p, int graph, const Context* ctx) noexcept {
  Impl& m = *impl_;
  if (p.engine_ != this || graph < 0 || static_cast<std::size_t>(graph) >= m.graphs.size())
    return GraphRunStatus::Unknown;
  detail::ProducerState& ps = m.producers[p.index_];
  // The same entry handshake with stop() as a submission (acquire).
  if (asymmetric_entry_) {
    ps.inside.store(true, std::memory_order_relaxed);
    hal::light_fence();
  } else {
    ps.inside.store(true, std::memory_order_seq_cst);
  }
  GraphRunStatus status = GraphRunStatus::Stopped;
  ns_t notify = 0;
  if (accepting_.load(std::memory_order_seq_cst)) {
    GraphRun& g = *m.graphs[static_cast<std::size_t>(graph)];
    status = m.start_graph(g, p.index_, p.index_, ctx, notify);
  }
  ps.inside.store(false, std::memory_order_release);
  if (status == GraphRunStatus::Started) m.wake_one(m.graphs[static_cast<std::size_t>(graph)]->ring);
  if (notify != 0) m.poke_monitor(notify);
  return status;
}

void Engine::Impl::periodic_graph_release(void* impl, std::uint32_t graph, int worker, detail::Worker* feeder,
                                          const detail::Worker::Feeder* feed) noexcept {
  Impl& m = *static_cast<Impl*>(impl);
  detail::Worker& w = *m.workers[static_cast<std::size_t>(worker)];
  GraphRun& g = *m.graphs[graph];
  ns_t notify = 0;
  const bool started = m.start_graph(g, m.ring_token(w), m.retry_token(w), nullptr, notify) == GraphRunStatus::Started;
  if (started) m.wake_one(g.ring);
  if (notify != 0) m.poke_monitor(notify);
  // The worker that waits for these releases (add_periodic_graph), when it sleeps: it may
  // have looked before the loop ran (no release yet, so no timer) or while a release was
  // held up, and wake_one wakes the first sleeper serving the class, which need not be
  // it. Awake (as it is when its lead held), this is a load; a feed its worker passes over
  // (not apart: the pins did not take) gets no wake.
  if (started && feeder != nullptr && feed->apart.load(std::memory_order_relaxed)) m.wake_worker(*feeder);
}

namespace {
// A periodic task's callable that starts a graph run: trivially copyable (InlineFn).
struct GraphRelease {
  void (*release)(void*, std::uint32_t, int, detail::Worker*, const detail::Worker::Feeder*) noexcept;
  void* impl;
  std::uint32_t graph;
  int worker;
  detail::Worker* feeder;  // the worker that waits for its releases, and its entry; nullptr none
  const detail::Worker::Feeder* feed;
  void operator()(TaskContext&) const noexcept { release(impl, graph, worker, feeder, feed); }
};
}  // namespace

int Engine::add_periodic_graph(const PeriodicSpec& spec, int graph) {
  Impl& m = *impl_;
  if (graph < 0 || static_cast<std::size_t>(graph) >= m.graphs.size())
    throw std::invalid_argument("add_periodic_graph: no graph " + std::to_string(graph));
  const int id = prepare_periodic(spec);
  const int worker = m.periodic[static_cast<std::size_t>(id)]->worker->index;
  // One other worker that runs its nodes wakes for its releases too (worker_loop.cpp,
  // next_feed): a run starts with one item, queued at the release, and behind a futex
  // wake-up on a VM it waits as long as for the release's own timer (P7's frame paid
  // both). One: a second would spin in every period for an item the first one takes.
  // Both pinned, to different CPUs: a worker spinning for the release on the releasing
  // worker's CPU would hold the release back (unpinned, the scheduler put them together
  // and the releases came when the spin ended). And one that spins at all: with its own
  // idle_spin 0, or one that leaves no sleep between two windows, it never waits awake
  // (next_feed), and would keep the feed from another.
  detail::PeriodicTask* p = m.periodic[static_cast<std::size_t>(id)].get();
  const int releaser_cpu = m.workers[static_cast<std::size_t>(worker)]->cfg.cpu;
  detail::Worker* feeder = nullptr;
  const detail::Worker::Feeder* feed = nullptr;
  for (detail::Worker* w : m.serving[m.graphs[static_cast<std::size_t>(graph)]->ring]) {
    const ns_t own_spin = w->idle_spin(cfg_.idle_spin);
    if (w->index == worker || w->cfg.cpu == hal::kNoCpu || releaser_cpu == hal::kNoCpu || w->cfg.cpu == releaser_cpu ||
        own_spin == 0 || detail::feed_room(spec.period, own_spin) <= 0)
      continue;
    const std::size_t n = w->feeder_count.load(std::memory_order_relaxed);
    w->feeders[n].loop = p;
    w->feeders[n].graph = static_cast<std::uint32_t>(graph);
    const ns_t spin = w->idle_spin(cfg_.idle_spin);
    w->feeders[n].lag = std::make_unique<detail::MarginTracker>();
    detail::configure_feed_lag(*w->feeders[n].lag, p->spec.period, spin);
    detail::mark_feed_apart(*w, n);                           // started already: as applied; else start() does
    w->feeder_count.store(n + 1, std::memory_order_release);  // the worker may look from now on
    feeder = w;
    feed = &w->feeders[n];
    break;
  }
  periodic_fn(id).emplace(
      GraphRelease{&Impl::periodic_graph_release, &m, static_cast<std::uint32_t>(graph), worker, feeder, feed});
  commit_periodic(id);
  return id;
}

void Engine::Impl::stop_graph_nodes() noexcept {
  // After `cancelling` is set: a node that starts later is skipped (run_node); every node
  // of a running run is asked to stop, so one that starts in that instant stops at once.
  for (auto& g : graphs) {
    const std::uint32_t run = g->run.load(std::memory_order_acquire);
    if ((run & 1U) == 0) continue;
    for (std::uint32_t i = 0; i < g->topo.size; ++i)
      g->nodes[i].stop.store(run >> 1, std::memory_order_relaxed);
  }
}

void Engine::Impl::abandon_graph_runs() {
  // The workers are joined: this thread is the rings' only consumer now. A release that
  // started a run after the last worker looked (stop() cannot stop a release midway)
  // leaves items nobody will take.
  std::uint32_t item = 0;
  for (auto& r : rings) {
    while (r->try_pop(0, item)) {
      if (detail::is_node_ref(item)) continue;
      // A task slot cannot be here (stop() waited for empty rings with no producer left);
      // if one were, it is accounted for, not lost.
      detail::TaskSlot& s = slots[item];
      const std::uint64_t w = s.word.load(std::memory_order_acquire);
      if (detail::state_of(w) == State::Ready)
        (void)finish(shared_out, s, detail::gen_of(w), State::Cancelled, Reason::EngineStopped, hal::now_ns());
      retire(setup_token(), item);
    }
  }
  for (auto& w : workers)
    w->backlog.clear();
  for (auto& g : graphs) {
    const std::uint32_t run = g->run.load(std::memory_order_acquire);
    if ((run & 1U) == 0) continue;
    // Its nodes that were never taken were never re-armed (run_node): all are, here.
    for (std::uint32_t i = 0; i < g->topo.size; ++i) {
      g->nodes[i].remaining.store(g->nodes[i].indegree, std::memory_order_relaxed);
      g->nodes[i].poisoned.store(false, std::memory_order_relaxed);
    }
    g->abandoned.add();
    g->failed_runs.add();
    g->run.store(run & ~1U, std::memory_order_release);
  }
}

int Engine::graph_index(std::string_view name) const noexcept {
  const auto& gs = impl_->graphs;
  for (std::size_t i = 0; i < gs.size(); ++i) {
    if (gs[i]->spec.name == name) return static_cast<int>(i);
  }
  return -1;
}

std::size_t Engine::graph_count() const noexcept { return impl_->graphs.size(); }

namespace {
const GraphRun& graph_at(const std::vector<std::unique_ptr<GraphRun>>& gs, int graph) {
  if (graph < 0 || static_cast<std::size_t>(graph) >= gs.size())
    throw std::out_of_range("no graph " + std::to_string(graph));
  return *gs[static_cast<std::size_t>(graph)];
}
}  // namespace

const GraphSpec& Engine::graph_spec(int graph) const { return graph_at(impl_->graphs, graph).spec; }
const Topology& Engine::graph_topology(int graph) const { return graph_at(impl_->graphs, graph).topo; }

GraphStats Engine::graph_stats(int graph) const {
  const GraphRun& g = graph_at(impl_->graphs, graph);
  GraphStats s;
  s.name = g.spec.name;
  s.running = (g.run.load(std::memory_order_acquire) & 1U) != 0;
  s.runs = g.runs.get();
  s.completed_runs = g.completed_runs.get();
  s.failed_runs = g.failed_runs.get();
  s.deadline_misses = g.deadline_misses.get();
  s.busy = g.busy.get();
  s.abandoned = g.abandoned.get();
  s.last_completed = g.last_completed.load(std::memory_order_relaxed);
  s.last_failed = g.last_failed.load(std::memory_order_relaxed);
  s.last_skipped = g.last_skipped.load(std::memory_order_relaxed);
  s.duration = g.duration.summary();
  s.nodes.reserve(g.topo.size);
  for (std::uint32_t i = 0; i < g.topo.size; ++i) {
    const GraphNode& n = g.nodes[i];
    NodeStats ns;
    ns.name = g.spec.nodes[i].name;
    ns.type = g.spec.nodes[i].type;
    ns.last = n.state.load(std::memory_order_relaxed);
    ns.failed = n.failed.get();
    ns.timed_out = n.timed_out.get();
    ns.rolled_back = n.rolled_back.get();
    ns.skipped = n.skipped.get();
    ns.duration = n.duration.summary(hal::ns_per_tick());
    // Each node that ran counts once in its durations and, unless it completed, in failed or
    // timed_out first: while it runs the difference may be one off, never below zero.
    const std::uint64_t not_completed = ns.failed + ns.timed_out;
    ns.completed = ns.duration.count > not_completed ? ns.duration.count - not_completed : 0;
    s.nodes.push_back(std::move(ns));
  }
  return s;
}

}  // namespace rt
