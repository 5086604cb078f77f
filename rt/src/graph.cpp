// F18, the setup vocabulary: GraphError and the names of its kinds, GraphBuilder,
// pipeline() and HandlerRegistry. Setup code, not RT. Validation and compilation (check,
// compile) are graph_check.cpp.
#include "rt/graph.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "quoted.hpp"

namespace rt {

namespace {

using detail::quoted;
using Kind = GraphError::Kind;

}  // namespace

GraphError::GraphError(Kind k, const std::string& message) : std::invalid_argument(message), kind_(k) {}

std::string_view to_string(GraphError::Kind k) noexcept {
  switch (k) {
    case Kind::Empty:
      return "empty";
    case Kind::DuplicateNode:
      return "duplicate_node";
    case Kind::UnknownDependency:
      return "unknown_dependency";
    case Kind::Cycle:
      return "cycle";
    case Kind::NoHandler:
      return "no_handler";
    case Kind::DuplicateDependency:
      return "duplicate_dependency";
    case Kind::Invalid:
      return "invalid";
  }
  return "?";
}

// --- GraphBuilder, pipeline, HandlerRegistry ---

GraphBuilder::GraphBuilder(std::string name) { spec_.name = std::move(name); }

GraphBuilder& GraphBuilder::node(std::string name, std::string type, std::vector<std::string> after) {
  spec_.nodes.push_back(NodeSpec{std::move(name), std::move(type), std::move(after)});
  return *this;
}

NodeSpec& GraphBuilder::last(const char* call) {
  if (spec_.nodes.empty())
    throw GraphError(Kind::Invalid, "graph " + quoted(spec_.name) + ": " + call + "() before any node()");
  return spec_.nodes.back();
}

GraphBuilder& GraphBuilder::node_deadline(ns_t d) {
  last("node_deadline").deadline_in = d;
  return *this;
}

GraphBuilder& GraphBuilder::node_state(StateBinding b) {
  last("node_state").state = b;
  return *this;
}

GraphBuilder& GraphBuilder::deadline(ns_t d) {
  spec_.deadline_in = d;
  return *this;
}

GraphBuilder& GraphBuilder::priority(Priority p) {
  spec_.priority = p;
  return *this;
}

GraphBuilder& GraphBuilder::node_timing(bool on) {
  spec_.node_timing = on;
  return *this;
}

GraphSpec GraphBuilder::build() const { return spec_; }

GraphSpec pipeline(std::string name, const std::vector<std::pair<std::string, std::string>>& stages) {
  GraphBuilder b(std::move(name));
  for (std::size_t i = 0; i < stages.size(); ++i) {
    std::vector<std::string> after;
    if (i > 0) after.push_back(stages[i - 1].first);
    b.node(stages[i].first, stages[i].second, std::move(after));
  }
  return b.build();
}

TaskFn& HandlerRegistry::insert(std::string type) {
  if (type.empty()) throw std::invalid_argument("HandlerRegistry::add: empty type name");
  const auto [it, fresh] = fns_.try_emplace(std::move(type));
  if (!fresh) throw std::invalid_argument("HandlerRegistry::add: type " + quoted(it->first) + " already has a handler");
  return it->second;
}

const TaskFn* HandlerRegistry::find(std::string_view type) const noexcept {
  const auto it = fns_.find(type);
  return it == fns_.end() ? nullptr : &it->second;
}

TaskFn* HandlerRegistry::find(std::string_view type) noexcept {
  const auto it = fns_.find(type);
  return it == fns_.end() ? nullptr : &it->second;
}

bool HandlerRegistry::contains(std::string_view type) const noexcept { return fns_.find(type) != fns_.end(); }

std::size_t HandlerRegistry::size() const noexcept { return fns_.size(); }

}  // namespace rt
