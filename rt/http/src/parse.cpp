// Query strings and task ids (rthttp/parse.hpp), and the echo helpers both parsers share
// (parse_text.hpp). The JSON bodies are parse_json.cpp's.
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "parse_text.hpp"

namespace rt::http {
namespace detail {

std::string_view clip(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U)
    --n;
  return s.substr(0, n);
}

std::string escape(std::string_view s) {
  // dump() quotes and escapes; `replace` turns invalid UTF-8 into U+FFFD instead of throwing.
  const std::string q = nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return q.substr(1, q.size() - 2);
}

std::string quote(std::string_view s) {
  return '"' + escape(clip(s, kEchoBytes)) + (s.size() > kEchoBytes ? "\"..." : "\"");
}

std::string field_name(std::string_view s) {
  return escape(clip(s, kEchoBytes)) + (s.size() > kEchoBytes ? "..." : "");
}

std::string one_of(std::initializer_list<std::string_view> names) {
  std::string s;
  std::size_t i = 0;
  for (std::string_view n : names) {
    if (i > 0) s += i + 1 == names.size() ? " or " : ", ";
    s += n;
    ++i;
  }
  return s;
}

FieldError unknown(std::string_view what, std::string_view key, std::initializer_list<std::string_view> known) {
  return {field_name(key),
          "unknown " + std::string(what) + " (expected " + one_of(known) + ")" + did_you_mean(key, known)};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whole decimal numbers only: no sign, spaces or "0x". std::from_chars stops at the first
// non-digit, so the end is checked; past 2^64-1 it reports result_out_of_range.
bool decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace detail

namespace {

using namespace detail;

constexpr std::size_t kMaxQueryParams = 64;
constexpr std::size_t kMaxQueryKey = 64;
constexpr std::size_t kMaxQueryValue = 1024;

// Percent-decoding of one key or value; false at the first bad escape, which `bad` names.
bool decode(std::string_view in, std::string& out, std::string_view& bad) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] != '%') {
      out += in[i];
    } else {
      const int hi = i + 1 < in.size() ? hex_digit(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? hex_digit(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        bad = in.substr(i, 3);
        return false;
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return true;
}

}  // namespace

std::variant<QueryParams, FieldError> parse_query(std::string_view raw) {
  QueryParams out;
  std::string key, value;
  while (!raw.empty()) {
    const std::size_t amp = raw.find('&');
    const std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2": what browsers and curl send is not an error
    const std::size_t eq = pair.find('=');
    const std::string_view k = pair.substr(0, eq);
    const std::string_view v = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string_view bad;
    const bool key_ok = decode(k, key, bad);
    if (!key_ok || !decode(v, value, bad))
      return FieldError{field_name(key_ok ? std::string_view(key) : k),
                        "bad percent-escape " + quote(bad) + " (expected '%' and two hex digits)"};
    if (out.size() == kMaxQueryParams)
      return FieldError{"", "more than " + std::to_string(kMaxQueryParams) + " query parameters"};
    if (key.size() > kMaxQueryKey)
      return FieldError{field_name(key), "parameter name longer than " + std::to_string(kMaxQueryKey) + " bytes"};
    if (value.size() > kMaxQueryValue)
      return FieldError{field_name(key), "value longer than " + std::to_string(kMaxQueryValue) + " bytes"};
    out.emplace_back(key, value);
  }
  return out;
}

std::variant<std::uint64_t, FieldError> parse_uint(std::string_view key, std::string_view text, std::uint64_t lo,
                                                   std::uint64_t hi) {
  std::uint64_t v = 0;
  if (decimal(text, v) && v >= lo && v <= hi) return v;
  return FieldError{field_name(key), "expected a whole number in " + std::to_string(lo) + ".." + std::to_string(hi) +
                                         ", found " + quote(text)};
}

std::variant<ListQuery, FieldError> parse_list_query(const QueryParams& q, const std::vector<std::string>& types,
                                                     std::size_t max_limit) {
  ListQuery out;
  const std::size_t hi_limit = std::max<std::size_t>(max_limit, 1);
  out.limit = std::min<std::size_t>(out.limit, hi_limit);
  std::array<bool, 5> seen{};
  static constexpr std::array<std::string_view, 5> kKeys{"state", "type", "workflow", "limit", "offset"};
  for (const auto& [k, v] : q) {
    const auto it = std::find(kKeys.begin(), kKeys.end(), k);
    if (it == kKeys.end()) return unknown("parameter", k, {"state", "type", "workflow", "limit", "offset"});
    const auto idx = static_cast<std::size_t>(it - kKeys.begin());
    if (seen[idx]) return FieldError{k, "given more than once"};
    seen[idx] = true;
    if (k == "state") {
      // Free is the engine's own word for an empty slot, not a state a task is in.
      if (!parse_state(v, out.state) || out.state == State::Free) {
        std::vector<std::string_view> names;
        std::string list;
        for (std::size_t i = 1; i < kStateCount; ++i) {
          names.push_back(to_string(static_cast<State>(i)));
          list += (i > 1 ? ", " : "") + std::string(names.back());
        }
        return FieldError{k, "expected a task state (" + list + "), found " + quote(v) + did_you_mean(v, names)};
      }
      out.any_state = false;
    } else if (k == "type") {
      const auto t = std::find(types.begin(), types.end(), v);
      // TypeId is 16 bits: a type past that cannot be one the engine knows.
      if (t == types.end() || t - types.begin() > std::numeric_limits<TypeId>::max())
        return FieldError{k, "unknown task type " + quote(v) + did_you_mean(v, types)};
      out.type = static_cast<int>(t - types.begin());
    } else {
      // ListQuery::workflow is a long and offset a size_t, both 32 bits on armhf.
      constexpr std::uint64_t kMaxWorkflow =
          std::min<std::uint64_t>(std::numeric_limits<WorkflowId>::max(), std::numeric_limits<long>::max());
      const std::uint64_t hi = k == "workflow" ? kMaxWorkflow
                               : k == "limit"  ? hi_limit
                                               : std::numeric_limits<std::uint32_t>::max();
      auto r = parse_uint(k, v, k == "limit" ? 1 : 0, hi);
      if (auto* e = std::get_if<FieldError>(&r)) return std::move(*e);
      const std::uint64_t n = std::get<std::uint64_t>(r);
      if (k == "workflow") out.workflow = static_cast<long>(n);
      if (k == "limit") out.limit = static_cast<std::size_t>(n);
      if (k == "offset") out.offset = static_cast<std::size_t>(n);
    }
  }
  return out;
}

std::optional<TaskId> parse_task_id(std::string_view text) noexcept {
  std::uint64_t v = 0;
  // One spelling per id, as task_id_string prints it: "007" is not task 7.
  if (!decimal(text, v) || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  const TaskId id = TaskId::from_value(v);
  if (!id.valid()) return std::nullopt;  // generation 0 is never a live task
  return id;
}

std::string task_id_string(TaskId id) { return std::to_string(id.value()); }

}  // namespace rt::http
