// R7: libFuzzer on the HTTP API's parsers (rthttp/parse.hpp). Every input goes through
// every parser, since a body, a query string and a path segment are all client bytes:
// none may crash, leak, hit undefined behaviour or hang, and what they return must hold
// the invariants below; a broken one traps, so libFuzzer keeps the input as a crash.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rthttp/parse.hpp"

namespace {

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

// The API sends each message inside a JSON answer: dump() throws on invalid UTF-8.
bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

template <class T>
void check_error(const std::variant<T, rt::http::FieldError>& r) {
  if (const auto* e = std::get_if<rt::http::FieldError>(&r))
    check(!e->message.empty() && valid_utf8(e->field) && valid_utf8(e->message));
}

const std::vector<std::string> kTypes{"task", "work", "sensor", "control"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto submit = rt::http::parse_submit(text);
  check_error(submit);
  if (const auto* b = std::get_if<rt::http::SubmitBody>(&submit)) {
    check(!b->type.empty() && b->type.size() <= 64);
    check(!b->deadline || *b->deadline >= 0);
    check(!b->start_in || *b->start_in >= 0);
    check(!b->priority || static_cast<std::size_t>(*b->priority) < rt::kClassCount);
  }
  check_error(rt::http::parse_gate(text));
  check_error(rt::http::parse_run(text));

  const auto query = rt::http::parse_query(text);
  check_error(query);
  if (const auto* q = std::get_if<rt::http::QueryParams>(&query)) {
    check(q->size() <= 64);
    const auto list = rt::http::parse_list_query(*q, kTypes, 500);
    check_error(list);
    if (const auto* l = std::get_if<rt::ListQuery>(&list)) {
      check(l->limit >= 1 && l->limit <= 500);
      check(l->type >= -1 && l->type < static_cast<int>(kTypes.size()));
      check(l->workflow >= -1);
    }
  }

  if (const auto id = rt::http::parse_task_id(text)) {
    check(id->valid());
    check(rt::http::task_id_string(*id) == text);  // one spelling per id
    check(rt::http::parse_task_id(rt::http::task_id_string(*id)) == id);
  }
  // Any eight bytes as an id: printing and parsing back must agree.
  if (size >= 8) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i)
      v = (v << 8) | data[i];
    const rt::TaskId id = rt::TaskId::from_value(v);
    const auto back = rt::http::parse_task_id(rt::http::task_id_string(id));
    check(id.valid() ? back == id : !back);
  }
  return 0;
}
