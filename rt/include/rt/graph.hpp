#pragma once
// F18: a workflow as a DAG of named nodes, the setup half. A GraphSpec says what runs
// after what; compile() checks it against the handlers and flattens it into a Topology:
// vectors of uint32 node indices (CSR for the edges) that the run half copies into its
// preallocated run state. Everything here is setup only: it allocates and throws.
//
// Node i of a Topology is nodes[i] of the GraphSpec it was compiled from (declaration
// order), so a node's type, deadline and state binding are read from the spec by index.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/rollback.hpp"
#include "rt/task.hpp"
#include "rt/types.hpp"

namespace rt {

// 16 bits, so run state may pack a node index or a count of pending dependencies into a
// uint16; workflows are tens to thousands of nodes.
inline constexpr std::uint32_t kMaxGraphNodes = 65535;

struct NodeSpec {
  std::string name;
  std::string type;                // the handler that runs it (HandlerRegistry)
  std::vector<std::string> after;  // names of the nodes that must complete first
  ns_t deadline_in = 0;            // budget from the node's start; 0 = none
  StateBinding state{};            // F11: rolled back when this node's run is violated
};

struct GraphSpec {
  std::string name;
  std::vector<NodeSpec> nodes;
  ns_t deadline_in = 0;  // the whole graph, from try_run; 0 = none
  Priority priority = Priority::Normal;
  // Each node's duration in GraphStats (last, min, max, mean): one TSC read and a few
  // stores per node, a quarter of a trivial chain node's cost on this VM (21-23 ns timed,
  // 16-17 untimed). Off, the nodes are still counted (completed, failed...), their
  // durations stay 0; a node's own deadline is watched either way.
  bool node_timing = true;
};

// Fluent construction of a GraphSpec. Setup only: allocates.
class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name);
  GraphBuilder& node(std::string name, std::string type, std::vector<std::string> after = {});
  // These two apply to the last node added; they throw GraphError (Invalid) before any.
  GraphBuilder& node_deadline(ns_t d);
  GraphBuilder& node_state(StateBinding b);
  GraphBuilder& deadline(ns_t d);
  GraphBuilder& priority(Priority p);
  GraphBuilder& node_timing(bool on);
  // A copy of the spec so far; not validated (compile() and check() do that).
  [[nodiscard]] GraphSpec build() const;

 private:
  NodeSpec& last(const char* call);
  GraphSpec spec_;
};

// Seed 001's pipelines: a chain of (name, type) stages, each after the one before it.
// Setup only: allocates.
[[nodiscard]] GraphSpec pipeline(std::string name, const std::vector<std::pair<std::string, std::string>>& stages);

// Node handlers by type name. Setup only: allocates. A handler lives in a map node, so
// the pointer find() returns stays valid as long as the registry (also across a move).
class HandlerRegistry {
 public:
  // F is f(rt::TaskContext&) or f(), trivially copyable and at most kTaskFnCapacity bytes
  // (TaskFn). Throws std::invalid_argument for an empty or already registered type.
  template <class F>
  void add(std::string type, F&& fn) {
    using Fn = std::decay_t<F>;
    static_assert(std::is_invocable_v<Fn&, TaskContext&> || std::is_invocable_v<Fn&>,
                  "a handler is callable as f(rt::TaskContext&) or f()");
    TaskFn& slot = insert(std::move(type));
    if constexpr (std::is_invocable_v<Fn&, TaskContext&>) {
      slot.emplace(std::forward<F>(fn));
    } else {
      slot.emplace(IgnoreContext<Fn>{std::forward<F>(fn)});
    }
  }
  // nullptr when no handler has this type. The non-const overload is the one to call
  // through (TaskFn's call operator is not const).
  [[nodiscard]] const TaskFn* find(std::string_view type) const noexcept;
  [[nodiscard]] TaskFn* find(std::string_view type) noexcept;
  [[nodiscard]] bool contains(std::string_view type) const noexcept;
  [[nodiscard]] std::size_t size() const noexcept;

 private:
  // Not engine.hpp's detail::IgnoreContext: graph.hpp does not pull in the engine.
  template <class F>
  struct IgnoreContext {
    F f;
    void operator()(TaskContext&) { f(); }
  };
  TaskFn& insert(std::string type);
  std::map<std::string, TaskFn, std::less<>> fns_;
};

class GraphError : public std::invalid_argument {
 public:
  enum class Kind : std::uint8_t {
    Empty,
    DuplicateNode,
    UnknownDependency,
    Cycle,
    NoHandler,
    DuplicateDependency,
    Invalid
  };
  GraphError(Kind k, const std::string& message);
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

 private:
  Kind kind_;
};
[[nodiscard]] std::string_view to_string(GraphError::Kind k) noexcept;  // "unknown_dependency"

// A validated graph, flat and index-based.
struct Topology {
  std::uint32_t size = 0;
  // A topological order; among the nodes ready at each step, the one declared first, so a
  // graph with no parallelism runs in the order it was written.
  std::vector<std::uint32_t> order;
  // Level 0: the nodes with no dependencies; level k: the longest dependency path to the
  // node has k edges. Each level in declaration order.
  std::vector<std::vector<std::uint32_t>> levels;
  std::vector<std::uint32_t> level_of;  // per node
  std::vector<std::uint32_t> indegree;  // per node: how many dependencies
  // CSR: node i's dependents are dependents[dependents_begin[i] .. dependents_begin[i + 1]),
  // in declaration order; dependents_begin has size + 1 entries.
  std::vector<std::uint32_t> dependents_begin;
  std::vector<std::uint32_t> dependents;
  std::vector<std::uint32_t> roots;    // indegree 0, declaration order
  std::vector<std::uint32_t> sinks;    // no dependents, declaration order
  std::vector<std::string> names;      // per node
  std::vector<std::uint32_t> by_name;  // node indices sorted by name, for index_of

  // Throws std::out_of_range when no node has this name. O(log size).
  [[nodiscard]] std::uint32_t index_of(std::string_view name) const;
};

// Validates and compiles. Throws the first GraphError in this order: empty, invalid
// (names, types, sizes, deadlines, state bindings), duplicate nodes, unknown dependencies,
// duplicate dependencies, missing handlers, cycles. The message names the graph and the
// nodes. Setup only: O(V log V + E), no recursion (deep graphs do not grow the stack).
[[nodiscard]] Topology compile(const GraphSpec& g, const HandlerRegistry& handlers);
// The same with any test for "this type has a handler" (the config loader validates a
// file before any handler exists).
[[nodiscard]] Topology compile(const GraphSpec& g, const std::function<bool(std::string_view)>& has_handler);

// Every problem, in compile()'s order, each kind in declaration order; empty when valid
// (for `rtengine validate`). Cycles: one per strongly connected component, the shortest
// through the component's first-declared node. A cycle is written in run order
// ("a -> b -> c -> a": b runs after a), from its first-declared node; one of more than
// 32 nodes shows its first and last 16. Setup only: O(V + E) expected (names are hashed).
[[nodiscard]] std::vector<GraphError> check(const GraphSpec& g,
                                            const std::function<bool(std::string_view)>& has_handler);

}  // namespace rt
