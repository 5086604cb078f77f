// JSON bodies (rthttp/parse.hpp). Nothing here throws on bad input: the body goes through
// nlohmann's SAX interface with exceptions off, so a malformed body or a depth bomb ends
// the parse early and becomes a FieldError.
#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>

#include "parse_text.hpp"

namespace rt::http {
namespace {

using namespace detail;
using nlohmann::json;

constexpr std::size_t kMaxParamsHex = 2 * std::tuple_size_v<decltype(Context::params)>;
constexpr ns_t kMaxDelay = 3600 * hal::kNsPerSec;  // as the config's deadlines: an hour

std::string describe(const json& j) {
  switch (j.type()) {
    case json::value_t::string:
      return "the string " + quote(j.get_ref<const std::string&>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "the number " + j.dump();
    case json::value_t::boolean:
      return j.get<bool>() ? "true" : "false";
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    default:
      return "a binary value";
  }
}

bool is_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

// Builds the tree with nlohmann's own DOM builder but counts nesting first: returning
// false from start_object/start_array stops the parse at the first level too deep, so a
// "[[[[..." body costs what its first few levels cost. parse_error keeps the message
// instead of throwing.
class BoundedSax {
 public:
  explicit BoundedSax(json& root) : dom_(root, false) {}
  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const std::string& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool key(json::string_t& v) { return dom_.key(v); }
  bool start_object(std::size_t n) { return deeper() && dom_.start_object(n); }
  bool end_object() {
    --depth_;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return deeper() && dom_.start_array(n); }
  bool end_array() {
    --depth_;
    return dom_.end_array();
  }
  bool parse_error(std::size_t pos, const std::string& /*token*/, const nlohmann::detail::exception& e) {
    // e.what(): "[json.exception.parse_error.101] parse error at line 1, column 5: syntax
    // error while parsing value - invalid literal; last read: '<input>'". The last read
    // echoes raw input; the position and the reason are what a client needs.
    std::string_view w = e.what();
    const std::size_t at = w.find("parse error at ");
    if (at == std::string_view::npos) {
      error = "malformed JSON at byte " + std::to_string(pos);
      return false;
    }
    w.remove_prefix(at + std::string_view("parse error").size());
    w = w.substr(0, w.find("; last read"));
    error = "malformed JSON" + escape(w);
    return false;
  }

  std::string error;
  bool too_deep = false;

 private:
  bool deeper() {
    if (++depth_ <= kMaxJsonDepth) return true;
    too_deep = true;
    return false;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  std::size_t depth_ = 0;
};

std::variant<json, FieldError> parse_object(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return FieldError{"", "expected a JSON object, found an empty body"};
  json root;
  BoundedSax sax(root);
  const bool ok = json::sax_parse(body.begin(), body.end(), &sax);
  if (sax.too_deep) return FieldError{"", "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  if (!ok) return FieldError{"", sax.error.empty() ? std::string("malformed JSON") : sax.error};
  if (!root.is_object()) return FieldError{"", "expected a JSON object, found " + describe(root)};
  return root;
}

std::optional<FieldError> duration(const std::string& field, const json& j, ns_t& out) {
  if (j.is_string() && config::parse_duration(j.get_ref<const std::string&>(), out)) {
    if (out <= kMaxDelay) return std::nullopt;
    return FieldError{field, "expected a duration of at most 1h, found " + describe(j)};
  }
  // A bare number would have to guess its unit; the config file refuses it the same way.
  return FieldError{
      field, "expected a duration string with its unit, such as \"250us\", \"2ms\" or \"1s\", found " + describe(j)};
}

std::optional<FieldError> priority(const json& j, Priority& out) {
  static constexpr std::array<std::string_view, kClassCount> kNames{"critical", "high", "normal", "low", "background"};
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    for (std::size_t i = 0; i < kNames.size(); ++i) {
      if (s == kNames[i]) {
        out = static_cast<Priority>(i);
        return std::nullopt;
      }
    }
  } else if (j.is_number_unsigned() && j.get<std::uint64_t>() <= 10) {
    out = priority_from_level(j.get<int>());
    return std::nullopt;
  }
  return FieldError{"priority",
                    "expected critical, high, normal, low, background or an integer 0..10, found " + describe(j) +
                        (j.is_string() ? did_you_mean(j.get_ref<const std::string&>(), kNames) : std::string())};
}

std::optional<FieldError> id(const std::string& field, const json& j, std::uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
    return std::nullopt;
  }
  if (j.is_string() && decimal(j.get_ref<const std::string&>(), out)) return std::nullopt;
  // A negative JSON integer parses as number_integer and one past uint64 as a float:
  // both land here, as do "-1" and "1e3".
  return FieldError{field, "expected a decimal id (\"42\" or 42, 0.." +
                               std::to_string(std::numeric_limits<std::uint64_t>::max()) + "), found " + describe(j)};
}

std::optional<FieldError> params(const json& j, Context& c) {
  const std::string field = "context.params";
  if (!j.is_string()) return FieldError{field, "expected a string of hex digits, found " + describe(j)};
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() > kMaxParamsHex)
    return FieldError{field, "expected at most " + std::to_string(kMaxParamsHex) + " hex digits (" +
                                 std::to_string(kMaxParamsHex / 2) + " bytes), found " + std::to_string(s.size())};
  if (s.size() % 2 != 0)
    return FieldError{field, "expected an even number of hex digits (two per byte), found " + std::to_string(s.size())};
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
    if (hi < 0 || lo < 0) return FieldError{field, "expected hex digits (0-9, a-f), found " + describe(j)};
    c.params[i / 2] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return std::nullopt;
}

std::optional<FieldError> context(const json& j, Context& c) {
  if (!j.is_object()) return FieldError{"context", "expected an object, found " + describe(j)};
  for (const auto& [k, v] : j.items()) {
    std::optional<FieldError> e;
    if (k == "user_id") {
      e = id("context.user_id", v, c.user_id);
    } else if (k == "session_id") {
      e = id("context.session_id", v, c.session_id);
    } else if (k == "params") {
      e = params(v, c);
    } else {
      e = unknown("field", k, {"user_id", "session_id", "params"});
      e->field = "context." + e->field;
    }
    if (e) return e;
  }
  return std::nullopt;
}

std::optional<FieldError> name(const std::string& field, const json& j, std::string& out) {
  if (j.is_string() && is_name(j.get_ref<const std::string&>())) {
    out = j.get<std::string>();
    return std::nullopt;
  }
  return FieldError{field, "expected a name of 1-64 letters, digits, '_', '-' or '.', found " + describe(j)};
}

}  // namespace

std::variant<SubmitBody, FieldError> parse_submit(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* e = std::get_if<FieldError>(&parsed)) return std::move(*e);
  const json& j = std::get<json>(parsed);
  SubmitBody out;
  bool has_type = false;
  for (const auto& [k, v] : j.items()) {
    std::optional<FieldError> e;
    if (k == "type") {
      e = name("type", v, out.type);
      has_type = true;
    } else if (k == "priority") {
      e = priority(v, out.priority.emplace());
    } else if (k == "deadline") {
      e = duration("deadline", v, out.deadline.emplace());
    } else if (k == "start_in") {
      e = duration("start_in", v, out.start_in.emplace());
    } else if (k == "retry") {
      e = name("retry", v, out.retry.emplace());
    } else if (k == "context") {
      e = context(v, out.context.emplace());
    } else {
      e = unknown("field", k, {"type", "priority", "deadline", "start_in", "retry", "context"});
    }
    if (e) return std::move(*e);
  }
  if (!has_type) return FieldError{"type", "required: the task type to run"};
  return out;
}

std::variant<bool, FieldError> parse_gate(std::string_view body) {
  auto parsed = parse_object(body);
  if (auto* e = std::get_if<FieldError>(&parsed)) return std::move(*e);
  std::optional<bool> open;
  for (const auto& [k, v] : std::get<json>(parsed).items()) {
    if (k != "open") return unknown("field", k, {"open"});
    if (!v.is_boolean()) return FieldError{"open", "expected true or false, found " + describe(v)};
    open = v.get<bool>();
  }
  if (!open) return FieldError{"open", "required: true or false"};
  return *open;
}

std::variant<std::optional<Context>, FieldError> parse_run(std::string_view body) {
  // An empty body runs the workflow with a zero context, as the route's doc promises.
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::optional<Context>();
  auto parsed = parse_object(body);
  if (auto* e = std::get_if<FieldError>(&parsed)) return std::move(*e);
  std::optional<Context> out;
  for (const auto& [k, v] : std::get<json>(parsed).items()) {
    if (k != "context") return unknown("field", k, {"context"});
    if (auto e = context(v, out.emplace())) return std::move(*e);
  }
  return out;
}

}  // namespace rt::http
