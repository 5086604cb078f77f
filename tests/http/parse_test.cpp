// rthttp/parse.hpp: every parser's happy path and each kind of error, and the fuzzer's
// seed corpus and regressions replayed through all of them.
#include "rthttp/parse.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using rt::http::FieldError;

template <class T>
T ok(std::variant<T, FieldError> r) {
  if (const auto* e = std::get_if<FieldError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->field << ": " << e->message;
    return T{};
  }
  return std::get<T>(std::move(r));
}

template <class T>
FieldError err(std::variant<T, FieldError> r) {
  if (auto* e = std::get_if<FieldError>(&r)) return std::move(*e);
  ADD_FAILURE() << "parsed, but an error was expected";
  return {};
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// What the API does with a message: put it in a JSON answer. Throws on invalid UTF-8.
bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

// ---- parse_query ----

TEST(ParseQuery, DecodesPercentAndPlus) {
  const auto q = ok(rt::http::parse_query("a=1&b=x%20y&c=p+q&flag&e=%C3%A9&&k%3D=v%26"));
  const rt::http::QueryParams want{{"a", "1"},   {"b", "x y"},      {"c", "p q"},
                                   {"flag", ""}, {"e", "\xC3\xA9"}, {"k=", "v&"}};
  EXPECT_EQ(q, want);
  EXPECT_TRUE(ok(rt::http::parse_query("")).empty());
}

TEST(ParseQuery, BadEscapeNamesTheKey) {
  FieldError e = err(rt::http::parse_query("ok=1&state=%zz"));
  EXPECT_EQ(e.field, "state");
  EXPECT_EQ(e.message, "bad percent-escape \"%zz\" (expected '%' and two hex digits)");
  e = err(rt::http::parse_query("limit=%4"));
  EXPECT_EQ(e.field, "limit");
  EXPECT_TRUE(contains(e.message, "\"%4\"")) << e.message;
  e = err(rt::http::parse_query("bad%g1=2"));
  EXPECT_EQ(e.field, "bad%g1");
  e = err(rt::http::parse_query("x=%"));
  EXPECT_EQ(e.field, "x");
}

TEST(ParseQuery, Caps) {
  std::string many;
  for (int i = 0; i < 65; ++i)
    many += "a=1&";
  EXPECT_EQ(err(rt::http::parse_query(many)).message, "more than 64 query parameters");
  EXPECT_TRUE(contains(err(rt::http::parse_query(std::string(65, 'k') + "=1")).message, "longer than 64"));
  EXPECT_TRUE(contains(err(rt::http::parse_query("v=" + std::string(1025, 'x'))).message, "longer than 1024"));
}

TEST(ParseQuery, InvalidUtf8IsEscapedInTheError) {
  const FieldError e = err(rt::http::parse_query("%FF%FE=%zz"));
  EXPECT_TRUE(valid_utf8(e.field)) << e.field;
  EXPECT_TRUE(valid_utf8(e.message));
}

// ---- parse_uint and parse_list_query ----

TEST(ParseUint, Range) {
  EXPECT_EQ(ok(rt::http::parse_uint("since", "42", 0, 100)), 42U);
  EXPECT_EQ(ok(rt::http::parse_uint("since", "18446744073709551615", 0, UINT64_MAX)), UINT64_MAX);
  const FieldError e = err(rt::http::parse_uint("limit", "0", 1, 500));
  EXPECT_EQ(e.field, "limit");
  EXPECT_EQ(e.message, "expected a whole number in 1..500, found \"0\"");
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1.5", "18446744073709551616", "abc"})
    EXPECT_EQ(err(rt::http::parse_uint("n", bad, 0, UINT64_MAX)).field, "n") << bad;
}

const std::vector<std::string> kTypes{"task", "work", "sensor"};

rt::ListQuery list(std::string_view raw, std::size_t max_limit = 500) {
  return ok(rt::http::parse_list_query(ok(rt::http::parse_query(raw)), kTypes, max_limit));
}
FieldError list_err(std::string_view raw, std::size_t max_limit = 500) {
  return err(rt::http::parse_list_query(ok(rt::http::parse_query(raw)), kTypes, max_limit));
}

TEST(ParseListQuery, DefaultsAndEveryParameter) {
  const rt::ListQuery d = list("");
  EXPECT_TRUE(d.any_state);
  EXPECT_EQ(d.type, -1);
  EXPECT_EQ(d.workflow, -1);
  EXPECT_EQ(d.limit, 100U);
  EXPECT_EQ(d.offset, 0U);
  EXPECT_EQ(list("", 20).limit, 20U);  // the default never exceeds the cap
  const rt::ListQuery q = list("state=dead_lettered&type=sensor&workflow=3&limit=500&offset=7");
  EXPECT_FALSE(q.any_state);
  EXPECT_EQ(q.state, rt::State::DeadLettered);
  EXPECT_EQ(q.type, 2);
  EXPECT_EQ(q.workflow, 3);
  EXPECT_EQ(q.limit, 500U);
  EXPECT_EQ(q.offset, 7U);
}

TEST(ParseListQuery, Errors) {
  FieldError e = list_err("limt=5");
  EXPECT_EQ(e.field, "limt");
  EXPECT_EQ(e.message, "unknown parameter (expected state, type, workflow, limit or offset) (did you mean \"limit\"?)");
  EXPECT_EQ(list_err("zzzzzz=1").message, "unknown parameter (expected state, type, workflow, limit or offset)");
  e = list_err("limit=0");
  EXPECT_EQ(e.field, "limit");
  EXPECT_EQ(e.message, "expected a whole number in 1..500, found \"0\"");
  EXPECT_EQ(list_err("limit=501").message, "expected a whole number in 1..500, found \"501\"");
  EXPECT_EQ(list_err("offset=-1").field, "offset");
  EXPECT_EQ(list_err("workflow=x").field, "workflow");
  EXPECT_EQ(list_err("workflow=99999999999").field, "workflow");
  e = list_err("state=complted");
  EXPECT_EQ(e.field, "state");
  EXPECT_TRUE(contains(e.message, "found \"complted\" (did you mean \"completed\"?)")) << e.message;
  EXPECT_FALSE(contains(e.message, "free")) << e.message;
  EXPECT_EQ(list_err("state=free").field, "state");
  e = list_err("type=sensr");
  EXPECT_EQ(e.field, "type");
  EXPECT_EQ(e.message, "unknown task type \"sensr\" (did you mean \"sensor\"?)");
  EXPECT_EQ(list_err("limit=5&limit=6").message, "given more than once");
}

// ---- parse_submit ----

TEST(ParseSubmit, Full) {
  const auto b = ok(rt::http::parse_submit(R"({"type": "work", "priority": "high", "deadline": "2ms",
      "start_in": "10us", "retry": "standard",
      "context": {"user_id": "42", "session_id": 7, "params": "00ff10Ab"}})"));
  EXPECT_EQ(b.type, "work");
  EXPECT_EQ(b.priority, rt::Priority::High);
  EXPECT_EQ(b.deadline, 2'000'000);
  EXPECT_EQ(b.start_in, 10'000);
  EXPECT_EQ(b.retry, "standard");
  ASSERT_TRUE(b.context);
  EXPECT_EQ(b.context->user_id, 42U);
  EXPECT_EQ(b.context->session_id, 7U);
  EXPECT_EQ(b.context->params[0], 0x00);
  EXPECT_EQ(b.context->params[1], 0xff);
  EXPECT_EQ(b.context->params[3], 0xab);
  EXPECT_EQ(b.context->params[4], 0);
}

TEST(ParseSubmit, OnlyTypeAndEdgeValues) {
  auto b = ok(rt::http::parse_submit(R"({"type":"t"})"));
  EXPECT_FALSE(b.priority || b.deadline || b.start_in || b.retry || b.context);
  b = ok(rt::http::parse_submit(R"({"type":"t","priority":10,"deadline":"0s","context":{
      "user_id":"18446744073709551615","session_id":18446744073709551615,"params":""}})"));
  EXPECT_EQ(b.priority, rt::Priority::Critical);
  EXPECT_EQ(b.deadline, 0);
  EXPECT_EQ(b.context->user_id, UINT64_MAX);
  EXPECT_EQ(b.context->session_id, UINT64_MAX);
  EXPECT_EQ(ok(rt::http::parse_submit(R"({"type":"t","priority":0})")).priority, rt::Priority::Background);
  EXPECT_EQ(ok(rt::http::parse_submit(R"({"type":"t","priority":"background"})")).priority, rt::Priority::Background);
  const std::string hex96(96, 'f');
  b = ok(rt::http::parse_submit(R"({"type":"t","context":{"params":")" + hex96 + "\"}}"));
  EXPECT_EQ(b.context->params[47], 0xff);
}

FieldError submit_err(const std::string& body) { return err(rt::http::parse_submit(body)); }

TEST(ParseSubmit, MalformedBodies) {
  FieldError e = submit_err(R"({"type": "t",)");
  EXPECT_EQ(e.field, "");
  EXPECT_TRUE(contains(e.message, "malformed JSON at line 1, column 14: syntax error while parsing object key"))
      << e.message;
  EXPECT_EQ(submit_err("").message, "expected a JSON object, found an empty body");
  EXPECT_EQ(submit_err("[1]").message, "expected a JSON object, found an array");
  EXPECT_EQ(submit_err("\"x\"").message, "expected a JSON object, found the string \"x\"");
  EXPECT_EQ(submit_err("null").message, "expected a JSON object, found null");
  EXPECT_TRUE(contains(submit_err(R"({"type":"t"} x)").message, "malformed JSON"));
  EXPECT_TRUE(contains(submit_err("{\"type\":\"\xFF\"}").message, "malformed JSON"));
  EXPECT_TRUE(contains(submit_err(R"({"type":"t","priority":1e999})").message, "malformed JSON"));
}

TEST(ParseSubmit, DepthBomb) {
  const std::string bomb = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_EQ(submit_err(bomb).message, "nested deeper than 8 levels");
  EXPECT_EQ(submit_err(std::string(100'000, '[')).message, "nested deeper than 8 levels");
  // 8 levels are fine as JSON; the field's type is what is wrong.
  const std::string eight = R"({"type":"t","context":{"params":[[[[[[1]]]]]]}})";
  EXPECT_EQ(submit_err(eight).field, "context.params");
  const std::string nine = R"({"type":"t","context":{"params":[[[[[[[1]]]]]]]}})";
  EXPECT_EQ(submit_err(nine).message, "nested deeper than 8 levels");
}

TEST(ParseSubmit, WrongTypes) {
  struct Case {
    const char* body;
    const char* field;
    const char* message;
  };
  const Case cases[] = {
      {R"({})", "type", "required: the task type to run"},
      {R"({"type":3})", "type", "expected a name of 1-64 letters, digits, '_', '-' or '.', found the number 3"},
      {R"({"type":""})", "type", "expected a name of 1-64 letters, digits, '_', '-' or '.', found the string \"\""},
      {R"({"type":"t","deadline":12})", "deadline",
       R"(expected a duration string with its unit, such as "250us", "2ms" or "1s", found the number 12)"},
      {R"({"type":"t","deadline":"12"})", "deadline",
       R"(expected a duration string with its unit, such as "250us", "2ms" or "1s", found the string "12")"},
      {R"({"type":"t","start_in":"-1ms"})", "start_in",
       R"(expected a duration string with its unit, such as "250us", "2ms" or "1s", found the string "-1ms")"},
      {R"({"type":"t","start_in":"2h"})", "start_in",
       R"(expected a duration string with its unit, such as "250us", "2ms" or "1s", found the string "2h")"},
      {R"({"type":"t","deadline":"61min"})", "deadline",
       R"(expected a duration of at most 1h, found the string "61min")"},
      {R"({"type":"t","priority":"High"})", "priority",
       R"(expected critical, high, normal, low, background or an integer 0..10, found the string "High" (did you mean "high"?))"},
      {R"({"type":"t","priority":11})", "priority",
       "expected critical, high, normal, low, background or an integer 0..10, found the number 11"},
      {R"({"type":"t","priority":-1})", "priority",
       "expected critical, high, normal, low, background or an integer 0..10, found the number -1"},
      {R"({"type":"t","priority":2.5})", "priority",
       "expected critical, high, normal, low, background or an integer 0..10, found the number 2.5"},
      {R"({"type":"t","retry":true})", "retry", "expected a name of 1-64 letters, digits, '_', '-' or '.', found true"},
      {R"({"type":"t","context":[]})", "context", "expected an object, found an array"},
      {R"({"type":"t","context":{"user_id":-1}})", "context.user_id",
       "expected a decimal id (\"42\" or 42, 0..18446744073709551615), found the number -1"},
      {R"({"type":"t","context":{"user_id":"-1"}})", "context.user_id",
       "expected a decimal id (\"42\" or 42, 0..18446744073709551615), found the string \"-1\""},
      {R"({"type":"t","context":{"session_id":1.0}})", "context.session_id",
       "expected a decimal id (\"42\" or 42, 0..18446744073709551615), found the number 1.0"},
      {R"({"type":"t","context":{"session_id":18446744073709551616}})", "context.session_id",
       "expected a decimal id (\"42\" or 42, 0..18446744073709551615), found the number 1.8446744073709552e+19"},
      {R"({"type":"t","context":{"session_id":"18446744073709551616"}})", "context.session_id",
       "expected a decimal id (\"42\" or 42, 0..18446744073709551615), found the string \"18446744073709551616\""},
      {R"({"type":"t","context":{"user_id":null}})", "context.user_id",
       "expected a decimal id (\"42\" or 42, 0..18446744073709551615), found null"},
      {R"({"type":"t","context":{"params":"abc"}})", "context.params",
       "expected an even number of hex digits (two per byte), found 3"},
      {R"({"type":"t","context":{"params":"zz"}})", "context.params",
       "expected hex digits (0-9, a-f), found the string \"zz\""},
      {R"({"type":"t","context":{"params":12}})", "context.params",
       "expected a string of hex digits, found the number 12"},
      {R"({"type":"t","context":{"usr_id":"1"}})", "context.usr_id",
       "unknown field (expected user_id, session_id or params) (did you mean \"user_id\"?)"},
      {R"({"type":"t","deadlin":"1ms"})", "deadlin",
       "unknown field (expected type, priority, deadline, start_in, retry or context) (did you mean \"deadline\"?)"},
  };
  for (const Case& c : cases) {
    const FieldError e = submit_err(c.body);
    EXPECT_EQ(e.field, c.field) << c.body;
    EXPECT_EQ(e.message, c.message) << c.body;
  }
  const FieldError e = submit_err(R"({"type":"t","context":{"params":")" + std::string(98, '0') + "\"}}");
  EXPECT_EQ(e.field, "context.params");
  EXPECT_EQ(e.message, "expected at most 96 hex digits (48 bytes), found 98");
}

TEST(ParseSubmit, LongEchoesAreClippedAndValidUtf8) {
  // The echo is 40 bytes; the two-byte e-acute at 39..40 is left out, not cut in two.
  const std::string s = std::string(39, 'x') + "\xC3\xA9\xC3\xA9";
  const FieldError e = submit_err(R"({"type":"t","deadline":")" + s + "\"}");
  EXPECT_TRUE(valid_utf8(e.message)) << e.message;
  EXPECT_TRUE(contains(e.message, "found the string \"" + std::string(39, 'x') + "\"...")) << e.message;
  const FieldError k = submit_err("{\"" + std::string(200, 'k') + "\":1}");
  EXPECT_EQ(k.field, std::string(40, 'k') + "...");
  EXPECT_TRUE(valid_utf8(submit_err("{\"\\u0001\\\"\":1}").field));
}

// ---- parse_gate, parse_run, task ids ----

TEST(ParseGate, OpenAndErrors) {
  EXPECT_TRUE(ok(rt::http::parse_gate(R"({"open": true})")));
  EXPECT_FALSE(ok(rt::http::parse_gate(R"({"open": false})")));
  EXPECT_EQ(err(rt::http::parse_gate(R"({"open": "yes"})")).message,
            "expected true or false, found the string \"yes\"");
  EXPECT_EQ(err(rt::http::parse_gate("{}")).message, "required: true or false");
  const FieldError e = err(rt::http::parse_gate(R"({"opn": true})"));
  EXPECT_EQ(e.field, "opn");
  EXPECT_EQ(e.message, "unknown field (expected open) (did you mean \"open\"?)");
  EXPECT_EQ(err(rt::http::parse_gate("true")).message, "expected a JSON object, found true");
}

TEST(ParseRun, EmptyOrContext) {
  EXPECT_FALSE(ok(rt::http::parse_run("")));
  EXPECT_FALSE(ok(rt::http::parse_run(" \n")));
  EXPECT_FALSE(ok(rt::http::parse_run("{}")));
  const auto c = ok(rt::http::parse_run(R"({"context": {"user_id": 5}})"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->user_id, 5U);
  EXPECT_EQ(err(rt::http::parse_run(R"({"ctx": {}})")).field, "ctx");
  EXPECT_EQ(err(rt::http::parse_run(R"({"context": {"params": "x"}})")).field, "context.params");
  EXPECT_EQ(err(rt::http::parse_run("{")).field, "");
}

TEST(ParseTaskId, RoundTripAndRejects) {
  const rt::TaskId id{7, 3};
  EXPECT_EQ(rt::http::task_id_string(id), std::to_string((std::uint64_t{3} << 32) | 7));
  EXPECT_EQ(rt::http::parse_task_id(rt::http::task_id_string(id)), id);
  const rt::TaskId max{UINT32_MAX, UINT32_MAX};
  EXPECT_EQ(rt::http::parse_task_id(rt::http::task_id_string(max)), max);
  for (const char* bad :
       {"", "0", "7", "-1", "+4294967297", "04294967297", "4294967297x", "18446744073709551616", "abc"})
    EXPECT_FALSE(rt::http::parse_task_id(bad)) << bad;  // "7": generation 0, never a task
  EXPECT_TRUE(rt::http::parse_task_id("4294967297"));
}

// ---- the fuzzer's files ----

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class T>
void check(const std::variant<T, FieldError>& r, const fs::path& p) {
  if (const auto* e = std::get_if<FieldError>(&r)) {
    EXPECT_FALSE(e->message.empty()) << p;
    EXPECT_TRUE(valid_utf8(e->field) && valid_utf8(e->message)) << p;
  }
}

// Every input goes through every parser, as the fuzzer does it (tests/fuzz/http_fuzz.cpp).
void replay(const fs::path& dir, bool must_have_files) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir)) {
    for (const fs::directory_entry& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().filename() != ".gitkeep") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (must_have_files) {
    EXPECT_FALSE(files.empty()) << dir;
  }
  for (const fs::path& p : files) {
    const std::string text = read(p);
    check(rt::http::parse_submit(text), p);
    check(rt::http::parse_gate(text), p);
    check(rt::http::parse_run(text), p);
    const auto q = rt::http::parse_query(text);
    check(q, p);
    if (const auto* params = std::get_if<rt::http::QueryParams>(&q))
      check(rt::http::parse_list_query(*params, kTypes, 500), p);
    if (const auto id = rt::http::parse_task_id(text)) {
      EXPECT_EQ(rt::http::parse_task_id(rt::http::task_id_string(*id)), id) << p;
    }
  }
}

const fs::path kFuzz = fs::path(RT_SOURCE_DIR) / "tests" / "fuzz";

TEST(ParseFuzzFiles, SeedCorpus) { replay(kFuzz / "corpus" / "http", true); }

TEST(ParseFuzzFiles, Regressions) { replay(kFuzz / "regressions" / "http", false); }

}  // namespace
