// R8 and F24's errors over a real loopback socket: every refusal has its status and the
// JSON body {"error", "detail"}, the detail naming what was wrong (the field, the id).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "http_test_support.hpp"

namespace {

using http_test::Client;
using http_test::detail;
using http_test::Harness;
using http_test::HarnessOptions;
using http_test::is_error;
using http_test::Reply;

bool names(const Reply& r, const std::string& what) { return detail(r).find(what) != std::string::npos; }

TEST(HttpErrors, BadBodiesAre400NamingTheField) {
  Harness h;
  Client c = h.client();
  Reply r = c.post("/tasks", "{");
  EXPECT_TRUE(is_error(r, 400));
  r = c.post("/tasks", R"({"type": "work", "priority": []})");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "priority")) << r.body;
  r = c.post("/tasks", R"({"type": "work", "deadline": 12})");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "deadline")) << r.body;
  r = c.post("/tasks", R"({"type": "work", "colour": "blue"})");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "colour")) << r.body;
  r = c.post("/tasks", R"({"type": "work", "retry": "sometimes"})");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "retry")) << r.body;
  r = c.put("/gates/door", R"({"open": "yes"})");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "open")) << r.body;
  r = c.get("/tasks?state=sleeping");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "state")) << r.body;
  r = c.get("/tasks?limit=0");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "limit")) << r.body;
  r = c.get("/events?since=yesterday");
  EXPECT_TRUE(is_error(r, 400));
  EXPECT_TRUE(names(r, "since")) << r.body;
  EXPECT_EQ(h.engine().stats().submitted, 0U);  // nothing of it reached the engine
}

TEST(HttpErrors, UnknownThingsAre404NamingThem) {
  Harness h;
  Client c = h.client();
  Reply r = c.get("/tasks/987654321");
  EXPECT_TRUE(is_error(r, 404));
  EXPECT_TRUE(names(r, "987654321")) << r.body;
  r = c.get("/tasks/not-an-id");
  EXPECT_TRUE(is_error(r, 404));
  EXPECT_TRUE(names(r, "not-an-id")) << r.body;
  r = c.post("/tasks/987654321/cancel");
  EXPECT_TRUE(is_error(r, 404));
  EXPECT_TRUE(names(r, "987654321")) << r.body;
  r = c.put("/gates/window", R"({"open": false})");
  EXPECT_TRUE(is_error(r, 404));
  EXPECT_TRUE(names(r, "window")) << r.body;
  r = c.post("/tasks", R"({"type": "teleport"})");
  EXPECT_TRUE(is_error(r, 404));
  EXPECT_TRUE(names(r, "teleport")) << r.body;
  r = c.get("/nothing/here");
  EXPECT_TRUE(is_error(r, 404));
  EXPECT_TRUE(names(r, "/nothing/here")) << r.body;
}

TEST(HttpErrors, AWrongMethodIs405WithAllow) {
  Harness h;
  Client c = h.client();
  Reply r = c.del("/stats");
  ASSERT_TRUE(is_error(r, 405));
  EXPECT_EQ(r.header("Allow"), "GET");
  EXPECT_TRUE(names(r, "DELETE")) << r.body;
  r = c.put("/tasks", "{}");
  ASSERT_TRUE(is_error(r, 405));
  EXPECT_EQ(r.header("Allow"), "GET, POST, DELETE");
  r = c.get("/tasks/1/cancel");
  ASSERT_TRUE(is_error(r, 405));
  EXPECT_EQ(r.header("Allow"), "POST");
}

TEST(HttpErrors, OversizeBodyIs413) {
  HarnessOptions o;
  o.server.max_body_bytes = 1024;
  Harness h(o);
  Client c = h.client();
  const std::string big = R"({"type": "work", "pad": ")" + std::string(4096, 'x') + "\"}";
  const Reply r = c.post("/tasks", big);
  EXPECT_TRUE(is_error(r, 413));
  EXPECT_TRUE(names(r, "1024")) << r.body;
  EXPECT_EQ(h.server().counts().too_large, 1U);
  EXPECT_EQ(h.engine().stats().submitted, 0U);
  // The server goes on serving.
  EXPECT_EQ(c.get("/health").status, 200);
}

TEST(HttpErrors, OversizeHeadersAre431) {
  HarnessOptions o;
  o.server.max_header_bytes = 2048;
  Harness h(o);
  Client c = h.client();
  // Over our limit, under cpp-httplib's own 8192 bytes per line: our 431.
  Reply r = c.get("/health", {{"X-Padding", std::string(3000, 'p')}});
  EXPECT_TRUE(is_error(r, 431));
  EXPECT_TRUE(names(r, "2048")) << r.body;
  EXPECT_EQ(h.server().counts().headers_too_large, 1U);
  // Many small headers count together.
  httplib::Headers many;
  for (int i = 0; i < 40; ++i)
    many.emplace("X-H" + std::to_string(i), std::string(60, 'h'));
  EXPECT_TRUE(is_error(c.get("/health", many), 431));
  // One line over cpp-httplib's 8192: it refuses the request before our check; the error
  // handler still answers 431 with the JSON body, never a dropped connection.
  r = c.get("/health", {{"X-Padding", std::string(9000, 'p')}});
  EXPECT_TRUE(is_error(r, 431)) << r.str();
  EXPECT_TRUE(names(r, "8192")) << r.body;
  EXPECT_EQ(h.server().counts().headers_too_large, 3U);
  EXPECT_EQ(c.get("/health").status, 200);
}

// A request line that is not HTTP at all: a JSON 400, and the server serves on.
TEST(HttpErrors, GarbageOnTheSocketIsAJson400) {
  Harness h;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(h.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  const std::string junk = "\x01\x02 NOT HTTP\r\n\r\n";
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
    got.append(buf, static_cast<std::size_t>(n));
  close(fd);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0U) << got;
  const std::size_t body = got.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos) << got;
  const auto doc = nlohmann::json::parse(got.substr(body + 4), nullptr, false);
  EXPECT_TRUE(doc.is_object() && doc.contains("error") && doc.contains("detail")) << got;
  EXPECT_EQ(h.client().get("/health").status, 200);
}

// The access log sees every answer, also those cpp-httplib makes itself (413, a request
// it cannot read), and never a body or an Authorization value.
TEST(HttpErrors, EveryAnswerReachesTheAccessLogWithoutSecrets) {
  struct Log {
    std::mutex mu;
    std::vector<std::pair<std::string, int>> lines;
    bool secret = false;
  } log;
  HarnessOptions o;
  o.token = "log-token";
  o.server.max_body_bytes = 1024;
  o.server.access_log = [&log](const rt::http::Request& r, int status) {
    const std::lock_guard lk(log.mu);
    log.lines.emplace_back(r.method + " " + r.path, status);
    log.secret = log.secret || !r.body.empty() || !r.authorization.empty();
  };
  Harness h(o);
  Client c = h.client("log-token");
  EXPECT_EQ(c.get("/health").status, 200);
  EXPECT_EQ(c.post("/tasks", R"({"type": "work"})").status, 202);
  EXPECT_EQ(c.post("/tasks", std::string(4096, 'x')).status, 413);
  EXPECT_EQ(c.get("/health", {{"X-Padding", std::string(9000, 'p')}}).status, 431);
  EXPECT_EQ(h.client().post("/tasks", R"({"type": "work"})").status, 401);
  const std::lock_guard lk(log.mu);
  const std::vector<std::pair<std::string, int>> want = {
      {"GET /health", 200}, {"POST /tasks", 202}, {"POST /tasks", 413}, {"POST /tasks", 401}};
  for (const auto& w : want) {
    EXPECT_TRUE(std::find(log.lines.begin(), log.lines.end(), w) != log.lines.end()) << w.first << " " << w.second;
  }
  const auto unread = std::find_if(log.lines.begin(), log.lines.end(), [](const auto& l) { return l.second == 431; });
  EXPECT_TRUE(unread != log.lines.end()) << "no 431 line";
  EXPECT_EQ(log.lines.size(), 5U);
  EXPECT_FALSE(log.secret);
}

TEST(HttpErrors, StateChangesNeedTheToken) {
  HarnessOptions o;
  o.token = "t0ken-value";
  Harness h(o);
  Client none = h.client();
  Client wrong = h.client("t0ken-valuf");
  Client right = h.client("t0ken-value");
  const std::string body = R"({"type": "work"})";
  Reply r = none.post("/tasks", body);
  ASSERT_TRUE(is_error(r, 401));
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  r = wrong.post("/tasks", body);
  ASSERT_TRUE(is_error(r, 401));
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(r.body.find("t0ken"), std::string::npos) << r.body;  // not echoed
  r = none.post("/tasks", body, {{"Authorization", "Basic dXNlcjpwYXNz"}});
  EXPECT_TRUE(is_error(r, 401));
  EXPECT_TRUE(is_error(none.put("/gates/door", R"({"open": false})"), 401));
  EXPECT_TRUE(is_error(none.del("/deadletter"), 401));
  EXPECT_EQ(h.engine().stats().submitted, 0U);
  EXPECT_TRUE(h.engine().gate_open(0));
  EXPECT_EQ(h.server().counts().unauthorized, 5U);

  EXPECT_EQ(right.post("/tasks", body).status, 202);
  EXPECT_EQ(right.put("/gates/door", R"({"open": false})").status, 200);
  // The scheme is case-insensitive (RFC 7235), the token is not.
  EXPECT_EQ(none.post("/tasks", body, {{"Authorization", "bearer t0ken-value"}}).status, 202);
  EXPECT_EQ(none.post("/tasks", body, {{"Authorization", "BEARER t0ken-value"}}).status, 202);
  EXPECT_TRUE(is_error(none.post("/tasks", body, {{"Authorization", "bearer T0KEN-VALUE"}}), 401));
  EXPECT_TRUE(is_error(none.post("/tasks", body, {{"Authorization", "Bearer"}}), 401));
  EXPECT_EQ(h.engine().stats().submitted, 3U);
  // Reads need none.
  EXPECT_EQ(none.get("/stats").status, 200);
  EXPECT_EQ(wrong.get("/gates").status, 200);
}

TEST(HttpErrors, TheRateLimitIs429WithRetryAfter) {
  HarnessOptions o;
  o.server.rate = 5;
  o.server.burst = 5;
  o.periodic = false;
  Harness h(o);
  Client c = h.client();
  // The bucket starts full: the burst passes whatever the machine's speed.
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(c.get("/health").status, 200) << i;
  // The next is refused unless 200 ms passed since the bucket was full: on a loaded
  // machine a few more may pass, never many.
  Reply r;
  int passed = 0;
  for (int i = 0; i < 50 && r.status != 429; ++i) {
    r = c.get("/health");
    passed += r.status == 200 ? 1 : 0;
  }
  ASSERT_TRUE(is_error(r, 429)) << "after " << passed << " more passed";
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_GE(h.server().counts().rate_limited, 1U);
}

TEST(HttpErrors, StoppingRefusesChangesWith503AndServesReads) {
  Harness h;
  Client c = h.client();
  h.api().set_stopping();
  Reply r = c.post("/tasks", R"({"type": "work"})");
  ASSERT_TRUE(is_error(r, 503));
  EXPECT_FALSE(r.header("Retry-After").empty());
  EXPECT_TRUE(is_error(c.put("/gates/door", R"({"open": false})"), 503));
  EXPECT_TRUE(is_error(c.post("/periodic/tick/stop"), 503));
  EXPECT_TRUE(is_error(c.post("/workflows/pipe/run"), 503));
  EXPECT_TRUE(is_error(c.del("/deadletter"), 503));
  EXPECT_EQ(h.engine().stats().submitted, 0U);
  for (const char* path : {"/health", "/stats", "/tasks", "/gates", "/periodic", "/workflows", "/deadletter",
                           "/breakers", "/events", "/metrics"})
    EXPECT_EQ(c.get(path).status, 200) << path;
}

}  // namespace
