#pragma once
// F18: a graph's run state, built once at setup (Engine::add_graph) in the engine arena
// and reset by each run. Nodes travel through the class rings as tagged references
// (kNodeTag | graph << 16 | node) instead of task slots: a node has no id to cancel or
// query one by one, so it needs none of a slot's bookkeeping, and a worker that finishes
// one node runs a dependent it made ready itself, without a handoff.
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>

#include "counters.hpp"
#include "hal/annotations.hpp"
#include "rt/graph.hpp"
#include "rt/histogram.hpp"
#include "rt/task.hpp"
#include "rt/workflow.hpp"

namespace rt::detail {

inline constexpr std::uint32_t kNodeTag = 1U << 31;
inline constexpr std::uint32_t kMaxGraphs = 1U << 15;
constexpr std::uint32_t node_ref(std::uint32_t graph, std::uint32_t node) noexcept {
  return kNodeTag | graph << 16 | node;
}
constexpr bool is_node_ref(std::uint32_t item) noexcept { return (item & kNodeTag) != 0; }
constexpr std::uint32_t graph_of(std::uint32_t ref) noexcept { return (ref & ~kNodeTag) >> 16; }
constexpr std::uint32_t node_of(std::uint32_t ref) noexcept { return ref & 0xFFFFU; }
// The reference that starts a run (its worker queues the roots): not a node index.
inline constexpr std::uint32_t kStartNode = 0xFFFFU;
static_assert(kMaxGraphNodes <= kStartNode, "a node index fits 16 bits of a reference, below kStartNode");

// A worker's view of the rings above a graph's class while it runs a chain of nodes: ring
// j's reservation count when it was last found empty (-1: not looked at yet). An
// unchanged count answers "nothing waits there" with one load (BasicRing::depth).
using QuietRings = std::array<std::int64_t, kClassCount>;

// Durations over runs. Written by one thread at a time (the worker that ended the node or
// the run; runs of one graph never overlap), read by queries.
struct Durations {
  Tally count, sum;
  std::atomic<ns_t> last{0}, min{std::numeric_limits<ns_t>::max()}, max{0};
  // RT: wait-free; loads and stores.
  void record(ns_t d) noexcept HAL_NONBLOCKING {
    count.add();
    sum.add(static_cast<std::uint64_t>(d));
    last.store(d, std::memory_order_relaxed);
    if (d < min.load(std::memory_order_relaxed)) min.store(d, std::memory_order_relaxed);
    if (d > max.load(std::memory_order_relaxed)) max.store(d, std::memory_order_relaxed);
  }
  // `ns_per_unit`: what one recorded unit is in ns (hal::ns_per_tick() for ticks).
  [[nodiscard]] DurationStats summary(double ns_per_unit = 1.0) const noexcept;
};

// Padded on purpose: workers running neighbouring nodes do not share a line.
struct alignas(hal::kCacheLine) GraphNode {  // NOLINT(clang-analyzer-optin.performance.Padding)
  // -- per run: dependencies still to end, whether one of them failed, how this one ended --
  std::atomic<std::uint32_t> remaining{0};
  std::atomic<bool> poisoned{false};
  std::atomic<NodeState> state{NodeState::Idle};
  std::atomic<std::uint64_t> stop{0};  // the run generation asked to stop (monitor, F8)
  // -- set up once --
  TaskFn fn;
  StateBinding binding{};
  ns_t deadline_in = 0;
  std::uint32_t deps_begin = 0, deps_end = 0;  // into GraphRun::dependents
  std::uint32_t indegree = 0;
  // -- over runs --
  // Completed: duration.count less failed and timed_out (one count fewer per node run).
  Tally failed, timed_out, rolled_back, skipped;
  Durations duration;  // in hal::ticks(): a node's clock read is most of its cost (P7)
};

struct GraphRun {  // NOLINT(clang-analyzer-optin.performance.Padding)
  GraphRun(GraphSpec s, Topology t) : spec(std::move(s)), topo(std::move(t)), timing(spec.node_timing) {}
  GraphSpec spec;
  Topology topo;
  bool timing = true;  // spec.node_timing, beside the fields a node run reads
  // Built at setup, before start(): mlockall at start locks them with the rest.
  std::unique_ptr<GraphNode[]> nodes;         // topo.size
  const std::uint32_t* dependents = nullptr;  // topo.dependents.data()
  std::uint32_t index = 0;
  std::size_t ring = 0;  // the class its nodes are queued in

  // -- the run: `run` is generation << 1 | running. The fields below it are written by
  // the thread that starts a run, before its start item is queued, and read by workers. --
  alignas(hal::kCacheLine) std::atomic<std::uint32_t> run{0};
  std::atomic<std::uint32_t> left{0};                    // sinks of this run not yet ended
  std::atomic<std::uint32_t> n_failed{0}, n_skipped{0};  // completed: the rest
  // The generation of a run whose whole-graph deadline passed (the monitor); never a live
  // generation otherwise. A generation, not a flag: a monitor that looks at a run as it
  // ends can then never mark the next one.
  std::atomic<std::uint32_t> late{0};
  ns_t started = 0;
  ns_t deadline = 0;
  Context context{};
  // -- over runs --
  alignas(hal::kCacheLine) Tally runs, completed_runs, failed_runs, deadline_misses, abandoned;
  Counter busy;  // any starter
  std::atomic<std::uint32_t> last_completed{0}, last_failed{0}, last_skipped{0};
  Durations duration;
};

}  // namespace rt::detail
