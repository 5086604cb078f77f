#pragma once
// F18, the run half: what a graph run returns and what the engine reports about a graph.
// A graph is built at setup (rt/graph.hpp, Engine::add_graph); each run reuses its
// preallocated state, so running it allocates nothing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rt/types.hpp"

namespace rt {

// What Engine::try_run_graph did. Nothing but Started begins a run.
enum class GraphRunStatus : std::uint8_t {
  Started,
  Busy,       // the previous run has not ended (one run of a graph at a time)
  QueueFull,  // its class's ring could not take the root nodes
  Stopped,    // the engine is not running
  Unknown,    // no such graph
};
[[nodiscard]] std::string_view to_string(GraphRunStatus s) noexcept;

// A node's end in one run.
enum class NodeState : std::uint8_t { Idle, Pending, Running, Completed, Failed, Timeout, RolledBack, Skipped };
[[nodiscard]] std::string_view to_string(NodeState s) noexcept;

struct DurationStats {
  std::uint64_t count = 0;
  ns_t last = 0, min = 0, max = 0;
  double mean = 0;
};

struct NodeStats {
  std::string name, type;
  NodeState last = NodeState::Idle;  // in the latest run (Running while it runs)
  std::uint64_t completed = 0, failed = 0, timed_out = 0, rolled_back = 0, skipped = 0;
  DurationStats duration;  // of its runs that ended (skipped ones excluded)
};

struct GraphStats {
  std::string name;
  bool running = false;
  std::uint64_t runs = 0;             // started
  std::uint64_t completed_runs = 0;   // every node completed
  std::uint64_t failed_runs = 0;      // some node failed, timed out, rolled back or was skipped
  std::uint64_t deadline_misses = 0;  // the whole-graph deadline passed before the run ended
  std::uint64_t busy = 0;             // try_run refused: the previous run had not ended
  std::uint64_t abandoned = 0;        // runs ended by stop() before their nodes ran
  // The latest run's node counts.
  std::uint32_t last_completed = 0, last_failed = 0, last_skipped = 0;
  DurationStats duration;        // try_run -> last node's end
  std::vector<NodeStats> nodes;  // declaration order
};

}  // namespace rt
