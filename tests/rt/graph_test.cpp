// F18, the setup half: a GraphSpec is validated (each problem named, with its nodes) and
// compiled into a flat Topology; deep graphs compile on a small stack.
#include "rt/graph.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace {

using Kind = rt::GraphError::Kind;
using Ids = std::vector<std::uint32_t>;

bool any_type(std::string_view) { return true; }

// What compile() threw, as a GraphError; fails the test when it threw nothing else.
rt::GraphError compile_error(const rt::GraphSpec& g, const std::function<bool(std::string_view)>& has = any_type) {
  try {
    (void)rt::compile(g, has);
  } catch (const rt::GraphError& e) {
    return e;
  }
  ADD_FAILURE() << "compile() accepted graph '" << g.name << "'";
  return {Kind::Invalid, "(nothing thrown)"};
}

std::string chain_name(std::size_t i) { return "n" + std::to_string(i); }

rt::GraphSpec chain(std::size_t n) {
  rt::GraphSpec g{"chain", {}};
  g.nodes.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    g.nodes.push_back({chain_name(i), "step", i == 0 ? std::vector<std::string>{} : std::vector{chain_name(i - 1)}});
  return g;
}

// Runs fn on a thread with a 128 KiB stack: a recursive walk of a 65535-node chain needs
// more than 2 bytes a frame, so one would overflow here.
void on_small_stack(std::function<void()> fn) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, std::size_t{128} * 1024), 0);
  pthread_t thread;
  const auto body = [](void* p) -> void* {
    (*static_cast<std::function<void()>*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, body, &fn), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
}

TEST(Graph, EmptyGraph) {
  const rt::GraphError e = compile_error(rt::GraphSpec{"G", {}});
  EXPECT_EQ(e.kind(), Kind::Empty);
  EXPECT_STREQ(e.what(), "graph 'G': empty graph (no nodes)");
}

TEST(Graph, DuplicateNodeName) {
  const auto g = rt::GraphBuilder("G").node("a", "t").node("b", "t", {"a"}).node("a", "t").node("a", "t").build();
  const rt::GraphError e = compile_error(g);
  EXPECT_EQ(e.kind(), Kind::DuplicateNode);
  EXPECT_STREQ(e.what(), "graph 'G': duplicate node name 'a'");
  EXPECT_EQ(rt::check(g, any_type).size(), 1U) << "a name declared three times is one problem";
}

TEST(Graph, UnknownDependency) {
  const rt::GraphError e = compile_error(rt::GraphBuilder("G").node("a", "t").node("b", "t", {"a", "x"}).build());
  EXPECT_EQ(e.kind(), Kind::UnknownDependency);
  EXPECT_STREQ(e.what(), "graph 'G': node 'b' depends on unknown node 'x'");
}

TEST(Graph, DuplicateDependency) {
  const auto g = rt::GraphBuilder("G").node("a", "t").node("c", "t").node("b", "t", {"a", "c", "a", "a"}).build();
  const rt::GraphError e = compile_error(g);
  EXPECT_EQ(e.kind(), Kind::DuplicateDependency);
  EXPECT_STREQ(e.what(), "graph 'G': node 'b' lists dependency 'a' twice");
  EXPECT_EQ(rt::check(g, any_type).size(), 1U) << "reported once however often it is listed";
}

TEST(Graph, NoHandler) {
  const auto g = rt::GraphBuilder("G").node("m", "bar").node("n", "foo", {"m"}).build();
  const rt::GraphError e = compile_error(g, [](std::string_view t) { return t == "bar"; });
  EXPECT_EQ(e.kind(), Kind::NoHandler);
  EXPECT_STREQ(e.what(), "graph 'G': node 'n' has type 'foo' with no handler");
}

TEST(Graph, InvalidNamesAndValues) {
  const auto invalid = [](const rt::GraphSpec& g, const char* fact) {
    const rt::GraphError e = compile_error(g);
    EXPECT_EQ(e.kind(), Kind::Invalid) << e.what();
    EXPECT_NE(std::string(e.what()).find(fact), std::string::npos) << e.what();
  };
  invalid(rt::GraphBuilder("").node("a", "t").build(), "graph '': the graph has no name");
  invalid(rt::GraphBuilder("G").node("a", "t").node("", "t", {"a"}).build(), "node #1 has an empty name");
  invalid(rt::GraphBuilder("G").node("a", "").build(), "node 'a' has an empty type");
  invalid(rt::GraphBuilder("G").node("a", "t").node_deadline(-1).build(), "node 'a' has a negative deadline_in");
  invalid(rt::GraphBuilder("G").node("a", "t").deadline(-1).build(), "graph 'G': negative deadline_in");
  invalid(rt::GraphBuilder("G").node("a", "t").priority(static_cast<rt::Priority>(9)).build(), "not a class");
  int state = 0;
  invalid(rt::GraphBuilder("G").node("a", "t").node_state(rt::StateBinding{&state, nullptr, sizeof state}).build(),
          "node 'a': its state binding");
}

TEST(Graph, AtMost65535Nodes) {
  rt::GraphSpec g = chain(rt::kMaxGraphNodes + 1);
  const rt::GraphError e = compile_error(g);
  EXPECT_EQ(e.kind(), Kind::Invalid);
  EXPECT_STREQ(e.what(), "graph 'chain': 65536 nodes, more than the 65535 a graph may have");
  g.nodes.pop_back();
  EXPECT_EQ(rt::compile(g, any_type).size, rt::kMaxGraphNodes);
}

TEST(Graph, ACycleInsideALargerGraphIsNamedExactly) {
  // src -> a -> b -> c -> a, c -> d -> sink: only a, b and c are on the cycle.
  const auto g = rt::GraphBuilder("G")
                     .node("src", "t")
                     .node("a", "t", {"src", "c"})
                     .node("b", "t", {"a"})
                     .node("c", "t", {"b"})
                     .node("d", "t", {"c"})
                     .node("sink", "t", {"d", "src"})
                     .build();
  const rt::GraphError e = compile_error(g);
  EXPECT_EQ(e.kind(), Kind::Cycle);
  EXPECT_STREQ(e.what(), "graph 'G': cycle: a -> b -> c -> a");
}

TEST(Graph, ACycleIsWrittenFromItsFirstDeclaredNode) {
  const auto g =
      rt::GraphBuilder("G").node("c", "t", {"b"}).node("x", "t").node("a", "t", {"c"}).node("b", "t", {"a"}).build();
  EXPECT_STREQ(compile_error(g).what(), "graph 'G': cycle: c -> a -> b -> c");
}

TEST(Graph, TheShortestCycleThroughTheFirstNodeIsNamed) {
  // One component, two cycles through a: a -> b -> c -> d -> a and a -> b -> a.
  const auto g = rt::GraphBuilder("G")
                     .node("a", "t", {"d", "b"})
                     .node("b", "t", {"a"})
                     .node("c", "t", {"b"})
                     .node("d", "t", {"c"})
                     .build();
  const std::vector<rt::GraphError> errors = rt::check(g, any_type);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_STREQ(errors[0].what(), "graph 'G': cycle: a -> b -> a");
}

TEST(Graph, SelfDependency) {
  const rt::GraphError e = compile_error(rt::GraphBuilder("G").node("z", "t").node("a", "t", {"z", "a"}).build());
  EXPECT_EQ(e.kind(), Kind::Cycle);
  EXPECT_STREQ(e.what(), "graph 'G': cycle: a -> a");
}

TEST(Graph, CheckReportsEveryProblemInCompilesOrder) {
  const auto g = rt::GraphBuilder("G")
                     .node("a", "t", {"c"})
                     .node("b", "missing", {"a", "a"})
                     .node("c", "t", {"b", "ghost"})
                     .node("a", "t")
                     .node("s", "t", {"s"})
                     .node("", "t")
                     .build();
  const std::vector<rt::GraphError> errors = rt::check(g, [](std::string_view t) { return t == "t"; });
  std::vector<std::string> got;
  got.reserve(errors.size());
  for (const auto& e : errors)
    got.push_back(std::string(rt::to_string(e.kind())) + ": " + e.what());
  const std::vector<std::string> want{
      "invalid: graph 'G': node #5 has an empty name",
      "duplicate_node: graph 'G': duplicate node name 'a'",
      "unknown_dependency: graph 'G': node 'c' depends on unknown node 'ghost'",
      "duplicate_dependency: graph 'G': node 'b' lists dependency 'a' twice",
      "no_handler: graph 'G': node 'b' has type 'missing' with no handler",
      "cycle: graph 'G': cycle: a -> b -> c -> a",
      "cycle: graph 'G': cycle: s -> s",
  };
  EXPECT_EQ(got, want);
  EXPECT_EQ(compile_error(g).kind(), Kind::Invalid) << "compile() throws the first";
  EXPECT_TRUE(rt::check(rt::GraphBuilder("G").node("a", "t").build(), any_type).empty());
}

TEST(Graph, Diamond) {
  const auto g = rt::GraphBuilder("G")
                     .node("a", "t")
                     .node("b", "t", {"a"})
                     .node("c", "t", {"a"})
                     .node("d", "t", {"b", "c"})
                     .build();
  const rt::Topology t = rt::compile(g, any_type);
  EXPECT_EQ(t.size, 4U);
  EXPECT_EQ(t.order, (Ids{0, 1, 2, 3}));
  EXPECT_EQ(t.levels, (std::vector<Ids>{{0}, {1, 2}, {3}}));
  EXPECT_EQ(t.level_of, (Ids{0, 1, 1, 2}));
  EXPECT_EQ(t.indegree, (Ids{0, 1, 1, 2}));
  EXPECT_EQ(t.dependents_begin, (Ids{0, 2, 3, 4, 4}));
  EXPECT_EQ(t.dependents, (Ids{1, 2, 3, 3}));
  EXPECT_EQ(t.roots, (Ids{0}));
  EXPECT_EQ(t.sinks, (Ids{3}));
  EXPECT_EQ(t.names, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(t.index_of("c"), 2U);
  EXPECT_THROW((void)t.index_of("e"), std::out_of_range);
}

TEST(Graph, OrderTakesTheFirstDeclaredOfTheReadyNodes) {
  // y and z are ready first; y goes, which readies x (declared before z): x before z.
  const auto g = rt::GraphBuilder("G").node("x", "t", {"y"}).node("y", "t").node("z", "t").build();
  const rt::Topology t = rt::compile(g, any_type);
  EXPECT_EQ(t.order, (Ids{1, 0, 2}));
  EXPECT_EQ(t.levels, (std::vector<Ids>{{1, 2}, {0}}));
  EXPECT_EQ(t.roots, (Ids{1, 2}));
  EXPECT_EQ(t.sinks, (Ids{0, 2}));
}

TEST(Graph, ControlFrame) {
  const auto g = rt::GraphBuilder("frame")
                     .node("sense", "io")
                     .node("est_x", "kf", {"sense"})
                     .node("est_y", "kf", {"sense"})
                     .node("est_z", "kf", {"sense"})
                     .node("est_yaw", "kf", {"sense"})
                     .node("control", "pid", {"est_x", "est_y", "est_z", "est_yaw"})
                     .node_deadline(200'000)
                     .node("actuate", "io", {"control"})
                     .deadline(1'000'000)
                     .priority(rt::Priority::Critical)
                     .build();
  EXPECT_EQ(g.deadline_in, 1'000'000);
  EXPECT_EQ(g.priority, rt::Priority::Critical);
  EXPECT_EQ(g.nodes[5].deadline_in, 200'000);
  EXPECT_EQ(g.nodes[6].deadline_in, 0);
  const rt::Topology t = rt::compile(g, any_type);
  EXPECT_EQ(t.levels, (std::vector<Ids>{{0}, {1, 2, 3, 4}, {5}, {6}}));
  EXPECT_EQ(t.order, (Ids{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(t.indegree[t.index_of("control")], 4U);
  EXPECT_EQ(t.roots, (Ids{0}));
  EXPECT_EQ(t.sinks, (Ids{6}));
}

TEST(Graph, WideFanOutAndIn) {
  rt::GraphBuilder b("wide");
  b.node("source", "t");
  std::vector<std::string> middle;
  for (int i = 0; i < 1000; ++i) {
    middle.push_back("m" + std::to_string(i));
    b.node(middle.back(), "t", {"source"});
  }
  b.node("sink", "t", middle);
  const rt::Topology t = rt::compile(b.build(), any_type);
  ASSERT_EQ(t.levels.size(), 3U);
  EXPECT_EQ(t.levels[1].size(), 1000U);
  EXPECT_EQ(t.levels[2], (Ids{1001}));
  EXPECT_EQ(t.indegree[1001], 1000U);
  ASSERT_EQ(t.dependents_begin[1], 1000U);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(t.dependents[i], i + 1);  // source's, in declaration order
    EXPECT_EQ(t.dependents[t.dependents_begin[i + 1]], 1001U);
  }
  EXPECT_EQ(t.dependents_begin[1002], 2000U);
  EXPECT_EQ(t.roots, (Ids{0}));
  EXPECT_EQ(t.sinks, (Ids{1001}));
}

TEST(Graph, ALongChainCompilesOnASmallStack) {
  const rt::GraphSpec g = chain(rt::kMaxGraphNodes);
  rt::Topology t;
  on_small_stack([&] { t = rt::compile(g, any_type); });
  ASSERT_EQ(t.levels.size(), rt::kMaxGraphNodes);
  bool singletons = true;
  for (std::uint32_t i = 0; i < t.size; ++i)
    singletons = singletons && t.levels[i] == Ids{i} && t.order[i] == i;
  EXPECT_TRUE(singletons);
  EXPECT_EQ(t.index_of("n65534"), 65534U);
}

TEST(Graph, ACycleOf100000NodesIsFoundOnASmallStack) {
  rt::GraphSpec g = chain(100'000);
  g.nodes[0].after.push_back(chain_name(99'999));
  std::vector<rt::GraphError> errors;
  on_small_stack([&] { errors = rt::check(g, any_type); });
  ASSERT_EQ(errors.size(), 2U);
  EXPECT_EQ(errors[0].kind(), Kind::Invalid) << "over kMaxGraphNodes";
  EXPECT_EQ(errors[1].kind(), Kind::Cycle);
  const std::string what = errors[1].what();
  EXPECT_EQ(what.find("graph 'chain': cycle: n0 -> n1 -> "), 0U) << what;
  EXPECT_NE(what.find("n15 -> ... (99968 more) -> n99984 -> "), std::string::npos) << what;
  EXPECT_NE(what.find("n99999 -> n0"), std::string::npos) << what;
  EXPECT_LT(what.size(), 600U);
}

TEST(Graph, BuilderStateAndDeadlineNeedANode) {
  rt::GraphBuilder b("G");
  try {
    b.node_deadline(5);
    ADD_FAILURE() << "node_deadline() before node() was accepted";
  } catch (const rt::GraphError& e) {
    EXPECT_EQ(e.kind(), Kind::Invalid);
    EXPECT_STREQ(e.what(), "graph 'G': node_deadline() before any node()");
  }
  EXPECT_THROW(b.node_state({}), rt::GraphError);
  int state = 1;
  int saved = 0;
  const rt::StateBinding binding{&state, &saved, sizeof state};
  const rt::GraphSpec g = b.node("a", "t").node_state(binding).build();
  EXPECT_EQ(g.nodes[0].state.state, &state);
  EXPECT_EQ(g.nodes[0].state.saved, &saved);
  EXPECT_EQ(rt::compile(g, any_type).size, 1U);
}

TEST(Graph, HandlerRegistry) {
  static std::atomic<int> plain_calls{0};
  static std::atomic<std::uint64_t> seen_user{0};
  rt::HandlerRegistry handlers;
  handlers.add("plain", [] { plain_calls.fetch_add(1); });
  handlers.add("ctx", [](rt::TaskContext& c) { seen_user.store(c.context().user_id); });
  EXPECT_EQ(handlers.size(), 2U);
  EXPECT_TRUE(handlers.contains("ctx"));
  EXPECT_FALSE(handlers.contains("other"));
  EXPECT_EQ(handlers.find("other"), nullptr);
  EXPECT_THROW(handlers.add("plain", [] {}), std::invalid_argument);
  EXPECT_THROW(handlers.add("", [] {}), std::invalid_argument);
  EXPECT_EQ(handlers.size(), 2U);

  const std::atomic<std::uint64_t> stop{0};
  rt::Context context;
  context.user_id = 42;
  rt::TaskContext tc(rt::TaskId{1, 1}, stop, 1, context, 0, 0);
  rt::TaskFn* plain = handlers.find("plain");
  ASSERT_NE(plain, nullptr);
  ASSERT_TRUE(static_cast<bool>(*plain));
  (*plain)(tc);
  EXPECT_EQ(plain_calls.load(), 1);
  (*handlers.find("ctx"))(tc);
  EXPECT_EQ(seen_user.load(), 42U);
  const rt::HandlerRegistry& view = handlers;
  EXPECT_EQ(view.find("ctx"), handlers.find("ctx"));

  const auto g = rt::GraphBuilder("G").node("a", "plain").node("b", "ctx", {"a"}).node("c", "nope", {"b"}).build();
  try {
    (void)rt::compile(g, handlers);
    ADD_FAILURE() << "a node with no handler was accepted";
  } catch (const rt::GraphError& e) {
    EXPECT_EQ(e.kind(), Kind::NoHandler);
    EXPECT_STREQ(e.what(), "graph 'G': node 'c' has type 'nope' with no handler");
  }
  handlers.add("nope", [] {});
  EXPECT_EQ(rt::compile(g, handlers).order, (Ids{0, 1, 2}));
}

TEST(Pipeline, BuildsAChain) {
  const rt::GraphSpec g = rt::pipeline("P", {{"read", "io"}, {"filter", "dsp"}, {"write", "io"}});
  EXPECT_EQ(g.name, "P");
  ASSERT_EQ(g.nodes.size(), 3U);
  EXPECT_EQ(g.nodes[0].type, "io");
  EXPECT_TRUE(g.nodes[0].after.empty());
  EXPECT_EQ(g.nodes[1].after, (std::vector<std::string>{"read"}));
  EXPECT_EQ(g.nodes[2].after, (std::vector<std::string>{"filter"}));
  const rt::Topology t = rt::compile(g, any_type);
  EXPECT_EQ(t.order, (Ids{0, 1, 2}));
  EXPECT_EQ(t.levels, (std::vector<Ids>{{0}, {1}, {2}}));
  EXPECT_EQ(t.roots, (Ids{0}));
  EXPECT_EQ(t.sinks, (Ids{2}));
}

TEST(Pipeline, NoStagesIsAnEmptyGraph) { EXPECT_EQ(compile_error(rt::pipeline("P", {})).kind(), Kind::Empty); }

}  // namespace
