// The state-changing endpoints. Api::route has checked the token and that the engine is
// not stopping, and holds the control mutex: one change at a time, one Producer user.
#include <chrono>
#include <string>
#include <thread>
#include <variant>

#include "hal/clock.hpp"
#include "routes.hpp"
#include "rthttp/parse.hpp"

namespace rt::http::detail {

using nlohmann::json;

namespace {

std::string clip(std::string_view s) { return std::string(s.substr(0, 64)); }

// How long a periodic control waits for the loop's worker to apply it.
constexpr ns_t kApplyWait = 2 * hal::kNsPerSec;

// A refused submission: why, with the status a client can act on. A full queue or an
// open breaker passes (503 + Retry-After); bad options do not (400).
Response refused(Ctx& c, SubmitStatus s, std::string_view what) {
  c.refused.fetch_add(1, std::memory_order_relaxed);
  const std::string detail = std::string(what) + " was refused: " + std::string(to_string(s));
  if (s == SubmitStatus::Invalid) return error_response(400, "invalid", detail);
  Response r = error_response(503, std::string(to_string(s)), detail);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response run_status(GraphRunStatus s, std::string_view name) {
  switch (s) {
    case GraphRunStatus::Started:
      return error_response(500, "internal_error", "started is not an error");
    case GraphRunStatus::Busy:
      return error_response(409, "busy", "workflow " + clip(name) + " is still running its previous run");
    case GraphRunStatus::QueueFull: {
      Response r = error_response(503, "queue_full", "workflow " + clip(name) + ": its tasks found the ring full");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    case GraphRunStatus::Stopped:
      return error_response(503, "stopped", "the engine is not running");
    case GraphRunStatus::Unknown:
      break;
  }
  return error_response(404, "not_found", "no workflow " + clip(name));
}

}  // namespace

Response post_task(Ctx& c, std::string_view body) {
  auto parsed = parse_submit(body);
  if (const auto* e = std::get_if<FieldError>(&parsed)) return bad_field(*e);
  const SubmitBody& b = std::get<SubmitBody>(parsed);
  const Catalog::TaskType* t = c.catalog.find(b.type);
  if (t == nullptr || t->fn == nullptr) {
    std::string known;
    for (const Catalog::TaskType& k : c.catalog.types)
      known += (known.empty() ? "" : ", ") + k.name;
    return error_response(404, "unknown_type",
                          "type: no task type \"" + clip(b.type) + "\" is configured (" +
                              (known.empty() ? std::string("none is") : known) + ")");
  }
  SubmitOptions o = t->defaults;
  o.type = t->type;
  if (b.priority) o.priority = *b.priority;
  if (b.deadline) o.deadline_in = *b.deadline;
  if (b.start_in) o.start_in = *b.start_in;
  if (b.context) o.context = *b.context;
  if (b.retry) {
    RetryPreset preset{};
    if (*b.retry == "none") {
      o.retry = RetryPolicy{};
    } else if (parse_retry_preset(*b.retry, preset)) {
      o.retry = retry_preset(preset);
    } else if (const auto it = c.catalog.retry_policies.find(*b.retry); it != c.catalog.retry_policies.end()) {
      o.retry = it->second;
    } else {
      return error_response(400, "bad_request",
                            "retry: \"" + clip(*b.retry) +
                                "\" is neither none, a built-in preset (aggressive, standard, conservative, quick) "
                                "nor a configured [retry.NAME]");
    }
  }
  TaskId id;
  const SubmitStatus s = c.producer.try_submit_stored(*t->fn, o, &id);
  if (s != SubmitStatus::Ok) return refused(c, s, "task of type " + t->name);
  c.submitted.fetch_add(1, std::memory_order_relaxed);
  TaskInfo info;
  json j{{"id", task_id_string(id)}, {"type", t->name}, {"priority", to_string(o.priority)}};
  if (c.engine.status(id, info)) j["state"] = to_string(info.state);
  Response r = json_response(j, 202);
  r.headers.emplace_back("Location", "/tasks/" + task_id_string(id));
  return r;
}

// F20: frees finished tasks' records, keeping the `keep` most recent (default 0).
Response clear_tasks(Ctx& c, std::string_view query) {
  auto q = parse_query(query);
  if (const auto* e = std::get_if<FieldError>(&q)) return bad_field(*e);
  std::uint64_t keep = 0;
  for (const auto& [k, v] : std::get<QueryParams>(q)) {
    if (k != "keep") return bad_field(FieldError{k, "unknown parameter (keep)"});
    auto n = parse_uint(k, v, 0, UINT32_MAX);
    if (const auto* e = std::get_if<FieldError>(&n)) return bad_field(*e);
    keep = std::get<std::uint64_t>(n);
  }
  // One caller at a time and never beside Engine::stop: the control mutex and the
  // stopping gate (Api::set_stopping) see to both.
  const std::size_t cleared = c.engine.clear_completed(static_cast<std::size_t>(keep));
  return json_response(json{{"cleared", cleared}, {"kept_at_most", keep}});
}

Response cancel_task(Ctx& c, std::string_view id) {
  const std::optional<TaskId> tid = parse_task_id(id);
  const CancelResult res = tid ? c.engine.cancel(*tid) : CancelResult::NotFound;
  switch (res) {
    case CancelResult::Removed:
    case CancelResult::StopRequested:
      return json_response(json{{"id", std::string(id)}, {"result", to_string(res)}});
    case CancelResult::AlreadyDone:
      return error_response(409, "already_done", "task " + clip(id) + " has finished; there is nothing to cancel");
    case CancelResult::NotFound:
      break;
  }
  return error_response(404, "not_found", "no task " + clip(id));
}

Response put_gate(Ctx& c, std::string_view name, std::string_view body) {
  const int g = c.engine.gate_index(name);
  if (g < 0) return error_response(404, "not_found", "no gate " + clip(name));
  auto open = parse_gate(body);
  if (const auto* e = std::get_if<FieldError>(&open)) return bad_field(*e);
  const bool want = std::get<bool>(open);
  const bool was = c.engine.gate_open(static_cast<std::size_t>(g));
  c.engine.set_gate(static_cast<std::size_t>(g), want);
  return json_response(json{{"name", std::string(name)}, {"open", want}, {"changed", was != want}});
}

Response control_periodic(Ctx& c, std::string_view name, std::string_view action) {
  const int id = c.engine.periodic_index(name);
  if (id < 0) return error_response(404, "not_found", "no periodic task " + clip(name));
  const PeriodicState was = c.engine.periodic_stats(id).state;
  // Each action from the states it makes sense in; anything else is a 409 that says why.
  bool ok = false;
  if (action == "start") {
    ok = was == PeriodicState::Stopped && c.engine.start_periodic(id);
  } else if (action == "stop") {
    ok = was != PeriodicState::Stopped && c.engine.stop_periodic(id);
  } else if (action == "pause") {
    ok = was == PeriodicState::Running && c.engine.pause_periodic(id);
  } else if (action == "resume") {
    ok = was == PeriodicState::Paused && c.engine.resume_periodic(id);
  } else {
    return error_response(404, "not_found",
                          "no action " + clip(action) + " for periodic tasks (start, stop, pause, resume)");
  }
  if (!ok)
    return error_response(409, "conflict",
                          "periodic task " + clip(name) + " is " + std::string(to_string(was)) + ": cannot " +
                              std::string(action) + " it");
  // The loop's worker applies the command a moment later, and `was` above is the applied
  // state: without this wait, a start and a pause sent one after the other found the loop
  // still stopped (409), and a stop then a start found it still running. Calls are one at
  // a time (the control mutex), so the next one sees this one's state. Bounded: a worker
  // busy with a long task applies it after; "state" says what the answer saw.
  const PeriodicState want = action == "stop"    ? PeriodicState::Stopped
                             : action == "pause" ? PeriodicState::Paused
                                                 : PeriodicState::Running;
  const ns_t until = hal::now_ns() + kApplyWait;
  PeriodicState now = c.engine.periodic_stats(id).state;
  while (now != want && c.engine.running() && hal::now_ns() < until) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    now = c.engine.periodic_stats(id).state;
  }
  return json_response(json{{"name", std::string(name)},
                            {"action", std::string(action)},
                            {"was", to_string(was)},
                            {"state", to_string(now)}});
}

Response run_workflow(Ctx& c, std::string_view name, std::string_view body) {
  auto ctx = parse_run(body);
  if (const auto* e = std::get_if<FieldError>(&ctx)) return bad_field(*e);
  const std::optional<Context>& context = std::get<std::optional<Context>>(ctx);
  const Context* cp = context ? &*context : nullptr;
  if (const int g = c.engine.graph_index(name); g >= 0) {
    const GraphRunStatus s = c.engine.try_run_graph(c.producer, g, cp);
    if (s != GraphRunStatus::Started) return run_status(s, name);
    return json_response(json{{"workflow", std::string(name)}, {"kind", "graph"}, {"id", g + 1}, {"status", "started"}},
                         202);
  }
  if (const int sg = c.engine.saga_index(name); sg >= 0) {
    TaskId id;
    const GraphRunStatus s = c.engine.try_run_saga(c.producer, sg, cp, &id);
    if (s != GraphRunStatus::Started) return run_status(s, name);
    return json_response(
        json{{"workflow", std::string(name)}, {"kind", "saga"}, {"task", task_id_string(id)}, {"status", "started"}},
        202);
  }
  return run_status(GraphRunStatus::Unknown, name);
}

Response redrive(Ctx& c, std::string_view seq) {
  auto n = parse_uint("seq", seq, 1, UINT64_MAX);
  if (std::holds_alternative<FieldError>(n)) return error_response(404, "not_found", "no dead letter " + clip(seq));
  TaskId id;
  const SubmitStatus s = c.engine.redrive(c.producer, std::get<std::uint64_t>(n), &id);
  if (s == SubmitStatus::Invalid) return error_response(404, "not_found", "no dead letter " + clip(seq));
  if (s != SubmitStatus::Ok) return refused(c, s, "the redrive of dead letter " + clip(seq));
  c.submitted.fetch_add(1, std::memory_order_relaxed);
  return json_response(json{{"seq", std::string(seq)}, {"id", task_id_string(id)}}, 202);
}

Response purge_dead_letters(Ctx& c) { return json_response(json{{"purged", c.engine.purge_dead_letters()}}); }

}  // namespace rt::http::detail
