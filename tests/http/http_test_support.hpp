#pragma once
// The HTTP tests' world: a real engine (two SCHED_OTHER workers, nothing locked), an
// event history, an Api over a catalog of task types, and a Server on a free loopback
// port; and a client that speaks to it over a real socket. Waits are bounded loops on
// what the API answers (the bound only turns a hang into a failure), never a sleep that
// an assertion relies on.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../rt/engine_test_support.hpp"
#include "rt/engine.hpp"
#include "rt/event_bus.hpp"
#include "rt/graph.hpp"
#include "rt/saga.hpp"
#include "rthttp/api.hpp"
#include "rthttp/server.hpp"

namespace http_test {

namespace http = rt::http;
using nlohmann::json;
using testing_support::eventually;

// One answer as the client saw it. `status` is 0 when no answer came (a transport
// error: refused, reset, timed out); `json` is null when the body is not JSON.
struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  httplib::Headers headers;
  json doc;

  [[nodiscard]] std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  // What a failed expectation prints.
  [[nodiscard]] std::string str() const { return std::to_string(status) + " " + body; }
};

inline Reply to_reply(const httplib::Result& r) {
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.headers = r->headers;
  out.content_type = r->get_header_value("Content-Type");
  out.doc = json::parse(out.body, nullptr, /*allow_exceptions=*/false);
  if (out.doc.is_discarded()) out.doc = nullptr;
  return out;
}

// A client of one server; `token` (when not empty) goes as "Authorization: Bearer ...".
class Client {
 public:
  explicit Client(int port, std::string token = {}) : cli_("127.0.0.1", port), token_(std::move(token)) {
    // Generous: a loaded 2-core VM under TSan is slow, and a hang is caught by the bound.
    cli_.set_connection_timeout(std::chrono::seconds(10));
    cli_.set_read_timeout(std::chrono::seconds(30));
    cli_.set_write_timeout(std::chrono::seconds(30));
  }

  Reply get(const std::string& path, httplib::Headers h = {}) {
    return to_reply(cli_.Get(path, with_auth(std::move(h))));
  }
  Reply post(const std::string& path, const std::string& body = {}, httplib::Headers h = {}) {
    return to_reply(cli_.Post(path, with_auth(std::move(h)), body, "application/json"));
  }
  Reply put(const std::string& path, const std::string& body, httplib::Headers h = {}) {
    return to_reply(cli_.Put(path, with_auth(std::move(h)), body, "application/json"));
  }
  Reply del(const std::string& path, httplib::Headers h = {}) {
    return to_reply(cli_.Delete(path, with_auth(std::move(h))));
  }

 private:
  httplib::Headers with_auth(httplib::Headers h) const {
    if (!token_.empty() && h.find("Authorization") == h.end()) h.emplace("Authorization", "Bearer " + token_);
    return h;
  }
  httplib::Client cli_;
  std::string token_;
};

// Whether `r` is the API's error shape: a JSON object with string "error" and "detail".
inline ::testing::AssertionResult is_error(const Reply& r, int status) {
  if (r.status != status)
    return ::testing::AssertionFailure() << "status " << r.status << ", want " << status << ": " << r.body;
  if (!r.doc.is_object() || !r.doc.contains("error") || !r.doc.contains("detail") || !r.doc["error"].is_string() ||
      !r.doc["detail"].is_string())
    return ::testing::AssertionFailure() << "not a JSON error body: " << r.body;
  return ::testing::AssertionSuccess();
}

inline std::string detail(const Reply& r) { return r.doc.is_object() ? r.doc.value("detail", "") : ""; }

inline constexpr rt::WorkflowId kTaggedWorkflow = 5;

struct Counters {
  std::atomic<std::uint64_t> work{0}, fails{0}, ticks{0}, steps{0}, undos{0};
};

struct HarnessOptions {
  std::string token;
  http::ServerConfig server = [] {
    http::ServerConfig s;
    s.bind = "127.0.0.1";
    s.port = 0;
    s.rate = 0;  // no limit: the rate limit has a test of its own
    return s;
  }();
  bool periodic = true;  // a 5 ms loop "tick", started
};

// The engine and its API, serving. Not movable: the task callables point into it.
class Harness {
 public:
  // Task types: "work" (counts), "fail" (throws "boom"; one immediate retry, then it is
  // dead-lettered; a breaker that does not open in these tests), "gated" (counts; needs
  // gate "door"). A graph "pipe" (a -> b) and a saga "order" (reserve, charge; each undone).
  explicit Harness(const HarnessOptions& o = {}) : engine_(config()) {
    registry_.add("work", [c = &counters_] { c->work.fetch_add(1); });
    registry_.add("fail", [c = &counters_] {
      c->fails.fetch_add(1);
      throw std::runtime_error("boom");
    });
    registry_.add("step", [c = &counters_] { c->steps.fetch_add(1); });
    registry_.add("undo", [c = &counters_] { c->undos.fetch_add(1); });
    graph_ = engine_.add_graph(rt::GraphBuilder("pipe").node("a", "step").node("b", "step", {"a"}).build(), registry_);
    saga_ = engine_.add_saga(
        rt::SagaBuilder("order").step("reserve", "step", "undo").step("charge", "step", "undo").build(), registry_);
    if (o.periodic)
      tick_ = engine_.add_periodic(rt::PeriodicSpec{.name = "tick", .period = 5 * hal::kNsPerMs},
                                   [c = &counters_] { c->ticks.fetch_add(1); });
    bus_ = std::make_unique<rt::EventBus>(engine_, rt::EventBusConfig{.history = 1024});
    api_ = std::make_unique<http::Api>(engine_, catalog(), http::ApiConfig{.token = o.token}, bus_.get());
    server_ = std::make_unique<http::Server>(*api_, o.server);
    bus_->start();
    engine_.start();
    // The loop's worker applies the start a moment later: "running" from the first request on.
    if (tick_ >= 0 && (!engine_.start_periodic(tick_) || !eventually([this] {
          return engine_.periodic_stats(tick_).state == rt::PeriodicState::Running;
        })))
      throw std::runtime_error("the periodic task did not start");
    server_->start();
  }
  ~Harness() {
    server_->stop();
    if (engine_.running()) (void)engine_.stop(rt::StopMode::Drain);
    bus_->stop();
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // The server first (no request reaches the engine after), then the engine, draining.
  rt::StopReport stop() {
    server_->stop();
    return engine_.stop(rt::StopMode::Drain);
  }

  [[nodiscard]] int port() const { return server_->port(); }
  [[nodiscard]] Client client(std::string token = {}) const { return Client(port(), std::move(token)); }
  rt::Engine& engine() { return engine_; }
  rt::EventBus& bus() { return *bus_; }
  http::Api& api() { return *api_; }
  http::Server& server() { return *server_; }
  Counters& counters() { return counters_; }
  [[nodiscard]] int tick() const { return tick_; }

 private:
  static rt::EngineConfig config() {
    rt::EngineConfig c = testing_support::small_config(2);
    c.task_types = {"work", "fail", "gated"};
    c.gates = {"door"};
    c.breakers = {rt::BreakerConfig{.type = "fail", .failure_threshold = 1000}};
    return c;
  }
  http::Catalog catalog() const {
    http::Catalog cat;
    cat.types.push_back({.name = "work", .type = 0, .fn = registry_.find("work"), .defaults = {}});
    rt::SubmitOptions fail;
    fail.retry = rt::RetryPolicy{.strategy = rt::RetryStrategy::Immediate, .max_retries = 1};
    cat.types.push_back({.name = "fail", .type = 1, .fn = registry_.find("fail"), .defaults = fail});
    rt::SubmitOptions gated;
    gated.gates = 1;  // gate 0, "door"
    cat.types.push_back({.name = "gated", .type = 2, .fn = registry_.find("work"), .defaults = gated});
    // Graph nodes are not task records: a task carries a WorkflowId when its submitter
    // tags it, as this configured type does.
    rt::SubmitOptions tagged;
    tagged.workflow = kTaggedWorkflow;
    cat.types.push_back({.name = "tagged", .type = 0, .fn = registry_.find("work"), .defaults = tagged});
    return cat;
  }

  Counters counters_;
  rt::HandlerRegistry registry_;
  rt::Engine engine_;
  int graph_ = -1, saga_ = -1, tick_ = -1;
  std::unique_ptr<rt::EventBus> bus_;
  std::unique_ptr<http::Api> api_;
  std::unique_ptr<http::Server> server_;
};

// POST /tasks {"type": type} (and `extra` fields); the accepted id, or "" (with a failure).
inline std::string submit(Client& c, const std::string& type, json extra = json::object()) {
  extra["type"] = type;
  const Reply r = c.post("/tasks", extra.dump());
  EXPECT_EQ(r.status, 202) << r.str();
  if (r.status != 202 || !r.doc.is_object() || !r.doc["id"].is_string()) return {};
  return r.doc["id"].get<std::string>();
}

// Waits until GET /tasks/{id} says `state`; for an end, until its end time is recorded
// too (an end is recorded in two steps: engine_test_support.hpp's state_is).
inline bool reaches(Client& c, const std::string& id, const std::string& state) {
  const bool end =
      state != "pending" && state != "scheduled" && state != "ready" && state != "running" && state != "retrying";
  return eventually([&] {
    const Reply r = c.get("/tasks/" + id);
    return r.status == 200 && r.doc.value("state", "") == state &&
           (!end || r.doc.value("finished_ns", std::int64_t{0}) != 0);
  });
}

}  // namespace http_test
