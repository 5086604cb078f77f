// [[graph]], [[pipeline]] and [[saga]], and the cross-references checked at the end.
#include <algorithm>

#include "load_sections.hpp"

namespace rt::config::detail {

namespace {

constexpr ns_t kHour = 3600 * hal::kNsPerSec;

std::function<bool(std::string_view)> has_handler(const LoadOptions& opts) {
  return [&opts](std::string_view h) {
    return opts.handlers.empty() || std::find(opts.handlers.begin(), opts.handlers.end(), h) != opts.handlers.end();
  };
}

// The keys a graph and a pipeline share.
void graph_common(Reader& r, const toml::table& t, const std::string& path, GraphDecl& d) {
  if (!r.name(t, "name", path, d.spec.name) && t.get("name") == nullptr)
    r.error(t.source(), join(path, "name"), "missing: every workflow needs a name");
  r.duration(t, "deadline", path, 0, kHour, d.spec.deadline_in);
  priority(r, t, path, d.spec.priority);
  r.duration(t, "period", path, 0, kHour, d.period);
  r.integer_as(t, "worker", path, -1, 255, d.worker);
  int idx = 0;
  if (r.choice(t, "precision", path, {"sleep", "hybrid", "spin"}, idx)) d.precision = static_cast<Precision>(idx);
  load_hybrid_margin(r, t, path, d.hybrid_margin, d.hybrid_margin_cap, d.hybrid_margin_guard);
  r.boolean(t, "node_timing", path, d.spec.node_timing);
  d.line = static_cast<int>(t.source().begin.line);
}

void node(Reader& r, const toml::table& n, const std::string& path, GraphDecl& d, bool in_pipeline,
          const LoadOptions& opts) {
  NodeSpec s;
  HandlerParams p;
  if (in_pipeline) {
    r.only(n, path, {"name", "handler", "deadline", "work", "fail_every", "overrun_every", "overrun"});
  } else {
    r.only(n, path, {"name", "handler", "after", "deadline", "work", "fail_every", "overrun_every", "overrun"});
  }
  if (!r.name(n, "name", path, s.name) && n.get("name") == nullptr)
    r.error(n.source(), join(path, "name"), "missing: every node needs a name");
  s.type = s.name;
  r.name(n, "handler", path, s.type);
  check_role(r, n, n.get("handler") != nullptr ? "handler" : "name", path, s.type, opts, Role::Node);
  if (!in_pipeline) r.strings(n, "after", path, s.after);
  r.duration(n, "deadline", path, 0, kHour, s.deadline_in);
  load_params(r, n, path, p);
  d.spec.nodes.push_back(std::move(s));
  d.params.push_back(p);
}

void report_graph_errors(Reader& r, const toml::table& t, const std::string& path, const GraphDecl& d,
                         const LoadOptions& opts) {
  if (d.spec.nodes.empty() || d.spec.name.empty()) {
    if (d.spec.nodes.empty()) r.error(t.source(), path, "workflow '" + d.spec.name + "' has no nodes");
    return;
  }
  for (const GraphError& e : check(d.spec, has_handler(opts)))
    r.error(t.source(), path, e.what());
}

}  // namespace

void load_workflows(Reader& r, const toml::table& root, AppConfig& app, const LoadOptions& opts) {
  std::vector<toml::source_region> at;  // each workflow's table, for the duplicate check
  const auto gs = r.tables(root, "graph", "");
  for (std::size_t i = 0; i < gs.size(); ++i) {
    const toml::table& t = *gs[i];
    const std::string path = indexed("graph", i);
    r.only(t, path,
           {"name", "deadline", "priority", "period", "worker", "precision", "hybrid_margin", "hybrid_margin_cap",
            "hybrid_margin_guard", "node_timing", "node"});
    GraphDecl d;
    graph_common(r, t, path, d);
    const auto ns = r.tables(t, "node", path);
    if (ns.size() > kMaxGraphNodes) r.error(t.source(), path, "more than 65535 nodes");
    for (std::size_t k = 0; k < ns.size() && k < kMaxGraphNodes; ++k)
      node(r, *ns[k], indexed(join(path, "node"), k), d, false, opts);
    report_graph_errors(r, t, path, d, opts);
    at.push_back(t.source());
    app.graphs.push_back(std::move(d));
  }
  const auto ps = r.tables(root, "pipeline", "");
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const toml::table& t = *ps[i];
    const std::string path = indexed("pipeline", i);
    r.only(t, path,
           {"name", "deadline", "priority", "period", "worker", "precision", "hybrid_margin", "hybrid_margin_cap",
            "hybrid_margin_guard", "node_timing", "stages"});
    GraphDecl d;
    graph_common(r, t, path, d);
    const toml::node* st = t.get("stages");
    if (st == nullptr || !st->is_array()) {
      r.error(st != nullptr ? st->source() : t.source(), join(path, "stages"),
              "expected an array of stages (handler names, or tables with name and handler), found " +
                  (st != nullptr ? describe(*st) : std::string("nothing")));
    } else {
      const toml::array& a = *st->as_array();
      for (std::size_t k = 0; k < a.size() && k < kMaxGraphNodes; ++k) {
        const std::string sp = indexed(join(path, "stages"), k);
        if (a[k].is_string()) {
          NodeSpec n;
          n.name = a[k].as_string()->get();
          n.type = n.name;
          d.spec.nodes.push_back(std::move(n));
          d.params.emplace_back();
        } else if (a[k].is_table()) {
          node(r, *a[k].as_table(), sp, d, true, opts);
        } else {
          r.error(a[k], sp, "expected a handler name or a table with name and handler, found " + describe(a[k]));
          continue;
        }
        if (d.spec.nodes.size() > 1) d.spec.nodes.back().after = {d.spec.nodes[d.spec.nodes.size() - 2].name};
      }
    }
    report_graph_errors(r, t, path, d, opts);
    at.push_back(t.source());
    app.graphs.push_back(std::move(d));
  }
  for (std::size_t i = 0; i < app.graphs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (!app.graphs[i].spec.name.empty() && app.graphs[i].spec.name == app.graphs[j].spec.name)
        r.error(at[i], "graph",
                "workflow '" + app.graphs[i].spec.name + "' is declared twice (first at line " +
                    std::to_string(app.graphs[j].line) + ")");
    }
  }

  const auto ss = r.tables(root, "saga", "");
  for (std::size_t i = 0; i < ss.size(); ++i) {
    const toml::table& t = *ss[i];
    const std::string path = indexed("saga", i);
    r.only(t, path, {"name", "deadline", "priority", "rate", "step"});
    SagaDecl d;
    d.line = static_cast<int>(t.source().begin.line);
    if (!r.name(t, "name", path, d.spec.name) && t.get("name") == nullptr)
      r.error(t.source(), join(path, "name"), "missing: every [[saga]] needs a name");
    r.duration(t, "deadline", path, 0, kHour, d.spec.deadline_in);
    priority(r, t, path, d.spec.priority);
    load_rate(r, t, path, d.rate);
    const auto steps = r.tables(t, "step", path);
    for (std::size_t k = 0; k < steps.size(); ++k) {
      const toml::table& st = *steps[k];
      const std::string sp = indexed(join(path, "step"), k);
      r.only(st, sp, {"name", "action", "compensation", "deadline"});
      SagaStep s;
      r.name(st, "name", sp, s.name);
      r.name(st, "action", sp, s.action);
      r.name(st, "compensation", sp, s.compensation);
      check_role(r, st, "action", sp, s.action, opts, Role::SagaStep);
      if (!s.compensation.empty()) check_role(r, st, "compensation", sp, s.compensation, opts, Role::SagaStep);
      r.duration(st, "deadline", sp, 0, kHour, s.deadline_in);
      d.spec.steps.push_back(std::move(s));
    }
    if (!d.spec.name.empty()) {
      for (const SagaError& e : check(d.spec, has_handler(opts)))
        r.error(t.source(), path, e.what());
    }
    app.sagas.push_back(std::move(d));
  }
}

}  // namespace rt::config::detail
