// The loader's entry points: size and depth caps, the toml++ parse, the sections, and the
// checks of names that refer to one another.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <tuple>
#include <utility>

#include "load_sections.hpp"

namespace rt::config {

namespace detail {

namespace {

// toml++ caps its own nesting (256); ours is tighter and reported with a location.
bool too_deep(Reader& r, const toml::node& n, int depth, const std::string& path) {
  if (depth > kMaxDepth) {
    r.error(n, path, "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    return true;
  }
  if (const toml::table* t = n.as_table()) {
    for (auto&& [k, v] : *t)
      if (too_deep(r, v, depth + 1, join(path, k.str()))) return true;
  } else if (const toml::array* a = n.as_array()) {
    for (std::size_t i = 0; i < a->size(); ++i)
      if (too_deep(r, (*a)[i], depth + 1, indexed(path, i))) return true;
  }
  return false;
}

// What toml++ 3.3 cannot be handed safely; found by a lexical scan before it parses.
//  - It caps the nesting of arrays and inline tables (TOML_MAX_NESTED_VALUES, 256) but not
//    of dotted keys and table headers, and both its parser (update_region_ends) and its
//    tree's destructor recurse: `a.a.a...= 1`, 60000 segments (120 KB), overflows an 8 MB
//    stack. A key of more than kMaxDepth segments is too deep for a config anyway. Outside
//    strings and comments only keys chain more than two dot-separated words (floats: two).
//  - Its test for non-ASCII whitespace (is_non_ascii_horizontal_whitespace) reaches
//    TOML_UNREACHABLE, undefined behaviour, for most code points from U+00A1 (Cyrillic,
//    accented letters...), and it runs on any character where whitespace may stand:
//    outside strings, in a multi-line basic string after a backslash, and on every
//    character of its look-ahead over a bare value, quotes included (`x = 0"Ж"`). TOML 1.0
//    allows no non-ASCII character outside strings and comments nor in a bare value, so
//    those are syntax errors anyway; after a line-ending backslash it is valid TOML that
//    we must refuse too.
struct Lexical {
  std::size_t at = std::string_view::npos;  // byte offset; npos: nothing found
  std::string message;
};

Lexical lexical_scan(std::string_view s) {
  const auto bare = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  };
  const auto quote = [](char c) { return c == '"' || c == '\''; };
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  const auto ascii = [](char c) { return static_cast<unsigned char>(c) < 0x80; };
  // Where toml++'s look-ahead over a bare value (to tell a number from a date...) stops.
  const auto terminator = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == ']' || c == '}' || c == '#';
  };
  const std::string_view outside = "TOML syntax: a non-ASCII character outside a string or comment";
  std::size_t i = 0;
  // Past the single-line string opened at s[i]; an unterminated one ends at its newline.
  const auto skip_string = [&] {
    const char q = s[i++];
    while (i < s.size() && s[i] != q && s[i] != '\n')
      i += (q == '"' && s[i] == '\\' && i + 1 < s.size() && s[i + 1] != '\n') ? 2 : 1;
    if (i < s.size() && s[i] == q) ++i;
  };
  // Enough of TOML's grammar to know whether a value or a key comes next: the arrays
  // ('[') and inline tables ('{') open in the current value.
  std::vector<char> open;
  bool value_next = false;
  while (i < s.size()) {
    const char c = s[i];
    if (value_next && !blank(c) && !terminator(c) && !quote(c) && c != '[' && c != '{') {
      // A bare value (number, date, boolean): toml++ reads ahead to a terminator, through
      // quotes too, testing each character for whitespace.
      for (; i < s.size() && !terminator(s[i]); ++i)
        if (!ascii(s[i])) return {i, std::string(outside)};
      value_next = false;
    } else if (c == '#') {
      while (i < s.size() && s[i] != '\n')
        ++i;
    } else if (c == '\n') {
      if (open.empty()) value_next = false;  // a new statement: a key or a [table]
      ++i;
    } else if (c == '=') {
      value_next = true;
      ++i;
    } else if (c == '[' || c == '{') {
      if (c == '{' || value_next || !open.empty()) open.push_back(c);  // else a [table] header
      value_next = c == '[' && !open.empty();
      ++i;
    } else if (c == ']' || c == '}') {
      if (!open.empty()) open.pop_back();
      value_next = false;
      ++i;
    } else if (c == ',') {
      value_next = !open.empty() && open.back() == '[';
      ++i;
    } else if (quote(c) && i + 2 < s.size() && s[i + 1] == c && s[i + 2] == c) {
      // A multi-line string: never a key, and it may span lines.
      std::size_t k = i + 3;
      while (k < s.size() && !(s[k] == c && k + 2 < s.size() && s[k + 1] == c && s[k + 2] == c)) {
        if (c == '"' && s[k] == '\\') {
          std::size_t j = k + 1;
          while (j < s.size() && (blank(s[j]) || s[j] == '\n' || s[j] == '\r'))
            ++j;
          if (j < s.size() && !ascii(s[j]))
            return {j, "TOML syntax: a non-ASCII character right after a backslash in a multi-line string"};
          k = std::max(k + 2, j);
          continue;
        }
        ++k;
      }
      i = std::min(s.size(), k + 3);
      value_next = false;
    } else if (bare(c) || quote(c)) {
      const std::size_t start = i;
      int segments = 0;
      for (;;) {
        if (i < s.size() && quote(s[i])) {
          skip_string();
        } else {
          while (i < s.size() && bare(s[i]))
            ++i;
        }
        ++segments;
        std::size_t k = i;
        while (k < s.size() && blank(s[k]))
          ++k;
        if (k >= s.size() || s[k] != '.') break;
        ++k;
        while (k < s.size() && blank(s[k]))
          ++k;
        if (k >= s.size() || !(bare(s[k]) || quote(s[k]))) break;
        i = k;
      }
      if (segments > kMaxDepth) return {start, "a key nested deeper than " + std::to_string(kMaxDepth) + " levels"};
      value_next = false;
    } else if (!ascii(c)) {
      return {i, std::string(outside)};
    } else {
      ++i;
    }
  }
  return {};
}

int index_of(const std::vector<std::string>& names, const std::string& n) {
  const auto it = std::find(names.begin(), names.end(), n);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::string list_of(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names)
    s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

// Gate names to a mask; unknown ones are errors at `line`.
GateMask gate_mask(Reader& r, int line, const std::string& key, const std::vector<std::string>& gates,
                   const EngineConfig& c) {
  GateMask m = 0;
  for (const std::string& g : gates) {
    const int i = index_of(c.gates, g);
    if (i < 0) {
      std::string msg = "unknown gate '" + g + "' (engine.gates: " + list_of(c.gates) + ")";
      if (const std::string near = closest(g, c.gates); !near.empty()) msg += "; did you mean '" + near + "'?";
      r.error(toml::source_region{{static_cast<toml::source_index>(line), 1}, {}, {}}, key, msg);
      continue;
    }
    m |= GateMask{1} << i;
  }
  return m;
}

toml::source_region at_line(int line) {
  return toml::source_region{{static_cast<toml::source_index>(line), 1}, {}, {}};
}

// A hybrid loop's margin, and an auto margin's guard, must be less than its period.
void check_margin(Reader& r, int line, const std::string& path, Precision precision, ns_t period, ns_t margin,
                  ns_t guard) {
  if (precision != Precision::Hybrid) return;
  if (margin >= period)
    r.error(at_line(line), path + ".hybrid_margin",
            "expected less than the period (" + format_duration(period) + "), found " + format_duration(margin));
  if (margin == kAutoMargin && guard >= period)
    r.error(at_line(line), path + ".hybrid_margin_guard",
            "expected less than the period (" + format_duration(period) + "), found " + format_duration(guard));
}

// A loop's worker must exist and be started by start() (initial_workers).
void check_worker(Reader& r, int line, const std::string& key, int worker, const EngineConfig& c) {
  const std::size_t started = c.initial_workers == 0 ? c.workers.size() : c.initial_workers;
  if (worker < 0 || static_cast<std::size_t>(worker) < started) return;
  r.error(at_line(line), key,
          "worker " + std::to_string(worker) +
              (static_cast<std::size_t>(worker) < c.workers.size()
                   ? " is not started (engine.initial_workers = " + std::to_string(c.initial_workers) + ")"
                   : " does not exist (" + std::to_string(c.workers.size()) + " configured)"));
}

}  // namespace

void cross_check(Reader& r, const toml::table& root, AppConfig& app) {
  EngineConfig& c = app.engine;
  const toml::source_region engine_at = Reader::where(root, "engine");
  ClassMask served = 0;
  const std::size_t initial = c.initial_workers == 0 ? c.workers.size() : c.initial_workers;
  for (std::size_t i = 0; i < c.workers.size() && i < initial; ++i)
    served = static_cast<ClassMask>(served | c.workers[i].classes);
  if ((served & kAllClasses) != kAllClasses) {
    r.error(engine_at, "engine.worker",
            "no worker serves the class(es) missing from their `classes`: every class "
            "of critical, high, normal, low, background needs one");
  }
  for (std::size_t i = 0; i < app.tasks.size(); ++i) {
    (void)gate_mask(r, app.tasks[i].line, indexed("task", i) + ".gates", app.tasks[i].gates, c);
  }
  std::size_t periodic = app.periodic.size();
  for (std::size_t i = 0; i < app.periodic.size(); ++i) {
    PeriodicDecl& d = app.periodic[i];
    const std::string path = indexed("periodic", i);
    d.spec.gates = gate_mask(r, d.line, path + ".gates", d.gates, c);
    if (!d.type_name.empty()) {
      const int t = index_of(c.task_types, d.type_name);
      if (t < 0) {
        r.error(at_line(d.line), path + ".type",
                "unknown task type '" + d.type_name + "' (declared: " + list_of(c.task_types) + ")");
      } else {
        d.spec.type = static_cast<TypeId>(t);
      }
    }
    check_worker(r, d.line, path + ".worker", d.spec.worker, c);
    check_margin(r, d.line, path, d.spec.precision, d.spec.period, d.spec.hybrid_margin, d.spec.hybrid_margin_guard);
  }
  for (std::size_t i = 0; i < app.graphs.size(); ++i) {
    const GraphDecl& g = app.graphs[i];
    if (g.period > 0) ++periodic;
    const std::string path = "workflow '" + g.spec.name + "'";
    check_worker(r, g.line, path + ".worker", g.worker, c);
    if (g.period > 0 && g.period < 10 * hal::kNsPerUs)
      r.error(at_line(g.line), path + ".period",
              "expected 0 (not periodic) or a period of 10us..1h, found " + format_duration(g.period));
    if (g.period > 0) check_margin(r, g.line, path, g.precision, g.period, g.hybrid_margin, g.hybrid_margin_guard);
  }
  if (periodic > c.max_periodic)
    r.error(engine_at, "engine.max_periodic",
            std::to_string(periodic) + " periodic tasks and periodic workflows are declared, more than " +
                std::to_string(c.max_periodic));
  if (app.graphs.size() > c.max_graphs)
    r.error(engine_at, "engine.max_graphs",
            std::to_string(app.graphs.size()) + " workflows are declared, more than " + std::to_string(c.max_graphs));
  if (app.sagas.size() > c.max_sagas)
    r.error(engine_at, "engine.max_sagas",
            std::to_string(app.sagas.size()) + " sagas are declared, more than " + std::to_string(c.max_sagas));
  for (const std::string& t : app.journal.types) {
    if (index_of(c.task_types, t) < 0)
      r.error(Reader::where(root, "journal"), "journal.types",
              "unknown task type '" + t + "' (declared: " + list_of(c.task_types) + ")");
  }
}

}  // namespace detail

LoadResult parse(std::string_view text, const std::string& file, const LoadOptions& opts) {
  LoadResult res;
  res.config.source = file;
  detail::Reader r(file, res.errors);
  if (text.size() > kMaxFileBytes) {
    res.errors.push_back({file, 0, 0, "", "larger than " + std::to_string(kMaxFileBytes) + " bytes: not a config"});
    return res;
  }
  if (detail::Lexical lex = detail::lexical_scan(text); lex.at != std::string_view::npos) {
    const std::string_view before = text.substr(0, lex.at);
    const std::size_t newline = before.rfind('\n');
    const std::size_t column = newline == std::string_view::npos ? lex.at : lex.at - newline - 1;  // in bytes
    const auto line = 1 + std::count(before.begin(), before.end(), '\n');
    res.errors.push_back({file, static_cast<int>(line), static_cast<int>(column) + 1, "", std::move(lex.message)});
    return res;
  }
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    r.error(e.source(), "", "TOML syntax: " + std::string(e.description()));
    return res;
  }
  if (detail::too_deep(r, root, 0, "")) return res;
  r.only(root, "",
         {"engine", "monitor", "run", "logging", "tracing", "journal", "http", "metrics", "service", "retry", "task",
          "periodic", "graph", "pipeline", "saga"});
  detail::load_engine(r, root, res.config);
  detail::load_settings(r, root, res.config);
  detail::load_tasks(r, root, res.config, opts);
  detail::load_workflows(r, root, res.config, opts);
  detail::cross_check(r, root, res.config);
  if (res.errors.empty()) {
    try {  // the engine's own checks: a second net under the ones above
      validate(res.config.engine);
    } catch (const std::exception& e) {
      r.error(detail::Reader::where(root, "engine"), "engine", e.what());
    }
  }
  // Sorted by place, so a person reads them top to bottom; errors at one place keep the
  // order they were found in. Not std::stable_sort: libstdc++ 12's calls
  // get_temporary_buffer, deprecated in C++17, which clang-22 -Werror (rtsan, fuzz) rejects.
  std::vector<std::size_t> order(res.errors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&res](std::size_t a, std::size_t b) {
    const Diagnostic& x = res.errors[a];
    const Diagnostic& y = res.errors[b];
    return std::tie(x.line, x.column, a) < std::tie(y.line, y.column, b);
  });
  std::vector<Diagnostic> sorted;
  sorted.reserve(order.size());
  for (const std::size_t i : order)
    sorted.push_back(std::move(res.errors[i]));
  res.errors = std::move(sorted);
  return res;
}

LoadResult load(const std::filesystem::path& path, const LoadOptions& opts) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult res;
    res.errors.push_back({name, 0, 0, "", "cannot open: " + std::string(std::strerror(errno))});
    return res;
  }
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse(text, name, opts);
}

}  // namespace rt::config
