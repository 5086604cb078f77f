// F18, the setup half's analysis: a GraphSpec's validation (check) and its compilation
// into a Topology (compile), and Topology::index_of over the name index compile builds.
// Nothing here recurses: the cycle search is an iterative Tarjan, so a chain of 10^5
// nodes needs no deeper stack than a chain of 3. GraphError, the builder and the handler
// registry are graph.cpp.
#include <algorithm>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <unordered_map>

#include "quoted.hpp"
#include "rt/graph.hpp"

namespace rt {

namespace {

using detail::quoted;

constexpr std::uint32_t kNone = UINT32_MAX;
// A cycle longer than this shows its two ends only: `rtengine validate` prints one line
// per problem, and a 10^5-node cycle would be a megabyte.
constexpr std::size_t kCycleShown = 32;

using HasHandler = std::function<bool(std::string_view)>;
using Kind = GraphError::Kind;

// Node names resolved to indices: the dependents CSR that the cycle search, the order
// and the Topology all walk. Only known, distinct dependencies are edges.
struct Edges {
  std::vector<std::uint32_t> begin;  // size + 1
  std::vector<std::uint32_t> to;
  std::vector<std::uint32_t> indegree;

  [[nodiscard]] std::uint32_t outdegree(std::uint32_t v) const { return begin[v + 1] - begin[v]; }
};

struct Analysis {
  const GraphSpec& g;
  std::vector<GraphError> errors;
  Edges edges;

  void report(Kind k, const std::string& what) { errors.emplace_back(k, "graph " + quoted(g.name) + ": " + what); }
  [[nodiscard]] std::string node(std::uint32_t v) const {
    return g.nodes[v].name.empty() ? "node #" + std::to_string(v) : "node " + quoted(g.nodes[v].name);
  }
};

// The rule Engine::try_submit applies (submit.cpp), so a node that passes here is never
// refused there for its binding.
bool binding_usable(const StateBinding& b) {
  return !b.bound() || (b.saved != nullptr && b.size > 0) || (b.snapshot != nullptr && b.restore != nullptr);
}

void check_invalid(Analysis& a) {
  const GraphSpec& g = a.g;
  if (g.name.empty()) a.report(Kind::Invalid, "the graph has no name");
  if (g.nodes.size() > kMaxGraphNodes)
    a.report(Kind::Invalid, std::to_string(g.nodes.size()) + " nodes, more than the " + std::to_string(kMaxGraphNodes) +
                                " a graph may have");
  if (g.deadline_in < 0) a.report(Kind::Invalid, "negative deadline_in");
  if (static_cast<std::size_t>(g.priority) >= kClassCount) a.report(Kind::Invalid, "priority is not a class");
  for (std::uint32_t v = 0; v < g.nodes.size(); ++v) {
    const NodeSpec& n = g.nodes[v];
    const std::string who = a.node(v);
    if (n.name.empty()) a.report(Kind::Invalid, who + " has an empty name");
    if (n.type.empty()) a.report(Kind::Invalid, who + " has an empty type");
    if (n.deadline_in < 0) a.report(Kind::Invalid, who + " has a negative deadline_in");
    if (!binding_usable(n.state))
      a.report(Kind::Invalid, who +
                                  ": its state binding needs a snapshot buffer (saved, size > 0) or both "
                                  "snapshot and restore functions");
  }
}

// Name -> the first node declared with it. Each duplicated name is reported once.
std::unordered_map<std::string_view, std::uint32_t> index_names(Analysis& a) {
  const auto& nodes = a.g.nodes;
  std::unordered_map<std::string_view, std::uint32_t> index;
  index.reserve(nodes.size());
  std::vector<bool> reported(nodes.size(), false);
  for (std::uint32_t v = 0; v < nodes.size(); ++v) {
    if (nodes[v].name.empty()) continue;  // already Invalid; "duplicate ''" would add nothing
    const auto [it, fresh] = index.try_emplace(nodes[v].name, v);
    if (fresh || reported[it->second]) continue;
    reported[it->second] = true;
    a.report(Kind::DuplicateNode, "duplicate node name " + quoted(nodes[v].name));
  }
  return index;
}

// Builds the edges; reports unknown dependencies, then dependencies listed twice.
void resolve(Analysis& a, const std::unordered_map<std::string_view, std::uint32_t>& index) {
  const auto& nodes = a.g.nodes;
  const auto n = static_cast<std::uint32_t>(nodes.size());
  std::vector<std::uint32_t> deps_begin(n + 1, 0);
  std::vector<std::uint32_t> deps;
  // seen[d] == v: node v already listed d; twice[d] == v: and that has been reported.
  std::vector<std::uint32_t> seen(n, kNone);
  std::vector<std::uint32_t> twice(n, kNone);
  std::vector<std::string> duplicates;
  for (std::uint32_t v = 0; v < n; ++v) {
    deps_begin[v] = static_cast<std::uint32_t>(deps.size());
    const auto& after = nodes[v].after;
    for (std::size_t k = 0; k < after.size(); ++k) {
      const auto duplicate = [&] {
        duplicates.push_back(a.node(v) + " lists dependency " + quoted(after[k]) + " twice");
      };
      const auto it = index.find(after[k]);
      if (it == index.end()) {
        // An unknown name has no index to mark; count it among the earlier entries (a
        // quadratic scan only over a node's own list, and only for names that are wrong).
        const auto earlier = std::count(after.begin(), after.begin() + static_cast<std::ptrdiff_t>(k), after[k]);
        if (earlier == 0) a.report(Kind::UnknownDependency, a.node(v) + " depends on unknown node " + quoted(after[k]));
        if (earlier == 1) duplicate();
        continue;
      }
      const std::uint32_t d = it->second;
      if (seen[d] != v) {
        seen[d] = v;
        deps.push_back(d);
      } else if (twice[d] != v) {
        twice[d] = v;
        duplicate();
      }
    }
  }
  deps_begin[n] = static_cast<std::uint32_t>(deps.size());
  for (auto& d : duplicates)
    a.report(Kind::DuplicateDependency, d);

  // Dependencies per node -> dependents per node. Filling in node order keeps each
  // node's dependents in declaration order.
  Edges& e = a.edges;
  e.indegree.resize(n);
  e.begin.assign(n + 1, 0);
  for (std::uint32_t v = 0; v < n; ++v) {
    e.indegree[v] = deps_begin[v + 1] - deps_begin[v];
    for (std::uint32_t i = deps_begin[v]; i < deps_begin[v + 1]; ++i)
      ++e.begin[deps[i] + 1];
  }
  std::partial_sum(e.begin.begin(), e.begin.end(), e.begin.begin());
  e.to.resize(deps.size());
  std::vector<std::uint32_t> fill(e.begin.begin(), e.begin.end() - 1);
  for (std::uint32_t v = 0; v < n; ++v) {
    for (std::uint32_t i = deps_begin[v]; i < deps_begin[v + 1]; ++i)
      e.to[fill[deps[i]]++] = v;
  }
}

void check_handlers(Analysis& a, const HasHandler& has_handler) {
  const auto& nodes = a.g.nodes;
  for (std::uint32_t v = 0; v < nodes.size(); ++v) {
    if (nodes[v].type.empty() || has_handler(nodes[v].type)) continue;  // empty: already Invalid
    a.report(Kind::NoHandler, a.node(v) + " has type " + quoted(nodes[v].type) + " with no handler");
  }
}

// Strongly connected components by Tarjan's algorithm with an explicit call stack.
// Fills each node's component; returns, per component that holds a cycle (more than one
// node, or a node after itself), its first-declared node, in declaration order.
std::vector<std::uint32_t> cyclic_components(const Edges& e, std::vector<std::uint32_t>& component) {
  const auto n = static_cast<std::uint32_t>(e.indegree.size());
  std::vector<std::uint32_t> visited_at(n, kNone);
  std::vector<std::uint32_t> low(n, 0);
  std::vector<std::uint32_t> stack;                            // Tarjan's: visited, no component yet
  std::vector<std::pair<std::uint32_t, std::uint32_t>> calls;  // node, its next edge
  std::vector<std::uint32_t> firsts;
  component.assign(n, kNone);
  std::uint32_t clock = 0;
  std::uint32_t components = 0;
  const auto visit = [&](std::uint32_t v) {
    visited_at[v] = low[v] = clock++;
    stack.push_back(v);
    calls.emplace_back(v, e.begin[v]);
  };
  for (std::uint32_t root = 0; root < n; ++root) {
    if (visited_at[root] != kNone) continue;
    visit(root);
    while (!calls.empty()) {
      const std::uint32_t v = calls.back().first;
      const std::uint32_t edge = calls.back().second;
      if (edge < e.begin[v + 1]) {
        calls.back().second = edge + 1;
        const std::uint32_t w = e.to[edge];
        if (visited_at[w] == kNone) {
          visit(w);
        } else if (component[w] == kNone) {  // still on Tarjan's stack
          low[v] = std::min(low[v], visited_at[w]);
        }
        continue;
      }
      calls.pop_back();
      if (!calls.empty()) low[calls.back().first] = std::min(low[calls.back().first], low[v]);
      if (low[v] != visited_at[v]) continue;
      std::uint32_t first = v;
      std::uint32_t members = 0;
      std::uint32_t w = kNone;
      do {
        w = stack.back();
        stack.pop_back();
        component[w] = components;
        first = std::min(first, w);
        ++members;
      } while (w != v);
      const auto out = e.to.begin() + e.begin[v];
      if (members > 1 || std::find(out, out + e.outdegree(v), v) != out + e.outdegree(v)) firsts.push_back(first);
      ++components;
    }
  }
  std::sort(firsts.begin(), firsts.end());
  return firsts;
}

// The shortest cycle through `s` inside its component: breadth first along the edges
// that stay in the component, until an edge leads back to `s`.
std::vector<std::uint32_t> cycle_through(std::uint32_t s, const Edges& e, const std::vector<std::uint32_t>& component,
                                         std::vector<std::uint32_t>& parent) {
  std::vector<std::uint32_t> queue{s};
  std::uint32_t last = kNone;
  for (std::size_t head = 0; head < queue.size() && last == kNone; ++head) {
    const std::uint32_t u = queue[head];
    for (std::uint32_t i = e.begin[u]; i < e.begin[u + 1]; ++i) {
      const std::uint32_t w = e.to[i];
      if (component[w] != component[s]) continue;
      if (w == s) {
        last = u;
        break;
      }
      if (parent[w] != kNone) continue;
      parent[w] = u;
      queue.push_back(w);
    }
  }
  std::vector<std::uint32_t> cycle;
  for (std::uint32_t v = last; v != s; v = parent[v])
    cycle.push_back(v);
  cycle.push_back(s);
  std::reverse(cycle.begin(), cycle.end());
  return cycle;
}

void check_cycles(Analysis& a) {
  std::vector<std::uint32_t> component;
  const std::vector<std::uint32_t> firsts = cyclic_components(a.edges, component);
  // Each search stays inside its own component, so one parent array serves them all.
  std::vector<std::uint32_t> parent(component.size(), kNone);
  for (const std::uint32_t s : firsts) {
    const std::vector<std::uint32_t> cycle = cycle_through(s, a.edges, component, parent);
    std::string text = "cycle: ";
    const auto name = [&](std::uint32_t v) { text += a.g.nodes[v].name + " -> "; };
    if (cycle.size() <= kCycleShown) {
      std::for_each(cycle.begin(), cycle.end(), name);
    } else {
      const auto half = static_cast<std::ptrdiff_t>(kCycleShown / 2);
      std::for_each(cycle.begin(), cycle.begin() + half, name);
      text += "... (" + std::to_string(cycle.size() - kCycleShown) + " more) -> ";
      std::for_each(cycle.end() - half, cycle.end(), name);
    }
    text += a.g.nodes[s].name;
    a.report(Kind::Cycle, text);
  }
}

Analysis analyse(const GraphSpec& g, const HasHandler& has_handler) {
  Analysis a{g, {}, {}};
  if (g.nodes.empty()) a.report(Kind::Empty, "empty graph (no nodes)");
  check_invalid(a);
  resolve(a, index_names(a));
  check_handlers(a, has_handler);
  check_cycles(a);
  return a;
}

Topology flatten(const GraphSpec& g, Edges&& e) {
  Topology t;
  const auto n = static_cast<std::uint32_t>(g.nodes.size());
  t.size = n;
  // Kahn's algorithm with the ready nodes in a min-heap of indices: "declared first"
  // decides among the ready ones.
  std::vector<std::uint32_t> waiting = e.indegree;
  std::priority_queue<std::uint32_t, std::vector<std::uint32_t>, std::greater<>> ready;
  for (std::uint32_t v = 0; v < n; ++v) {
    if (e.indegree[v] == 0) {
      t.roots.push_back(v);
      ready.push(v);
    }
    if (e.outdegree(v) == 0) t.sinks.push_back(v);
  }
  t.order.reserve(n);
  t.level_of.assign(n, 0);
  while (!ready.empty()) {
    const std::uint32_t v = ready.top();
    ready.pop();
    t.order.push_back(v);
    for (std::uint32_t i = e.begin[v]; i < e.begin[v + 1]; ++i) {
      const std::uint32_t w = e.to[i];
      t.level_of[w] = std::max(t.level_of[w], t.level_of[v] + 1);
      if (--waiting[w] == 0) ready.push(w);
    }
  }
  const std::uint32_t depth = n == 0 ? 0 : *std::max_element(t.level_of.begin(), t.level_of.end()) + 1;
  t.levels.resize(depth);
  for (std::uint32_t v = 0; v < n; ++v)
    t.levels[t.level_of[v]].push_back(v);
  t.indegree = std::move(e.indegree);
  t.dependents_begin = std::move(e.begin);
  t.dependents = std::move(e.to);
  t.names.reserve(n);
  for (const NodeSpec& node : g.nodes)
    t.names.push_back(node.name);
  t.by_name.resize(n);
  std::iota(t.by_name.begin(), t.by_name.end(), 0U);
  std::sort(t.by_name.begin(), t.by_name.end(),
            [&](std::uint32_t x, std::uint32_t y) { return t.names[x] < t.names[y]; });
  return t;
}

}  // namespace

std::uint32_t Topology::index_of(std::string_view name) const {
  const auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                                   [&](std::uint32_t v, std::string_view n) { return names[v] < n; });
  if (it == by_name.end() || names[*it] != name) throw std::out_of_range("graph: no node named " + quoted(name));
  return *it;
}

std::vector<GraphError> check(const GraphSpec& g, const HasHandler& has_handler) {
  return analyse(g, has_handler).errors;
}

Topology compile(const GraphSpec& g, const HasHandler& has_handler) {
  Analysis a = analyse(g, has_handler);
  if (!a.errors.empty()) throw a.errors.front();
  return flatten(g, std::move(a.edges));
}

Topology compile(const GraphSpec& g, const HandlerRegistry& handlers) {
  return compile(g, [&handlers](std::string_view type) { return handlers.contains(type); });
}

}  // namespace rt
