// Api: authorization, the stopping gate and the route table; the endpoints are in
// routes_*.cpp.
#include "rthttp/api.hpp"

#include <array>
#include <exception>
#include <string>
#include <vector>

#include "routes.hpp"

namespace rt::http {

using detail::Ctx;

Response error_response(int status, std::string_view error, std::string_view detail) {
  return detail::json_response(nlohmann::json{{"error", error}, {"detail", detail}}, status);
}

const Catalog::TaskType* Catalog::find(std::string_view name) const noexcept {
  for (const TaskType& t : types) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // Every byte of the longer string is visited and nothing branches on the contents, so
  // the time says how long the strings are and nothing about where they differ.
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

Api::Api(Engine& e, Catalog catalog, ApiConfig cfg, const EventBus* history, const MetricsSource* metrics)
    : engine_(e),
      catalog_(std::move(catalog)),
      cfg_(std::move(cfg)),
      history_(history),
      metrics_(metrics),
      producer_(e.make_producer()) {}

void Api::set_stopping() {
  stopping_.store(true, std::memory_order_release);
  const std::lock_guard wait_for_the_change_under_way(control_mu_);
}

bool Api::authorized(std::string_view header) const noexcept {
  if (cfg_.token.empty()) return true;
  constexpr std::string_view kScheme = "bearer ";
  // The scheme is not secret: checking it first leaks nothing about the token. RFC 7235
  // makes it case-insensitive ("bearer", "BEARER"), so it is compared folded to lower case.
  if (header.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return false;
  }
  return constant_time_equal(header.substr(kScheme.size()), cfg_.token);
}

Api::Counts Api::counts() const noexcept {
  return Counts{.requests = requests_.load(std::memory_order_relaxed),
                .submitted = submitted_.load(std::memory_order_relaxed),
                .refused = refused_.load(std::memory_order_relaxed)};
}

Response Api::handle(const Request& r) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  try {
    return route(r);
  } catch (const std::exception& e) {
    return error_response(500, "internal_error", e.what());
  } catch (...) {
    return error_response(500, "internal_error", "an unknown exception");
  }
}

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t j = path.find('/', i);
    parts.push_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return parts;
}

Response method_not_allowed(std::string_view method, std::string_view path, std::string_view allow) {
  Response r = error_response(
      405, "method_not_allowed",
      std::string(method) + " is not allowed on " + std::string(path) + "; allowed: " + std::string(allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// `allow` is "GET, POST": whole method names only ("POS" is not "POST").
bool allows(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    const std::size_t comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 2);
  }
  return false;
}

}  // namespace

Response Api::route(const Request& r) {
  const std::vector<std::string_view> p = split_path(r.path);
  const std::string_view m = r.method;
  Ctx c{engine_, catalog_, cfg_, history_, metrics_, producer_, submitted_, refused_};

  const auto is = [&](std::size_t n, std::initializer_list<std::string_view> fixed) {
    if (p.size() != n) return false;
    std::size_t i = 0;
    for (const std::string_view f : fixed) {
      if (!f.empty() && p[i] != f) return false;
      ++i;
    }
    return true;
  };

  // Which route, by shape ("" in a shape is a parameter), and the methods it takes.
  std::string_view allow;
  int route = -1;
  if (cfg_.metrics_enabled && r.path == cfg_.metrics_path) {
    route = 0, allow = "GET";
  } else if (is(1, {"health"})) {
    route = 1, allow = "GET";
  } else if (is(1, {"stats"})) {
    route = 2, allow = "GET";
  } else if (is(1, {"tasks"})) {
    route = 3, allow = "GET, POST, DELETE";
  } else if (is(2, {"tasks", ""})) {
    route = 4, allow = "GET";
  } else if (is(3, {"tasks", "", "cancel"})) {
    route = 5, allow = "POST";
  } else if (is(1, {"gates"})) {
    route = 6, allow = "GET";
  } else if (is(2, {"gates", ""})) {
    route = 7, allow = "PUT";
  } else if (is(1, {"periodic"})) {
    route = 8, allow = "GET";
  } else if (is(3, {"periodic", "", ""})) {
    route = 9, allow = "POST";
  } else if (is(1, {"workflows"})) {
    route = 10, allow = "GET";
  } else if (is(3, {"workflows", "", "run"})) {
    route = 11, allow = "POST";
  } else if (is(1, {"deadletter"})) {
    route = 12, allow = "GET, DELETE";
  } else if (is(3, {"deadletter", "", "redrive"})) {
    route = 13, allow = "POST";
  } else if (is(1, {"breakers"})) {
    route = 14, allow = "GET";
  } else if (is(1, {"events"})) {
    route = 15, allow = "GET";
  }
  if (route < 0) return error_response(404, "not_found", "no route " + r.path);
  // HEAD is GET without the body (cpp-httplib drops it).
  const std::string_view method = m == "HEAD" ? std::string_view("GET") : m;
  if (!allows(allow, method)) return method_not_allowed(m, r.path, allow);

  if (method != "GET") {
    if (!authorized(r.authorization)) {
      Response res = error_response(401, "unauthorized",
                                    r.authorization.empty() ? "this call needs \"Authorization: Bearer <token>\""
                                                            : "the bearer token is not the configured one");
      res.headers.emplace_back("WWW-Authenticate", "Bearer");
      return res;
    }
    const std::lock_guard lk(control_mu_);  // one change at a time, and one Producer user
    // Checked under the mutex: set_stopping takes it too, so once it returns no change
    // is under way and none can start.
    if (stopping()) {
      Response res = error_response(503, "stopping", "the engine is stopping: it takes no more changes");
      res.headers.emplace_back("Retry-After", "5");
      return res;
    }
    switch (route) {
      case 3:
        return method == "POST" ? detail::post_task(c, r.body) : detail::clear_tasks(c, r.query);
      case 5:
        return detail::cancel_task(c, p[1]);
      case 7:
        return detail::put_gate(c, p[1], r.body);
      case 9:
        return detail::control_periodic(c, p[1], p[2]);
      case 11:
        return detail::run_workflow(c, p[1], r.body);
      case 12:
        return detail::purge_dead_letters(c);
      case 13:
        return detail::redrive(c, p[1]);
      default:
        break;
    }
    return error_response(500, "internal_error", "a write route without a handler");
  }
  switch (route) {
    case 0:
      return detail::get_metrics(c);
    case 1:
      return detail::get_health(c);
    case 2:
      return detail::get_stats(c);
    case 3:
      return detail::get_tasks(c, r.query);
    case 4:
      return detail::get_task(c, p[1]);
    case 6:
      return detail::get_gates(c);
    case 8:
      return detail::get_periodic(c);
    case 10:
      return detail::get_workflows(c);
    case 12:
      return detail::get_dead_letters(c, r.query);
    case 14:
      return detail::get_breakers(c);
    case 15:
      return detail::get_events(c, r.query);
    default:
      break;
  }
  return error_response(500, "internal_error", "a read route without a handler");
}

}  // namespace rt::http
