#pragma once
// The endpoints behind Api::route, one function each, and the JSON they share. Private
// to rt_http.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "rthttp/api.hpp"
#include "rthttp/parse.hpp"

namespace rt::http::detail {

// What an endpoint may use: the engine, the catalog, the history, and the producer that
// submissions go through (`producer` is held under Api's control mutex by the caller of
// a state-changing endpoint).
struct Ctx {
  Engine& engine;
  const Catalog& catalog;
  const ApiConfig& cfg;
  const EventBus* history;
  const MetricsSource* metrics;
  Producer& producer;
  std::atomic<std::uint64_t>& submitted;
  std::atomic<std::uint64_t>& refused;
};

// A 200 (or `status`) JSON answer; invalid UTF-8 in strings is replaced, never thrown on.
[[nodiscard]] Response json_response(const nlohmann::json& j, int status = 200);

// A 400 naming the field (parse.hpp's FieldError).
[[nodiscard]] Response bad_field(const FieldError& f);

[[nodiscard]] nlohmann::json task_json(const Engine& e, const TaskInfo& t);
[[nodiscard]] std::string type_name(const Engine& e, TypeId t);

// GET endpoints (reads: no token, served while stopping).
Response get_health(Ctx& c);
Response get_stats(Ctx& c);
Response get_tasks(Ctx& c, std::string_view query);
Response get_task(Ctx& c, std::string_view id);
Response get_gates(Ctx& c);
Response get_periodic(Ctx& c);
Response get_workflows(Ctx& c);
Response get_dead_letters(Ctx& c, std::string_view query);
Response get_breakers(Ctx& c);
Response get_events(Ctx& c, std::string_view query);
Response get_metrics(Ctx& c);

// State-changing endpoints (token, 503 while stopping, one at a time).
Response post_task(Ctx& c, std::string_view body);
Response clear_tasks(Ctx& c, std::string_view query);
Response cancel_task(Ctx& c, std::string_view id);
Response put_gate(Ctx& c, std::string_view name, std::string_view body);
Response control_periodic(Ctx& c, std::string_view name, std::string_view action);
Response run_workflow(Ctx& c, std::string_view name, std::string_view body);
Response redrive(Ctx& c, std::string_view seq);
Response purge_dead_letters(Ctx& c);

}  // namespace rt::http::detail
