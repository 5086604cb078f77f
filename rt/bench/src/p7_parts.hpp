#pragma once
// P7's contenders, one file each kind (p7_graph.cpp assembles the group):
// - p7_engine.cpp: a chain and a wide graph re-run by the engine;
// - p7_baselines.cpp: the same node bodies without the engine -- called directly with one
//   atomic each, and through a model of Taskflow's executor;
// - p7_frame.cpp: the 7-node control frame and its budget.
// Setup/measurement code: allocates and blocks freely.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rtbench/measure.hpp"

namespace rt::bench::p7 {

// Nodes of the chain (a pipeline on one worker) and of the wide graph's middle (source ->
// kWideNodes -> sink on two workers): enough that a run's fixed costs (its start, the
// handoff to the worker, the clock reads around it) weigh < 1 ns per node.
inline constexpr int kChainNodes = 1000;
inline constexpr int kWideNodes = 1000;
// Runs dropped at the start of every block: fresh threads, cold caches.
inline constexpr int kWarmupRuns = 10;
// A run or a handoff not ended after this long is broken, not slow.
inline constexpr ns_t kStuck = hal::kNsPerSec;

// A block that measured nothing, saying why.
[[nodiscard]] inline Block failed(std::string why) {
  Block b;
  b.error = std::move(why);
  return b;
}

// Every node body on every side: one increment of a thread-local counter, which the
// compiler cannot drop, on a line no other thread writes.
void node_body() noexcept;

// Runs per block: settings.samples, at least 10.
[[nodiscard]] int runs(const Settings& s) noexcept;

// A Kind::Cost block from run durations (ns): value = the median run / nodes; extras: the
// p99 run / nodes, and the median run in ns.
[[nodiscard]] Block cost_of_runs(std::vector<ns_t> durations, int nodes);

// The node each node makes ready (its one decrement), for the baselines: the chain's
// next; the wide graph's source -> its first dependent, middle -> sink, sink -> the run's
// own counter (index nodes).
[[nodiscard]] std::vector<std::uint32_t> chain_next(int nodes);
[[nodiscard]] std::vector<std::uint32_t> wide_next(int width);

// `node_timing`: GraphSpec's (per-node durations in GraphStats; Taskflow has none).
Block engine_chain_block(const Settings& s, bool node_timing);
Block engine_wide_block(const Settings& s);
Block direct_block(const Settings& s, const std::vector<std::uint32_t>& next);
Block taskflow_model_block(const Settings& s, int nodes);

// The frame in the engine's default configuration (`idle_spin` 0: EngineConfig's) or
// kept hot; its budget likewise.
Block frame_block(const Settings& s, ns_t idle_spin);
Block budget_block(const Settings& s, ns_t idle_spin);
// Both in one engine, their samples interleaved: the plain task released half a period
// after each frame (a Joint: {frame, budget}).
std::vector<Block> frame_and_budget(const Settings& s, ns_t idle_spin);
// The hot configuration's idle spin: longer than the period, so the nodes' worker spins
// from one frame to the next.
[[nodiscard]] inline ns_t hot_spin(const Settings& s) noexcept { return 2 * s.period; }

}  // namespace rt::bench::p7
