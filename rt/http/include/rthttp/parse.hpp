#pragma once
// What the HTTP API reads from a client: query strings and JSON bodies, checked field by
// field. Each parser returns the value or a FieldError naming the field and what was
// wrong, for a 400 answer; none throws, whatever the input (fuzzed: tests/fuzz).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "rt/engine.hpp"

namespace rt::http {

struct FieldError {
  std::string field;    // "deadline", "context.user_id"; "" for the body as a whole
  std::string message;  // "expected a duration string such as \"250us\", found 12"
};

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}: percent-decoding and '+' as space; a key
// without '=' has an empty value. A bad escape ("%zz", "%4") is a FieldError naming the key.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
[[nodiscard]] std::variant<QueryParams, FieldError> parse_query(std::string_view raw);

// GET /tasks: state, type, workflow, limit, offset. `types` are the engine's task type
// names (TypeId i is types[i]); an unknown parameter, state or type is a FieldError.
// limit is 1..max_limit (default 100), offset >= 0.
[[nodiscard]] std::variant<ListQuery, FieldError> parse_list_query(const QueryParams& q,
                                                                   const std::vector<std::string>& types,
                                                                   std::size_t max_limit);

// A non-negative integer parameter, as the other list endpoints take it (limit, offset,
// since). FieldError naming `key` when it is not a whole number in [lo, hi].
[[nodiscard]] std::variant<std::uint64_t, FieldError> parse_uint(std::string_view key, std::string_view text,
                                                                 std::uint64_t lo, std::uint64_t hi);

// POST /tasks:
//   {"type": "work",                 required: a configured task type
//    "priority": "high",             critical|high|normal|low|background, or 0..10
//    "deadline": "2ms",              relative to the start; "0s" none
//    "start_in": "10ms",             delayed start
//    "retry": "standard",            none, a built-in preset, or a [retry.NAME]
//    "context": {"user_id": "42", "session_id": "7", "params": "<hex, up to 96 digits>"}}
// Every field but type is optional (absent: the type's configured default). Ids are
// decimal strings (or JSON integers); durations are strings with a unit, as in the config
// ("250us", "2ms", "1s"). An unknown field is an error. Deeply nested input is refused
// (max_depth) before it is built.
struct SubmitBody {
  std::string type;
  std::optional<Priority> priority;
  std::optional<ns_t> deadline;
  std::optional<ns_t> start_in;
  std::optional<std::string> retry;
  std::optional<Context> context;
};
inline constexpr std::size_t kMaxJsonDepth = 8;
[[nodiscard]] std::variant<SubmitBody, FieldError> parse_submit(std::string_view body);

// PUT /gates/{name}: {"open": true|false}.
[[nodiscard]] std::variant<bool, FieldError> parse_gate(std::string_view body);

// POST /workflows/{name}/run: an empty body, or {"context": {...}} as for POST /tasks.
[[nodiscard]] std::variant<std::optional<Context>, FieldError> parse_run(std::string_view body);

// A task id as the API prints it: the decimal TaskId::value(). nullopt when `text` is not
// one (the caller answers 404: an id that cannot exist is an unknown task).
[[nodiscard]] std::optional<TaskId> parse_task_id(std::string_view text) noexcept;
[[nodiscard]] std::string task_id_string(TaskId id);

}  // namespace rt::http
