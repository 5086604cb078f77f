// [retry.NAME], [[task]] and [[periodic]].
#include <algorithm>
#include <map>

#include "load_sections.hpp"

namespace rt::config::detail {

namespace {

constexpr ns_t kHour = 3600 * hal::kNsPerSec;

using Presets = std::map<std::string, RetryPolicy, std::less<>>;

Presets load_presets(Reader& r, const toml::table& root) {
  Presets out;
  const toml::table* t = r.table(root, "retry", "");
  if (t == nullptr) return out;
  for (auto&& [k, v] : *t) {
    const std::string path = join("retry", k.str());
    RetryPreset builtin{};
    if (parse_retry_preset(k.str(), builtin)) {
      r.error(k.source(), path, "'" + std::string(k.str()) + "' is a built-in preset; give yours another name");
      continue;
    }
    if (!v.is_table()) {
      r.error(v, path, "expected a table (strategy, max_retries, initial_delay, ...), found " + describe(v));
      continue;
    }
    const toml::table& p = *v.as_table();
    r.only(p, path, {"strategy", "max_retries", "initial_delay", "max_delay", "multiplier", "jitter"});
    RetryPolicy pol;
    pol.strategy = RetryStrategy::Exponential;
    int idx = 0;
    if (r.choice(p, "strategy", path, {"none", "immediate", "fixed", "linear", "exponential", "fibonacci"}, idx))
      pol.strategy = static_cast<RetryStrategy>(idx);
    r.integer_as(p, "max_retries", path, 0, kMaxRetries, pol.max_retries);
    r.duration(p, "initial_delay", path, 0, kHour, pol.initial_delay);
    r.duration(p, "max_delay", path, 0, 24 * kHour, pol.max_delay);
    r.number(p, "multiplier", path, 1.0, 100.0, pol.multiplier);
    r.number(p, "jitter", path, 0.0, 1.0, pol.jitter);
    if (const std::string_view e = retry_policy_error(pol); !e.empty()) r.error(p.source(), path, std::string(e));
    out.emplace(std::string(k.str()), pol);
  }
  return out;
}

void retry(Reader& r, const toml::table& t, const std::string& path, const Presets& presets, TaskDecl& d) {
  std::string name;
  if (!r.string(t, "retry", path, name)) return;
  RetryPreset p{};
  if (parse_retry_preset(name, p)) {
    d.retry = retry_preset(p);
  } else if (const auto it = presets.find(name); it != presets.end()) {
    d.retry = it->second;
  } else if (name != "none") {
    std::vector<std::string> known{"none", "aggressive", "standard", "conservative", "quick"};
    for (const auto& [k, v] : presets)
      known.push_back(k);
    std::string msg =
        "expected \"none\", a built-in preset (aggressive, standard, conservative, quick) or a "
        "[retry.NAME] table's name, found \"" +
        name + "\"";
    if (const std::string near = closest(name, known); !near.empty()) msg += " (did you mean \"" + near + "\"?)";
    r.error(Reader::where(t, "retry"), join(path, "retry"), msg);
    return;
  }
  d.retry_name = name;
}

void breaker(Reader& r, const toml::table& t, const std::string& path, const std::string& type, EngineConfig& c) {
  const toml::table* b = r.table(t, "breaker", path);
  if (b == nullptr) return;
  const std::string bp = join(path, "breaker");
  r.only(*b, bp, {"failure_threshold", "window", "cool_down", "half_open_trials"});
  BreakerConfig bc;
  bc.type = type;
  r.integer_as(*b, "failure_threshold", bp, 1, 1'000'000, bc.failure_threshold);
  r.duration(*b, "window", bp, hal::kNsPerMs, 24 * kHour, bc.window);
  r.duration(*b, "cool_down", bp, hal::kNsPerMs, 24 * kHour, bc.cool_down);
  r.integer_as(*b, "half_open_trials", bp, 1, 1'000'000, bc.half_open_trials);
  c.breakers.push_back(bc);
}

}  // namespace

void check_handler(Reader& r, const toml::table& t, std::string_view key, const std::string& path,
                   const std::string& handler, const LoadOptions& opts) {
  if (opts.handlers.empty() || handler.empty()) return;
  if (std::find(opts.handlers.begin(), opts.handlers.end(), handler) != opts.handlers.end()) return;
  std::string list;
  for (const std::string& h : opts.handlers)
    list += (list.empty() ? "" : ", ") + h;
  std::string msg = "no built-in handler is called \"" + handler + "\" (there are: " + list + ")";
  if (const std::string near = closest(handler, opts.handlers); !near.empty())
    msg += "; did you mean \"" + near + "\"?";
  r.error(Reader::where(t, key), join(path, key), msg);
}

void check_role(Reader& r, const toml::table& t, std::string_view key, const std::string& path,
                const std::string& handler, const LoadOptions& opts, Role role) {
  auto in = [&handler](const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), handler) != v.end(); };
  const char* where = nullptr;
  if (role != Role::Periodic && in(opts.periodic_only)) where = "only as a [[periodic]] task";
  if (role != Role::Node && in(opts.node_only)) where = "only as a workflow node ([[graph.node]], a pipeline stage)";
  if (where == nullptr) return;
  r.error(Reader::where(t, key), join(path, key), "handler \"" + handler + "\" runs " + where);
}

void load_rate(Reader& r, const toml::table& t, const std::string& path, double& out) {
  double v = 0;
  if (!r.number(t, "rate", path, 0, 1e6, v)) return;
  // Below one per 100 s the interval is an accident, and 1e9 / a tiny rate overflows.
  if (v != 0 && v < 0.01) {
    r.error(Reader::where(t, "rate"), join(path, "rate"),
            "expected 0 (never) or a rate of 0.01..1000000 per second, found " + describe(*t.get("rate")));
    return;
  }
  out = v;
}

void load_params(Reader& r, const toml::table& t, const std::string& path, HandlerParams& p) {
  r.duration(t, "work", path, 0, hal::kNsPerSec, p.work);
  r.integer_as(t, "fail_every", path, 0, 1'000'000'000, p.fail_every);
  r.integer_as(t, "overrun_every", path, 0, 1'000'000'000, p.overrun_every);
  r.duration(t, "overrun", path, 0, 10 * hal::kNsPerSec, p.overrun);
}

void load_hybrid_margin(Reader& r, const toml::table& t, const std::string& path, ns_t& margin, double& cap,
                        ns_t& guard) {
  const toml::node* n = t.get("hybrid_margin");
  ns_t v = 0;
  if (n != nullptr && n->is_string() && n->as_string()->get() == "auto") {
    margin = kAutoMargin;
  } else if (n != nullptr && n->is_string() && !parse_duration(n->as_string()->get(), v)) {
    // Not Reader::duration's message: it would not name "auto".
    std::string msg =
        "expected \"auto\" or a duration 0ns..1s written with its unit (\"150us\"), found " + describe(*n);
    if (const std::string near = closest(n->as_string()->get(), {"auto"}); !near.empty())
      msg += " (did you mean \"" + near + "\"?)";
    r.error(*n, join(path, "hybrid_margin"), msg);
  } else {
    r.duration(t, "hybrid_margin", path, 0, hal::kNsPerSec, margin);
  }
  double c = cap;
  if (r.number(t, "hybrid_margin_cap", path, 0, 1, c)) {
    if (c > 0 && c < 1) {
      cap = c;
    } else {  // the ends are in number()'s range but not allowed: none spins, all is spin
      r.error(Reader::where(t, "hybrid_margin_cap"), join(path, "hybrid_margin_cap"),
              "expected the spin's largest share of the period, 0 < cap < 1 (0.25: a quarter), found " +
                  describe(*t.get("hybrid_margin_cap")));
    }
  }
  r.duration(t, "hybrid_margin_guard", path, 0, hal::kNsPerSec, guard);
}

void load_tasks(Reader& r, const toml::table& root, AppConfig& app, const LoadOptions& opts) {
  app.retry_policies = load_presets(r, root);
  const Presets& presets = app.retry_policies;
  EngineConfig& c = app.engine;
  const auto ts = r.tables(root, "task", "");
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const toml::table& t = *ts[i];
    const std::string path = indexed("task", i);
    r.only(t, path,
           {"name", "handler", "priority", "deadline", "gates", "retry", "breaker", "rate", "work", "fail_every",
            "overrun_every", "overrun"});
    TaskDecl d;
    d.line = static_cast<int>(t.source().begin.line);
    if (!r.name(t, "name", path, d.name) && t.get("name") == nullptr)
      r.error(t.source(), join(path, "name"), "missing: every [[task]] needs a name");
    d.handler = d.name;
    r.name(t, "handler", path, d.handler);
    check_handler(r, t, t.get("handler") != nullptr ? "handler" : "name", path, d.handler, opts);
    check_role(r, t, t.get("handler") != nullptr ? "handler" : "name", path, d.handler, opts, Role::Task);
    priority(r, t, path, d.priority);
    r.duration(t, "deadline", path, 0, kHour, d.deadline);
    r.strings(t, "gates", path, d.gates);
    retry(r, t, path, presets, d);
    load_rate(r, t, path, d.rate);
    load_params(r, t, path, d.params);
    for (const TaskDecl& o : app.tasks) {
      if (!d.name.empty() && o.name == d.name)
        r.error(Reader::where(t, "name"), join(path, "name"),
                "task type '" + d.name + "' is declared twice (first at line " + std::to_string(o.line) + ")");
    }
    breaker(r, t, path, d.name, c);
    app.tasks.push_back(std::move(d));
  }
  c.task_types = {"task"};  // TypeId 0: what the engine's own submissions (sagas) use
  for (const TaskDecl& d : app.tasks) {
    if (d.name != "task") c.task_types.push_back(d.name);
  }

  const auto ps = r.tables(root, "periodic", "");
  for (std::size_t i = 0; i < ps.size(); ++i) {
    const toml::table& t = *ps[i];
    const std::string path = indexed("periodic", i);
    r.only(t, path,
           {"name", "handler", "period", "phase", "deadline", "priority", "worker", "precision", "hybrid_margin",
            "hybrid_margin_cap", "hybrid_margin_guard", "overrun_policy", "type", "gates", "rollback", "work",
            "fail_every", "overrun_every", "overrun"});
    PeriodicDecl d;
    d.line = static_cast<int>(t.source().begin.line);
    if (!r.name(t, "name", path, d.spec.name) && t.get("name") == nullptr)
      r.error(t.source(), join(path, "name"), "missing: every [[periodic]] needs a name");
    if (!r.name(t, "handler", path, d.handler) && t.get("handler") == nullptr)
      r.error(t.source(), join(path, "handler"), "missing: which built-in handler runs this loop");
    check_handler(r, t, "handler", path, d.handler, opts);
    check_role(r, t, "handler", path, d.handler, opts, Role::Periodic);
    r.duration(t, "period", path, 10 * hal::kNsPerUs, kHour, d.spec.period);
    r.duration(t, "phase", path, 0, kHour, d.spec.phase);
    if (r.duration(t, "deadline", path, 0, kHour, d.spec.deadline) && d.spec.deadline > d.spec.period)
      r.error(Reader::where(t, "deadline"), join(path, "deadline"),
              "expected at most the period (" + format_duration(d.spec.period) + "), found " +
                  format_duration(d.spec.deadline));
    priority(r, t, path, d.spec.priority);
    r.integer_as(t, "worker", path, -1, 255, d.spec.worker);
    int idx = 0;
    if (r.choice(t, "precision", path, {"sleep", "hybrid", "spin"}, idx))
      d.spec.precision = static_cast<Precision>(idx);
    load_hybrid_margin(r, t, path, d.spec.hybrid_margin, d.spec.hybrid_margin_cap, d.spec.hybrid_margin_guard);
    if (r.choice(t, "overrun_policy", path, {"skip", "catch_up", "rollback_and_hold"}, idx))
      d.spec.overrun = static_cast<Overrun>(idx);
    r.name(t, "type", path, d.type_name);
    r.strings(t, "gates", path, d.gates);
    r.boolean(t, "rollback", path, d.rollback);
    load_params(r, t, path, d.params);
    for (const PeriodicDecl& o : app.periodic) {
      if (!d.spec.name.empty() && o.spec.name == d.spec.name)
        r.error(Reader::where(t, "name"), join(path, "name"),
                "periodic task '" + d.spec.name + "' is declared twice (first at line " + std::to_string(o.line) + ")");
    }
    app.periodic.push_back(std::move(d));
  }
}

}  // namespace rt::config::detail
