#include "reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace rt::config::detail {

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string indexed(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::string describe(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "the string \"" + std::string(n.as_string()->get().substr(0, 40)) + "\"";
    case toml::node_type::integer:
      return "the integer " + std::to_string(n.as_integer()->get());
    case toml::node_type::floating_point: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "the float %g", n.as_floating_point()->get());
      return buf;
    }
    case toml::node_type::boolean:
      return n.as_boolean()->get() ? "the boolean true" : "the boolean false";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "a date/time";
    default:
      return "nothing";
  }
}

void Reader::error(const toml::source_region& at, std::string key, std::string message) {
  Diagnostic d;
  d.file = file_;
  d.line = static_cast<int>(at.begin.line);
  d.column = static_cast<int>(at.begin.column);
  d.key = std::move(key);
  d.message = std::move(message);
  errors_.push_back(std::move(d));
}

void Reader::only(const toml::table& t, const std::string& path, std::initializer_list<std::string_view> known) {
  for (auto&& [k, v] : t) {
    if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
    std::string msg = "unknown key '" + std::string(k.str()) + "'";
    if (const std::string near = closest(k.str(), known); !near.empty()) msg += " (did you mean '" + near + "'?)";
    error(k.source(), join(path, k.str()), msg);
  }
}

const toml::table* Reader::table(const toml::table& t, std::string_view key, const std::string& path) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) {
    error(*n, join(path, key), "expected a table, found " + describe(*n));
    return nullptr;
  }
  return n->as_table();
}

std::vector<const toml::table*> Reader::tables(const toml::table& t, std::string_view key, const std::string& path) {
  std::vector<const toml::table*> out;
  const toml::node* n = get(t, key);
  if (n == nullptr) return out;
  if (!n->is_array()) {
    error(*n, join(path, key), "expected an array of tables ([[" + std::string(key) + "]]), found " + describe(*n));
    return out;
  }
  const toml::array& a = *n->as_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_table()) {
      error(a[i], indexed(join(path, key), i), "expected a table, found " + describe(a[i]));
      continue;
    }
    out.push_back(a[i].as_table());
  }
  return out;
}

bool Reader::boolean(const toml::table& t, std::string_view key, const std::string& path, bool& out) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  if (!n->is_boolean()) {
    error(*n, join(path, key), "expected true or false, found " + describe(*n));
    return false;
  }
  out = n->as_boolean()->get();
  return true;
}

bool Reader::integer(const toml::table& t, std::string_view key, const std::string& path, std::int64_t lo,
                     std::int64_t hi, std::int64_t& out) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  if (!n->is_integer()) {
    error(*n, join(path, key), "expected an integer " + range + ", found " + describe(*n));
    return false;
  }
  const std::int64_t v = n->as_integer()->get();
  if (v < lo || v > hi) {
    error(*n, join(path, key), "expected an integer " + range + ", found " + std::to_string(v));
    return false;
  }
  out = v;
  return true;
}

bool Reader::number(const toml::table& t, std::string_view key, const std::string& path, double lo, double hi,
                    double& out) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  char range[96];
  std::snprintf(range, sizeof range, "a number %g..%g", lo, hi);
  double v = 0;
  if (n->is_integer()) {
    v = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point()) {
    v = n->as_floating_point()->get();
  } else {
    error(*n, join(path, key), std::string("expected ") + range + ", found " + describe(*n));
    return false;
  }
  if (!(v >= lo && v <= hi)) {  // NaN too
    error(*n, join(path, key), std::string("expected ") + range + ", found " + describe(*n));
    return false;
  }
  out = v;
  return true;
}

bool Reader::string(const toml::table& t, std::string_view key, const std::string& path, std::string& out) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  if (!n->is_string()) {
    error(*n, join(path, key), "expected a string, found " + describe(*n));
    return false;
  }
  out = n->as_string()->get();
  return true;
}

bool Reader::name(const toml::table& t, std::string_view key, const std::string& path, std::string& out) {
  std::string v;
  if (!string(t, key, path, v)) return false;
  const bool ok = !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
  if (!ok) {
    error(*get(t, key), join(path, key),
          "expected a name of 1-64 letters, digits, '_', '-' or '.', found " + describe(*get(t, key)));
    return false;
  }
  out = std::move(v);
  return true;
}

}  // namespace rt::config::detail

namespace rt::config {

bool parse_duration(std::string_view s, ns_t& out) {
  std::size_t i = 0;
  double v = 0;
  bool digits = false, dot = false;
  double scale = 1;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      digits = true;
      if (dot) {
        scale /= 10;
        v += (c - '0') * scale;
      } else {
        v = v * 10 + (c - '0');
      }
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!digits || v > 1e15) return false;
  const std::string_view unit = s.substr(i);
  double mul = 0;
  if (unit == "ns" || (unit.empty() && v == 0)) {  // "0" needs no unit
    mul = 1;
  } else if (unit == "us" || unit == "\u00b5s") {
    mul = 1e3;
  } else if (unit == "ms") {
    mul = 1e6;
  } else if (unit == "s") {
    mul = 1e9;
  } else if (unit == "min") {
    mul = 60e9;
  } else {
    return false;
  }
  const double ns = v * mul;
  if (ns > 9.2e18) return false;
  out = static_cast<ns_t>(std::llround(ns));
  return true;
}

}  // namespace rt::config

namespace rt::config::detail {

std::string format_duration(ns_t v) {
  if (v == 0) return "0";
  if (v % hal::kNsPerSec == 0) return std::to_string(v / hal::kNsPerSec) + "s";
  if (v % hal::kNsPerMs == 0) return std::to_string(v / hal::kNsPerMs) + "ms";
  if (v % hal::kNsPerUs == 0) return std::to_string(v / hal::kNsPerUs) + "us";
  return std::to_string(v) + "ns";
}

bool Reader::duration(const toml::table& t, std::string_view key, const std::string& path, ns_t lo, ns_t hi,
                      ns_t& out) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  const std::string range = format_duration(lo) + ".." + format_duration(hi);
  ns_t v = 0;
  if (!n->is_string() || !parse_duration(n->as_string()->get(), v)) {
    error(
        *n, join(path, key),
        "expected a duration " + range + " written with its unit (\"250us\", \"1ms\", \"2s\"), found " + describe(*n));
    return false;
  }
  if (v < lo || v > hi) {
    error(*n, join(path, key), "expected a duration " + range + ", found " + format_duration(v));
    return false;
  }
  out = v;
  return true;
}

bool Reader::choice(const toml::table& t, std::string_view key, const std::string& path,
                    std::initializer_list<std::string_view> choices, int& idx) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  std::string list;
  for (std::string_view c : choices)
    list += (list.empty() ? "\"" : ", \"") + std::string(c) + "\"";
  if (n->is_string()) {
    const std::string_view v = n->as_string()->get();
    for (std::size_t i = 0; i < choices.size(); ++i) {
      if (choices.begin()[i] == v) {
        idx = static_cast<int>(i);
        return true;
      }
    }
    std::string msg = "expected one of " + list + ", found " + describe(*n);
    if (const std::string near = closest(v, choices); !near.empty()) msg += " (did you mean \"" + near + "\"?)";
    error(*n, join(path, key), msg);
    return false;
  }
  error(*n, join(path, key), "expected one of " + list + ", found " + describe(*n));
  return false;
}

bool Reader::strings(const toml::table& t, std::string_view key, const std::string& path,
                     std::vector<std::string>& out) {
  const toml::node* n = get(t, key);
  if (n == nullptr) return false;
  if (!n->is_array()) {
    error(*n, join(path, key), "expected an array of strings, found " + describe(*n));
    return false;
  }
  std::vector<std::string> v;
  bool ok = true;
  const toml::array& a = *n->as_array();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string()) {
      error(a[i], indexed(join(path, key), i), "expected a string, found " + describe(a[i]));
      ok = false;
      continue;
    }
    v.emplace_back(a[i].as_string()->get());
  }
  if (ok) out = std::move(v);
  return ok;
}

toml::source_region Reader::where(const toml::table& t, std::string_view key) {
  const toml::node* n = t.get(key);
  return n != nullptr ? n->source() : t.source();
}

std::size_t edit_distance_impl(std::string_view a, std::string_view b) {
  if (a.size() > 64 || b.size() > 64) return 99;  // names are short; no typo hunt in a novel
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {
template <class Range>
std::string closest_in(std::string_view word, const Range& known) {
  std::string best;
  std::size_t best_d = 99;
  for (std::string_view k : known) {
    const std::size_t d = edit_distance_impl(word, k);
    if (d < best_d) {
      best_d = d;
      best = std::string(k);
    }
  }
  // A typo, not a different word: at most 2 edits, and fewer than half the letters (of
  // the longer word, so that "cp" still finds "cpu"). Levenshtein counts a swap of two
  // letters as 2: "drian" must still find "drain".
  const std::size_t letters = std::max(word.size(), best.size());
  return best_d <= 2 && 2 * best_d < letters ? best : std::string();
}
}  // namespace

std::string closest(std::string_view word, std::initializer_list<std::string_view> known) {
  return closest_in(word, known);
}
std::string closest(std::string_view word, const std::vector<std::string>& known) { return closest_in(word, known); }

}  // namespace rt::config::detail

namespace rt::config {

std::size_t edit_distance(std::string_view a, std::string_view b) { return detail::edit_distance_impl(a, b); }

std::string Diagnostic::str() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!key.empty()) s += key + ": ";
  return s + message;
}

}  // namespace rt::config
