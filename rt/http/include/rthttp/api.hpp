#pragma once
// F24: the HTTP API's requests and answers, apart from any socket. Api::handle routes a
// request to the engine's queries and controls and renders the answer as JSON (or the
// Prometheus text for the metrics path); Server (server.hpp) feeds it from cpp-httplib.
//
// Not on the run path: everything here allocates, and runs on the HTTP server's threads.
// It shares no lock with the engine's RT threads: the engine calls it makes are the
// lock-free queries and controls; the one mutex (the API's producer, and the engine calls
// that allow one thread at a time) is taken by HTTP threads only.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rt/engine.hpp"
#include "rt/event_bus.hpp"
#include "rthttp/metrics.hpp"

namespace rt::http {

struct Request {
  std::string method;  // "GET", "POST"...
  std::string path;    // without the query string, percent-decoded (cpp-httplib decodes it)
  std::string query;   // the raw query string, without '?'
  std::string body;
  std::string authorization;  // the Authorization header's value, or ""
  std::string remote;         // the client's address, for the rate limit and the log
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Allow, Retry-After...
};

// A JSON error answer: {"error": error, "detail": detail}.
[[nodiscard]] Response error_response(int status, std::string_view error, std::string_view detail);

// What POST /tasks and POST /workflows/{name}/run may name: the configured task types with
// their handlers and defaults, the named retry policies besides the built-in presets, and
// the workflows (graphs and sagas) by name.
struct Catalog {
  struct TaskType {
    std::string name;
    TypeId type = 0;
    const TaskFn* fn = nullptr;  // outlives the Api (the run's assembly holds it)
    SubmitOptions defaults;      // priority, deadline, gates, retry, as configured
  };
  std::vector<TaskType> types;
  std::map<std::string, RetryPolicy, std::less<>> retry_policies;  // [retry.NAME]

  [[nodiscard]] const TaskType* find(std::string_view name) const noexcept;
};

struct ApiConfig {
  std::string token;  // non-empty: state-changing calls need "Bearer <token>"
  bool metrics_enabled = true;
  std::string metrics_path = "/metrics";
  std::size_t max_list = 1000;  // the largest `limit` a list query may ask for
};

class Api {
 public:
  // `history` (may be null) serves GET /events; `metrics` adds the run's own series to
  // /metrics. Both, and `e`, outlive the Api. Setup: makes the API's producer.
  Api(Engine& e, Catalog catalog, ApiConfig cfg, const EventBus* history = nullptr,
      const MetricsSource* metrics = nullptr);

  // Any HTTP thread, concurrently. Never throws: an internal error is a 500 JSON body.
  [[nodiscard]] Response handle(const Request& r);

  // From now on, state-changing calls answer 503: the engine is stopping. Returns once no
  // state-changing call is under way (it waits for the one holding the control mutex), so
  // the caller may go on to Engine::stop, which some of them must not overlap
  // (clear_completed, redrive).
  void set_stopping();
  [[nodiscard]] bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

  // Whether `header` (an Authorization value) carries the token; constant time in the
  // token's length, whatever `header` holds. True when no token is configured.
  [[nodiscard]] bool authorized(std::string_view header) const noexcept;

  struct Counts {
    std::uint64_t requests = 0, submitted = 0, refused = 0;
  };
  [[nodiscard]] Counts counts() const noexcept;

 private:
  Response route(const Request& r);

  Engine& engine_;
  Catalog catalog_;
  ApiConfig cfg_;
  const EventBus* history_;
  const MetricsSource* metrics_;
  std::atomic<bool> stopping_{false};
  // HTTP threads only: a Producer is one thread's at a time, and the engine's setup-only
  // calls (redrive, purge) want one caller.
  std::mutex control_mu_;
  Producer producer_;
  std::atomic<std::uint64_t> requests_{0}, submitted_{0}, refused_{0};
};

// Constant-time equality of two byte strings (the time depends on the lengths only).
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace rt::http
